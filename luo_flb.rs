// SPDX-License-Identifier: GPL-2.0

//! File-Lifecycle-Bound (FLB) objects.
//!
//! An FLB is state shared by every file of one file handler: a hugetlb pool
//! behind memfds, an iommu core behind vfio and iommufd fds.  A handler
//! lists its FLBs with `liveupdate_register_flb()`; LUO preserves an FLB
//! when the first file of such a handler is preserved and unpreserves it
//! when the last one goes away (a reference count), and serializes the
//! preserved ones into one KHO page at reboot.  In the next kernel an FLB is
//! retrieved on demand, by `liveupdate_flb_get_incoming()` or when its files
//! finish, and finished when the last of the files that used it finishes.
//!
//! The state C keeps in the FLB's private area lives here, in one
//! [`FlbState`] per FLB, created on first use and kept for the whole boot.
//!
//! Locking: the registration lock ([`crate::luo_file::REGISTRY`]) covers which
//! FLBs a handler has and the global list; each FLB has one mutex per
//! direction, taken inside the registration lock.

use crate::{
    luo_file::{Registry, REGISTRY},
    sys::{
        handler::{FileHandler, Flb, FlbObj, ModuleRef},
        kho::{Incoming, Preserved},
    },
};
use kernel::{
    bindings,
    page::PAGE_SIZE,
    prelude::*,
    sync::{new_mutex, Arc, Mutex},
};

/// Pages of the serialized FLB array.
const FLB_PGCNT: usize = 1;

/// How many FLBs fit in the serialized array (`LUO_FLB_MAX`).
pub(crate) const FLB_MAX: usize = (FLB_PGCNT * PAGE_SIZE
    - size_of::<bindings::luo_flb_header_ser>())
    / size_of::<bindings::luo_flb_ser>();

/// One direction of an FLB's life.
struct Side {
    /// Files using it (outgoing) or the count the previous kernel recorded,
    /// decremented as files finish (incoming).
    count: u64,
    /// The FLB's 64-bit handle to its serialized state.
    data: u64,
    /// The live object the FLB hands to its users.
    obj: FlbObj,
    /// Reference on the FLB's module while it is preserved or retrieved.
    owner: Option<ModuleRef>,
}

impl Side {
    const fn new() -> Self {
        Self {
            count: 0,
            data: 0,
            obj: FlbObj::NONE,
            owner: None,
        }
    }
}

/// The incoming side: [`Side`] plus the outcome of retrieval.
struct IncomingSide {
    side: Side,
    finished: bool,
    /// 0 not tried, 1 retrieved, negative errno of a failed retrieve.
    retrieve_status: i32,
}

/// LUO's state of one FLB.
#[pin_data]
pub(crate) struct FlbState {
    flb: Flb,
    #[pin]
    outgoing: Mutex<Side>,
    #[pin]
    incoming: Mutex<IncomingSide>,
}

/// An FLB in the registry: registered with `users` file handlers.
pub(crate) struct RegisteredFlb {
    state: Arc<FlbState>,
    users: usize,
}

/// The serialized FLB arrays of both kernels.
struct Headers {
    incoming: Option<Incoming<bindings::luo_flb_header_ser>>,
    outgoing: Option<Preserved<bindings::luo_flb_header_ser>>,
}

kernel::sync::global_lock! {
    // SAFETY: initialized in `luo_core`'s early initcall, before any use.
    unsafe(uninit) static HEADERS: Mutex<Headers> = Headers { incoming: None, outgoing: None };
}

/// Initializes the locks of this module.
///
/// # Safety
///
/// Called once, early in boot, before any other function of this module.
pub(crate) unsafe fn init_locks() {
    // SAFETY: forwarded to the caller.
    unsafe {
        crate::sys::handler::init();
        HEADERS.init();
    }
}

/// LUO's state of `flb`, created on first use.
fn state_of(flb: Flb) -> Result<Arc<FlbState>> {
    flb.state(|| {
        Arc::pin_init(
            pin_init!(FlbState {
                flb,
                outgoing <- new_mutex!(Side::new()),
                incoming <- new_mutex!(IncomingSide {
                    side: Side::new(),
                    finished: false,
                    retrieve_status: 0
                }),
            }),
            GFP_KERNEL,
        )
    })
}

impl FlbState {
    /// One more file of a handler using this FLB is preserved: preserve the
    /// FLB on the first.
    fn preserve_one(&self) -> Result {
        let mut out = self.outgoing.lock();
        if out.count == 0 {
            let owner = self.flb.get_owner().ok_or(ENODEV)?;
            let (data, obj) = self.flb.preserve()?;
            out.data = data;
            out.obj = obj;
            out.owner = Some(owner);
            out.count = 1;
        } else {
            out.count = out.count.saturating_add(1);
        }
        Ok(())
    }

    /// One file fewer: unpreserve the FLB with the last
    /// (`liveupdate_flb_put_outgoing()`).
    pub(crate) fn put_outgoing(&self) {
        let mut out = self.outgoing.lock();
        if out.count == 0 {
            pr_warn!("FLB outgoing reference count underflow\n");
            return;
        }
        out.count -= 1;
        if out.count == 0 {
            self.flb.unpreserve(out.data, out.obj);
            out.data = 0;
            out.obj = FlbObj::NONE;
            out.owner = None;
        }
    }

    /// Retrieves the FLB from the previous kernel's array, once; the
    /// outcome, good or bad, is remembered (`luo_flb_retrieve_one()`).
    fn retrieve_one(&self, inc: &mut IncomingSide) -> Result {
        if inc.finished {
            return Err(ENODATA);
        }
        if inc.retrieve_status < 0 {
            return Err(Error::from_errno(inc.retrieve_status));
        }
        if inc.retrieve_status > 0 {
            return Ok(());
        }
        {
            let headers = HEADERS.lock();
            let header = headers.incoming.as_ref().ok_or(ENODATA)?;
            let entries = header.trailing::<bindings::luo_flb_ser>(header.count);
            let compatible = self.flb.compatible();
            let found = entries
                .iter()
                .find(|e| crate::c_str_bytes(&e.name) == compatible)
                .ok_or(ENOENT)?;
            inc.side.data = found.data;
            inc.side.count = found.count;
        }
        let owner = self.flb.get_owner().ok_or(ENODEV)?;
        match self.flb.retrieve(inc.side.data) {
            Ok(obj) => {
                inc.side.obj = obj;
                inc.side.owner = Some(owner);
                inc.retrieve_status = 1;
                Ok(())
            }
            Err(e) => {
                inc.retrieve_status = e.to_errno();
                Err(e)
            }
        }
    }

    /// One user of the incoming FLB is done: finish it with the last
    /// (`liveupdate_flb_put_incoming()`).
    pub(crate) fn put_incoming(&self) {
        let mut inc = self.incoming.lock();
        if inc.side.count == 0 {
            pr_warn!("FLB incoming reference count underflow\n");
            return;
        }
        inc.side.count -= 1;
        if inc.side.count != 0 {
            return;
        }
        if inc.retrieve_status <= 0 {
            if let Err(e) = self.retrieve_one(&mut inc) {
                pr_warn!("FLB retrieve on last put failed: {:?}\n", e);
                return;
            }
        }
        self.flb.finish(inc.side.obj);
        inc.side.data = 0;
        inc.side.obj = FlbObj::NONE;
        inc.finished = true;
        inc.side.owner = None;
    }

    /// `liveupdate_flb_get_incoming()`: the incoming object, retrieved on
    /// first use, with a reference the caller puts back.
    pub(crate) fn get_incoming(&self) -> Result<FlbObj> {
        let mut inc = self.incoming.lock();
        if inc.side.obj.is_none() {
            self.retrieve_one(&mut inc)?;
        }
        inc.side.count = inc.side.count.saturating_add(1);
        Ok(inc.side.obj)
    }

    /// `liveupdate_flb_get_outgoing()`: the outgoing object, ENOENT while
    /// the FLB is not preserved.
    pub(crate) fn get_outgoing(&self) -> Result<FlbObj> {
        let mut out = self.outgoing.lock();
        if out.obj.is_none() {
            return Err(ENOENT);
        }
        out.count = out.count.saturating_add(1);
        Ok(out.obj)
    }
}

impl FlbState {
    /// The FLB this state belongs to.
    pub(crate) fn flb(&self) -> Flb {
        self.flb
    }
}

/// `liveupdate_register_flb()`.
pub(crate) fn register(fh: FileHandler, flb: Flb) -> Result {
    if !crate::enabled() {
        return Err(EOPNOTSUPP);
    }
    if !flb.is_complete() {
        pr_warn!("FLB registration with missing callbacks\n");
        return Err(EINVAL);
    }
    let mut reg = REGISTRY.write();
    if !reg.is_registered(fh) {
        pr_warn!("FLB registration with an unregistered file handler\n");
        return Err(EINVAL);
    }
    reg.register_flb(fh, flb)
}

/// `liveupdate_unregister_flb()`.
pub(crate) fn unregister(fh: FileHandler, flb: Flb) {
    if !crate::enabled() {
        return;
    }
    REGISTRY.write().unregister_flb(fh, flb);
}

/// `liveupdate_flb_get_incoming()`.
pub(crate) fn get_incoming(flb: Flb) -> Result<FlbObj> {
    if !crate::enabled() {
        return Err(EOPNOTSUPP);
    }
    state_of(flb)?.get_incoming()
}

/// `liveupdate_flb_put_incoming()`.
pub(crate) fn put_incoming(flb: Flb) {
    if let Ok(s) = state_of(flb) {
        s.put_incoming();
    }
}

/// `liveupdate_flb_get_outgoing()`.
pub(crate) fn get_outgoing(flb: Flb) -> Result<FlbObj> {
    if !crate::enabled() {
        return Err(EOPNOTSUPP);
    }
    state_of(flb)?.get_outgoing()
}

/// `liveupdate_flb_put_outgoing()`.
pub(crate) fn put_outgoing(flb: Flb) {
    if let Ok(s) = state_of(flb) {
        s.put_outgoing();
    }
}

/// A file of handler `fh` is being preserved: preserve its FLBs, in
/// registration order, undoing on failure (`luo_flb_file_preserve()`).
pub(crate) fn file_preserve(fh: FileHandler) -> Result {
    let reg = REGISTRY.read();
    let flbs = reg.flbs_of(fh);
    for (i, s) in flbs.iter().enumerate() {
        if let Err(e) = s.preserve_one() {
            for s in flbs[..i].iter().rev() {
                s.put_outgoing();
            }
            return Err(e);
        }
    }
    Ok(())
}

/// A file of handler `fh` was unpreserved (`luo_flb_file_unpreserve()`).
pub(crate) fn file_unpreserve(fh: FileHandler) {
    let reg = REGISTRY.read();
    for s in reg.flbs_of(fh).iter().rev() {
        s.put_outgoing();
    }
}

/// A file of handler `fh` finished (`luo_flb_file_finish()`).
pub(crate) fn file_finish(fh: FileHandler) {
    let reg = REGISTRY.read();
    for s in reg.flbs_of(fh).iter().rev() {
        s.put_incoming();
    }
}

impl Registry {
    /// `liveupdate_register_flb()`, with the registration lock held for
    /// write.
    pub(crate) fn register_flb(&mut self, fh: FileHandler, flb: Flb) -> Result {
        let state = state_of(flb)?;
        let handler = self.handler_mut(fh).ok_or(EINVAL)?;
        if handler.flbs.iter().any(|s| s.flb == flb) {
            return Err(EEXIST);
        }
        handler.flbs.reserve(1, GFP_KERNEL)?;
        match self.flbs.iter_mut().find(|r| r.state.flb == flb) {
            Some(r) => r.users += 1,
            None => {
                if self.flbs.len() == FLB_MAX {
                    return Err(ENOSPC);
                }
                if self
                    .flbs
                    .iter()
                    .any(|r| r.state.flb.compatible() == flb.compatible())
                {
                    return Err(EEXIST);
                }
                self.flbs.push(
                    RegisteredFlb {
                        state: state.clone(),
                        users: 1,
                    },
                    GFP_KERNEL,
                )?;
            }
        }
        let handler = self.handler_mut(fh).ok_or(EINVAL)?;
        handler.flbs.push(state, GFP_KERNEL)?;
        Ok(())
    }

    /// Unlinks `flb` from handler `fh` (`luo_flb_unregister_one()`).
    pub(crate) fn unregister_flb(&mut self, fh: FileHandler, flb: Flb) {
        let found = match self.handler_mut(fh) {
            Some(h) => match h.flbs.iter().position(|s| s.flb == flb) {
                Some(i) => {
                    h.flbs.remove(i).ok();
                    true
                }
                None => false,
            },
            None => false,
        };
        if !found {
            pr_warn!(
                "Failed to unregister FLB '{}': not found in file handler '{}'\n",
                kernel::str::BStr::from_bytes(flb.compatible()),
                kernel::str::BStr::from_bytes(fh.compatible())
            );
            return;
        }
        if let Some(i) = self.flbs.iter().position(|r| r.state.flb == flb) {
            self.flbs[i].users -= 1;
            if self.flbs[i].users == 0 {
                self.flbs.remove(i).ok();
            }
        }
    }
}

/// Adopts the previous kernel's FLB array at `flbs_pa` (0: none).
///
/// # Safety
///
/// `flbs_pa` must be 0 or the `flbs_pa` of the `luo_ser` the previous kernel
/// handed over: an allocation of `FLB_PGCNT` pages it preserved.
pub(crate) unsafe fn setup_incoming(flbs_pa: u64) {
    if flbs_pa == 0 {
        return;
    }
    // SAFETY: forwarded to the caller.  As in C the page is never freed.
    let header = unsafe { Incoming::new(flbs_pa, FLB_PGCNT * PAGE_SIZE) };
    HEADERS.lock().incoming = Some(header);
}

/// Allocates the outgoing FLB array; returns its physical address.
pub(crate) fn setup_outgoing() -> Result<u64> {
    let mut header = Preserved::<bindings::luo_flb_header_ser>::alloc(FLB_PGCNT * PAGE_SIZE)?;
    header.pgcnt = FLB_PGCNT as u64;
    let pa = header.phys();
    HEADERS.lock().outgoing = Some(header);
    Ok(pa)
}

/// Writes every preserved FLB into the outgoing array (`luo_flb_serialize()`).
///
/// Each FLB's count is read under its own lock, never while the array's
/// lock is held (`retrieve_one` takes the array lock inside an FLB lock).
pub(crate) fn serialize() {
    let reg = REGISTRY.read();
    let mut n = 0;
    for r in reg.flbs.iter() {
        let (count, data) = {
            let side = r.state.outgoing.lock();
            (side.count, side.data)
        };
        if count == 0 {
            continue;
        }
        let mut headers = HEADERS.lock();
        let Some(out) = headers.outgoing.as_mut() else {
            return;
        };
        let (_, entries) = out.split_trailing::<bindings::luo_flb_ser>();
        let Some(e) = entries.get_mut(n) else { break };
        crate::copy_c_str(&mut e.name, r.state.flb.compatible());
        e.data = data;
        e.count = count;
        n += 1;
    }
    if let Some(out) = HEADERS.lock().outgoing.as_mut() {
        out.count = n as u64;
    }
}
