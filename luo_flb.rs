// SPDX-License-Identifier: GPL-2.0

//! File-Lifecycle-Bound (FLB) objects.
//!
//! An FLB is state shared by the files of a file handler (a hugetlb pool behind memfds, say),
//! preserved with the first of them and unpreserved with the last; the next kernel retrieves it on
//! demand and finishes it with the last file that used it.

use crate::{
    capi::{
        abi,
        handler::{
            CPtr,
            FileHandler,
            Flb,
            FlbSide,
            FlbState,
            Retrieve, //
        }, //
    },
    luo_file::Registry,
    staging::kho,
    Luo, //
};
use kernel::{
    page::PAGE_SIZE,
    prelude::*,
    str::BStr, //
};

/// Pages of the serialized FLB array.
pub(crate) const FLB_PGCNT: usize = 1;

/// How many FLBs fit in the serialized array (`LUO_FLB_MAX`).
pub(crate) const FLB_MAX: usize =
    (FLB_PGCNT * PAGE_SIZE - size_of::<abi::FlbHeaderSer>()) / size_of::<abi::FlbSer>();

/// The serialized FLB arrays of both kernels.
#[derive(Default)]
pub(crate) struct Headers {
    /// The previous kernel's entries, copied out at boot (the page is freed then); `None` if it
    /// handed over no FLB array.
    incoming: Option<KVec<kho::Handed<abi::FlbSer>>>,
    outgoing: Option<kho::Preserved<abi::FlbHeaderSer>>,
}

impl FlbState {
    /// One more file of a handler using this FLB is preserved: preserve the FLB on the first.
    fn preserve_one(&self) -> Result {
        let mut out = self.outgoing.lock();
        if out.count == 0 {
            let owner = self.flb.get_owner().ok_or(ENODEV)?;
            (out.data, out.obj) = self.flb.preserve()?;
            out.owner = Some(owner);
        }
        out.count = out.count.saturating_add(1);
        Ok(())
    }

    /// One file fewer: unpreserve the FLB with the last (`liveupdate_flb_put_outgoing()`).
    pub(crate) fn put_outgoing(&self) {
        let mut out = self.outgoing.lock();
        // C's refcount_t warns on an underflow (WARN semantics: taint, backtrace).
        if out.count == 0 {
            pr_warn!("FLB outgoing reference count underflow\n");
            kernel::warn_on!(true);
            return;
        }
        out.count -= 1;
        if out.count == 0 {
            self.flb.unpreserve(out.data, out.obj);
            *out = FlbSide::default();
        }
    }

    /// Retrieves the FLB from the previous kernel's array, once; the
    /// outcome, good or bad, is remembered (`luo_flb_retrieve_one()`).
    fn retrieve_one(&self, luo: &Luo, inc: &mut FlbSide) -> Result {
        if inc.finished {
            return Err(ENODATA);
        }
        if let Some(res) = inc.retrieve.tried() {
            return res;
        }
        {
            let headers = luo.flb_headers.lock();
            let entries = headers.incoming.as_ref().ok_or(ENODATA)?;
            let name = self.flb.compatible();
            let found = entries.iter().find(|e| abi::c_str_bytes(&e.name) == name);
            let found = found.ok_or(ENOENT)?;
            (inc.data, inc.count) = (found.data, found.count);
        }
        let owner = self.flb.get_owner().ok_or(ENODEV)?;
        inc.obj = inc.retrieve.record(self.flb.retrieve(inc.data))?;
        inc.owner = Some(owner);
        Ok(())
    }

    /// One user of the incoming FLB is done: finish it with the last
    /// (`liveupdate_flb_put_incoming()`).
    ///
    /// An FLB that nobody asked for with `get_incoming` is retrieved here, with the first of its
    /// files to finish: that sets its count to the previous kernel's number of files, so that the
    /// last of them finishes it.  C decrements the count of 0 it has at that point (a `refcount_t`
    /// underflow warning) and never retrieves nor finishes such an FLB.  An FLB the previous kernel
    /// did not hand over (the handler gained it in this kernel) has nothing to finish.
    pub(crate) fn put_incoming(&self, luo: &Luo) {
        let mut inc = self.incoming.lock();
        if inc.retrieve == Retrieve::NotTried && !inc.finished {
            match self.retrieve_one(luo, &mut inc) {
                Err(e) if e == ENOENT || e == ENODATA => return,
                // A failed retrieval is remembered, and the last put reports it, as in C.
                _ => {}
            }
        }
        if inc.count == 0 {
            pr_warn!("FLB incoming reference count underflow\n");
            kernel::warn_on!(true);
            return;
        }
        inc.count -= 1;
        if inc.count != 0 {
            return;
        }
        if inc.retrieve != Retrieve::Done {
            // `WARN_ON(err)` in C.
            if let Err(e) = self.retrieve_one(luo, &mut inc) {
                pr_warn!("FLB retrieve on last put failed: {:?}\n", e);
                kernel::warn_on!(true);
                return;
            }
        }
        self.flb.finish(inc.obj);
        // As C, the count stays what retrieval set it to.
        (inc.data, inc.obj, inc.owner, inc.finished) = (0, CPtr::default(), None, true);
    }

    /// `liveupdate_flb_get_incoming()`: the incoming object, retrieved on
    /// first use, with a reference the caller puts back.
    pub(crate) fn get_incoming(&self, luo: &Luo) -> Result<CPtr> {
        let mut inc = self.incoming.lock();
        if inc.obj.is_none() {
            self.retrieve_one(luo, &mut inc)?;
        }
        inc.count = inc.count.saturating_add(1);
        Ok(inc.obj)
    }

    /// `liveupdate_flb_get_outgoing()`: the outgoing object, ENOENT while the FLB is not preserved.
    pub(crate) fn get_outgoing(&self) -> Result<CPtr> {
        let mut out = self.outgoing.lock();
        if out.obj.is_none() {
            return Err(ENOENT);
        }
        out.count = out.count.saturating_add(1);
        Ok(out.obj)
    }
}

/// `liveupdate_register_flb()`.
pub(crate) fn register(luo: &Luo, fh: FileHandler, flb: Flb) -> Result {
    if !crate::enabled() {
        return Err(EOPNOTSUPP);
    }
    // `WARN_ON()` in C, for both checks.
    if !flb.is_complete() {
        pr_warn!("FLB registration with missing callbacks\n");
        kernel::warn_on!(true);
        return Err(EINVAL);
    }
    let mut reg = luo.registry.write();
    if reg.handler(fh).is_none() {
        pr_warn!("FLB registration with an unregistered file handler\n");
        kernel::warn_on!(true);
        return Err(EINVAL);
    }
    let res = reg.register_flb(fh, flb);
    // A state made for an FLB that did not get registered must not stay
    // behind in a module's FLB either.
    if res.is_err() && !reg.flbs.iter().any(|s| s.flb == flb) {
        flb.release_state();
    }
    res
}

/// `liveupdate_unregister_flb()`.
pub(crate) fn unregister(luo: &Luo, fh: FileHandler, flb: Flb) {
    if !crate::enabled() {
        return;
    }
    luo.registry.write().unregister_flb(fh, flb);
}

/// A file of handler `fh` is being preserved: preserve its FLBs, in
/// registration order, undoing on failure (`luo_flb_file_preserve()`).
pub(crate) fn file_preserve(luo: &Luo, fh: FileHandler) -> Result {
    let reg = luo.registry.read();
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
pub(crate) fn file_unpreserve(luo: &Luo, fh: FileHandler) {
    let reg = luo.registry.read();
    for s in reg.flbs_of(fh).iter().rev() {
        s.put_outgoing();
    }
}

/// A file of handler `fh` finished (`luo_flb_file_finish()`).
pub(crate) fn file_finish(luo: &Luo, fh: FileHandler) {
    let reg = luo.registry.read();
    for s in reg.flbs_of(fh).iter().rev() {
        s.put_incoming(luo);
    }
}

impl Registry {
    /// `liveupdate_register_flb()`, with the registration lock held for write.
    pub(crate) fn register_flb(&mut self, fh: FileHandler, flb: Flb) -> Result {
        let state = flb.state()?;
        let handler = self.handler_mut(fh).ok_or(EINVAL)?;
        if handler.flbs.iter().any(|s| s.flb == flb) {
            return Err(EEXIST);
        }
        handler.flbs.reserve(1, GFP_KERNEL)?;
        if !self.flbs.iter().any(|s| s.flb == flb) {
            if self.flbs.len() == FLB_MAX {
                return Err(ENOSPC);
            }
            let compatible = flb.compatible();
            if self.flbs.iter().any(|s| s.flb.compatible() == compatible) {
                return Err(EEXIST);
            }
            self.flbs.push(state.clone(), GFP_KERNEL)?;
        }
        let handler = self.handler_mut(fh).ok_or(EINVAL)?;
        handler.flbs.push(state, GFP_KERNEL)?;
        Ok(())
    }

    /// Unlinks `flb` from handler `fh` (`luo_flb_unregister_one()`).
    pub(crate) fn unregister_flb(&mut self, fh: FileHandler, flb: Flb) {
        let found = self.handler_mut(fh).and_then(|h| {
            let i = h.flbs.iter().position(|s| s.flb == flb)?;
            h.flbs.remove(i).ok()
        });
        if found.is_none() {
            let f = BStr::from_bytes(flb.compatible());
            let h = BStr::from_bytes(fh.compatible());
            pr_warn!("Failed to unregister FLB '{f}': not found in file handler '{h}'\n");
            return;
        }
        if !self
            .handlers
            .iter()
            .any(|h| h.flbs.iter().any(|s| s.flb == flb))
        {
            self.flbs.retain(|s| s.flb != flb);
            flb.release_state();
        }
    }
}

/// Copies out the previous kernel's FLB array at `addr` (none: nothing to do), which
/// [`crate::luo_handover::check`] has checked, and frees its page.
///
/// C keeps the page for the boot and reads it in place on demand; a copy taken at boot leaves no
/// handed-over page for a file handler's corrupt handle to free under LUO.
pub(crate) fn setup_incoming(luo: &Luo, addr: kho::HandoverAddr) {
    if addr.is_null() {
        return;
    }
    let header = match kho::Incoming::<abi::FlbHeaderSer>::adopt(addr, FLB_PGCNT * PAGE_SIZE) {
        Ok(header) => header,
        Err(bad) => {
            pr_warn!("Cannot adopt the FLB array: {bad}\n");
            return;
        }
    };
    let mut copy = KVec::new();
    let res = match header.entries::<abi::FlbSer>(header.count) {
        Some(entries) => entries
            .into_iter()
            .try_for_each(|e| copy.push(e, GFP_KERNEL)),
        None => Ok(()),
    };
    header.free();
    match res {
        Ok(()) => luo.flb_headers.lock().incoming = Some(copy),
        Err(_) => pr_warn!("Cannot copy the FLB array: no memory\n"),
    }
}

/// Allocates the outgoing FLB array; returns its physical address.
pub(crate) fn setup_outgoing(luo: &Luo) -> Result<u64> {
    let mut header = kho::Preserved::<abi::FlbHeaderSer>::alloc(FLB_PGCNT * PAGE_SIZE)?;
    header.pgcnt = FLB_PGCNT as u64;
    let pa = header.phys();
    luo.flb_headers.lock().outgoing = Some(header);
    Ok(pa)
}

/// Writes every preserved FLB into the outgoing array (`luo_flb_serialize()`).
///
/// Each FLB's count is read under its own lock, never while the array's
/// lock is held (`retrieve_one` takes the array lock inside an FLB lock).
pub(crate) fn serialize(luo: &Luo) {
    let reg = luo.registry.read();
    let mut n = 0;
    for s in reg.flbs.iter() {
        let (count, data) = {
            let side = s.outgoing.lock();
            (side.count, side.data)
        };
        if count == 0 {
            continue;
        }
        let mut headers = luo.flb_headers.lock();
        let Some(out) = headers.outgoing.as_mut() else {
            return;
        };
        let entries = out.trailing_mut::<abi::FlbSer>();
        let Some(e) = entries.get_mut(n) else { break };
        abi::copy_c_str(&mut e.name, s.flb.compatible());
        e.data = data;
        e.count = count;
        n += 1;
    }
    if let Some(out) = luo.flb_headers.lock().outgoing.as_mut() {
        out.count = n as u64;
    }
}
