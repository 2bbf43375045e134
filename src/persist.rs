//! Persistence of the committed configuration: the snapshot format and a crash-safe A/B persister.
//!
//! The core never touches a file (DESIGN §1): it talks to a key-value [`Storage`] hook that the
//! application supplies (a file adapter in `storage_file`, callbacks in the C ABI, a
//! [`MemoryStorage`] in tests).
//!
//! # Snapshot format, version 1
//!
//! All integers are big-endian.
//!
//! ```text
//! header  "LWMC" | version u16 (=1) | generation u64 | body length u32      (18 bytes)
//! body    object count u32, then per object (ascending IDs):
//!           object ID u16 | instance count u32, then per instance (ascending IDs):
//!             instance ID u16 | resource count u32, then per resource (ascending IDs):
//!               resource ID u16 | shape u8 (0 = single, 1 = multiple)
//!                 single:   value
//!                 multiple: entry count u32, then per entry (ascending IDs): ID u16 | value
//! value   type tag u8, then:  1 String   len u32 | UTF-8     2 Integer  i64
//!                             3 Unsigned u64                 4 Float    f64 bits as u64
//!                             5 Boolean  u8 (0 or 1)         6 Opaque   len u32 | bytes
//!                             7 Time     i64                 8 Objlnk   u16 | u16
//!                             9 Corelnk  len u32 | UTF-8
//! trailer CRC-32 (IEEE 802.3, the zlib/PNG one) over every byte before it
//! ```
//!
//! The body carries every type itself, so a snapshot decodes without the object model; the model
//! is consulted only when it is applied to a [`Store`]. Decoding is strict (IDs strictly
//! ascending, tags and booleans in range, the body consumed exactly): the writer is this module,
//! so anything else is damage, and damage must be reported, not half-understood.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::path::Path;
use crate::store::Store;
use crate::value::{Instances, ResourceValue, Resources, Value};

// ---------------------------------------------------------------------------------------------
// The storage hook

/// A key-value store for snapshots, supplied by the application.
///
/// Contract the [`Persister`] relies on: `store` replaces the whole value of one key, and a power
/// cut during `store` may leave that key's value damaged (empty, truncated, torn) but must not
/// touch any other key. Atomic replacement is welcome but not required.
pub trait Storage {
    /// Reads a key. `Ok(None)` when the key holds nothing.
    fn load(&mut self, key: &str) -> Result<Option<Vec<u8>>, StorageError>;
    /// Replaces the value of a key.
    fn store(&mut self, key: &str, data: &[u8]) -> Result<(), StorageError>;
    /// Removes a key; removing a missing key is not an error.
    fn erase(&mut self, key: &str) -> Result<(), StorageError>;
}

impl<S: Storage + ?Sized> Storage for &mut S {
    fn load(&mut self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        (**self).load(key)
    }
    fn store(&mut self, key: &str, data: &[u8]) -> Result<(), StorageError> {
        (**self).store(key, data)
    }
    fn erase(&mut self, key: &str) -> Result<(), StorageError> {
        (**self).erase(key)
    }
}

/// Why a storage hook failed.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum StorageError {
    #[error("storage I/O failed: {0}")]
    Io(String),
    /// The key cannot be stored by this backend (for files: characters outside `[A-Za-z0-9._-]`).
    #[error("storage key {0:?} is not allowed")]
    InvalidKey(String),
}

/// A storage hook held in memory: for tests, and for the C and Python layers' own tests.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemoryStorage {
    entries: BTreeMap<String, Vec<u8>>,
}

impl MemoryStorage {
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }

    /// The bytes held under `key`, without copying.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.entries.get(key).map(Vec::as_slice)
    }

    /// Every key, ascending.
    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.entries.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Storage for MemoryStorage {
    fn load(&mut self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.entries.get(key).cloned())
    }
    fn store(&mut self, key: &str, data: &[u8]) -> Result<(), StorageError> {
        self.entries.insert(String::from(key), data.to_vec());
        Ok(())
    }
    fn erase(&mut self, key: &str) -> Result<(), StorageError> {
        self.entries.remove(key);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Errors and the decoded snapshot

/// Why a snapshot could not be loaded, saved or applied.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum PersistError {
    #[error("snapshot does not start with the LWMC magic")]
    BadMagic,
    #[error("snapshot format version {0} is not supported")]
    UnsupportedVersion(u16),
    #[error("snapshot checksum mismatch")]
    Checksum,
    #[error("snapshot is truncated")]
    Truncated,
    #[error("snapshot is malformed: {0}")]
    Malformed(String),
    /// The snapshot is sound but does not fit the store's object definitions at this path
    /// (unknown resource, wrong type, single/multiple mismatch, several instances of a
    /// single-instance object).
    #[error("snapshot does not match the object definitions at {0}")]
    Mismatch(Path),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A decoded snapshot: the persistent objects' instances at one save.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Save counter; the higher of two valid snapshots is the newer.
    pub generation: u64,
    pub objects: BTreeMap<u16, Instances>,
}

const MAGIC: [u8; 4] = *b"LWMC";
const VERSION: u16 = 1;
/// Magic, version, generation, body length.
const HEADER_LEN: usize = 4 + 2 + 8 + 4;
const CRC_LEN: usize = 4;

const SHAPE_SINGLE: u8 = 0;
const SHAPE_MULTIPLE: u8 = 1;

const TAG_STRING: u8 = 1;
const TAG_INTEGER: u8 = 2;
const TAG_UNSIGNED: u8 = 3;
const TAG_FLOAT: u8 = 4;
const TAG_BOOLEAN: u8 = 5;
const TAG_OPAQUE: u8 = 6;
const TAG_TIME: u8 = 7;
const TAG_OBJLNK: u8 = 8;
const TAG_CORELNK: u8 = 9;

// ---------------------------------------------------------------------------------------------
// CRC-32

/// CRC-32/ISO-HDLC (reflected polynomial 0xEDB88320, init and final XOR 0xFFFFFFFF), the one
/// zlib, PNG and Ethernet use. A 16-entry table processed a nibble at a time: 64 bytes of table
/// instead of 1 KiB, which is plenty fast for snapshots of a few kilobytes.
pub fn crc32(data: &[u8]) -> u32 {
    const fn nibble_table() -> [u32; 16] {
        let mut table = [0u32; 16];
        let mut i = 0;
        while i < 16 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 4 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    }
    const TABLE: [u32; 16] = nibble_table();

    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        // `& 0xF` keeps the index below 16, so these lookups cannot miss.
        crc = (crc >> 4) ^ TABLE.get((crc & 0xF) as usize).copied().unwrap_or(0);
        crc = (crc >> 4) ^ TABLE.get((crc & 0xF) as usize).copied().unwrap_or(0);
    }
    !crc
}

// ---------------------------------------------------------------------------------------------
// Encoding

/// Encodes the persistent objects of `store` (those with `is_persistent`) as a snapshot.
/// Persistent objects with no instances are included, so that restoring clears them.
pub fn encode_snapshot(store: &Store, generation: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&generation.to_be_bytes());
    out.extend_from_slice(&[0; 4]); // body length, patched below

    let empty = Instances::new();
    let persistent: Vec<u16> = store
        .object_ids()
        .filter(|oid| store.is_persistent(*oid))
        .collect();
    put_len(&mut out, persistent.len());
    for oid in persistent {
        out.extend_from_slice(&oid.to_be_bytes());
        put_instances(&mut out, store.instances(oid).unwrap_or(&empty));
    }

    let body_len = len_u32(out.len().saturating_sub(HEADER_LEN));
    if let Some(slot) = out.get_mut(HEADER_LEN - 4..HEADER_LEN) {
        slot.copy_from_slice(&body_len.to_be_bytes());
    }
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// Lengths and counts are u32 on the wire. Nothing a device holds comes near 4 GiB; should it
/// ever, the saturated length makes the snapshot fail to decode instead of decoding wrongly.
fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&len_u32(n).to_be_bytes());
}

fn put_instances(out: &mut Vec<u8>, instances: &Instances) {
    put_len(out, instances.len());
    for (iid, resources) in instances {
        out.extend_from_slice(&iid.to_be_bytes());
        put_len(out, resources.len());
        for (rid, rv) in resources {
            out.extend_from_slice(&rid.to_be_bytes());
            match rv {
                ResourceValue::Single(v) => {
                    out.push(SHAPE_SINGLE);
                    put_value(out, v);
                }
                ResourceValue::Multiple(m) => {
                    out.push(SHAPE_MULTIPLE);
                    put_len(out, m.len());
                    for (riid, v) in m {
                        out.extend_from_slice(&riid.to_be_bytes());
                        put_value(out, v);
                    }
                }
            }
        }
    }
}

fn put_value(out: &mut Vec<u8>, v: &Value) {
    let put_bytes = |out: &mut Vec<u8>, tag: u8, b: &[u8]| {
        out.push(tag);
        put_len(out, b.len());
        out.extend_from_slice(b);
    };
    match v {
        Value::String(s) => put_bytes(out, TAG_STRING, s.as_bytes()),
        Value::Integer(i) => {
            out.push(TAG_INTEGER);
            out.extend_from_slice(&i.to_be_bytes());
        }
        Value::Unsigned(u) => {
            out.push(TAG_UNSIGNED);
            out.extend_from_slice(&u.to_be_bytes());
        }
        Value::Float(f) => {
            // The bit pattern, so that -0.0 and NaN payloads survive exactly.
            out.push(TAG_FLOAT);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        Value::Boolean(b) => {
            out.push(TAG_BOOLEAN);
            out.push(u8::from(*b));
        }
        Value::Opaque(b) => put_bytes(out, TAG_OPAQUE, b),
        Value::Time(t) => {
            out.push(TAG_TIME);
            out.extend_from_slice(&t.to_be_bytes());
        }
        Value::Objlnk(o, i) => {
            out.push(TAG_OBJLNK);
            out.extend_from_slice(&o.to_be_bytes());
            out.extend_from_slice(&i.to_be_bytes());
        }
        Value::Corelnk(s) => put_bytes(out, TAG_CORELNK, s.as_bytes()),
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// Decodes and verifies a snapshot. Never panics, whatever the bytes.
///
/// Checks run in this order: magic, version (a newer format may lay out everything after the
/// version differently, so it is judged before anything else), length, checksum, body.
pub fn decode_snapshot(bytes: &[u8]) -> Result<Snapshot, PersistError> {
    // Magic: a short prefix of it is a truncated snapshot; anything else is not ours.
    let magic_have = bytes.get(..MAGIC.len()).unwrap_or(bytes);
    if !MAGIC.starts_with(magic_have) {
        return Err(PersistError::BadMagic);
    }
    let mut header = Reader::new(bytes.get(MAGIC.len()..).unwrap_or(&[]));
    let version = header.u16().ok_or(PersistError::Truncated)?;
    if version != VERSION {
        return Err(PersistError::UnsupportedVersion(version));
    }
    let generation = header.u64().ok_or(PersistError::Truncated)?;
    let body_len = header.u32().ok_or(PersistError::Truncated)?;

    let total = usize::try_from(body_len)
        .ok()
        .and_then(|n| n.checked_add(HEADER_LEN + CRC_LEN))
        .ok_or(PersistError::Truncated)?;
    if bytes.len() < total {
        return Err(PersistError::Truncated);
    }
    if bytes.len() > total {
        return Err(PersistError::Malformed(String::from(
            "bytes after the checksum",
        )));
    }
    let crc_at = total - CRC_LEN;
    let covered = bytes.get(..crc_at).ok_or(PersistError::Truncated)?;
    let stored = Reader::new(bytes.get(crc_at..).unwrap_or(&[]))
        .u32()
        .ok_or(PersistError::Truncated)?;
    if crc32(covered) != stored {
        return Err(PersistError::Checksum);
    }

    // The checksum matched, so running short inside the body is a writer bug, not a cut.
    let body = covered.get(HEADER_LEN..).unwrap_or(&[]);
    let mut r = Reader::new(body);
    let objects = read_objects(&mut r)?;
    if !r.is_empty() {
        return Err(PersistError::Malformed(String::from(
            "bytes after the last object",
        )));
    }
    Ok(Snapshot {
        generation,
        objects,
    })
}

fn read_objects(r: &mut Reader<'_>) -> Result<BTreeMap<u16, Instances>, PersistError> {
    let mut objects = BTreeMap::new();
    let mut last = None;
    for _ in 0..r.count()? {
        let oid = r.id(&mut last, "object")?;
        let mut instances = Instances::new();
        let mut last_iid = None;
        for _ in 0..r.count()? {
            let iid = r.id(&mut last_iid, "instance")?;
            let mut resources = Resources::new();
            let mut last_rid = None;
            for _ in 0..r.count()? {
                let rid = r.id(&mut last_rid, "resource")?;
                let rv = match r.u8().ok_or_else(short)? {
                    SHAPE_SINGLE => ResourceValue::Single(read_value(r)?),
                    SHAPE_MULTIPLE => {
                        let mut m = BTreeMap::new();
                        let mut last_riid = None;
                        for _ in 0..r.count()? {
                            let riid = r.id(&mut last_riid, "resource instance")?;
                            m.insert(riid, read_value(r)?);
                        }
                        ResourceValue::Multiple(m)
                    }
                    other => return Err(malformed(format!("resource shape tag {other}"))),
                };
                resources.insert(rid, rv);
            }
            instances.insert(iid, resources);
        }
        objects.insert(oid, instances);
    }
    Ok(objects)
}

fn read_value(r: &mut Reader<'_>) -> Result<Value, PersistError> {
    let tag = r.u8().ok_or_else(short)?;
    Ok(match tag {
        TAG_STRING => Value::String(r.string()?),
        TAG_INTEGER => Value::Integer(r.i64().ok_or_else(short)?),
        TAG_UNSIGNED => Value::Unsigned(r.u64().ok_or_else(short)?),
        TAG_FLOAT => Value::Float(f64::from_bits(r.u64().ok_or_else(short)?)),
        TAG_BOOLEAN => match r.u8().ok_or_else(short)? {
            0 => Value::Boolean(false),
            1 => Value::Boolean(true),
            other => return Err(malformed(format!("boolean byte {other}"))),
        },
        TAG_OPAQUE => Value::Opaque(r.bytes()?.to_vec()),
        TAG_TIME => Value::Time(r.i64().ok_or_else(short)?),
        TAG_OBJLNK => {
            let o = r.u16().ok_or_else(short)?;
            let i = r.u16().ok_or_else(short)?;
            Value::Objlnk(o, i)
        }
        TAG_CORELNK => Value::Corelnk(r.string()?),
        other => return Err(malformed(format!("value type tag {other}"))),
    })
}

fn malformed(msg: String) -> PersistError {
    PersistError::Malformed(msg)
}

fn short() -> PersistError {
    PersistError::Malformed(String::from("body ends inside an item"))
}

/// A cursor over a byte slice; every read is bounds-checked and returns `None` when short.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(rest: &'a [u8]) -> Reader<'a> {
        Reader { rest }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.rest.len() < n {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|[b]| b)
    }
    fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_be_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.array().map(i64::from_be_bytes)
    }

    /// An item count. Loops over it stay bounded by the input: every item consumes bytes.
    fn count(&mut self) -> Result<u32, PersistError> {
        self.u32().ok_or_else(short)
    }

    /// An ID that must be strictly greater than the previous one at this level (the encoder
    /// writes map keys in order; a repeat would otherwise silently overwrite).
    fn id(&mut self, last: &mut Option<u16>, what: &str) -> Result<u16, PersistError> {
        let id = self.u16().ok_or_else(short)?;
        if last.is_some_and(|prev| id <= prev) {
            return Err(malformed(format!("{what} ID {id} out of order")));
        }
        *last = Some(id);
        Ok(id)
    }

    fn bytes(&mut self) -> Result<&'a [u8], PersistError> {
        let len = self.u32().ok_or_else(short)?;
        let len = usize::try_from(len).map_err(|_| short())?;
        self.take(len).ok_or_else(short)
    }

    fn string(&mut self) -> Result<String, PersistError> {
        let b = self.bytes()?;
        core::str::from_utf8(b)
            .map(String::from)
            .map_err(|_| malformed(String::from("string is not UTF-8")))
    }
}

// ---------------------------------------------------------------------------------------------
// Applying a snapshot to a store

/// Replaces, in `store`, the instances of every object the snapshot carries and the store
/// defines. Objects the store does not define are skipped (an application that dropped an
/// object keeps booting). Everything is checked against the store's definitions first; on any
/// mismatch the store is left exactly as it was.
pub fn apply_snapshot(snapshot: &Snapshot, store: &mut Store) -> Result<(), PersistError> {
    for (oid, instances) in &snapshot.objects {
        if let Some(def) = store.def(*oid) {
            check_object(def, *oid, instances)?;
        }
    }
    for (oid, instances) in &snapshot.objects {
        if store.def(*oid).is_some() {
            store
                .set_instances(*oid, instances.clone())
                .map_err(|_| PersistError::Mismatch(Path::object(*oid)))?;
        }
    }
    Ok(())
}

fn check_object(
    def: &crate::model::ObjectDef,
    oid: u16,
    instances: &Instances,
) -> Result<(), PersistError> {
    if !def.multiple && instances.len() > 1 {
        return Err(PersistError::Mismatch(Path::object(oid)));
    }
    for (iid, resources) in instances {
        for (rid, rv) in resources {
            let path = Path::resource(oid, *iid, *rid);
            let rdef = def.resource(*rid).ok_or(PersistError::Mismatch(path))?;
            let fits = match rv {
                ResourceValue::Single(v) => !rdef.multiple && v.resource_type() == rdef.kind,
                ResourceValue::Multiple(m) => {
                    rdef.multiple && m.values().all(|v| v.resource_type() == rdef.kind)
                }
            };
            if !fits {
                return Err(PersistError::Mismatch(path));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The A/B persister

/// One of the two storage slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    A,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ObjectDef, Operations, ResourceDef};
    use crate::rng::Rng;
    use crate::value::ResourceType;
    use alloc::borrow::Cow;
    use alloc::string::ToString;
    use alloc::vec;

    const TEST_OID: u16 = 33000;

    fn samples() -> [Value; 9] {
        [
            Value::String("coaps://lwm2m.example:5684".to_string()),
            Value::Integer(-1234567890123),
            Value::Unsigned(u64::MAX),
            Value::Float(-2.5e-3),
            Value::Boolean(true),
            Value::Opaque(vec![0, 1, 0xFF, 0x80]),
            Value::Time(-86400),
            Value::Objlnk(65535, 65535),
            Value::Corelnk("</3/0>;ver=1.1".to_string()),
        ]
    }

    /// An object with, for each value type, a single resource `k` and a multiple one `100 + k`.
    fn all_types_def() -> ObjectDef {
        let mut resources = Vec::new();
        for (k, v) in samples().iter().enumerate() {
            let k = k as u16;
            for (rid, multiple) in [(k, false), (100 + k, true)] {
                resources.push(ResourceDef {
                    id: rid,
                    name: Cow::Owned(format!("r{rid}")),
                    kind: v.resource_type(),
                    operations: Operations::RW,
                    multiple,
                    mandatory: false,
                });
            }
        }
        resources.sort_by_key(|r| r.id);
        ObjectDef {
            id: TEST_OID,
            name: Cow::Borrowed("All types"),
            version: Cow::Borrowed("1.0"),
            multiple: true,
            mandatory: false,
            resources: Cow::Owned(resources),
        }
    }

    fn base_store() -> Store {
        let mut s = Store::with_standard_objects();
        s.define(all_types_def(), true);
        s
    }

    /// Security, Server and the all-types object filled; Device (not persistent) too. `salt`
    /// varies the content so that two stores can be told apart.
    fn full_store(salt: i64) -> Store {
        let mut s = base_store();
        let p = Path::resource;
        s.set(
            &p(0, 0, 0),
            Value::String(format!("coap://bs{salt}.example")),
        )
        .unwrap();
        s.set(&p(0, 0, 1), Value::Boolean(true)).unwrap();
        s.set(&p(0, 0, 2), Value::Integer(3)).unwrap();
        s.set(&p(0, 1, 0), Value::String("coap://dm.example".to_string()))
            .unwrap();
        s.set(&p(0, 1, 1), Value::Boolean(false)).unwrap();
        s.set(&p(0, 1, 10), Value::Integer(salt)).unwrap();
        s.set(&p(1, 0, 0), Value::Integer(salt)).unwrap();
        s.set(&p(1, 0, 1), Value::Integer(300 + salt)).unwrap();
        s.set(&p(1, 0, 7), Value::String("U".to_string())).unwrap();
        for iid in [0u16, 7] {
            for (k, v) in samples().into_iter().enumerate() {
                let k = k as u16;
                s.set(&p(TEST_OID, iid, k), v.clone()).unwrap();
                for ri in [0u16, 3, 65534] {
                    s.set(
                        &Path::resource_instance(TEST_OID, iid, 100 + k, ri),
                        v.clone(),
                    )
                    .unwrap();
                }
            }
        }
        s.set(&p(TEST_OID, 7, 1), Value::Integer(salt)).unwrap();
        s.set(&p(3, 0, 0), Value::String("ACME".to_string()))
            .unwrap();
        s
    }

    /// What a snapshot of `store` must hold: its persistent objects' instances.
    fn persistent_content(store: &Store) -> BTreeMap<u16, Instances> {
        store
            .object_ids()
            .filter(|o| store.is_persistent(*o))
            .map(|o| (o, store.instances(o).cloned().unwrap_or_default()))
            .collect()
    }

    #[test]
    fn crc32_check_value() {
        // The standard check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn round_trip_every_type() {
        let store = full_store(5);
        let bytes = encode_snapshot(&store, 42);
        let snap = decode_snapshot(&bytes).unwrap();
        assert_eq!(snap.generation, 42);
        assert_eq!(snap.objects, persistent_content(&store));
        // Device (/3) is not persistent: absent even though it has an instance.
        assert!(store.has_instance(3, 0));
        assert!(!snap.objects.contains_key(&3));
        assert_eq!(
            snap.objects.keys().copied().collect::<Vec<_>>(),
            [0, 1, 2, TEST_OID]
        );
        // Access Control has no instances but is persistent: present and empty.
        assert_eq!(snap.objects.get(&2), Some(&Instances::new()));

        // Restoring into a factory store gives back the persistent objects, not Device.
        let mut fresh = base_store();
        apply_snapshot(&snap, &mut fresh).unwrap();
        assert_eq!(persistent_content(&fresh), persistent_content(&store));
        assert!(!fresh.has_instance(3, 0));
    }

    #[test]
    fn float_bits_survive() {
        let mut store = base_store();
        let nan = f64::from_bits(0x7FF8_0000_DEAD_BEEF);
        store
            .set(&Path::resource(TEST_OID, 0, 3), Value::Float(nan))
            .unwrap();
        store
            .set(
                &Path::resource_instance(TEST_OID, 0, 103, 0),
                Value::Float(-0.0),
            )
            .unwrap();
        let snap = decode_snapshot(&encode_snapshot(&store, 1)).unwrap();
        let inst = snap.objects.get(&TEST_OID).unwrap().get(&0).unwrap();
        let Some(ResourceValue::Single(Value::Float(f))) = inst.get(&3) else {
            panic!("float missing")
        };
        assert_eq!(f.to_bits(), 0x7FF8_0000_DEAD_BEEF);
        let Some(ResourceValue::Multiple(m)) = inst.get(&103) else {
            panic!("multiple float missing")
        };
        assert_eq!(
            m.get(&0).map(|v| match v {
                Value::Float(f) => f.to_bits(),
                _ => 0,
            }),
            Some((-0.0f64).to_bits())
        );
    }

    /// A one-object store: object 7 with Integer resource 1 (single) and String resource 2
    /// (multiple), instance 4 holding 1 = -2 and 2 = {9: "hi"}.
    fn tiny_store() -> Store {
        let mut s = Store::new();
        s.define(
            ObjectDef {
                id: 7,
                name: Cow::Borrowed("tiny"),
                version: Cow::Borrowed("1.0"),
                multiple: true,
                mandatory: false,
                resources: Cow::Owned(vec![
                    ResourceDef::new(1, "i", ResourceType::Integer, Operations::RW, false, false),
                    ResourceDef::new(2, "s", ResourceType::String, Operations::RW, true, false),
                ]),
            },
            true,
        );
        s.define(crate::model::DEVICE.clone(), false);
        s.set(&Path::resource(7, 4, 1), Value::Integer(-2)).unwrap();
        s.set(
            &Path::resource_instance(7, 4, 2, 9),
            Value::String("hi".to_string()),
        )
        .unwrap();
        s.set(&Path::resource(3, 0, 0), Value::String("ACME".to_string()))
            .unwrap();
        s
    }

    #[test]
    fn exact_bytes_of_a_small_snapshot() {
        let bytes = encode_snapshot(&tiny_store(), 0x0102_0304_0506_0708);
        #[rustfmt::skip]
        let body: &[u8] = &[
            0, 0, 0, 1,             // one object (Device is not persistent)
            0, 7, 0, 0, 0, 1,       // object 7, one instance
            0, 4, 0, 0, 0, 2,       // instance 4, two resources
            0, 1, 0,                // resource 1, single
            2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, // Integer -2
            0, 2, 1, 0, 0, 0, 1,    // resource 2, multiple, one entry
            0, 9, 1, 0, 0, 0, 2, b'h', b'i', // entry 9: String "hi"
        ];
        #[rustfmt::skip]
        let header: [u8; 18] = [
            b'L', b'W', b'M', b'C',
            0, 1,
            1, 2, 3, 4, 5, 6, 7, 8,
            0, 0, 0, body.len() as u8,
        ];
        assert_eq!(bytes.get(..18), Some(&header[..]));
        assert_eq!(bytes.get(18..18 + body.len()), Some(body));
        assert_eq!(bytes.len(), 18 + body.len() + 4);
        let crc = crc32(bytes.get(..18 + body.len()).unwrap());
        assert_eq!(bytes.get(18 + body.len()..), Some(&crc.to_be_bytes()[..]));
    }

    #[test]
    fn header_errors_are_told_apart() {
        let good = encode_snapshot(&tiny_store(), 3);
        assert_eq!(decode_snapshot(&[]), Err(PersistError::Truncated));
        assert_eq!(decode_snapshot(b"LW"), Err(PersistError::Truncated));
        assert_eq!(decode_snapshot(b"LWXC"), Err(PersistError::BadMagic));
        assert_eq!(decode_snapshot(b"{\"a\":1}"), Err(PersistError::BadMagic));
        let mut v2 = good.clone();
        v2[5] = 2;
        assert_eq!(
            decode_snapshot(&v2),
            Err(PersistError::UnsupportedVersion(2))
        );
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(decode_snapshot(&flipped), Err(PersistError::Checksum));
        let mut longer = good.clone();
        longer.push(0);
        assert!(matches!(
            decode_snapshot(&longer),
            Err(PersistError::Malformed(_))
        ));
        // A body length near u32::MAX must not be trusted for anything but comparison.
        let mut huge = good.clone();
        huge[14..18].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(decode_snapshot(&huge), Err(PersistError::Truncated));
    }

    /// Rebuilds header and checksum around a hand-made body, to reach the body checks.
    fn wrap(body: &[u8]) -> Vec<u8> {
        let mut out = b"LWMC".to_vec();
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&9u64.to_be_bytes());
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(body);
        let crc = crc32(&out);
        out.extend_from_slice(&crc.to_be_bytes());
        out
    }

    #[test]
    fn body_damage_with_a_valid_checksum_is_malformed() {
        #[rustfmt::skip]
        let cases: &[&[u8]] = &[
            &[0, 0, 0, 2, 0, 1, 0, 0, 0, 0],                          // second object missing
            &[0, 0, 0, 2, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0],        // object 1 twice
            &[0, 0, 0, 2, 0, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0],        // IDs descending
            &[0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 2, 0], // shape tag 2
            &[0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 5, 2], // boolean 2
            &[0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 10], // type tag 10
            &[0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xFF], // bad UTF-8
            &[0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 6, 0xFF, 0, 0, 0], // long opaque
            &[0, 0, 0, 0, 0],                                          // trailing body byte
        ];
        for body in cases {
            assert!(
                matches!(
                    decode_snapshot(&wrap(body)),
                    Err(PersistError::Malformed(_))
                ),
                "{body:?}"
            );
        }
        assert_eq!(
            decode_snapshot(&wrap(&[0, 0, 0, 0])).unwrap().objects,
            BTreeMap::new()
        );
    }

    #[test]
    fn every_flip_and_truncation_is_rejected() {
        let good = encode_snapshot(&full_store(1), 77);
        for i in 0..good.len() {
            for mask in [0x01u8, 0x80, 0xFF, 0x5A] {
                let mut bad = good.clone();
                bad[i] ^= mask;
                assert!(decode_snapshot(&bad).is_err(), "byte {i} ^ {mask:#x}");
            }
        }
        for n in 0..good.len() {
            assert!(decode_snapshot(&good[..n]).is_err(), "prefix {n}");
        }
        assert!(decode_snapshot(&good).is_ok());
    }

    #[test]
    fn random_bytes_never_panic() {
        let good = encode_snapshot(&full_store(2), 5);
        let mut rng = Rng::new(0x5EED);
        for _ in 0..3000 {
            let mut bytes = match rng.range(0, 2) {
                // Pure noise, sometimes behind a valid header start.
                0 => (0..rng.range(0, 64))
                    .map(|_| rng.next_u64() as u8)
                    .collect(),
                1 => {
                    let mut b = good.get(..6).unwrap().to_vec();
                    b.extend((0..rng.range(0, 200)).map(|_| rng.next_u64() as u8));
                    b
                }
                // A valid snapshot with a few bytes changed.
                _ => {
                    let mut b = good.clone();
                    for _ in 0..rng.range(1, 8) {
                        let i = rng.range(0, b.len() as u64 - 1) as usize;
                        b[i] = rng.next_u64() as u8;
                    }
                    b
                }
            };
            let _ = decode_snapshot(&bytes);
            // And the same noise with a correct checksum, to exercise the body parser.
            if bytes.len() > HEADER_LEN + CRC_LEN {
                let body = bytes[HEADER_LEN..bytes.len() - CRC_LEN].to_vec();
                bytes = wrap(&body);
                let _ = decode_snapshot(&bytes);
            }
        }
    }

    #[test]
    fn apply_rejects_disagreeing_definitions_and_changes_nothing() {
        let snap = decode_snapshot(&encode_snapshot(&full_store(3), 1)).unwrap();

        // The target store says resource 1 of the test object is a String, not an Integer.
        let mut def = all_types_def();
        let mut res = def.resources.to_vec();
        res.iter_mut().find(|r| r.id == 1).unwrap().kind = ResourceType::String;
        def.resources = Cow::Owned(res);
        let mut target = Store::with_standard_objects();
        target.define(def, true);
        // Existing content that must survive the failed apply.
        target
            .set(&Path::resource(1, 9, 0), Value::Integer(99))
            .unwrap();
        target
            .set(
                &Path::resource(TEST_OID, 2, 1),
                Value::String("keep".to_string()),
            )
            .unwrap();
        let before = target.clone();
        // Server (/1) comes before the bad object and would be applied first by a naive loop.
        assert_eq!(
            apply_snapshot(&snap, &mut target),
            Err(PersistError::Mismatch(Path::resource(TEST_OID, 0, 1)))
        );
        assert_eq!(target, before);

        // Single vs multiple disagreement.
        let mut def = all_types_def();
        let mut res = def.resources.to_vec();
        res.iter_mut().find(|r| r.id == 0).unwrap().multiple = true;
        def.resources = Cow::Owned(res);
        let mut target = Store::with_standard_objects();
        target.define(def, true);
        let before = target.clone();
        assert_eq!(
            apply_snapshot(&snap, &mut target),
            Err(PersistError::Mismatch(Path::resource(TEST_OID, 0, 0)))
        );
        assert_eq!(target, before);

        // A resource the definition lacks, and two instances of a single-instance object.
        let mut s2 = snap.clone();
        s2.objects
            .get_mut(&1)
            .unwrap()
            .get_mut(&0)
            .unwrap()
            .insert(999, ResourceValue::Single(Value::Integer(1)));
        let mut target = Store::with_standard_objects();
        assert_eq!(
            apply_snapshot(&s2, &mut target),
            Err(PersistError::Mismatch(Path::resource(1, 0, 999)))
        );
        let mut def = all_types_def();
        def.multiple = false;
        let mut target = Store::with_standard_objects();
        target.define(def, true);
        let before = target.clone();
        assert_eq!(
            apply_snapshot(&snap, &mut target),
            Err(PersistError::Mismatch(Path::object(TEST_OID)))
        );
        assert_eq!(target, before);
    }

    #[test]
    fn apply_skips_unknown_objects_and_replaces_known_ones() {
        let snap = decode_snapshot(&encode_snapshot(&full_store(4), 1)).unwrap();
        let mut target = Store::with_standard_objects(); // no test object defined
        target
            .set(&Path::resource(1, 5, 0), Value::Integer(1))
            .unwrap();
        apply_snapshot(&snap, &mut target).unwrap();
        assert_eq!(target.instances(1), snap.objects.get(&1));
        assert!(!target.has_instance(1, 5));
        assert!(target.def(TEST_OID).is_none());
    }

    // ---- persister ----

    fn loaded_content(storage: &mut dyn Storage) -> Option<BTreeMap<u16, Instances>> {
        Persister::new()
            .load(storage)
            .unwrap()
            .into_snapshot()
            .map(|s| s.objects)
    }

    #[test]
    fn persister_alternates_slots_and_counts_generations() {
        let mut mem = MemoryStorage::new();
        let mut p = Persister::new();
        assert_eq!(p.load(&mut mem), Ok(LoadOutcome::Empty));
        assert_eq!(p.save(&mut mem, &full_store(1)), Ok(1));
        assert_eq!(mem.keys().collect::<Vec<_>>(), ["lwm2mc.a"]);
        assert_eq!(p.save(&mut mem, &full_store(2)), Ok(2));
        assert_eq!(p.save(&mut mem, &full_store(3)), Ok(3));
        assert_eq!(mem.keys().collect::<Vec<_>>(), ["lwm2mc.a", "lwm2mc.b"]);
        assert_eq!(
            decode_snapshot(mem.get("lwm2mc.a").unwrap())
                .unwrap()
                .generation,
            3
        );
        assert_eq!(
            decode_snapshot(mem.get("lwm2mc.b").unwrap())
                .unwrap()
                .generation,
            2
        );

        let mut fresh = Persister::new();
        let out = fresh.load(&mut mem).unwrap();
        assert!(matches!(out, LoadOutcome::Loaded(_)));
        assert_eq!(out.snapshot().unwrap().generation, 3);
        assert_eq!(
            out.into_snapshot().unwrap().objects,
            persistent_content(&full_store(3))
        );
        assert_eq!(fresh.generation(), Some(3));
        // A persister that never loaded still finds the right slot and generation.
        assert_eq!(Persister::new().save(&mut mem, &full_store(4)), Ok(4));
        assert_eq!(
            decode_snapshot(mem.get("lwm2mc.b").unwrap())
                .unwrap()
                .generation,
            4
        );

        // Another prefix is another pair of keys.
        let mut other = Persister::with_prefix("dev2");
        assert_eq!(other.key(Slot::B), "dev2.b");
        assert_eq!(other.load(&mut mem), Ok(LoadOutcome::Empty));
        assert_eq!(other.save(&mut mem, &full_store(9)), Ok(1));
        assert!(mem.get("dev2.a").is_some());
    }

    #[test]
    fn persister_load_with_damaged_slots() {
        let mut mem = MemoryStorage::new();
        let mut p = Persister::new();
        p.save(&mut mem, &full_store(1)).unwrap();
        p.save(&mut mem, &full_store(2)).unwrap(); // in B

        // Newest slot damaged: the older one is used, and the damage is reported.
        let mut m = mem.clone();
        m.store("lwm2mc.b", b"garbage").unwrap();
        let out = Persister::new().load(&mut m).unwrap();
        assert_eq!(
            out,
            LoadOutcome::Recovered {
                snapshot: decode_snapshot(mem.get("lwm2mc.a").unwrap()).unwrap(),
                ignored: PersistError::BadMagic,
            }
        );
        // The next save overwrites the damaged slot, never the valid one.
        let mut q = Persister::new();
        q.load(&mut m).unwrap();
        assert_eq!(q.save(&mut m, &full_store(3)), Ok(2));
        assert_eq!(
            decode_snapshot(m.get("lwm2mc.b").unwrap())
                .unwrap()
                .generation,
            2
        );
        assert_eq!(
            decode_snapshot(m.get("lwm2mc.a").unwrap())
                .unwrap()
                .generation,
            1
        );

        // Both damaged: an error, unsupported version preferred over the rest.
        let mut m = MemoryStorage::new();
        m.store("lwm2mc.a", b"LWMC\x00\x01short").unwrap();
        assert_eq!(Persister::new().load(&mut m), Err(PersistError::Truncated));
        let mut future = encode_snapshot(&tiny_store(), 8);
        future[5] = 7;
        m.store("lwm2mc.b", &future).unwrap();
        assert_eq!(
            Persister::new().load(&mut m),
            Err(PersistError::UnsupportedVersion(7))
        );
        // Saving over two damaged slots starts again at generation 1, in slot A.
        let mut p = Persister::new();
        assert!(p.load(&mut m).is_err());
        assert_eq!(p.save(&mut m, &tiny_store()), Ok(1));
        assert_eq!(m.get("lwm2mc.b"), Some(&future[..]));
        assert_eq!(
            loaded_content(&mut m),
            Some(persistent_content(&tiny_store()))
        );
    }

    /// How the write at the cut step ends.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Cut {
        /// Nothing reaches the medium.
        Nothing,
        /// The key is replaced by the first half of the new data.
        Half,
        /// The first half of the new data lands over the old bytes, the rest stays old.
        Torn,
        /// Everything was written, but the call still reports failure.
        FullButFailed,
    }

    /// Simulates a power cut at write step `cut_at` (counting `store` and `erase` calls from 0):
    /// that call does what `mode` says and fails, and every later call fails.
    struct FaultyStorage {
        inner: MemoryStorage,
        cut_at: usize,
        mode: Cut,
        writes: usize,
        dead: bool,
    }

    impl FaultyStorage {
        fn new(inner: MemoryStorage, cut_at: usize, mode: Cut) -> FaultyStorage {
            FaultyStorage {
                inner,
                cut_at,
                mode,
                writes: 0,
                dead: false,
            }
        }

        fn power_cut() -> StorageError {
            StorageError::Io("power cut".to_string())
        }

        /// Counts a write; `true` if this is the cut step.
        fn step(&mut self) -> Result<bool, StorageError> {
            if self.dead {
                return Err(Self::power_cut());
            }
            let k = self.writes;
            self.writes += 1;
            if k == self.cut_at {
                self.dead = true;
                return Ok(true);
            }
            Ok(false)
        }
    }

    impl Storage for FaultyStorage {
        fn load(&mut self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
            if self.dead {
                return Err(Self::power_cut());
            }
            self.inner.load(key)
        }

        fn store(&mut self, key: &str, data: &[u8]) -> Result<(), StorageError> {
            if !self.step()? {
                return self.inner.store(key, data);
            }
            let half = data.get(..data.len() / 2).unwrap_or(&[]);
            match self.mode {
                Cut::Nothing => {}
                Cut::Half => self.inner.store(key, half)?,
                Cut::Torn => {
                    let mut old = self.inner.get(key).unwrap_or(&[]).to_vec();
                    if old.len() < half.len() {
                        old.resize(half.len(), 0);
                    }
                    old[..half.len()].copy_from_slice(half);
                    self.inner.store(key, &old)?;
                }
                Cut::FullButFailed => self.inner.store(key, data)?,
            }
            Err(Self::power_cut())
        }

        fn erase(&mut self, key: &str) -> Result<(), StorageError> {
            if !self.step()? {
                return self.inner.erase(key);
            }
            if self.mode == Cut::FullButFailed {
                self.inner.erase(key)?;
            }
            Err(Self::power_cut())
        }
    }

    /// How many storage writes one save makes.
    fn writes_per_save(mem: &MemoryStorage, store: &Store) -> usize {
        let mut counting = FaultyStorage::new(mem.clone(), usize::MAX, Cut::Nothing);
        Persister::new().save(&mut counting, store).unwrap();
        counting.writes
    }

    #[test]
    fn power_cut_at_every_step_leaves_old_or_new() {
        let s_new = full_store(200);
        let new = persistent_content(&s_new);
        // Torn writes need an old value in the target slot to tear: with 1..=4 earlier saves the
        // target is B (empty), A, B, A, each holding older snapshots from the second round on.
        for prior in 1..=4i64 {
            let mut mem = MemoryStorage::new();
            let mut p = Persister::new();
            for g in 1..=prior {
                p.save(&mut mem, &full_store(g)).unwrap();
            }
            let old = persistent_content(&full_store(prior));
            let n = writes_per_save(&mem, &s_new);
            assert_eq!(n, 1, "a save is one storage write");
            for k in 0..=n + 1 {
                for mode in [Cut::Nothing, Cut::Half, Cut::Torn, Cut::FullButFailed] {
                    let ctx = format!("prior {prior}, cut at {k}, {mode:?}");
                    let mut faulty = FaultyStorage::new(mem.clone(), k, mode);
                    // Same persister state as the device had before the cut.
                    let mut dev = p.clone();
                    let saved = dev.save(&mut faulty, &s_new);
                    let cut_in_save = k < n;
                    assert_eq!(saved.is_err(), cut_in_save, "{ctx}");
                    let mut surviving = faulty.inner;

                    let got = loaded_content(&mut surviving).unwrap_or_else(|| panic!("{ctx}"));
                    let expected = if cut_in_save && mode != Cut::FullButFailed {
                        &old
                    } else {
                        &new
                    };
                    assert!(got == old || got == new, "{ctx}: a mix");
                    assert!(got == *expected, "{ctx}");

                    // After the reboot, saving works and later loads see the newest save.
                    let mut rebooted = Persister::new();
                    rebooted.load(&mut surviving).unwrap();
                    let g = rebooted.save(&mut surviving, &full_store(300)).unwrap();
                    assert_eq!(
                        loaded_content(&mut surviving),
                        Some(persistent_content(&full_store(300))),
                        "{ctx}"
                    );
                    rebooted.save(&mut surviving, &s_new).unwrap();
                    let out = Persister::new().load(&mut surviving).unwrap();
                    assert_eq!(out.snapshot().map(|s| s.generation), Some(g + 1), "{ctx}");
                    assert_eq!(out.into_snapshot().map(|s| s.objects), Some(new.clone()));
                }
            }
        }
    }

    #[test]
    fn save_after_a_failed_save_rereads_the_slots() {
        let mut mem = MemoryStorage::new();
        let mut p = Persister::new();
        p.save(&mut mem, &full_store(1)).unwrap(); // gen 1 in A
                                                   // The write to B completes but reports failure.
        let mut faulty = FaultyStorage::new(mem, 0, Cut::FullButFailed);
        assert!(p.save(&mut faulty, &full_store(2)).is_err());
        assert_eq!(p.generation(), None);
        let mut mem = faulty.inner;
        // B holds gen 2 after all: the next save must go to A with gen 3, not over B.
        assert_eq!(p.save(&mut mem, &full_store(3)), Ok(3));
        assert_eq!(
            decode_snapshot(mem.get("lwm2mc.a").unwrap())
                .unwrap()
                .generation,
            3
        );
        assert_eq!(
            decode_snapshot(mem.get("lwm2mc.b").unwrap())
                .unwrap()
                .generation,
            2
        );
    }

    #[test]
    fn storage_errors_on_load_are_not_guessed_around() {
        let mut mem = MemoryStorage::new();
        Persister::new().save(&mut mem, &tiny_store()).unwrap();
        let mut dead = FaultyStorage::new(mem, 0, Cut::Nothing);
        dead.dead = true;
        assert_eq!(
            Persister::new().load(&mut dead),
            Err(PersistError::Storage(StorageError::Io(
                "power cut".to_string()
            )))
        );
    }
}
