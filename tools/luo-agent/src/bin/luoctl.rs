// SPDX-License-Identifier: GPL-2.0
//! luoctl: drive luod, and load the next kernel.
//!
//! Exit codes: 0 done; 1 usage, or luod unreachable; 2 luod refused (the
//! message says why); 3 the kernel refused (kexec_file_load, reboot).

use std::ffi::CString;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use luo_agent::proto::{self, Envelope, ErrorCode, Event, Request, Status};
use luo_agent::wire::{Conn, Line};

#[derive(Parser)]
#[command(version, about = "Control the Live Update Orchestrator daemon (luod)")]
struct Args {
    /// luod's socket.
    #[arg(long, global = true, default_value = proto::SOCKET_PATH)]
    socket: String,
    /// Machine-readable output: luod's JSON lines.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Subscribers, sessions, and whether a live update can happen now.
    Status,
    /// Load the kernel to live-update into (kexec_file_load).
    Load {
        kernel: String,
        #[arg(long)]
        initrd: Option<String>,
        /// The new kernel's command line.
        #[arg(long, conflicts_with = "reuse_cmdline")]
        cmdline: Option<String>,
        /// This kernel's command line (/proc/cmdline).
        #[arg(long)]
        reuse_cmdline: bool,
    },
    /// Live-update: sessions out, wait for every client, reboot into the loaded kernel.
    Kexec {
        /// How long clients have to become READY (seconds).
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// Drop a session of the previous kernel that nobody will claim.
    Release { id: String },
    /// The protocol and luod versions.
    Version,
}

/// An error with its exit code.
struct Fail(u8, String);

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Self {
        Fail(1, e.to_string())
    }
}

fn connect(path: &str) -> Result<Conn<UnixStream>, Fail> {
    UnixStream::connect(path)
        .map(Conn::new)
        .map_err(|e| Fail(1, format!("cannot reach luod at {path}: {e}")))
}

/// Sends `req` and returns luod's lines up to its answer, printing progress.
fn request(args: &Args, req: Request) -> Result<Event, Fail> {
    let mut conn = connect(&args.socket)?;
    conn.send(&proto::to_line(&Envelope { req, seq: Some(1) }), None)?;
    loop {
        let line = match conn.read_line()? {
            Some(Line::Complete(l)) => l,
            Some(Line::TooLong) => return Err(Fail(1, "luod sent an oversized line".into())),
            None => return Err(Fail(1, "luod closed the connection".into())),
        };
        if args.json {
            println!("{}", String::from_utf8_lossy(&line));
        }
        let ev =
            proto::parse_event(&line).map_err(|e| Fail(1, format!("bad line from luod: {e}")))?;
        match ev {
            Event::Progress {
                ready,
                total,
                waiting,
            } if !args.json => {
                if waiting.first().is_some_and(|w| w == "kexec") {
                    println!("all {total} clients ready: rebooting into the new kernel");
                } else {
                    println!(
                        "waiting for clients: {ready}/{total} ready (waiting: {})",
                        waiting.join(", ")
                    );
                }
                io::stdout().flush()?;
            }
            Event::Progress { .. } => {}
            Event::Error { code, message, .. } => {
                let exit = if code == ErrorCode::Kernel { 3 } else { 2 };
                return Err(Fail(exit, format!("luod: {message}")));
            }
            ev => return Ok(ev),
        }
    }
}

fn print_status(s: &Status) {
    println!("generation:   {}", s.generation);
    if let Some(k) = &s.updated_from {
        println!("updated from: {k}");
    }
    println!("phase:        {}", s.phase);
    println!(
        "kexec loaded: {}",
        if s.kexec_loaded { "yes" } else { "no" }
    );
    println!("sessions:     {}", s.sessions.len());
    for x in &s.sessions {
        let conn = if x.connected {
            "connected"
        } else {
            "not connected"
        };
        let tokens: Vec<String> = x.tokens.iter().map(u64::to_string).collect();
        let tokens = if tokens.is_empty() {
            "-".into()
        } else {
            tokens.join(",")
        };
        println!(
            "  {:<24} {:<28} {:<10} {conn:<13} tokens {tokens}",
            x.id, x.session, x.state
        );
    }
    match &s.problem {
        Some(p) => println!("live update:  refused: {p}"),
        None => println!("live update:  possible"),
    }
}

/// Pre-flight checks and kexec_file_load().
fn load(
    kernel: &str,
    initrd: Option<&str>,
    cmdline: Option<&str>,
    reuse: bool,
) -> Result<(), Fail> {
    let open = |p: &str| std::fs::File::open(p).map_err(|e| Fail(1, format!("{p}: {e}")));
    let k = open(kernel)?;
    // A bzImage has "HdrS" at 0x202.
    let mut hdr = [0u8; 4];
    let is_bzimage = {
        use std::os::unix::fs::FileExt;
        k.read_exact_at(&mut hdr, 0x202).is_ok() && &hdr == b"HdrS"
    };
    if !is_bzimage {
        return Err(Fail(1, format!("{kernel}: not a bzImage (no HdrS header)")));
    }
    let i = initrd.map(open).transpose()?;
    let mut line = match (cmdline, reuse) {
        (Some(c), _) => c.to_string(),
        (None, true) => std::fs::read_to_string("/proc/cmdline")?
            .trim_end()
            .to_string(),
        (None, false) => String::new(),
    };
    // kexec_file_load() takes the length with the NUL.
    if line.len() + 1 > 4096 {
        return Err(Fail(1, "command line longer than 4095 bytes".into()));
    }
    let flags = if i.is_none() {
        libc::KEXEC_FILE_NO_INITRAMFS
    } else {
        0
    };
    let c = CString::new(std::mem::take(&mut line))
        .map_err(|_| Fail(1, "NUL in command line".into()))?;
    // SAFETY: kexec_file_load(kernel_fd, initrd_fd, cmdline_len, cmdline, flags) with open
    // descriptors and a NUL-terminated string of cmdline_len bytes.
    let r = unsafe {
        libc::syscall(
            libc::SYS_kexec_file_load,
            k.as_raw_fd(),
            i.as_ref().map_or(-1, |f| f.as_raw_fd()),
            c.as_bytes_with_nul().len(),
            c.as_ptr(),
            flags,
        )
    };
    if r != 0 {
        return Err(Fail(
            3,
            format!("kexec_file_load: {}", io::Error::last_os_error()),
        ));
    }
    if !luo_agent::liveupdate::kexec_loaded() {
        return Err(Fail(3, "the kernel says nothing is loaded".into()));
    }
    Ok(())
}

fn run(args: &Args) -> Result<(), Fail> {
    match &args.cmd {
        Cmd::Status => match request(args, Request::Status)? {
            Event::Status(s) if !args.json => print_status(&s),
            _ => {}
        },
        Cmd::Version => match request(args, Request::Version)? {
            Event::Version { protocol, luod } if !args.json => {
                println!(
                    "luoctl {}, luod {luod}, protocol {protocol}",
                    env!("CARGO_PKG_VERSION")
                )
            }
            _ => {}
        },
        Cmd::Release { id } => {
            request(args, Request::Release { id: id.clone() })?;
            if !args.json {
                println!("released the session of {id}");
            }
        }
        Cmd::Load {
            kernel,
            initrd,
            cmdline,
            reuse_cmdline,
        } => {
            load(
                kernel,
                initrd.as_deref(),
                cmdline.as_deref(),
                *reuse_cmdline,
            )?;
            if !args.json {
                println!("loaded {kernel}");
            }
        }
        Cmd::Kexec { timeout } => {
            // Refuse early, with luod's reason, while it reports a problem.
            if let Event::Status(s) = request(args, Request::Status)? {
                if let Some(p) = s.problem {
                    return Err(Fail(2, format!("live update refused: {p}")));
                }
            }
            request(
                args,
                Request::Kexec {
                    timeout_ms: Some(timeout.saturating_mul(1000)),
                },
            )?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(code, msg)) => {
            eprintln!("luoctl: {msg}");
            ExitCode::from(code)
        }
    }
}
