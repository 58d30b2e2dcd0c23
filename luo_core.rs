// SPDX-License-Identifier: GPL-2.0

//! Live Update Orchestrator (LUO), in Rust.
//!
//! A live update is a kexec reboot into a new kernel in which selected
//! state survives.  Userspace opens `/dev/liveupdate` (one opener at a
//! time), creates named sessions and preserves file descriptors into them
//! under tokens.  At `reboot(LINUX_REBOOT_CMD_KEXEC)` LUO freezes and
//! serializes every session into memory preserved by KHO (Kexec HandOver);
//! the next kernel finds that state under the KHO subtree `LUO`, userspace
//! retrieves sessions and files by name and token, and `FINISH` hands them
//! back for good.
//!
//! This crate is a drop-in replacement for kernel/liveupdate/luo_core.c,
//! luo_session.c, luo_file.c and luo_flb.c of Linux 7.3: the same uAPI
//! (include/uapi/linux/liveupdate.h), the same KHO ABI `luo-v5`
//! (include/linux/kho/abi/luo.h) and the same in-kernel API
//! (include/linux/liveupdate.h).  KHO itself stays C.
//!
//! Modules: [`luo_session`] (sessions), [`luo_file`] (preserved files and
//! file handlers), [`luo_flb`] (file-lifecycle-bound objects), and [`sys`],
//! the thin layer that holds every `unsafe` block.  See
//! Documentation/luo-rs.rst for the design.

use kernel::{
    bindings,
    fs::File,
    ioctl::{_IO, _IOC_NR},
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
};

mod luo_file;
mod luo_flb;
mod luo_session;
mod sys;

use sys::{
    c_api::FdReservation,
    init::builtin_init,
    kho::{self, Incoming, Preserved},
    uaccess::UserCmd,
};

/// Messages read `luo: ...`, as C's `pr_fmt` makes them.
const __LOG_PREFIX: &[u8] = b"luo\0";

/// LUO is built in: no module owns its files or device.
struct LocalModule;

impl kernel::ModuleMetadata for LocalModule {
    const NAME: &'static CStr = c"luo";
    // SAFETY: a NULL module is what `THIS_MODULE` is for built-in code.
    const THIS_MODULE: kernel::ThisModule =
        unsafe { kernel::ThisModule::from_ptr(core::ptr::null_mut()) };
}

/// Name of LUO's KHO subtree (`LUO_KHO_ENTRY_NAME`).
const KHO_ENTRY_NAME: &CStr = c"LUO";
/// The ABI this kernel speaks (`LUO_ABI_COMPATIBLE`).
const ABI_COMPATIBLE: &[u8] = b"luo-v5";

/// Whether live update is on (`liveupdate=` and KHO).
static ENABLED: Atomic<bool> = Atomic::new(false);
/// Number of live updates that led to this boot.
static LIVEUPDATE_NUM: Atomic<u64> = Atomic::new(0);

kernel::sync::global_lock! {
    // SAFETY: initialized in the early initcall, before any use.
    unsafe(uninit) static LUO_SER_OUT: Mutex<Option<Preserved<bindings::luo_ser>>> = None;
}

/// Whether live update is enabled (`liveupdate_enabled()`).
pub(crate) fn enabled() -> bool {
    ENABLED.load(Relaxed)
}

// ---------------------------------------------------------------------------
// Small pure helpers, shared by the modules and tested by KUnit.
// ---------------------------------------------------------------------------

/// The bytes of a fixed-size C string up to its NUL (all if none).
pub(crate) fn c_str_bytes(raw: &[u8]) -> &[u8] {
    let len = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    &raw[..len]
}

/// Writes `src` as a NUL-terminated string into `dst`, truncating and
/// zero-filling (`strscpy_pad()`).
pub(crate) fn copy_c_str(dst: &mut [u8], src: &[u8]) {
    let n = src.len().min(dst.len().saturating_sub(1));
    dst[..n].copy_from_slice(&src[..n]);
    dst[n..].fill(0);
}

/// A session name: 1 to 63 bytes, NUL-terminated in a 64-byte array.
#[derive(Clone, Copy)]
pub(crate) struct SessionName {
    raw: [u8; 64],
    len: usize,
}

impl SessionName {
    /// Validates a name from userspace: EINVAL if empty or without NUL in
    /// its 64 bytes (`luo_session_create()`).
    pub(crate) fn new(raw: &[u8; 64]) -> Result<Self> {
        let name = c_str_bytes(raw);
        if name.is_empty() || name.len() == raw.len() {
            return Err(EINVAL);
        }
        Ok(Self::from_bytes(name))
    }

    /// A name from the previous kernel, truncated to 63 bytes as
    /// `strscpy()` does.
    pub(crate) fn from_ser(raw: &[u8; 64]) -> Self {
        let name = c_str_bytes(raw);
        Self::from_bytes(&name[..name.len().min(63)])
    }

    /// `name` has at most 63 bytes and no NUL.
    fn from_bytes(name: &[u8]) -> Self {
        let mut raw = [0u8; 64];
        raw[..name.len()].copy_from_slice(name);
        Self {
            raw,
            len: name.len(),
        }
    }

    /// The name without NUL.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.raw[..self.len]
    }

    /// For messages.
    pub(crate) fn display(&self) -> &kernel::str::BStr {
        kernel::str::BStr::from_bytes(self.as_bytes())
    }

    /// Writes the name into a `GET_NAME` reply as C's `strscpy()` does on
    /// x86: the name, its NUL, and zeroes up to the end of the 8-byte word
    /// holding the NUL; bytes past that keep what userspace sent.
    pub(crate) fn copy_out(&self, dst: &mut [u8; 64]) {
        dst[..self.len].copy_from_slice(self.as_bytes());
        let end = ((self.len + 1).div_ceil(8) * 8).min(dst.len());
        dst[self.len..end].fill(0);
    }
}

/// The number of an `_IO(LIVEUPDATE_IOCTL_TYPE, nr)` command.
pub(crate) const fn io(nr: u32) -> u32 {
    _IO(bindings::LIVEUPDATE_IOCTL_TYPE, nr)
}

/// One entry of an ioctl table: the exact command and the minimum size of
/// its argument (`offsetofend` of the last mandatory field).
#[derive(Clone, Copy)]
pub(crate) struct IoctlOp {
    cmd: u32,
    min_size: usize,
}

impl IoctlOp {
    /// The entry for `cmd`, whose argument is a `T` of at least `min_size`
    /// bytes.
    pub(crate) const fn new<T>(cmd: u32, min_size: usize) -> Self {
        assert!(min_size <= size_of::<T>());
        Self { cmd, min_size }
    }

    /// ENOIOCTLCMD (ENOTTY for userspace) when `cmd` only shares the number.
    pub(crate) fn check_cmd(&self, cmd: u32) -> Result {
        if self.cmd != cmd {
            return Err(ENOIOCTLCMD);
        }
        Ok(())
    }

    /// EINVAL when userspace's struct is shorter than the minimum.
    pub(crate) fn check_size(&self, user_size: u32) -> Result {
        if (user_size as usize) < self.min_size {
            return Err(EINVAL);
        }
        Ok(())
    }
}

/// The table index of `cmd` in a table of `len` entries starting at command
/// number `base`; EINVAL out of range (before the argument is even read).
pub(crate) fn ioctl_index(cmd: u32, base: u32, len: usize) -> Result<usize> {
    let nr = _IOC_NR(cmd);
    match nr.checked_sub(base) {
        Some(i) if (i as usize) < len => Ok(i as usize),
        _ => Err(EINVAL),
    }
}

// ---------------------------------------------------------------------------
// Boot.
// ---------------------------------------------------------------------------

/// `liveupdate=`: turns live update on or off.
fn parse_param(val: Option<&CStr>) -> Result {
    let val = val.ok_or(EINVAL)?;
    ENABLED.store(kernel::str::kstrtobool(val)?, Relaxed);
    Ok(())
}
builtin_init!(early_param "liveupdate", liveupdate_param_rs, parse_param);

/// Restores the previous kernel's state from KHO (`luo_early_startup()`).
fn early_startup() -> Result {
    if !kho::is_enabled() {
        if enabled() {
            pr_warn!("Disabling liveupdate because KHO is disabled\n");
        }
        ENABLED.store(false, Relaxed);
        return Ok(());
    }

    let (phys, len) = match kho::retrieve_subtree(KHO_ENTRY_NAME) {
        Ok(v) => v,
        Err(e) if e == ENOENT => return Ok(()),
        Err(e) => {
            pr_err!("failed to retrieve LUO state 'LUO' from KHO: {:?}\n", e);
            return Err(e);
        }
    };
    let size = size_of::<bindings::luo_ser>();
    if len < size {
        pr_err!("LUO state is too small ({} < {})\n", len, size);
        return Err(EINVAL);
    }
    // SAFETY: KHO handed over this subtree, `len` bytes the previous kernel
    // preserved with `kho_alloc_preserve()`.
    let luo_ser = unsafe { Incoming::<bindings::luo_ser>::new(phys, len) };
    // strncmp(compatible, "luo-v5", 8): the field is exactly 8 bytes.
    if c_str_bytes(&luo_ser.compatible) != ABI_COMPATIBLE {
        pr_err!("LUO state is incompatible with 'luo-v5'\n");
        return Err(EINVAL);
    }

    let num = luo_ser.liveupdate_num;
    LIVEUPDATE_NUM.store(num, Relaxed);
    pr_info!("Retrieved live update data, liveupdate number: {}\n", num);

    // SAFETY: the addresses come from the `luo_ser` the previous kernel
    // handed over.
    let res = unsafe { luo_session::setup_incoming(luo_ser.sessions_pa) };
    if res.is_ok() {
        // SAFETY: as above.
        unsafe { luo_flb::setup_incoming(luo_ser.flbs_pa) };
    }
    luo_ser.free();
    res
}

/// Early initcall (`liveupdate_early_init()`).
fn early_init() -> Result {
    // SAFETY: the early initcall runs once, before anything can call LUO.
    unsafe {
        LUO_SER_OUT.init();
        luo_file::init_locks();
        luo_flb::init_locks();
        luo_session::init_locks();
    }
    if let Err(e) = early_startup() {
        ENABLED.store(false, Relaxed);
        // Continuing with half-restored devices and memory could leak
        // private data (`luo_restore_fail()`).
        sys::c_api::panic(fmt!(
            "The incoming tree failed to initialize properly [-{:?}], disabling live update\n",
            e
        ));
    }
    Ok(())
}
builtin_init!(early_initcall, liveupdate_early_init_rs, early_init);

/// Allocates and publishes the outgoing `luo_ser` (`luo_state_setup()`).
fn state_setup() -> Result {
    let mut luo_ser = Preserved::<bindings::luo_ser>::alloc(size_of::<bindings::luo_ser>())
        .inspect_err(|_| pr_err!("failed to allocate/preserve LUO state memory\n"))?;
    copy_c_str(&mut luo_ser.compatible, ABI_COMPATIBLE);
    luo_ser.liveupdate_num = LIVEUPDATE_NUM.load(Relaxed).wrapping_add(1);
    let res = luo_session::setup_outgoing()
        .and_then(|()| luo_flb::setup_outgoing())
        .and_then(|flbs_pa| {
            luo_ser.flbs_pa = flbs_pa;
            kho::add_subtree(KHO_ENTRY_NAME, &luo_ser)
        });
    match res {
        Ok(()) => {
            *LUO_SER_OUT.lock() = Some(luo_ser);
            Ok(())
        }
        Err(e) => {
            luo_ser.unpreserve();
            pr_err!("failed to prepare LUO state: {}\n", e.to_errno());
            Err(e)
        }
    }
}

/// Late initcall: the outgoing state (`luo_late_startup()`), then
/// `/dev/liveupdate` (`liveupdate_ioctl_init()`).
fn late_init() -> Result {
    if !enabled() {
        return Ok(());
    }
    if state_setup().is_err() {
        ENABLED.store(false, Relaxed);
        return Ok(());
    }
    let reg = KBox::pin_init(
        MiscDeviceRegistration::<LuoDevice>::register(MiscDeviceOptions {
            name: c"liveupdate",
        }),
        GFP_KERNEL,
    )?;
    // The device lives as long as the kernel.
    core::mem::forget(reg);
    Ok(())
}
builtin_init!(late_initcall, liveupdate_late_init_rs, late_init);

/// `liveupdate_reboot()`: serializes every session, then the FLBs.  On
/// error the sessions are unfrozen and the kexec reboot fails.
pub(crate) fn reboot() -> Result {
    if !enabled() {
        return Ok(());
    }
    let mut out = LUO_SER_OUT.lock();
    let pa = luo_session::serialize();
    if let Some(luo_ser) = out.as_mut() {
        luo_ser.sessions_pa = *pa.as_ref().unwrap_or(&0);
    }
    pa?;
    luo_flb::serialize();
    Ok(())
}

// ---------------------------------------------------------------------------
// /dev/liveupdate
// ---------------------------------------------------------------------------

/// Whether `/dev/liveupdate` is open (one opener at a time).
static IN_USE: Atomic<i32> = Atomic::new(0);

/// The `/dev/liveupdate` device.
struct LuoDevice;

/// The device ioctls, indexed from `LIVEUPDATE_CMD_BASE`.
const DEVICE_OPS: [IoctlOp; 2] = [
    IoctlOp::new::<bindings::liveupdate_ioctl_create_session>(
        io(bindings::LIVEUPDATE_CMD_CREATE_SESSION),
        core::mem::offset_of!(bindings::liveupdate_ioctl_create_session, name) + 64,
    ),
    IoctlOp::new::<bindings::liveupdate_ioctl_retrieve_session>(
        io(bindings::LIVEUPDATE_CMD_RETRIEVE_SESSION),
        core::mem::offset_of!(bindings::liveupdate_ioctl_retrieve_session, name) + 64,
    ),
];

/// Reserves an fd, makes the file, answers userspace and only then
/// installs the fd, so a failed answer leaves no fd behind.
fn reply_with_file<T: sys::Pod>(
    ucmd: &UserCmd,
    argp: &mut T,
    set_fd: impl FnOnce(&mut T, i32),
    make: impl FnOnce(&T) -> Result<kernel::sync::aref::ARef<File>>,
) -> Result<isize> {
    let fd = FdReservation::new()?;
    set_fd(argp, fd.number());
    let file = make(argp)?;
    ucmd.respond(argp)?;
    fd.install(file);
    Ok(0)
}

#[vtable]
impl MiscDevice for LuoDevice {
    type Ptr = ();

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<()> {
        if IN_USE.cmpxchg(0, 1, Relaxed).is_err() {
            return Err(EBUSY);
        }
        // Deserialization fails for good: every open then gets EIO.
        if luo_session::deserialize().is_err() {
            IN_USE.store(0, Relaxed);
            return Err(EIO);
        }
        Ok(())
    }

    fn release(_device: (), _file: &File) {
        IN_USE.store(0, Relaxed);
    }

    /// C's `/dev/liveupdate` has no `compat_ioctl`: 32-bit tasks get ENOTTY.
    #[cfg(CONFIG_COMPAT)]
    fn compat_ioctl(_device: (), _file: &File, _cmd: u32, _arg: usize) -> Result<isize> {
        Err(ENOIOCTLCMD)
    }

    fn ioctl(_device: (), _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        let index = ioctl_index(cmd, bindings::LIVEUPDATE_CMD_BASE, DEVICE_OPS.len())?;
        let ucmd = UserCmd::new(arg)?;
        let op = DEVICE_OPS[index];
        op.check_cmd(cmd)?;
        op.check_size(ucmd.user_size())?;
        if index == bindings::LIVEUPDATE_CMD_CREATE_SESSION as usize {
            let mut argp = ucmd.read::<bindings::liveupdate_ioctl_create_session>()?;
            reply_with_file(
                &ucmd,
                &mut argp,
                |a, fd| a.fd = fd,
                |a| luo_session::create(&a.name),
            )
        } else {
            let mut argp = ucmd.read::<bindings::liveupdate_ioctl_retrieve_session>()?;
            reply_with_file(
                &ucmd,
                &mut argp,
                |a, fd| a.fd = fd,
                |a| luo_session::retrieve(&a.name),
            )
        }
    }
}

#[kunit_tests(luo_rs)]
mod tests {
    use super::*;
    use crate::sys::uaccess::StructCopy;

    fn name64(s: &[u8]) -> [u8; 64] {
        let mut raw = [0u8; 64];
        raw[..s.len()].copy_from_slice(s);
        raw
    }

    #[test]
    fn session_name_rules() {
        assert_eq!(SessionName::new(&name64(b"")).err(), Some(EINVAL));
        assert!(SessionName::new(&name64(b"a")).is_ok());
        let long = [b'x'; 63];
        assert_eq!(
            SessionName::new(&name64(&long)).map(|n| n.as_bytes().len()),
            Ok(63)
        );
        assert_eq!(SessionName::new(&[b'y'; 64]).err(), Some(EINVAL));
        // Bytes after the NUL do not belong to the name.
        let mut raw = name64(b"abc");
        raw[10] = b'z';
        let n = SessionName::new(&raw).unwrap();
        assert_eq!(n.as_bytes(), b"abc");
    }

    #[test]
    fn session_name_from_previous_kernel_is_truncated() {
        let raw = [b'q'; 64];
        assert_eq!(SessionName::from_ser(&raw).as_bytes().len(), 63);
    }

    #[test]
    fn get_name_reply_matches_strscpy() {
        let n = SessionName::new(&name64(b"abc")).unwrap();
        let mut out = [0xAAu8; 64];
        n.copy_out(&mut out);
        assert_eq!(&out[..3], b"abc");
        assert!(out[3..8].iter().all(|&b| b == 0));
        assert!(out[8..].iter().all(|&b| b == 0xAA));
        let n = SessionName::new(&name64(b"12345678")).unwrap();
        let mut out = [0xAAu8; 64];
        n.copy_out(&mut out);
        assert!(out[8..16].iter().all(|&b| b == 0));
        assert_eq!(out[16], 0xAA);
    }

    #[test]
    fn ioctl_numbers_and_ranges() {
        assert_eq!(io(0), 0xBA00);
        assert_eq!(io(0x43), 0xBA43);
        assert_eq!(ioctl_index(io(0), 0, 2), Ok(0));
        assert_eq!(ioctl_index(io(1), 0, 2), Ok(1));
        assert_eq!(ioctl_index(io(2), 0, 2).err(), Some(EINVAL));
        assert_eq!(ioctl_index(io(0x3f), 0x40, 4).err(), Some(EINVAL));
        assert_eq!(ioctl_index(io(0x40), 0x40, 4), Ok(0));
        assert_eq!(ioctl_index(io(0x44), 0x40, 4).err(), Some(EINVAL));
        // Same number, other type or direction: ENOIOCTLCMD.
        assert_eq!(DEVICE_OPS[0].check_cmd(0xAB00).err(), Some(ENOIOCTLCMD));
        assert!(DEVICE_OPS[0].check_cmd(io(0)).is_ok());
    }

    #[test]
    fn minimum_sizes_are_offsetofend() {
        assert_eq!(DEVICE_OPS[0].check_size(71).err(), Some(EINVAL));
        assert!(DEVICE_OPS[0].check_size(72).is_ok());
        assert!(DEVICE_OPS[1].check_size(72).is_ok());
        assert!(DEVICE_OPS[0].check_size(4096).is_ok());
    }

    #[test]
    fn copy_struct_from_user_plan() {
        assert_eq!(
            StructCopy::new(72, 72),
            StructCopy {
                copy: 72,
                tail: None
            }
        );
        assert_eq!(
            StructCopy::new(72, 8),
            StructCopy {
                copy: 8,
                tail: None
            }
        );
        assert_eq!(
            StructCopy::new(16, 24),
            StructCopy {
                copy: 16,
                tail: Some((16, 8))
            }
        );
        assert_eq!(
            StructCopy::new(8, 0),
            StructCopy {
                copy: 0,
                tail: None
            }
        );
    }

    #[test]
    fn abi_layout_matches_c() {
        use core::mem::offset_of;
        assert_eq!(size_of::<bindings::luo_ser>(), 32);
        assert_eq!(offset_of!(bindings::luo_ser, liveupdate_num), 8);
        assert_eq!(offset_of!(bindings::luo_ser, sessions_pa), 16);
        assert_eq!(offset_of!(bindings::luo_ser, flbs_pa), 24);
        assert_eq!(size_of::<bindings::luo_file_ser>(), 64);
        assert_eq!(offset_of!(bindings::luo_file_ser, data), 48);
        assert_eq!(offset_of!(bindings::luo_file_ser, token), 56);
        assert_eq!(size_of::<bindings::luo_file_set_ser>(), 16);
        assert_eq!(size_of::<bindings::luo_session_ser>(), 80);
        assert_eq!(offset_of!(bindings::luo_session_ser, file_set_ser), 64);
        assert_eq!(size_of::<bindings::luo_flb_header_ser>(), 16);
        assert_eq!(size_of::<bindings::luo_flb_ser>(), 64);
        assert_eq!(luo_flb::FLB_MAX, 63);
        assert_eq!(size_of::<bindings::liveupdate_ioctl_create_session>(), 72);
        assert_eq!(size_of::<bindings::liveupdate_session_preserve_fd>(), 16);
        assert_eq!(size_of::<bindings::liveupdate_session_finish>(), 8);
        assert_eq!(size_of::<bindings::liveupdate_session_get_name>(), 72);
    }

    #[test]
    fn c_strings() {
        let mut dst = [1u8; 8];
        copy_c_str(&mut dst, b"luo-v5");
        assert_eq!(c_str_bytes(&dst), b"luo-v5");
        copy_c_str(&mut dst, b"0123456789");
        assert_eq!(c_str_bytes(&dst), b"0123456");
        assert_eq!(dst[7], 0);
    }
}
