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
//! is consulted only when it is applied to a [`Store`](crate::store::Store). Decoding is strict
//! (IDs strictly ascending, tags and booleans in range, the body consumed exactly): the writer is
//! this module, so anything else is damage, and damage must be reported, not half-understood.
//!
//! Layout: [`Storage`] and [`MemoryStorage`] in `storage`, [`crc32`] in `crc`, the snapshot
//! encoder in `encode`, the decoder in `decode`, [`apply_snapshot`] in `apply`, and the A/B
//! [`Persister`] in `persister`. The format constants below are shared by the encoder and the
//! decoder.

use alloc::collections::BTreeMap;
use alloc::string::String;

use crate::path::Path;
use crate::value::Instances;

mod apply;
mod crc;
mod decode;
mod encode;
mod persister;
mod storage;

pub use apply::apply_snapshot;
pub use crc::crc32;
pub use decode::decode_snapshot;
pub use encode::encode_snapshot;
pub use persister::{LoadOutcome, Persister, Slot};
pub use storage::{MemoryStorage, Storage, StorageError};

// ---------------------------------------------------------------------------------------------
// Errors and the decoded snapshot

/// Why a snapshot could not be loaded, saved or applied.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum PersistError {
    /// The bytes do not start with `LWMC` (nor with a prefix of it): not a snapshot.
    #[error("snapshot does not start with the LWMC magic")]
    BadMagic,
    /// A snapshot in a format version this build does not read (say, written by newer
    /// firmware); carries that version.
    #[error("snapshot format version {0} is not supported")]
    UnsupportedVersion(u16),
    /// The CRC-32 trailer does not match the bytes before it: damage or a torn write.
    #[error("snapshot checksum mismatch")]
    Checksum,
    /// The bytes end before the header, body or trailer does.
    #[error("snapshot is truncated")]
    Truncated,
    /// The checksum matched but the content breaks the format (or bytes follow the trailer);
    /// carries what was wrong.
    #[error("snapshot is malformed: {0}")]
    Malformed(String),
    /// The snapshot is sound but does not fit the store's object definitions at this path
    /// (unknown resource, wrong type, single/multiple mismatch, several instances of a
    /// single-instance object).
    #[error("snapshot does not match the object definitions at {0}")]
    Mismatch(Path),
    /// The storage hook failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A decoded snapshot: the persistent objects' instances at one save.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Save counter; the higher of two valid snapshots is the newer.
    pub generation: u64,
    /// The instances of every persistent object, by object ID (an object may have none).
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

#[cfg(test)]
mod tests;
