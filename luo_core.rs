// SPDX-License-Identifier: GPL-2.0

//! Live Update Orchestrator (LUO), in Rust.
//!
//! A drop-in replacement for kernel/liveupdate/luo_{core,session,file,flb}.c
//! (same uAPI, KHO ABI and in-kernel API): this file has boot, reboot,
//! `/dev/liveupdate` and [`Luo`].  See Documentation/luo-rs.rst.

use kernel::{
    bindings,
    fs::File,
    miscdevice::{
        MiscDevice,
        MiscDeviceOptions,
        MiscDeviceRegistration, //
    },
    new_mutex,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{
            Atomic,
            Relaxed, //
        },
        Mutex, //
    },
    transmute::AsBytes, //
};

mod capi;
mod luo_file;
mod luo_flb;
mod luo_handover;
mod luo_index;
mod luo_session;
mod staging;

use capi::abi::{
    self,
    Abi,
    LuoSer, //
};
use staging::{
    initcall::builtin_init,
    kho,
    rwsem::{
        new_rwsem,
        RwSem, //
    },
    static_once::StaticOnce,
    uaccess::UserCmd, //
};

/// Messages read `luo: ...`, as C's `pr_fmt` makes them.
const __LOG_PREFIX: &[u8] = b"luo\0";

staging::initcall::builtin_module!("luo");

/// Whether live update is on (`liveupdate=` and KHO).
static ENABLED: Atomic<bool> = Atomic::new(false);
/// Number of live updates that led to this boot.
static LIVEUPDATE_NUM: Atomic<u64> = Atomic::new(0);

/// Whether live update is enabled (`liveupdate_enabled()`).
pub(crate) fn enabled() -> bool {
    ENABLED.load(Relaxed)
}

/// LUO's state: what C keeps in `luo_global`, `luo_session_global`,
/// `luo_flb_global`, the handler list and the preserved-file set.
///
/// The kernel has one, [`luo()`]; KUnit tests make their own.  The lock
/// order is given in Documentation/luo-rs.rst.
#[pin_data]
pub(crate) struct Luo {
    /// Registered file handlers and FLBs (`luo_register_rwlock`).
    #[pin]
    registry: RwSem<luo_file::Registry>,
    /// Ids of the preserved and retrieved files.
    #[pin]
    preserved: Mutex<luo_file::PreservedIds>,
    /// The session lists (`luo_session_serialize_rwsem`).
    #[pin]
    sessions: RwSem<luo_session::Sessions>,
    /// The serialized FLB arrays of both kernels.
    #[pin]
    flb_headers: Mutex<luo_flb::Headers>,
    /// The outgoing `luo_ser`, once published.
    #[pin]
    ser_out: Mutex<Option<kho::Preserved<LuoSer>>>,
}

impl Luo {
    /// An empty state.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            registry <- new_rwsem!(luo_file::Registry::default(), "luo_register_rwlock"),
            preserved <- new_mutex!(luo_file::PreservedIds::default(), "luo_preserved_files"),
            sessions <- new_rwsem!(luo_session::Sessions::new(), "luo_session_serialize_rwsem"),
            flb_headers <- new_mutex!(luo_flb::Headers::default(), "luo_flb_headers"),
            ser_out <- new_mutex!(None, "luo_ser_out"),
        })
    }
}

/// The kernel's LUO state, made on first use, so that it works from any
/// initcall, as C's static locks do.
pub(crate) fn luo() -> &'static Luo {
    static LUO: StaticOnce<Luo> = StaticOnce::new();
    LUO.get_or_init(Luo::new)
}

/// The number of an `_IO(LIVEUPDATE_IOCTL_TYPE, nr)` command.
pub(crate) const fn io(nr: u32) -> u32 {
    kernel::ioctl::_IO(bindings::LIVEUPDATE_IOCTL_TYPE, nr)
}

/// One entry of an ioctl table: the exact command and the minimum size of
/// its argument (`offsetofend` of the last mandatory field).
pub(crate) struct IoctlOp {
    cmd: u32,
    min_size: usize,
}

impl IoctlOp {
    /// ENOIOCTLCMD (ENOTTY for userspace) when `cmd` only shares the
    /// number, EINVAL when userspace's struct is shorter than the minimum.
    pub(crate) fn check(&self, cmd: u32, user_size: u32) -> Result {
        if self.cmd != cmd {
            return Err(ENOIOCTLCMD);
        }
        if (user_size as usize) < self.min_size {
            return Err(EINVAL);
        }
        Ok(())
    }
}

/// An ioctl table: for each command number `bindings::$nr`, an [`IoctlOp`] whose argument is a
/// `bindings::$t` that must reach to the end of its field `$last`.
macro_rules! ioctl_ops {
    ($($nr:ident => $t:ident.$last:ident),* $(,)?) => {
        [$($crate::IoctlOp {
            cmd: $crate::io(::kernel::bindings::$nr),
            min_size: $crate::capi::abi::offset_of_end!(::kernel::bindings::$t, $last),
        }),*]
    };
}
pub(crate) use ioctl_ops;

/// The table index of `cmd` in a table of `len` entries starting at command
/// number `base`; EINVAL out of range (before the argument is even read).
pub(crate) fn ioctl_index(cmd: u32, base: u32, len: usize) -> Result<usize> {
    match kernel::ioctl::_IOC_NR(cmd).checked_sub(base) {
        Some(i) if (i as usize) < len => Ok(i as usize),
        _ => Err(EINVAL),
    }
}

/// The index of `cmd` in the table `ops` starting at number `base`, and
/// its argument at `arg`, checked against the entry.
pub(crate) fn ioctl_decode(
    ops: &[IoctlOp],
    base: u32,
    cmd: u32,
    arg: usize,
) -> Result<(usize, UserCmd)> {
    let index = ioctl_index(cmd, base, ops.len())?;
    let ucmd = UserCmd::new(arg)?;
    ops[index].check(cmd, ucmd.user_size())?;
    Ok((index, ucmd))
}

/// Reserves an fd, makes the file (`make` also stores the fd in `argp`), answers userspace and only
/// then installs the fd, so a failed answer leaves no fd behind.
pub(crate) fn reply_with_file<T: AsBytes>(
    ucmd: &UserCmd,
    argp: &mut T,
    make: impl FnOnce(&mut T, i32) -> Result<ARef<File>>,
) -> Result {
    let fd = kernel::fs::file::FileDescriptorReservation::get_unused_fd_flags(bindings::O_CLOEXEC)?;
    let file = make(argp, fd.reserved_fd() as i32)?;
    ucmd.respond(argp)?;
    fd.fd_install(file);
    Ok(())
}

/// `liveupdate=`: turns live update on or off.
fn parse_param(val: Option<&CStr>) -> Result {
    let val = val.ok_or(EINVAL)?;
    ENABLED.store(kernel::str::kstrtobool(val)?, Relaxed);
    Ok(())
}
builtin_init!(early_param "liveupdate", liveupdate_param_rs, parse_param);

/// Restores the previous kernel's state from KHO (`luo_early_startup()`).
fn early_startup(luo: &Luo) -> Result {
    if !kho::is_enabled() {
        if enabled() {
            pr_warn!("Disabling liveupdate because KHO is disabled\n");
        }
        ENABLED.store(false, Relaxed);
        return Ok(());
    }

    let (addr, len) = match kho::retrieve_subtree(abi::KHO_ENTRY_NAME) {
        Ok(v) => v,
        Err(e) if e == ENOENT => return Ok(()),
        Err(e) => {
            pr_err!("failed to retrieve LUO state 'LUO' from KHO: {:?}\n", e);
            return Err(e);
        }
    };
    let size = size_of::<LuoSer>();
    if len < size {
        pr_err!("LUO state is too small ({} < {})\n", len, size);
        return Err(EINVAL);
    }
    let luo_ser = kho::Incoming::<LuoSer>::adopt(addr, len).inspect_err(|bad| {
        pr_err!("LUO state at {:#x}: {bad}\n", addr.pa());
    })?;
    // strncmp(compatible, LUO_ABI_COMPATIBLE, LUO_ABI_COMPAT_LEN).
    if abi::c_str_bytes(&luo_ser.compatible) != abi::COMPATIBLE.to_bytes() {
        pr_err!("LUO state is incompatible with '{}'\n", abi::COMPATIBLE);
        return Err(EINVAL);
    }
    // Nothing is used before all of it has been checked.
    luo_handover::check(&luo_ser, addr)?;

    let num = luo_ser.liveupdate_num;
    LIVEUPDATE_NUM.store(num, Relaxed);
    pr_info!("Retrieved live update data, liveupdate number: {}\n", num);

    let res = luo_session::setup_incoming(luo, luo_ser.sessions());
    if res.is_ok() {
        luo_flb::setup_incoming(luo, luo_ser.flbs());
    }
    luo_ser.free();
    res
}

/// Early initcall (`liveupdate_early_init()`).
fn early_init() -> Result {
    if let Err(e) = early_startup(luo()) {
        ENABLED.store(false, Relaxed);
        // Continuing with half-restored devices and memory could leak
        // private data (`luo_restore_fail()`).
        capi::panic(fmt!(
            "The incoming tree failed to initialize properly [-{e:?}], disabling live update\n"
        ));
    }
    Ok(())
}
builtin_init!(early_initcall, liveupdate_early_init_rs, early_init);

/// Allocates and publishes the outgoing `luo_ser` (`luo_state_setup()`).
fn state_setup(luo: &Luo) -> Result {
    let mut luo_ser = kho::Preserved::<LuoSer>::alloc(size_of::<LuoSer>())
        .inspect_err(|_| pr_err!("failed to allocate/preserve LUO state memory\n"))?;
    abi::copy_c_str(&mut luo_ser.compatible, abi::COMPATIBLE.to_bytes());
    luo_ser.liveupdate_num = LIVEUPDATE_NUM.load(Relaxed).wrapping_add(1);
    let res = luo_session::setup_outgoing(luo)
        .and_then(|()| luo_flb::setup_outgoing(luo))
        .and_then(|flbs_pa| {
            luo_ser.flbs_pa = flbs_pa;
            kho::add_subtree(abi::KHO_ENTRY_NAME, &luo_ser)
        });
    match res {
        Ok(()) => {
            *luo.ser_out.lock() = Some(luo_ser);
            Ok(())
        }
        Err(e) => {
            // Dropping `luo_ser` unpreserves and frees it.
            pr_err!("failed to prepare LUO state: {}\n", e.to_errno());
            Err(e)
        }
    }
}

/// Late initcall: the outgoing state (`luo_late_startup()`), then
/// `/dev/liveupdate` (`liveupdate_ioctl_init()`), registered for the boot.
fn late_init() -> Result {
    static DEVICE: StaticOnce<MiscDeviceRegistration<LuoDevice>> = StaticOnce::new();
    if !enabled() {
        return Ok(());
    }
    if state_setup(luo()).is_err() {
        ENABLED.store(false, Relaxed);
        return Ok(());
    }
    DEVICE.try_init(MiscDeviceRegistration::register(MiscDeviceOptions {
        name: c"liveupdate",
    }))?;
    Ok(())
}
builtin_init!(late_initcall, liveupdate_late_init_rs, late_init);

/// `liveupdate_reboot()`: serializes every session, then the FLBs.  On
/// error the sessions are unfrozen and the kexec reboot fails.
pub(crate) fn reboot(luo: &Luo) -> Result {
    if !enabled() {
        return Ok(());
    }
    let mut out = luo.ser_out.lock();
    let pa = luo_session::serialize(luo);
    if let Some(luo_ser) = &mut *out {
        luo_ser.sessions_pa = *pa.as_ref().unwrap_or(&0);
    }
    pa?;
    luo_flb::serialize(luo);
    Ok(())
}

/// Whether `/dev/liveupdate` is open (one opener at a time).
static IN_USE: Atomic<i32> = Atomic::new(0);

/// The `/dev/liveupdate` device.
struct LuoDevice;

/// The device ioctls, indexed from `LIVEUPDATE_CMD_BASE`.
const DEVICE_OPS: [IoctlOp; 2] = ioctl_ops! {
    LIVEUPDATE_CMD_CREATE_SESSION => liveupdate_ioctl_create_session.name,
    LIVEUPDATE_CMD_RETRIEVE_SESSION => liveupdate_ioctl_retrieve_session.name,
};

#[vtable]
impl MiscDevice for LuoDevice {
    type Ptr = ();

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<()> {
        if IN_USE.cmpxchg(0, 1, Relaxed).is_err() {
            return Err(EBUSY);
        }
        // Deserialization fails for good: every open then gets EIO.
        if luo_session::deserialize(luo()).is_err() {
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
        let (index, ucmd) = ioctl_decode(&DEVICE_OPS, bindings::LIVEUPDATE_CMD_BASE, cmd, arg)?;
        let luo = luo();
        if index == bindings::LIVEUPDATE_CMD_CREATE_SESSION as usize {
            let mut a = ucmd.read::<Abi<bindings::liveupdate_ioctl_create_session>>()?;
            reply_with_file(&ucmd, &mut a, |a, fd| {
                a.fd = fd;
                luo_session::create(luo, &a.name)
            })?;
        } else {
            let mut a = ucmd.read::<Abi<bindings::liveupdate_ioctl_retrieve_session>>()?;
            reply_with_file(&ucmd, &mut a, |a, fd| {
                a.fd = fd;
                luo_session::retrieve(luo, &a.name)
            })?;
        }
        Ok(0)
    }
}

#[kunit_tests(luo_rs)]
mod tests {
    use super::*;
    use crate::{
        capi::abi::{
            c_str_bytes,
            copy_c_str, //
        },
        luo_session::SessionName,
        staging::uaccess::struct_copy, //
    };

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
        assert_eq!(DEVICE_OPS[0].check(0xAB00, 72).err(), Some(ENOIOCTLCMD));
        assert!(DEVICE_OPS[0].check(io(0), 72).is_ok());
    }

    #[test]
    fn minimum_sizes_are_offsetofend() {
        let create = io(bindings::LIVEUPDATE_CMD_CREATE_SESSION);
        let retrieve = io(bindings::LIVEUPDATE_CMD_RETRIEVE_SESSION);
        assert_eq!(DEVICE_OPS[0].check(create, 71).err(), Some(EINVAL));
        assert!(DEVICE_OPS[0].check(create, 72).is_ok());
        assert!(DEVICE_OPS[1].check(retrieve, 72).is_ok());
        assert!(DEVICE_OPS[0].check(create, 4096).is_ok());
    }

    #[test]
    fn copy_struct_from_user_plan() {
        assert_eq!(struct_copy(72, 72), (72, None));
        assert_eq!(struct_copy(72, 8), (8, None));
        assert_eq!(struct_copy(16, 24), (16, Some((16, 8))));
        assert_eq!(struct_copy(8, 0), (0, None));
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
