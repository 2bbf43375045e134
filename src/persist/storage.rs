//! The storage hook the persister writes through, and an in-memory implementation of it.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

/// A key-value store for snapshots, supplied by the application.
///
/// Contract the [`Persister`](super::Persister) relies on: `store` replaces the whole value of
/// one key, and a power cut during `store` may leave that key's value damaged (empty, truncated,
/// torn) but must not touch any other key. Atomic replacement is welcome but not required.
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
    /// The backend could not read, write or erase; carries its error message.
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
    /// An empty storage.
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

    /// The number of keys held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is held.
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
