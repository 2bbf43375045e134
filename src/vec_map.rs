//! A map kept as a sorted `Vec`, for the client's small per-server and per-peer tables: a
//! device has one to a handful of servers, and a `BTreeMap` leaf allocates room for eleven
//! entries however few it holds (for one `Registration`, several KB per client). Lookups are
//! binary searches; the iteration order is the key order, as with `BTreeMap`.

use alloc::vec::Vec;

/// Entries sorted by key, each key once.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct VecMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap {
            entries: Vec::new(),
        }
    }
}

impl<K: Ord, V> VecMap<K, V> {
    fn find(&self, key: &K) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.cmp(key))
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        let at = self.find(key).ok()?;
        self.entries.get(at).map(|(_, v)| v)
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let at = self.find(key).ok()?;
        self.entries.get_mut(at).map(|(_, v)| v)
    }

    pub(crate) fn contains_key(&self, key: &K) -> bool {
        self.find(key).is_ok()
    }

    /// Sets `key` to `value`; the value it replaced, if any.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(at) => self
                .entries
                .get_mut(at)
                .map(|(_, v)| core::mem::replace(v, value)),
            Err(at) => {
                self.grow_by_one();
                self.entries.insert(at, (key, value));
                None
            }
        }
    }

    /// Room for one more entry, and no more while the map is small: these maps hold a handful
    /// of entries for a long time, and `Vec`'s own growth would keep room for four (a
    /// `Registration` is ~400 B). Past `EXACT_UP_TO` growth is amortised again, so that a map
    /// that does get long is not copied on every insert.
    fn grow_by_one(&mut self) {
        const EXACT_UP_TO: usize = 8;
        if self.entries.len() == self.entries.capacity() {
            if self.entries.len() < EXACT_UP_TO {
                self.entries.reserve_exact(1);
            } else {
                self.entries.reserve(1);
            }
        }
    }

    /// Gives back room the entries no longer need (all of it when empty): called when the
    /// client goes idle, so that a burst of exchanges does not stay allocated.
    pub(crate) fn shrink(&mut self) {
        if self.entries.capacity() > self.entries.len() {
            self.entries.shrink_to_fit();
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The value of `key`, made with `make` if there is none.
    pub(crate) fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let at = match self.find(&key) {
            Ok(at) => at,
            Err(at) => {
                self.grow_by_one();
                self.entries.insert(at, (key, make()));
                at
            }
        };
        // In bounds: the entry was found at `at`, or has just been inserted there.
        &mut self.entries[at].1
    }

    /// Keeps the entries `keep` says yes to.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let at = self.find(key).ok()?;
        Some(self.entries.remove(at).1)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &K> {
        self.entries.iter().map(|(k, _)| k)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }

    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.entries.iter_mut().map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_keys_sorted_and_unique_like_a_btreemap() {
        let mut m = VecMap::default();
        assert_eq!(m.insert(5, "e"), None);
        assert_eq!(m.insert(1, "a"), None);
        assert_eq!(m.insert(3, "c"), None);
        assert_eq!(m.insert(3, "C"), Some("c"));
        assert_eq!(m.keys().copied().collect::<Vec<_>>(), [1, 3, 5]);
        assert_eq!(m.get(&3), Some(&"C"));
        assert_eq!(m.get(&4), None);
        assert!(m.contains_key(&5) && !m.contains_key(&2));
        if let Some(v) = m.get_mut(&1) {
            *v = "A";
        }
        assert_eq!(m.remove(&5), Some("e"));
        assert_eq!(m.remove(&5), None);
        assert_eq!(m.iter().collect::<Vec<_>>(), [(&1, &"A"), (&3, &"C")]);
        for v in m.values_mut() {
            *v = "x";
        }
        assert!(m.values().all(|v| *v == "x"));
        assert!(!m.is_empty());
        *m.get_or_insert_with(2, || "b") = "B";
        assert_eq!(*m.get_or_insert_with(2, || "z"), "B");
        m.retain(|k, _| *k != 1);
        assert_eq!(m.keys().copied().collect::<Vec<_>>(), [2, 3]);
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn holds_room_for_its_entries_only() {
        let mut m = VecMap::default();
        for k in 0..3u16 {
            m.insert(k, [0u8; 400]);
            assert_eq!(m.entries.capacity(), m.len());
        }
        m.remove(&0);
        m.remove(&1);
        assert_eq!(m.entries.capacity(), 3);
        m.shrink();
        assert_eq!(m.entries.capacity(), 1);
        m.remove(&2);
        m.shrink();
        assert_eq!(m.entries.capacity(), 0);
    }
}
