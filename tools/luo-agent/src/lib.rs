// SPDX-License-Identifier: GPL-2.0
//! The userspace agent of the Linux Live Update Orchestrator (LUO).
//!
//! `luod` owns `/dev/liveupdate`, gives each subscribed client a session to
//! preserve its files in, performs the kexec once every client is ready, and
//! hands the sessions back after it; `luoctl` drives it.  The protocol is the
//! one of the LUO maintainers' agent design (`luo-agent`: newline-delimited JSON
//! on `/run/luod/liveupdate.sock`, file descriptors with `SCM_RIGHTS`), with
//! additive extensions (Documentation/luod.rst).

pub mod liveupdate;
pub mod proto;
pub mod records;
pub mod wire;

/// Seconds since this kernel started (`CLOCK_BOOTTIME`, what /proc/uptime
/// shows): the timeline of the demo.
pub fn uptime() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

/// Records a step of a live update in the kernel log ("TIMELINE: what", which
/// the console prints with the kernel's timestamp and keeps across a reboot
/// that follows at once), or on stderr with [`uptime`] where there is no
/// /dev/kmsg to write.
pub fn timeline(what: &str) {
    use std::io::Write;
    let line = format!("TIMELINE: {what}\n");
    let written = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/kmsg")
        .and_then(|mut k| k.write_all(line.as_bytes()));
    if written.is_err() {
        eprint!("[{:.6}] {line}", uptime());
    }
}
