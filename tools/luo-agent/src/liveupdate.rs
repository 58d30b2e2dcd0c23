// SPDX-License-Identifier: GPL-2.0
//! `/dev/liveupdate` and LUO session file descriptors
//! (include/uapi/linux/liveupdate.h), through rustix's typed ioctls.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};

use rustix::fs::{open, Mode, OFlags};
use rustix::ioctl::{ioctl, opcode, Updater};

/// The LUO device.
pub const DEVICE: &str = "/dev/liveupdate";
/// `LIVEUPDATE_SESSION_NAME_LENGTH`.
pub const NAME_LEN: usize = 64;

const TYPE: u8 = 0xBA;
const CREATE_SESSION: u32 = opcode::none(TYPE, 0x00);
const RETRIEVE_SESSION: u32 = opcode::none(TYPE, 0x01);
const PRESERVE_FD: u32 = opcode::none(TYPE, 0x40);
const RETRIEVE_FD: u32 = opcode::none(TYPE, 0x41);
const FINISH: u32 = opcode::none(TYPE, 0x42);
const GET_NAME: u32 = opcode::none(TYPE, 0x43);

/// `struct liveupdate_ioctl_create_session` and `_retrieve_session`.
#[repr(C)]
struct SessionArg {
    size: u32,
    fd: i32,
    name: [u8; NAME_LEN],
}

/// `struct liveupdate_session_preserve_fd` and `_retrieve_fd`.
#[repr(C)]
struct FdArg {
    size: u32,
    fd: i32,
    token: u64,
}

/// `struct liveupdate_session_finish`.
#[repr(C)]
struct FinishArg {
    size: u32,
    reserved: u32,
}

/// `struct liveupdate_session_get_name`.
#[repr(C)]
struct NameArg {
    size: u32,
    reserved: u32,
    name: [u8; NAME_LEN],
}

const _: () = assert!(size_of::<SessionArg>() == 72);
const _: () = assert!(size_of::<FdArg>() == 16);
const _: () = assert!(size_of::<FinishArg>() == 8);
const _: () = assert!(size_of::<NameArg>() == 72);

fn size_of_val32<T>(_: &T) -> u32 {
    size_of::<T>() as u32
}

/// A session name as the kernel takes it: 1 to 63 bytes, no NUL.
fn name_arg(name: &str) -> io::Result<[u8; NAME_LEN]> {
    let b = name.as_bytes();
    if b.is_empty() || b.len() >= NAME_LEN || b.contains(&0) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut raw = [0u8; NAME_LEN];
    raw[..b.len()].copy_from_slice(b);
    Ok(raw)
}

/// Takes ownership of a descriptor the kernel returned in an argument block.
fn owned(fd: i32) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: the kernel installed `fd` in our table for us, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// An open `/dev/liveupdate` (one opener at a time: EBUSY for a second).
pub struct Device(OwnedFd);

impl Device {
    pub fn open() -> io::Result<Self> {
        Ok(Device(open(
            DEVICE,
            OFlags::RDWR | OFlags::CLOEXEC,
            Mode::empty(),
        )?))
    }

    fn session(&self, op: u32, name: &str) -> io::Result<Session> {
        let mut arg = SessionArg {
            size: 0,
            fd: -1,
            name: name_arg(name)?,
        };
        arg.size = size_of_val32(&arg);
        // SAFETY: `arg` is the argument block of this command, which the kernel fills.
        unsafe {
            match op {
                CREATE_SESSION => ioctl(&self.0, Updater::<CREATE_SESSION, _>::new(&mut arg))?,
                _ => ioctl(&self.0, Updater::<RETRIEVE_SESSION, _>::new(&mut arg))?,
            }
        }
        Ok(Session(owned(arg.fd)?))
    }

    /// `LIVEUPDATE_IOCTL_CREATE_SESSION`: a new outgoing session.
    pub fn create_session(&self, name: &str) -> io::Result<Session> {
        self.session(CREATE_SESSION, name)
    }

    /// `LIVEUPDATE_IOCTL_RETRIEVE_SESSION`: a session of the previous kernel.
    pub fn retrieve_session(&self, name: &str) -> io::Result<Session> {
        self.session(RETRIEVE_SESSION, name)
    }
}

/// A LUO session file descriptor.
pub struct Session(pub OwnedFd);

impl Session {
    /// `LIVEUPDATE_SESSION_PRESERVE_FD`.
    pub fn preserve_fd(&self, fd: BorrowedFd<'_>, token: u64) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let mut arg = FdArg {
            size: 0,
            fd: fd.as_raw_fd(),
            token,
        };
        arg.size = size_of_val32(&arg);
        // SAFETY: the argument block of this command.
        unsafe { ioctl(&self.0, Updater::<PRESERVE_FD, _>::new(&mut arg))? };
        Ok(())
    }

    /// `LIVEUPDATE_SESSION_RETRIEVE_FD`.
    pub fn retrieve_fd(&self, token: u64) -> io::Result<OwnedFd> {
        let mut arg = FdArg {
            size: 0,
            fd: -1,
            token,
        };
        arg.size = size_of_val32(&arg);
        // SAFETY: the argument block of this command, which the kernel fills.
        unsafe { ioctl(&self.0, Updater::<RETRIEVE_FD, _>::new(&mut arg))? };
        owned(arg.fd)
    }

    /// `LIVEUPDATE_SESSION_FINISH`.
    pub fn finish(&self) -> io::Result<()> {
        let mut arg = FinishArg {
            size: 0,
            reserved: 0,
        };
        arg.size = size_of_val32(&arg);
        // SAFETY: the argument block of this command.
        unsafe { ioctl(&self.0, Updater::<FINISH, _>::new(&mut arg))? };
        Ok(())
    }

    /// `LIVEUPDATE_SESSION_GET_NAME`.
    pub fn name(&self) -> io::Result<String> {
        let mut arg = NameArg {
            size: 0,
            reserved: 0,
            name: [0; NAME_LEN],
        };
        arg.size = size_of_val32(&arg);
        // SAFETY: the argument block of this command, which the kernel fills.
        unsafe { ioctl(&self.0, Updater::<GET_NAME, _>::new(&mut arg))? };
        let name = CStr::from_bytes_until_nul(&arg.name)
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        Ok(name.to_string_lossy().into_owned())
    }
}

impl AsFd for Session {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// Whether a kernel is loaded for kexec.
pub fn kexec_loaded() -> bool {
    std::fs::read_to_string("/sys/kernel/kexec_loaded").is_ok_and(|s| s.trim() == "1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_are_the_uapi_ones() {
        // _IO(0xBA, nr): no direction, no size.
        assert_eq!(CREATE_SESSION, 0xBA00);
        assert_eq!(RETRIEVE_SESSION, 0xBA01);
        assert_eq!(PRESERVE_FD, 0xBA40);
        assert_eq!(RETRIEVE_FD, 0xBA41);
        assert_eq!(FINISH, 0xBA42);
        assert_eq!(GET_NAME, 0xBA43);
    }

    #[test]
    fn session_names_are_checked_before_the_kernel_sees_them() {
        assert!(name_arg("luod.kv").is_ok());
        assert!(name_arg("").is_err());
        assert!(name_arg(&"a".repeat(64)).is_err());
        assert!(name_arg(&"a".repeat(63)).is_ok());
        assert!(name_arg("a\0b").is_err());
    }
}
