//! A [`Storage`] hook backed by files, one per key, in one directory (std only).
//!
//! `store` never overwrites a key's file in place: it writes `<key>.tmp`, flushes it to the
//! disk, renames it over `<key>` and flushes the directory. POSIX `rename` replaces the target
//! atomically, so after a power cut the key holds the old or the new bytes; the directory fsync
//! makes the rename itself durable before `store` returns (without it the rename may still be
//! only in the page cache, and a cut could bring the old file back after we reported success).
//! A `<key>.tmp` left behind by a cut is never read; the next `store` of that key replaces it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::persist::{Storage, StorageError};

/// The suffix of the temporary file a `store` writes before renaming it.
const TMP_SUFFIX: &str = ".tmp";
/// Leaves room for the suffix within the usual 255-byte file-name limit.
const MAX_KEY_LEN: usize = 200;

/// Keys as files in one directory.
#[derive(Debug, Clone)]
pub struct FileStorage {
    dir: PathBuf,
}

impl FileStorage {
    /// Uses `dir`, creating it (and its parents) if needed.
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<FileStorage> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        Ok(FileStorage { dir })
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of a key, after checking that the key is a plain file name of ours.
    fn path_of(&self, key: &str) -> Result<PathBuf, StorageError> {
        check_key(key)?;
        Ok(self.dir.join(key))
    }

    fn tmp_path_of(&self, key: &str) -> Result<PathBuf, StorageError> {
        check_key(key)?;
        Ok(self.dir.join(format!("{key}{TMP_SUFFIX}")))
    }
}

/// Only `[A-Za-z0-9._-]`, 1 to 200 bytes. Rejected as well: anything starting with `.` (`.`,
/// `..` and hidden files), anything containing `..`, and names ending in `.tmp`, which would
/// collide with another key's temporary file.
fn check_key(key: &str) -> Result<(), StorageError> {
    let chars_ok = key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    let ok = chars_ok
        && !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && !key.starts_with('.')
        && !key.contains("..")
        && !key.ends_with(TMP_SUFFIX);
    if ok {
        Ok(())
    } else {
        Err(StorageError::InvalidKey(String::from(key)))
    }
}

fn io_err(what: &str, path: &Path, e: io::Error) -> StorageError {
    StorageError::Io(format!("{what} {}: {e}", path.display()))
}

/// Makes the directory's entries (creations, renames, removals) durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err("fsync directory", dir, e))
}

/// Other systems cannot open a directory as a file; their rename is as durable as it gets.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), StorageError> {
    Ok(())
}

impl Storage for FileStorage {
    fn load(&mut self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let path = self.path_of(key)?;
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("read", &path, e)),
        }
    }

    fn store(&mut self, key: &str, data: &[u8]) -> Result<(), StorageError> {
        let path = self.path_of(key)?;
        let tmp = self.tmp_path_of(key)?;
        {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)
                .map_err(|e| io_err("create", &tmp, e))?;
            f.write_all(data).map_err(|e| io_err("write", &tmp, e))?;
            // The data must be on the disk before the rename makes it visible under `key`,
            // or a cut could leave `key` naming an empty or partial file.
            f.sync_all().map_err(|e| io_err("fsync", &tmp, e))?;
        }
        fs::rename(&tmp, &path).map_err(|e| io_err("rename", &tmp, e))?;
        sync_dir(&self.dir)
    }

    fn erase(&mut self, key: &str) -> Result<(), StorageError> {
        let path = self.path_of(key)?;
        let tmp = self.tmp_path_of(key)?;
        for p in [&path, &tmp] {
            match fs::remove_file(p) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("remove", p, e)),
            }
        }
        sync_dir(&self.dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::{decode_snapshot, LoadOutcome, Persister};
    use crate::{Path as LwPath, Store, Value};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh directory under the system temp dir, removed when dropped (even on a failure).
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let dir =
                std::env::temp_dir().join(format!("lwm2mc-test-{name}-{}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn store_load_erase() {
        let tmp = TempDir::new("sle");
        // Nested: `new` creates the missing parents too.
        let mut fs_ = FileStorage::new(tmp.0.join("a/b")).unwrap();
        assert!(fs_.dir().is_dir());
        assert_eq!(fs_.load("lwm2mc.a"), Ok(None));
        fs_.store("lwm2mc.a", b"one").unwrap();
        fs_.store("lwm2mc.a", b"second value").unwrap();
        fs_.store("Other_key-2", b"").unwrap();
        assert_eq!(fs_.load("lwm2mc.a"), Ok(Some(b"second value".to_vec())));
        assert_eq!(fs_.load("Other_key-2"), Ok(Some(Vec::new())));
        // No temporary file is left after a completed store.
        assert_eq!(names(fs_.dir()), ["Other_key-2", "lwm2mc.a"]);
        fs_.erase("lwm2mc.a").unwrap();
        fs_.erase("lwm2mc.a").unwrap(); // missing: still fine
        assert_eq!(fs_.load("lwm2mc.a"), Ok(None));
        assert_eq!(names(fs_.dir()), ["Other_key-2"]);
        // A second handle on the same directory sees the same data.
        let mut again = FileStorage::new(tmp.0.join("a/b")).unwrap();
        assert_eq!(again.load("Other_key-2"), Ok(Some(Vec::new())));
    }

    #[test]
    fn bad_keys_are_refused_and_touch_nothing() {
        let tmp = TempDir::new("keys");
        let mut fs_ = FileStorage::new(&tmp.0).unwrap();
        let long = "k".repeat(201);
        for key in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "a\\b",
            "a..b",
            ".hidden",
            "x.tmp",
            "sp ace",
            "é",
            "nul\0",
            long.as_str(),
        ] {
            let bad = Err(StorageError::InvalidKey(key.to_string()));
            assert_eq!(fs_.store(key, b"x"), bad, "{key:?}");
            assert_eq!(fs_.load(key).map(|_| ()), bad, "{key:?}");
            assert_eq!(fs_.erase(key), bad, "{key:?}");
        }
        assert!(names(&tmp.0).is_empty());
        assert!(!tmp.0.parent().unwrap().join("x").exists());
        fs_.store(&"k".repeat(200), b"ok").unwrap();
        fs_.store("a.b-c_D9", b"ok").unwrap();
    }

    #[test]
    fn leftover_tmp_from_a_crash_is_ignored() {
        let tmp = TempDir::new("crash");
        let mut fs_ = FileStorage::new(&tmp.0).unwrap();
        // A cut after writing the temporary file, before the rename: with and without an
        // older value under the key.
        fs::write(tmp.0.join("fresh.tmp"), b"half-writ").unwrap();
        assert_eq!(fs_.load("fresh"), Ok(None));
        fs_.store("kept", b"old").unwrap();
        fs::write(tmp.0.join("kept.tmp"), b"ne").unwrap();
        assert_eq!(fs_.load("kept"), Ok(Some(b"old".to_vec())));
        // The next store replaces the leftover; erase removes one too.
        fs_.store("kept", b"new").unwrap();
        assert_eq!(fs_.load("kept"), Ok(Some(b"new".to_vec())));
        fs_.erase("fresh").unwrap();
        assert_eq!(names(&tmp.0), ["kept"]);
    }

    #[test]
    fn persister_over_files() {
        let tmp = TempDir::new("persist");
        let mut store = Store::with_standard_objects();
        store
            .set(&LwPath::resource(1, 0, 1), Value::Integer(86400))
            .unwrap();
        let mut fs_ = FileStorage::new(&tmp.0).unwrap();
        let mut p = Persister::new();
        assert_eq!(p.load(&mut fs_), Ok(LoadOutcome::Empty));
        assert_eq!(p.save(&mut fs_, &store), Ok(1));
        assert_eq!(p.save(&mut fs_, &store), Ok(2));
        assert_eq!(names(&tmp.0), ["lwm2mc.a", "lwm2mc.b"]);
        let b = fs::read(tmp.0.join("lwm2mc.b")).unwrap();
        assert_eq!(decode_snapshot(&b).unwrap().generation, 2);

        let mut fresh = Store::with_standard_objects();
        let mut reopened = FileStorage::new(&tmp.0).unwrap();
        let snap = Persister::new()
            .load(&mut reopened)
            .unwrap()
            .into_snapshot()
            .unwrap();
        crate::persist::apply_snapshot(&snap, &mut fresh).unwrap();
        assert_eq!(
            fresh.value(&LwPath::resource(1, 0, 1)),
            Some(&Value::Integer(86400))
        );
    }
}
