// SPDX-License-Identifier: GPL-2.0

//! An ordered table with a hash index, for LUO's session and file lists.
//!
//! C keeps sessions and files in lists, in the order they came (the order
//! they are frozen and written in; files finish in reverse), and walks a list
//! for every lookup by name or token: O(n) each, O(n²) to create, retrieve or
//! deserialize n sessions.  A [`Table`] keeps the same order and finds an entry
//! in O(1) on average, without an allocation per entry: the entries live in
//! one vector of slots (a removed entry leaves a hole, squeezed out once holes
//! outnumber entries), and an open-addressing index holds slot numbers.

use crate::staging::random;
use kernel::{
    prelude::*,
    sync::atomic::{
        Atomic,
        Relaxed, //
    },
};

/// What a [`Table`] holds: values with a key.
pub(crate) trait Keyed {
    /// The key values are found by.
    type Key: PartialEq;

    /// The key of this value; it must not change while the value is in a table.
    fn key(&self) -> &Self::Key;

    /// A hash of `key`.
    fn hash(key: &Self::Key) -> u64;
}

/// The key of this boot's hashes, random, so that keys chosen to collide (names or tokens in a
/// handover, which [`Table`]s of the next kernel index) cannot be chosen in advance; 0 until the
/// first hash draws it.
static SEED: Atomic<u64> = Atomic::new(0);

/// This boot's hash key, drawn on first use (never 0).
fn seed() -> u64 {
    let seed = SEED.load(Relaxed);
    if seed != 0 {
        return seed;
    }
    let new = random::get_random_u64() | 1;
    // A concurrent first use may have drawn its own: the first one stored wins.
    match SEED.cmpxchg(0, new, Relaxed) {
        Ok(_) => new,
        Err(old) => old,
    }
}

/// The finalizer of MurmurHash3 (`fmix64`): every bit of `h` reaches every bit of the result.
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// FNV-1a over `bytes` from this boot's key, mixed, for [`Keyed::hash`] of byte-string keys.
pub(crate) fn hash_bytes(bytes: &[u8]) -> u64 {
    mix(bytes.iter().fold(seed() ^ 0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    }))
}

/// `key` with this boot's key, mixed, for [`Keyed::hash`] of integer keys (tokens, ids).
pub(crate) fn hash_u64(key: u64) -> u64 {
    mix(key ^ seed())
}

/// An index entry that never held a slot: a lookup stops here.
const EMPTY: u32 = u32::MAX;
/// An index entry whose slot was removed: a lookup goes on past it.
const GONE: u32 = u32::MAX - 1;
/// The smallest index.
const MIN_INDEX: usize = 16;

/// Values in insertion order, found by key.
///
/// # Invariants
///
/// - `live` is the number of `Some` slots, and the last slot, if any, is `Some`.
/// - `index` is empty (before the first insertion) or its length is a power of two larger than
///   twice `used`, the number of its entries other than [`EMPTY`]; so a probe always ends.
/// - For each key of a `Some` slot, the first slot with that key (the *indexed* slot) has
///   exactly one index entry, holding its number and reached by linear probing from the key's
///   hash without crossing an [`EMPTY`] entry; other slots with the same key (*shadowed*, only
///   through [`Table::push_shadowed`]) have none; `shadowed` counts them.  Every other
///   non-[`EMPTY`] entry is [`GONE`].
pub(crate) struct Table<T: Keyed> {
    slots: KVVec<Option<T>>,
    index: KVVec<u32>,
    live: usize,
    used: usize,
    shadowed: usize,
}

impl<T: Keyed> Default for Table<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Keyed> Table<T> {
    /// An empty table; it allocates nothing until the first value comes.
    pub(crate) const fn new() -> Self {
        // INVARIANT: no slot, no index.
        Self {
            slots: KVVec::new(),
            index: KVVec::new(),
            live: 0,
            used: 0,
            shadowed: 0,
        }
    }

    /// Number of values.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Whether there is no value.
    pub(crate) fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The index entry and slot of the (first) value with `key`.
    fn find(&self, key: &T::Key) -> Option<(usize, usize)> {
        self.find_by(T::hash(key), |v| v.key() == key)
    }

    /// The index entry and slot of the indexed value that `is` picks among
    /// those whose keys have hash `hash`.
    fn find_by(&self, hash: u64, is: impl Fn(&T) -> bool) -> Option<(usize, usize)> {
        // Each vector is turned into a slice once, not once per probe.
        let (index, slots) = (&self.index[..], &self.slots[..]);
        let mask = index.len().checked_sub(1)?;
        let mut pos = hash as usize & mask;
        loop {
            match *index.get(pos)? {
                EMPTY => return None,
                GONE => {}
                s => {
                    if let Some(Some(v)) = slots.get(s as usize) {
                        if is(v) {
                            return Some((pos, s as usize));
                        }
                    }
                }
            }
            pos = (pos + 1) & mask;
        }
    }

    /// The first value with `key`.
    pub(crate) fn get(&self, key: &T::Key) -> Option<&T> {
        let (_, slot) = self.find(key)?;
        self.slots[slot].as_ref()
    }

    /// The first value with `key`, to change (but not its key).
    pub(crate) fn get_mut(&mut self, key: &T::Key) -> Option<&mut T> {
        let (_, slot) = self.find(key)?;
        self.slots[slot].as_mut()
    }

    /// Whether a value has `key`.
    pub(crate) fn contains(&self, key: &T::Key) -> bool {
        self.find(key).is_some()
    }

    /// Appends `value`: EEXIST if its key is taken, ENOMEM if there is no room (nothing changes).
    pub(crate) fn push(&mut self, value: T) -> Result {
        if self.contains(value.key()) {
            return Err(EEXIST);
        }
        self.append(value)
    }

    /// Appends `value`, whose key may be taken already: lookups keep finding the earlier value.
    /// For entries read from the previous kernel, where C keeps every entry and its list walk
    /// finds the first.
    pub(crate) fn push_shadowed(&mut self, value: T) -> Result {
        self.append(value)
    }

    /// Makes room for one more value, so that the next [`Table::push`] or
    /// [`Table::push_shadowed`] cannot fail for want of memory.
    pub(crate) fn reserve(&mut self) -> Result {
        // Slot numbers must stay below the two markers.
        if self.slots.len() >= GONE as usize {
            return Err(ENOMEM);
        }
        self.slots.reserve(1, GFP_KERNEL)?;
        if (self.used + 1) * 2 >= self.index.len() {
            // A quarter full after the rebuild.
            let len = ((self.live + 1) * 4).next_power_of_two().max(MIN_INDEX);
            self.index = KVVec::from_elem(EMPTY, len, GFP_KERNEL)?;
            self.reindex();
        }
        Ok(())
    }

    fn append(&mut self, value: T) -> Result {
        self.reserve()?;
        let slot = self.slots.len();
        let shadowed = self.contains(value.key());
        // Cannot fail: room was reserved above, and `reindex` only removes slots.
        self.slots
            .push_within_capacity(Some(value))
            .map_err(|_| ENOMEM)?;
        self.live += 1;
        if shadowed {
            self.shadowed += 1;
        } else {
            self.place(slot);
        }
        Ok(())
    }

    /// Adds an index entry for `slot`, a value whose key has none.
    fn place(&mut self, slot: usize) {
        let Some(Some(v)) = self.slots.get(slot) else {
            return;
        };
        let mask = self.index.len() - 1;
        let mut pos = T::hash(v.key()) as usize & mask;
        while self.index[pos] != EMPTY && self.index[pos] != GONE {
            pos = (pos + 1) & mask;
        }
        if self.index[pos] == EMPTY {
            self.used += 1;
        }
        self.index[pos] = slot as u32;
    }

    /// Squeezes out the holes of `slots` and rebuilds `index`, keeping its length.
    fn reindex(&mut self) {
        self.slots.retain(|s| s.is_some());
        self.index.fill(EMPTY);
        self.used = 0;
        // Without shadowed values every key is new: no lookup needed.
        let check = self.shadowed > 0;
        self.shadowed = 0;
        for slot in 0..self.slots.len() {
            let shadowed = check
                && self.slots[slot]
                    .as_ref()
                    .is_some_and(|v| self.find(v.key()).is_some());
            if shadowed {
                self.shadowed += 1;
            } else {
                self.place(slot);
            }
        }
    }

    /// Removes the index entry at `pos`; entries left [`GONE`] before an
    /// [`EMPTY`] one become [`EMPTY`], so that lookups stay short.
    fn unindex(&mut self, mut pos: usize) {
        let index = &mut self.index[..];
        let mask = index.len().wrapping_sub(1);
        let Some(entry) = index.get_mut(pos) else {
            return;
        };
        *entry = GONE;
        if index.get((pos + 1) & mask) != Some(&EMPTY) {
            return;
        }
        while let Some(entry) = index.get_mut(pos).filter(|e| **e == GONE) {
            *entry = EMPTY;
            self.used -= 1;
            pos = pos.wrapping_sub(1) & mask;
        }
    }

    /// Takes out the value in `slot`, whose index entry (if indexed) is at `pos`.
    fn take(&mut self, slot: usize, pos: Option<usize>) -> Option<T> {
        let value = self.slots.get_mut(slot)?.take()?;
        match pos {
            None => self.shadowed -= 1,
            Some(pos) => {
                self.unindex(pos);
                if self.shadowed > 0 {
                    self.unshadow(slot, value.key());
                }
            }
        }
        self.live -= 1;
        if slot + 1 == self.slots.len() || self.slots.len() > 2 * self.live + MIN_INDEX {
            self.trim();
        }
        Some(value)
    }

    /// Indexes the first value after `slot` with `key`, if any: the value
    /// in `slot`, which it shadowed, is gone.
    #[cold]
    fn unshadow(&mut self, slot: usize, key: &T::Key) {
        let next = self.slots[slot + 1..]
            .iter()
            .position(|s| s.as_ref().is_some_and(|v| v.key() == key));
        if let Some(next) = next {
            self.shadowed -= 1;
            self.place(slot + 1 + next);
        }
    }

    /// Drops the holes at the end of `slots`, and squeezes out all of them
    /// once they outnumber the values.
    #[cold]
    fn trim(&mut self) {
        while let Some(None) = self.slots.last() {
            self.slots.pop();
        }
        if self.slots.len() > 2 * self.live + MIN_INDEX {
            self.reindex();
        }
    }

    /// Removes and returns the (first) value with `key`.
    pub(crate) fn remove(&mut self, key: &T::Key) -> Option<T> {
        let (pos, slot) = self.find(key)?;
        self.take(slot, Some(pos))
    }

    /// Removes and returns the (first) value with `key` that `is` picks,
    /// where `is` holds for one value at most, and only for one with `key`
    /// (an identity test): no key is compared.
    pub(crate) fn remove_exact(&mut self, key: &T::Key, is: impl Fn(&T) -> bool) -> Option<T> {
        let (pos, slot) = self.find_by(T::hash(key), is)?;
        self.take(slot, Some(pos))
    }

    /// Removes and returns the last value.
    pub(crate) fn pop(&mut self) -> Option<T> {
        let slot = self.slots.len().checked_sub(1)?;
        let key = self.slots[slot].as_ref()?.key();
        let pos = self
            .find(key)
            .filter(|&(_, s)| s == slot)
            .map(|(pos, _)| pos);
        self.take(slot, pos)
    }

    /// The values, in insertion order.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &T> {
        self.slots.iter().flatten()
    }

    /// The values, in insertion order, to change (but not their keys).
    pub(crate) fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut T> {
        self.slots.iter_mut().flatten()
    }
}

#[kunit_tests(luo_rs_index)]
mod tests {
    use super::*;

    /// A value with a key and a tag that tells equal keys apart.
    struct Item(u64, u32);

    impl Keyed for Item {
        type Key = u64;
        fn key(&self) -> &u64 {
            &self.0
        }
        /// A poor hash, so that keys collide and probes are long.
        fn hash(key: &u64) -> u64 {
            *key % 7
        }
    }

    fn keys(t: &Table<Item>) -> KVec<u64> {
        let mut v = KVec::new();
        for i in t.iter() {
            v.push(i.0, GFP_KERNEL).unwrap();
        }
        v
    }

    #[test]
    fn order_lookup_and_removal() -> Result {
        let mut t = Table::<Item>::default();
        assert!(t.get(&1).is_none());
        for k in 0..1000u64 {
            t.push(Item(k * 3, 0))?;
        }
        assert_eq!(t.push(Item(300, 1)), Err(EEXIST));
        assert_eq!(t.len(), 1000);
        // Remove two thirds from the middle: holes are squeezed out, order stays.
        for k in 0..1000u64 {
            if k % 3 != 0 {
                assert_eq!(t.remove(&(k * 3)).map(|i| i.0), Some(k * 3));
            }
        }
        assert!(t.remove(&3).is_none());
        assert_eq!(t.len(), 334);
        for k in 0..1000u64 {
            assert_eq!(t.contains(&(k * 3)), k % 3 == 0);
        }
        let kept = keys(&t);
        assert!(kept.iter().zip(kept.iter().skip(1)).all(|(a, b)| a < b));
        // A removed key can come back, at the end.
        t.push(Item(3, 2))?;
        assert_eq!(keys(&t).last(), Some(&3));
        // Pop takes the last first.
        assert_eq!(t.pop().map(|i| i.0), Some(3));
        assert_eq!(t.pop().map(|i| i.0), Some(999 * 3));
        while t.pop().is_some() {}
        assert!(t.is_empty() && t.get(&0).is_none());
        Ok(())
    }

    #[test]
    fn shadowed_keys_are_found_first_come() -> Result {
        let mut t = Table::<Item>::default();
        t.push(Item(5, 0))?;
        t.push_shadowed(Item(5, 1))?;
        t.push(Item(12, 0))?; // same hash as 5
        t.push_shadowed(Item(5, 2))?;
        assert_eq!(t.len(), 4);
        assert_eq!(t.get(&5).map(|i| i.1), Some(0));
        // Removing the first makes the next one with the key the first.
        assert_eq!(t.remove(&5).map(|i| i.1), Some(0));
        assert_eq!(t.get(&5).map(|i| i.1), Some(1));
        // Popping a shadowed value leaves the indexed one alone.
        assert_eq!(t.pop().map(|i| i.1), Some(2));
        assert_eq!(t.get(&5).map(|i| i.1), Some(1));
        assert_eq!(t.get(&12).map(|i| i.0), Some(12));
        assert_eq!(t.remove(&5).map(|i| i.1), Some(1));
        assert!(t.get(&5).is_none());
        assert_eq!(t.len(), 1);
        Ok(())
    }

    #[test]
    fn remove_exact_takes_only_the_value_picked() -> Result {
        let mut t = Table::<Item>::default();
        t.push(Item(5, 0))?;
        t.push(Item(12, 1))?; // same hash as 5
        t.push_shadowed(Item(5, 2))?;
        // Neither the other key of the hash nor a shadowed value is picked.
        assert!(t.remove_exact(&5, |i| i.1 == 2).is_none());
        assert_eq!(t.len(), 3);
        assert_eq!(t.remove_exact(&12, |i| i.1 == 1).map(|i| i.0), Some(12));
        assert!(t.get(&12).is_none());
        assert_eq!(t.remove_exact(&5, |i| i.1 == 0).map(|i| i.1), Some(0));
        // The shadowed value is now the first with its key.
        assert_eq!(t.get(&5).map(|i| i.1), Some(2));
        assert_eq!(t.len(), 1);
        Ok(())
    }
}
