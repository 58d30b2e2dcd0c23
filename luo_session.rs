// SPDX-License-Identifier: GPL-2.0

//! Sessions: named groups of preserved files.
//!
//! Userspace creates an outgoing session with `CREATE_SESSION`, gets an fd
//! for it and preserves files into it.  At reboot every outgoing session is
//! frozen and written into KHO blocks as a `struct luo_session_ser`.  In the
//! next kernel the entries become incoming sessions, which userspace takes
//! with `RETRIEVE_SESSION` (once), then `RETRIEVE_FD` and `FINISH`.
//!
//! Closing an outgoing session fd unpreserves its files; closing a
//! retrieved session fd finishes it.  Names are unique within each list, so
//! a new outgoing session may take the name of an incoming one.
//!
//! Locking, outermost first, as in C:
//!
//! 1. [`SERIALIZE`], held for read by every session operation and for write
//!    by reboot serialization, which keeps it once it succeeds so that no
//!    session changes after its state was written;
//! 2. the list locks [`OUTGOING`] and [`INCOMING`];
//! 3. each session's mutex.

use crate::{
    luo_file::FileSet,
    sys::{
        anon_file::{self, AnonFileOps},
        c_api,
        kho::BlockSet,
        rwsem::RwSem,
        uaccess::UserCmd,
    },
    IoctlOp, SessionName,
};
use kernel::{
    bindings,
    fs::File,
    prelude::*,
    sync::{aref::ARef, new_mutex, Arc, ArcBorrow, Mutex},
};

/// Which list a session belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Created in this kernel, to be preserved.
    Outgoing,
    /// Handed over by the previous kernel.
    Incoming,
}

/// What a session mutex protects.
struct SessionInner {
    /// An incoming session was given to userspace (it is, at most once).
    retrieved: bool,
    files: FileSet,
}

/// A session (`struct luo_session`).
#[pin_data]
pub(crate) struct Session {
    name: SessionName,
    direction: Direction,
    #[pin]
    inner: Mutex<SessionInner>,
}

impl Session {
    fn new(name: SessionName, direction: Direction) -> Result<Arc<Self>> {
        let files = FileSet::new()?;
        Arc::pin_init(
            pin_init!(Session {
                name,
                direction,
                inner <- new_mutex!(SessionInner { retrieved: false, files }),
            }),
            GFP_KERNEL,
        )
    }

    /// The session's fd: an anonymous-inode file named `[luo_session] NAME`.
    fn new_file(self: &Arc<Self>) -> Result<ARef<File>> {
        const PREFIX: &[u8] = b"[luo_session] ";
        let mut buf = [0u8; PREFIX.len() + bindings::LIVEUPDATE_SESSION_NAME_LENGTH as usize];
        buf[..PREFIX.len()].copy_from_slice(PREFIX);
        let name = self.name.as_bytes();
        buf[PREFIX.len()..PREFIX.len() + name.len()].copy_from_slice(name);
        let name = CStr::from_bytes_until_nul(&buf).map_err(|_| EINVAL)?;
        anon_file::new_file(name, self.clone())
    }
}

/// One of the two session lists (`struct luo_session_header`).
pub(crate) struct SessionList {
    sessions: KVec<Arc<Session>>,
    /// The serialized entries (outgoing: grown as sessions are created).
    blocks: Option<BlockSet<bindings::luo_session_ser>>,
    active: bool,
    /// Outcome of deserialization, which happens once (incoming).
    deserialized: Option<i32>,
}

impl SessionList {
    const fn new() -> Self {
        Self {
            sessions: KVec::new(),
            blocks: None,
            active: false,
            deserialized: None,
        }
    }

    /// The session called `name`.
    fn find(&self, name: &[u8]) -> Option<&Arc<Session>> {
        find(&self.sessions, name)
    }

    /// Adds `session`, making room for its entry first if outgoing
    /// (`luo_session_insert()`).
    fn insert(&mut self, session: Arc<Session>) -> Result {
        if session.direction == Direction::Outgoing {
            let count = self.sessions.len() as u64 + 1;
            self.blocks.as_mut().ok_or(ENOMEM)?.grow(count)?;
        }
        // As in C, the block grown above is not given back when the name is
        // taken; the next removal shrinks the set.
        if self.find(session.name.as_bytes()).is_some() {
            return Err(EEXIST);
        }
        self.sessions.push(session, GFP_KERNEL)?;
        Ok(())
    }

    /// Removes `session` (`luo_session_remove()`).
    fn remove(&mut self, session: &Arc<Session>) {
        self.sessions.retain(|s| !Arc::ptr_eq(s, session));
        if session.direction == Direction::Outgoing {
            let count = self.sessions.len() as u64;
            if let Some(b) = self.blocks.as_mut() {
                b.shrink(count);
            }
        }
    }
}

/// The session of `sessions` called `name`, compared as C strings
/// (`strncmp(.., 64)`): bytes after the NUL do not count.
fn find<'a>(sessions: &'a [Arc<Session>], name: &[u8]) -> Option<&'a Arc<Session>> {
    let name = crate::c_str_bytes(name);
    sessions.iter().find(|s| s.name.as_bytes() == name)
}

// SAFETY: `SERIALIZE.init()` is called in the early initcall, before any use.
static SERIALIZE: RwSem<()> = unsafe { RwSem::new_uninit(()) };

kernel::sync::global_lock! {
    // SAFETY: initialized in `luo_core`'s early initcall, before any use.
    unsafe(uninit) static OUTGOING: Mutex<SessionList> = SessionList::new();
}

kernel::sync::global_lock! {
    // SAFETY: initialized in `luo_core`'s early initcall, before any use.
    unsafe(uninit) static INCOMING: Mutex<SessionList> = SessionList::new();
}

/// Initializes the locks of this module.
///
/// # Safety
///
/// Called once, early in boot, before any other function of this module.
pub(crate) unsafe fn init_locks() {
    // SAFETY: forwarded to the caller.
    unsafe {
        SERIALIZE.init(c"luo_session_serialize_rwsem", kernel::static_lock_class!());
        OUTGOING.init();
        INCOMING.init();
    }
}

/// `CREATE_SESSION`: a new outgoing session and its file.
pub(crate) fn create(raw_name: &[u8; 64]) -> Result<ARef<File>> {
    let name = SessionName::new(raw_name)?;
    let session = Session::new(name, Direction::Outgoing)?;
    let _ser = SERIALIZE.read();
    OUTGOING.lock().insert(session.clone())?;
    let file = {
        let _guard = session.inner.lock();
        session.new_file()
    };
    if file.is_err() {
        OUTGOING.lock().remove(&session);
    }
    file
}

/// `RETRIEVE_SESSION`: the file of incoming session `name`, once.
pub(crate) fn retrieve(raw_name: &[u8; 64]) -> Result<ARef<File>> {
    let _ser = SERIALIZE.read();
    let list = INCOMING.lock();
    let session = list.find(raw_name).ok_or(ENOENT)?;
    let mut inner = session.inner.lock();
    if inner.retrieved {
        return Err(EINVAL);
    }
    let file = session.new_file()?;
    inner.retrieved = true;
    Ok(file)
}

/// Prepares the outgoing list: its block set, grown as sessions come.
pub(crate) fn setup_outgoing() -> Result {
    let mut list = OUTGOING.lock();
    list.blocks = Some(BlockSet::new()?);
    list.active = true;
    Ok(())
}

/// Adopts the previous kernel's session entries at `sessions_pa` (0: none).
///
/// # Safety
///
/// `sessions_pa` must be 0 or the `sessions_pa` of the `luo_ser` the
/// previous kernel handed over.
pub(crate) unsafe fn setup_incoming(sessions_pa: u64) -> Result {
    if sessions_pa == 0 {
        return Ok(());
    }
    let mut list = INCOMING.lock();
    let blocks = list.blocks.insert(BlockSet::new()?);
    // SAFETY: forwarded to the caller: the chain holds `luo_session_ser`.
    unsafe { blocks.restore(sessions_pa) }?;
    list.active = true;
    Ok(())
}

/// Turns the incoming entries into sessions, on the first open of
/// `/dev/liveupdate`; later calls return the first outcome
/// (`luo_session_deserialize()`).
///
/// As in C, a failure leaves what was restored so far in place: the system
/// is in a broken state that only a reboot resets.
pub(crate) fn deserialize() -> Result {
    let mut list = INCOMING.lock();
    if let Some(err) = list.deserialized {
        return if err == 0 {
            Ok(())
        } else {
            Err(Error::from_errno(err))
        };
    }
    list.deserialized = Some(0);
    if !list.active {
        return Ok(());
    }
    let res = deserialize_all(&mut list);
    if let Some(b) = list.blocks.as_mut() {
        b.destroy();
    }
    if let Err(e) = res {
        list.deserialized = Some(e.to_errno());
    }
    res
}

fn deserialize_all(list: &mut SessionList) -> Result {
    let SessionList {
        sessions, blocks, ..
    } = list;
    let Some(blocks) = blocks.as_mut() else {
        return Ok(());
    };
    let mut cursor = blocks.cursor();
    while let Some(ser) = cursor.read() {
        let name = SessionName::from_ser(&ser.name);
        let session = Session::new(name, Direction::Incoming).inspect_err(|e| {
            pr_warn!(
                "Failed to allocate session [{}] during deserialization {:?}\n",
                name.display(),
                e
            )
        })?;
        if find(sessions, session.name.as_bytes()).is_some() {
            pr_warn!("Failed to insert session [{}] EEXIST\n", name.display());
            return Err(EEXIST);
        }
        sessions.push(session.clone(), GFP_KERNEL)?;
        let file_set_ser = ser.file_set_ser;
        session
            .inner
            .lock()
            .files
            .deserialize(&file_set_ser)
            .inspect_err(|e| {
                pr_warn!(
                    "Failed to deserialize files for session [{}] {:?}\n",
                    name.display(),
                    e
                )
            })?;
    }
    Ok(())
}

/// Freezes and writes every outgoing session; returns the physical address
/// of the first block (0 without sessions).  On success every session
/// operation blocks from now on; on failure everything is unfrozen
/// (`luo_session_serialize()`).
pub(crate) fn serialize() -> Result<u64> {
    let ser_guard = SERIALIZE.write();
    let mut list = OUTGOING.lock();
    let SessionList {
        sessions, blocks, ..
    } = &mut *list;
    let blocks = blocks.as_mut().ok_or(ENOMEM)?;
    let mut cursor = blocks.cursor();
    let mut failed = None;
    for (i, session) in sessions.iter().enumerate() {
        let Some(entry) = cursor.reserve() else {
            pr_warn!("No room for session serialization entry\n");
            failed = Some((i, ENOSPC));
            break;
        };
        let mut file_set_ser = entry.file_set_ser;
        let res = session.inner.lock().files.freeze(&mut file_set_ser);
        entry.file_set_ser = file_set_ser;
        if let Err(e) = res {
            cursor.prev();
            failed = Some((i, e));
            break;
        }
        crate::copy_c_str(&mut entry.name, session.name.as_bytes());
    }
    if let Some((i, e)) = failed {
        for session in sessions[..i].iter().rev() {
            if let Some(entry) = cursor.prev() {
                let mut file_set_ser = entry.file_set_ser;
                session.inner.lock().files.unfreeze(&mut file_set_ser);
                entry.file_set_ser = file_set_ser;
                entry.name = [0; 64];
            }
        }
        return Err(e);
    }
    let pa = if sessions.is_empty() {
        0
    } else {
        blocks.head_pa()
    };
    drop(list);
    ser_guard.hold_forever();
    Ok(pa)
}

/// The session-fd ioctls, indexed from `LIVEUPDATE_CMD_SESSION_BASE`.
#[derive(Clone, Copy)]
enum SessionCmd {
    Finish,
    PreserveFd,
    RetrieveFd,
    GetName,
}

/// Which sessions an ioctl applies to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Applies {
    Incoming,
    Outgoing,
    All,
}

/// Indexed by `_IOC_NR(cmd) - LIVEUPDATE_CMD_SESSION_BASE`, as C's table is.
const SESSION_OPS: [(IoctlOp, Applies, SessionCmd); 4] = [
    (
        IoctlOp::new::<bindings::liveupdate_session_preserve_fd>(
            crate::io(bindings::LIVEUPDATE_CMD_SESSION_PRESERVE_FD),
            core::mem::offset_of!(bindings::liveupdate_session_preserve_fd, token) + 8,
        ),
        Applies::Outgoing,
        SessionCmd::PreserveFd,
    ),
    (
        IoctlOp::new::<bindings::liveupdate_session_retrieve_fd>(
            crate::io(bindings::LIVEUPDATE_CMD_SESSION_RETRIEVE_FD),
            core::mem::offset_of!(bindings::liveupdate_session_retrieve_fd, token) + 8,
        ),
        Applies::Incoming,
        SessionCmd::RetrieveFd,
    ),
    (
        IoctlOp::new::<bindings::liveupdate_session_finish>(
            crate::io(bindings::LIVEUPDATE_CMD_SESSION_FINISH),
            core::mem::offset_of!(bindings::liveupdate_session_finish, reserved) + 4,
        ),
        Applies::Incoming,
        SessionCmd::Finish,
    ),
    (
        IoctlOp::new::<bindings::liveupdate_session_get_name>(
            crate::io(bindings::LIVEUPDATE_CMD_SESSION_GET_NAME),
            core::mem::offset_of!(bindings::liveupdate_session_get_name, name) + 64,
        ),
        Applies::All,
        SessionCmd::GetName,
    ),
];

impl AnonFileOps for Session {
    fn ioctl(this: ArcBorrow<'_, Self>, cmd: u32, arg: usize) -> Result<isize> {
        let index = crate::ioctl_index(
            cmd,
            bindings::LIVEUPDATE_CMD_SESSION_BASE,
            SESSION_OPS.len(),
        )?;
        let ucmd = UserCmd::new(arg)?;
        let (op, applies, which) = SESSION_OPS[index];
        op.check_cmd(cmd)?;
        let valid = match applies {
            Applies::Incoming => this.direction == Direction::Incoming,
            Applies::Outgoing => this.direction == Direction::Outgoing,
            Applies::All => true,
        };
        if !valid {
            return Err(EINVAL);
        }
        op.check_size(ucmd.user_size())?;
        match which {
            SessionCmd::Finish => {
                let argp = ucmd.read::<bindings::liveupdate_session_finish>()?;
                let _ser = SERIALIZE.read();
                this.finish(&ucmd, &argp)?;
            }
            SessionCmd::PreserveFd => {
                let argp = ucmd.read::<bindings::liveupdate_session_preserve_fd>()?;
                let _ser = SERIALIZE.read();
                this.preserve_fd(&ucmd, &argp)?;
            }
            SessionCmd::RetrieveFd => {
                let mut argp = ucmd.read::<bindings::liveupdate_session_retrieve_fd>()?;
                let _ser = SERIALIZE.read();
                this.retrieve_fd(&ucmd, &mut argp)?;
            }
            SessionCmd::GetName => {
                let mut argp = ucmd.read::<bindings::liveupdate_session_get_name>()?;
                let _ser = SERIALIZE.read();
                this.get_name(&ucmd, &mut argp)?;
            }
        }
        Ok(0)
    }

    fn release(this: Arc<Self>) -> Result {
        let _ser = SERIALIZE.read();
        match this.direction {
            Direction::Incoming => {
                // A retrieved session is finished on close; if it cannot be,
                // it stays listed (as in C) and the close reports why.
                if let Err(e) = this.inner.lock().files.finish() {
                    pr_warn!(
                        "Unable to finish session [{}] on release\n",
                        this.name.display()
                    );
                    return Err(e);
                }
                INCOMING.lock().remove(&this);
            }
            Direction::Outgoing => {
                this.inner.lock().files.unpreserve_all();
                OUTGOING.lock().remove(&this);
            }
        }
        Ok(())
    }
}

impl Session {
    fn finish(&self, ucmd: &UserCmd, argp: &bindings::liveupdate_session_finish) -> Result {
        if argp.reserved != 0 {
            return Err(EINVAL);
        }
        self.inner.lock().files.finish()?;
        ucmd.respond(argp)
    }

    fn preserve_fd(
        &self,
        ucmd: &UserCmd,
        argp: &bindings::liveupdate_session_preserve_fd,
    ) -> Result {
        self.inner.lock().files.preserve(argp.token, argp.fd)?;
        ucmd.respond(argp).inspect_err(|_| {
            pr_warn!("The file was successfully preserved, but response to user failed\n")
        })
    }

    fn retrieve_fd(
        &self,
        ucmd: &UserCmd,
        argp: &mut bindings::liveupdate_session_retrieve_fd,
    ) -> Result {
        let fd = c_api::FdReservation::new()?;
        argp.fd = fd.number();
        let file = self.inner.lock().files.retrieve(argp.token)?;
        ucmd.respond(argp)?;
        fd.install(file);
        Ok(())
    }

    fn get_name(&self, ucmd: &UserCmd, argp: &mut bindings::liveupdate_session_get_name) -> Result {
        if argp.reserved != 0 {
            return Err(EINVAL);
        }
        self.name.copy_out(&mut argp.name);
        ucmd.respond(argp)
    }
}
