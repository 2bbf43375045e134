//! The crash-safe A/B persister: two storage slots told apart by a generation counter.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::decode::{decode_snapshot, malformed};
use super::encode::encode_snapshot;
use super::storage::Storage;
use super::{PersistError, Snapshot};
use crate::store::Store;

/// One of the two storage slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The slot under the key `<prefix>.a`.
    A,
    /// The slot under the key `<prefix>.b`.
    B,
}

impl Slot {
    fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }
}

/// What [`Persister::load`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadOutcome {
    /// Neither slot holds anything: first boot, start from factory state.
    Empty,
    /// The newest valid snapshot; the other slot was valid too (older) or empty.
    Loaded(Snapshot),
    /// The newest valid snapshot, while the other slot held something that failed to decode.
    /// After a power cut during a save this is the expected state (the torn slot is the one
    /// being written); otherwise it may be worth a log line.
    Recovered {
        /// The newest valid snapshot.
        snapshot: Snapshot,
        /// Why the other slot was rejected.
        ignored: PersistError,
    },
}

impl LoadOutcome {
    /// The snapshot loaded, if any.
    pub fn snapshot(&self) -> Option<&Snapshot> {
        match self {
            LoadOutcome::Empty => None,
            LoadOutcome::Loaded(s) | LoadOutcome::Recovered { snapshot: s, .. } => Some(s),
        }
    }

    /// The snapshot loaded, if any, by value.
    pub fn into_snapshot(self) -> Option<Snapshot> {
        match self {
            LoadOutcome::Empty => None,
            LoadOutcome::Loaded(s) | LoadOutcome::Recovered { snapshot: s, .. } => Some(s),
        }
    }
}

/// Saves and loads snapshots through a [`Storage`] hook so that a power cut at any moment leaves
/// either the previous or the new snapshot readable, never a mix.
///
/// Why two slots: a single key would be overwritten in place, and a cut during that write would
/// leave neither version. With two slots, a save only ever writes the slot that does *not* hold
/// the newest valid snapshot. Whatever happens to that write (nothing written, a prefix, a torn
/// mix of new and stale bytes), the newest valid snapshot sits untouched in the other slot, and
/// the checksum rejects the damaged one on the next load. The save's single `store` call is its
/// commit point: once it has completed, the slot decodes with generation N+1 and load prefers it
/// over the other slot's N.
///
/// Why the other slot is never erased: erasing it after writing the new one would add a window
/// where the only valid copy is the one just written, and buys nothing, since the generation
/// already tells the two apart. It also means a save is exactly one storage write.
///
/// Why generations and not "last written slot": the storage does not record write order, and a
/// flag kept elsewhere would need its own atomic update. A u64 counter never wraps in practice.
#[derive(Debug, Clone)]
pub struct Persister {
    key_a: String,
    key_b: String,
    /// What we know of the slots: `None` = not looked yet (or unsure after an error);
    /// `Some(None)` = no valid snapshot; `Some(Some((slot, generation)))` = the newest valid one.
    newest: Option<Option<(Slot, u64)>>,
}

impl Default for Persister {
    fn default() -> Persister {
        Persister::new()
    }
}

impl Persister {
    /// A persister using the keys `lwm2mc.a` and `lwm2mc.b`.
    pub fn new() -> Persister {
        Persister::with_prefix("lwm2mc")
    }

    /// A persister using the keys `<prefix>.a` and `<prefix>.b` (for several clients sharing one
    /// storage).
    pub fn with_prefix(prefix: &str) -> Persister {
        Persister {
            key_a: format!("{prefix}.a"),
            key_b: format!("{prefix}.b"),
            newest: None,
        }
    }

    /// The storage key of a slot.
    pub fn key(&self, slot: Slot) -> &str {
        match slot {
            Slot::A => &self.key_a,
            Slot::B => &self.key_b,
        }
    }

    /// The generation of the newest valid snapshot as last seen by `load` or `save`.
    pub fn generation(&self) -> Option<u64> {
        self.newest.flatten().map(|(_, g)| g)
    }

    /// Loads the newest valid snapshot.
    ///
    /// A slot that fails to decode is ignored when the other one is valid. When something is
    /// stored but nothing is valid, the decode error is returned (an unsupported version first,
    /// as it says the most) so that the client can report it and start from factory state; a
    /// later `save` then writes over the damaged slots. Storage errors are returned as they are:
    /// an unreadable slot might hold the newest snapshot, so guessing would be wrong.
    pub fn load(&mut self, storage: &mut dyn Storage) -> Result<LoadOutcome, PersistError> {
        self.newest = None;
        let a = self.read_slot(storage, Slot::A)?;
        let b = self.read_slot(storage, Slot::B)?;
        let (outcome, newest) = pick(a, b)?;
        self.newest = Some(newest);
        Ok(outcome)
    }

    /// Saves the persistent objects of `store` as generation N+1 (N = the newest valid
    /// generation, 0 if none) into the slot that does not hold the newest valid snapshot, and
    /// returns N+1. On an error nothing is assumed about the target slot: the next save
    /// re-reads both slots first.
    pub fn save(&mut self, storage: &mut dyn Storage, store: &Store) -> Result<u64, PersistError> {
        let newest = match self.newest {
            Some(n) => n,
            None => {
                let a = self.read_slot(storage, Slot::A)?;
                let b = self.read_slot(storage, Slot::B)?;
                // Nothing valid (damaged or absent) just means we start at generation 1.
                pick(a, b).map(|(_, n)| n).unwrap_or(None)
            }
        };
        let (target, generation) = match newest {
            Some((slot, g)) => (
                slot.other(),
                g.checked_add(1)
                    .ok_or_else(|| malformed(String::from("generation counter exhausted")))?,
            ),
            None => (Slot::A, 1),
        };
        let bytes = encode_snapshot(store, generation);
        self.newest = None;
        storage.store(self.key(target), &bytes)?;
        self.newest = Some(Some((target, generation)));
        Ok(generation)
    }

    /// Reads and decodes one slot: `Ok(None)` if empty, `Ok(Some(Err(_)))` if damaged.
    fn read_slot(
        &self,
        storage: &mut dyn Storage,
        slot: Slot,
    ) -> Result<Option<Result<Snapshot, PersistError>>, PersistError> {
        Ok(storage
            .load(self.key(slot))?
            .map(|bytes| decode_snapshot(&bytes)))
    }
}

type SlotRead = Option<Result<Snapshot, PersistError>>;

/// Chooses between the two slots' contents; returns the outcome and the newest valid slot.
fn pick(a: SlotRead, b: SlotRead) -> Result<(LoadOutcome, Option<(Slot, u64)>), PersistError> {
    let (valid, damaged): (Vec<_>, Vec<_>) = [(Slot::A, a), (Slot::B, b)]
        .into_iter()
        .filter_map(|(slot, read)| read.map(|r| (slot, r)))
        .partition(|(_, r)| r.is_ok());
    let mut valid: Vec<(Slot, Snapshot)> = valid
        .into_iter()
        .filter_map(|(slot, r)| r.ok().map(|s| (slot, s)))
        .collect();
    let mut errors: Vec<PersistError> = damaged.into_iter().filter_map(|(_, r)| r.err()).collect();
    // Equal generations cannot come from this persister; on a tie the first (A) stays first.
    valid.sort_by_key(|(_, s)| core::cmp::Reverse(s.generation));
    match (valid.into_iter().next(), errors.pop()) {
        (None, None) => Ok((LoadOutcome::Empty, None)),
        (Some((slot, s)), None) => {
            let newest = Some((slot, s.generation));
            Ok((LoadOutcome::Loaded(s), newest))
        }
        (Some((slot, s)), Some(ignored)) => {
            let newest = Some((slot, s.generation));
            Ok((
                LoadOutcome::Recovered {
                    snapshot: s,
                    ignored,
                },
                newest,
            ))
        }
        (None, Some(last)) => {
            // Both damaged (or one damaged, one empty): report an unsupported version if there
            // is one, since it says the most (a firmware downgrade, not random damage).
            let first = errors.pop();
            Err(match first {
                Some(e @ PersistError::UnsupportedVersion(_)) => e,
                _ => last,
            })
        }
    }
}
