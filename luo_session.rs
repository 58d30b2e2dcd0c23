// SPDX-License-Identifier: GPL-2.0

//! Sessions: named groups of preserved files.
//!
//! An outgoing session (`CREATE_SESSION`) is written as a `struct
//! luo_session_ser` at reboot; the next kernel makes an incoming session of
//! each entry, which userspace takes once (`RETRIEVE_SESSION`).  Closing a
//! session fd unpreserves (outgoing) or finishes (incoming) its files.

use crate::{
    capi::{
        abi::{
            self,
            Abi, //
        },
        handler::Retrieve, //
    },
    luo_file::FileSet,
    luo_index::{
        self,
        Keyed,
        Table, //
    },
    staging::{
        anon_inode::{
            self,
            AnonFileOps,
            IoctlContext, //
        },
        kho,
        rwsem::{
            new_rwsem,
            ReadGuard,
            RwSem, //
        },
        uaccess::UserCmd, //
    },
    IoctlOp,
    Luo, //
};
use kernel::{
    bindings,
    fs::File,
    new_mutex,
    prelude::*,
    sync::{
        aref::ARef,
        Arc,
        ArcBorrow,
        Mutex, //
    }, //
};

/// A session name: 1 to 63 bytes, NUL-terminated in a 64-byte array.
///
/// # Invariants
///
/// `hash` is [`luo_index::hash_bytes`] of the name, so that a lookup does
/// not hash again and names of different hashes differ.
#[derive(Clone, Copy)]
pub(crate) struct SessionName {
    raw: [u8; 64],
    len: usize,
    hash: u64,
}

impl SessionName {
    /// Validates a name from userspace: EINVAL if empty or without NUL in
    /// its 64 bytes (`luo_session_create()`).
    pub(crate) fn new(raw: &[u8; 64]) -> Result<Self> {
        let name = abi::c_str_bytes(raw);
        if name.is_empty() || name.len() == raw.len() {
            return Err(EINVAL);
        }
        Ok(Self::from_bytes(name))
    }

    /// The name that a lookup by `raw` (from userspace) matches, compared as
    /// C strings (`strncmp(.., 64)`): bytes after the NUL do not count, and
    /// 64 bytes without NUL match no session.
    fn lookup(raw: &[u8; 64]) -> Option<Self> {
        let name = abi::c_str_bytes(raw);
        (name.len() < raw.len()).then(|| Self::from_bytes(name))
    }

    /// A name from the previous kernel, truncated to 63 bytes as `strscpy()` does.
    pub(crate) fn from_ser(raw: &[u8; 64]) -> Self {
        let name = abi::c_str_bytes(raw);
        Self::from_bytes(&name[..name.len().min(63)])
    }

    /// `name` has at most 63 bytes and no NUL.
    fn from_bytes(name: &[u8]) -> Self {
        let (mut raw, len) = ([0u8; 64], name.len());
        raw[..len].copy_from_slice(name);
        // INVARIANT: the hash of the name.
        Self {
            raw,
            len,
            hash: luo_index::hash_bytes(name),
        }
    }

    /// The name without NUL.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.raw[..self.len]
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

impl PartialEq for SessionName {
    fn eq(&self, other: &Self) -> bool {
        // Equal names have equal hashes (type invariant).
        self.hash == other.hash && self.as_bytes() == other.as_bytes()
    }
}

impl kernel::fmt::Display for SessionName {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        kernel::fmt::Display::fmt(kernel::str::BStr::from_bytes(self.as_bytes()), f)
    }
}

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
#[pin_data(PinnedDrop)]
pub(crate) struct Session {
    luo: &'static Luo,
    name: SessionName,
    direction: Direction,
    #[pin]
    inner: Mutex<SessionInner>,
}

impl Session {
    fn new(luo: &'static Luo, name: SessionName, direction: Direction) -> Result<Arc<Self>> {
        let files = FileSet::new();
        Arc::pin_init(
            pin_init!(Session {
                luo,
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
        let mut buf = [0u8; PREFIX.len() + abi::SESSION_NAME_LEN];
        buf[..PREFIX.len()].copy_from_slice(PREFIX);
        let name = self.name.as_bytes();
        buf[PREFIX.len()..PREFIX.len() + name.len()].copy_from_slice(name);
        let name = CStr::from_bytes_until_nul(&buf).map_err(|_| EINVAL)?;
        anon_inode::new_file(name, self.clone())
    }
}

/// An outgoing session that goes away unpreserves its files, last first.  It goes away when the
/// release of its file drops the last reference, after taking it off the outgoing list: nobody
/// else can reach it then, so its lock is not taken (C takes it).
#[pinned_drop]
impl PinnedDrop for Session {
    fn drop(self: Pin<&mut Self>) {
        let this = self.project();
        if *this.direction == Direction::Outgoing {
            this.inner
                .data_mut()
                .get_mut()
                .files
                .unpreserve_all(this.luo);
        }
    }
}

/// Sessions are found by name.
impl Keyed for Arc<Session> {
    type Key = SessionName;

    fn key(&self) -> &SessionName {
        &self.name
    }

    fn hash(key: &SessionName) -> u64 {
        key.hash
    }
}

/// The outgoing sessions, in creation order (the order they are frozen and
/// written in), and the blocks their entries are written into, grown as
/// sessions are created (`luo_session_global.outgoing`).
#[derive(Default)]
pub(crate) struct OutgoingList {
    sessions: Table<Arc<Session>>,
    /// Made by the late initcall; `None` before or if that failed.
    blocks: Option<kho::BlockSet<abi::SessionSer>>,
}

impl OutgoingList {
    /// Adds `session`, making room for its entry first (`luo_session_insert()`).
    ///
    /// Unlike C, a failure (EEXIST, or no memory for the table) gives back the block grown for the
    /// entry: left in place, a block that no entry uses would reach the next kernel empty if the
    /// machine kexecs before another session is closed, and that kernel rejects the whole chain.
    fn insert(&mut self, session: Arc<Session>) -> Result {
        let blocks = self.blocks.as_mut().ok_or(ENOMEM)?;
        let count = self.sessions.len() as u64;
        blocks.grow(count + 1)?;
        self.sessions
            .push(session)
            .inspect_err(|_| blocks.shrink(count))
    }

    /// Removes `session` (`luo_session_remove()`); nothing if it is not listed.
    fn remove(&mut self, session: &Arc<Session>) {
        if self
            .sessions
            .remove_exact(&session.name, |s| Arc::ptr_eq(s, session))
            .is_some()
        {
            if let Some(b) = self.blocks.as_mut() {
                b.shrink(self.sessions.len() as u64);
            }
        }
    }
}

/// The sessions handed over by the previous kernel (`luo_session_global.incoming`), by name.
#[derive(Default)]
pub(crate) struct IncomingList {
    sessions: Table<Arc<Session>>,
    /// The previous kernel's entries, until deserialized.
    blocks: Option<kho::BlockSet<abi::SessionSer>>,
    /// Turning the entries into sessions, tried on the first open of
    /// `/dev/liveupdate`; a failure makes every later open fail too.
    deserialize: Retrieve,
}

/// Both session lists, behind the serialization lock; each has its own
/// semaphore, taken for write to change the list and for read to look a
/// session up (`luo_session_header.rwsem`).
#[pin_data]
pub(crate) struct Sessions {
    #[pin]
    outgoing: RwSem<OutgoingList>,
    #[pin]
    incoming: RwSem<IncomingList>,
}

impl Sessions {
    /// Empty lists.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            outgoing <- new_rwsem!(OutgoingList::default(), "luo_session_outgoing"),
            incoming <- new_rwsem!(IncomingList::default(), "luo_session_incoming"),
        })
    }
}

/// The serialization lock held for read: what every session operation runs under.
pub(crate) type Serialization<'a> = ReadGuard<'a, Sessions>;

/// `CREATE_SESSION`: a new outgoing session and its file.
pub(crate) fn create(luo: &'static Luo, raw_name: &[u8; 64]) -> Result<ARef<File>> {
    let name = SessionName::new(raw_name)?;
    let session = Session::new(luo, name, Direction::Outgoing)?;
    let ser = luo.sessions.read();
    ser.outgoing.write().insert(session.clone())?;
    let file = {
        let _guard = session.inner.lock();
        session.new_file()
    };
    if file.is_err() {
        ser.outgoing.write().remove(&session);
    }
    file
}

/// `RETRIEVE_SESSION`: the file of incoming session `name`, once.
pub(crate) fn retrieve(luo: &Luo, raw_name: &[u8; 64]) -> Result<ARef<File>> {
    let ser = luo.sessions.read();
    let list = ser.incoming.read();
    let name = SessionName::lookup(raw_name).ok_or(ENOENT)?;
    let session = list.sessions.get(&name).ok_or(ENOENT)?;
    let mut inner = session.inner.lock();
    if inner.retrieved {
        return Err(EINVAL);
    }
    let file = session.new_file()?;
    inner.retrieved = true;
    Ok(file)
}

/// Prepares the outgoing list: its block set, grown as sessions come.
pub(crate) fn setup_outgoing(luo: &Luo) -> Result {
    let ser = luo.sessions.read();
    ser.outgoing.write().blocks = Some(kho::BlockSet::new());
    Ok(())
}

/// Adopts the previous kernel's session entries at `head` (none: nothing to do).
pub(crate) fn setup_incoming(luo: &Luo, head: kho::HandoverAddr) -> Result {
    if head.is_null() {
        return Ok(());
    }
    let blocks = kho::BlockSet::restore(head)?;
    let ser = luo.sessions.read();
    ser.incoming.write().blocks = Some(blocks);
    Ok(())
}

/// Turns the incoming entries into sessions, on the first open of `/dev/liveupdate`; later calls
/// return the first outcome (`luo_session_deserialize()`).
///
/// As in C, a failure leaves what was restored so far in place: the system
/// is in a broken state that only a reboot resets.
pub(crate) fn deserialize(luo: &'static Luo) -> Result {
    let ser = luo.sessions.read();
    let mut list = ser.incoming.write();
    if let Some(res) = list.deserialize.tried() {
        return res;
    }
    // The entries are freed (`kho_block_set_destroy`) whatever happens.
    let res = match list.blocks.take() {
        Some(mut blocks) => deserialize_all(luo, &mut list.sessions, &mut blocks),
        None => Ok(()),
    };
    list.deserialize.record(res)
}

fn deserialize_all(
    luo: &'static Luo,
    sessions: &mut Table<Arc<Session>>,
    blocks: &mut kho::BlockSet<abi::SessionSer>,
) -> Result {
    for ser in blocks.cursor() {
        let name = SessionName::from_ser(&ser.name);
        let session = Session::new(luo, name, Direction::Incoming).inspect_err(|e| {
            pr_warn!("Failed to allocate session [{name}] during deserialization {e:?}\n")
        })?;
        sessions.push(session.clone()).inspect_err(|&e| {
            if e == EEXIST {
                pr_warn!("Failed to insert session [{name}] EEXIST\n");
            }
        })?;
        let count = ser.file_set_ser.count;
        let mut inner = session.inner.lock();
        if let Err(e) = inner.files.deserialize(luo, ser.files(), count) {
            pr_warn!("Failed to deserialize files for session [{name}] {e:?}\n");
            return Err(e);
        }
    }
    Ok(())
}

/// Freezes and writes every outgoing session; returns the physical address of the first block (0
/// without sessions).  On success every session operation blocks from now on; on failure everything
/// is unfrozen (`luo_session_serialize()`).
pub(crate) fn serialize(luo: &Luo) -> Result<u64> {
    let ser = luo.sessions.write();
    let mut list = ser.outgoing.write();
    let OutgoingList { sessions, blocks } = &mut *list;
    let blocks = blocks.as_mut().ok_or(ENOMEM)?;
    let mut cursor = blocks.cursor();
    let mut failed = None;
    for (i, session) in sessions.iter().enumerate() {
        let Some(entry) = cursor.reserve() else {
            pr_warn!("No room for session serialization entry\n");
            failed = Some((i, ENOSPC));
            break;
        };
        if let Err(e) = session.inner.lock().files.freeze(entry) {
            cursor.prev();
            failed = Some((i, e));
            break;
        }
        abi::copy_c_str(&mut entry.name, session.name.as_bytes());
    }
    if let Some((i, e)) = failed {
        // The sessions before the one that failed, last first.
        for session in sessions.iter().rev().skip(sessions.len() - i) {
            if let Some(entry) = cursor.prev() {
                session.inner.lock().files.unfreeze(entry);
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
    ser.hold_forever();
    Ok(pa)
}

/// The session-fd ioctls, indexed from `LIVEUPDATE_CMD_SESSION_BASE`.
const SESSION_OPS: [IoctlOp; 4] = crate::ioctl_ops! {
    LIVEUPDATE_CMD_SESSION_PRESERVE_FD => liveupdate_session_preserve_fd.token,
    LIVEUPDATE_CMD_SESSION_RETRIEVE_FD => liveupdate_session_retrieve_fd.token,
    LIVEUPDATE_CMD_SESSION_FINISH => liveupdate_session_finish.reserved,
    LIVEUPDATE_CMD_SESSION_GET_NAME => liveupdate_session_get_name.name,
};

impl AnonFileOps for Session {
    fn ioctl(this: ArcBorrow<'_, Self>, cx: &IoctlContext, cmd: u32, arg: usize) -> Result<isize> {
        let base = bindings::LIVEUPDATE_CMD_SESSION_BASE;
        let (index, ucmd) = crate::ioctl_decode(&SESSION_OPS, base, cmd, arg)?;
        let incoming = this.direction == Direction::Incoming;
        let (ucmd, sessions) = (&ucmd, &this.luo.sessions);
        // Commands of the other direction get EINVAL before the argument is
        // read; as in `luo_session_ioctl()`, the argument is read before the
        // serialization lock is taken (arguments are evaluated in order).
        match base + index as u32 {
            bindings::LIVEUPDATE_CMD_SESSION_PRESERVE_FD if !incoming => {
                this.preserve_fd(&mut ucmd.read()?, &sessions.read(), cx, ucmd)
            }
            bindings::LIVEUPDATE_CMD_SESSION_RETRIEVE_FD if incoming => {
                this.retrieve_fd(&mut ucmd.read()?, &sessions.read(), ucmd)
            }
            bindings::LIVEUPDATE_CMD_SESSION_FINISH if incoming => {
                this.finish(&mut ucmd.read()?, &sessions.read(), ucmd)
            }
            bindings::LIVEUPDATE_CMD_SESSION_GET_NAME => {
                this.get_name(&mut ucmd.read()?, &sessions.read(), ucmd)
            }
            _ => Err(EINVAL),
        }?;
        Ok(0)
    }

    fn release(this: Arc<Self>) -> Result {
        let ser = this.luo.sessions.read();
        match this.direction {
            Direction::Incoming => {
                // A retrieved session is finished on close; if it cannot be,
                // it stays listed (as in C) and the close reports why.
                if let Err(e) = this.inner.lock().files.finish(this.luo) {
                    pr_warn!("Unable to finish session [{}] on release\n", this.name);
                    return Err(e);
                }
                let mut list = ser.incoming.write();
                list.sessions
                    .remove_exact(&this.name, |s| Arc::ptr_eq(s, &this));
            }
            Direction::Outgoing => {
                ser.outgoing.write().remove(&this);
                // The last reference: the files are unpreserved (`PinnedDrop`), under the
                // serialization lock, as in C.
                drop(this);
            }
        }
        drop(ser);
        Ok(())
    }
}

impl Session {
    fn finish(
        &self,
        argp: &mut Abi<bindings::liveupdate_session_finish>,
        _ser: &Serialization<'_>,
        ucmd: &UserCmd,
    ) -> Result {
        if argp.reserved != 0 {
            return Err(EINVAL);
        }
        self.inner.lock().files.finish(self.luo)?;
        ucmd.respond(argp)
    }

    fn preserve_fd(
        &self,
        argp: &mut Abi<bindings::liveupdate_session_preserve_fd>,
        _ser: &Serialization<'_>,
        cx: &IoctlContext,
        ucmd: &UserCmd,
    ) -> Result {
        let fd = argp.fd;
        self.inner
            .lock()
            .files
            .preserve(self.luo, argp.token, || cx.fget(fd))?;
        ucmd.respond(argp).inspect_err(|_| {
            pr_warn!("The file was successfully preserved, but response to user failed\n")
        })
    }

    fn retrieve_fd(
        &self,
        argp: &mut Abi<bindings::liveupdate_session_retrieve_fd>,
        _ser: &Serialization<'_>,
        ucmd: &UserCmd,
    ) -> Result {
        crate::reply_with_file(ucmd, argp, |a, fd| {
            a.fd = fd;
            self.inner.lock().files.retrieve(self.luo, a.token)
        })
    }

    fn get_name(
        &self,
        argp: &mut Abi<bindings::liveupdate_session_get_name>,
        _ser: &Serialization<'_>,
        ucmd: &UserCmd,
    ) -> Result {
        if argp.reserved != 0 {
            return Err(EINVAL);
        }
        self.name.copy_out(&mut argp.name);
        ucmd.respond(argp)
    }
}
