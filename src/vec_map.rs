//! [`VecMap`]: a map kept as a sorted `Vec`, for the many small maps a client holds for a long
//! time: its values (an instance's resources, an object's instances), its per-server and
//! per-peer tables. A `BTreeMap` leaf allocates room for eleven entries however few it holds
//! (392 B for one instance's resources, several KB per client; issue 15), and walking and
//! dropping its nodes is most of what reading an instance cost. Lookups are binary searches,
//! iteration is in key order as with `BTreeMap`, and the API is the part of `BTreeMap`'s that
//! the crate and its users need, with the same meaning.
//!
//! Inserting in the middle moves the entries after it, so a map is meant for tens of entries,
//! not thousands (objects with many instances stay fast enough up to the store's limits:
//! `Limits::max_instances`).

use alloc::vec::Vec;
use core::fmt;

/// Entries sorted by key, each key once.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VecMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap::new()
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for VecMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl<K, V> VecMap<K, V> {
    /// An empty map (allocates nothing).
    pub const fn new() -> Self {
        VecMap {
            entries: Vec::new(),
        }
    }

    /// An empty map with room for `n` entries (a decoder that knows how many may come).
    pub fn with_capacity(n: usize) -> Self {
        VecMap {
            entries: Vec::with_capacity(n),
        }
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every entry (and gives back the room).
    pub fn clear(&mut self) {
        self.entries = Vec::new();
    }

    /// The entries in key order.
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter(self.entries.iter())
    }

    /// The entries in key order, values mutable.
    pub fn iter_mut(&mut self) -> IterMut<'_, K, V> {
        IterMut(self.entries.iter_mut())
    }

    /// The keys in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator + Clone {
        self.entries.iter().map(|(k, _)| k)
    }

    /// The values in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator + Clone {
        self.entries.iter().map(|(_, v)| v)
    }

    /// The values in key order, mutable.
    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut V> + ExactSizeIterator {
        self.entries.iter_mut().map(|(_, v)| v)
    }

    /// The values in key order, taken.
    pub fn into_values(self) -> impl DoubleEndedIterator<Item = V> + ExactSizeIterator {
        self.entries.into_iter().map(|(_, v)| v)
    }

    /// The keys in order, taken.
    pub fn into_keys(self) -> impl DoubleEndedIterator<Item = K> + ExactSizeIterator {
        self.entries.into_iter().map(|(k, _)| k)
    }

    /// The entry with the smallest key.
    pub fn first_key_value(&self) -> Option<(&K, &V)> {
        self.entries.first().map(|(k, v)| (k, v))
    }

    /// Takes the entry with the smallest key.
    pub fn pop_first(&mut self) -> Option<(K, V)> {
        (!self.entries.is_empty()).then(|| self.entries.remove(0))
    }

    /// The entry with the largest key.
    pub fn last_key_value(&self) -> Option<(&K, &V)> {
        self.entries.last().map(|(k, v)| (k, v))
    }

    /// Keeps the entries `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }

    /// Gives back room the entries no longer need (all of it when empty): called when the
    /// client goes idle, so that a burst of exchanges does not stay allocated.
    pub fn shrink(&mut self) {
        if self.entries.capacity() > self.entries.len() {
            self.entries.shrink_to_fit();
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
}

impl<K: Ord, V> VecMap<K, V> {
    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: core::borrow::Borrow<Q>,
    {
        self.entries.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// The value of `key`.
    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: core::borrow::Borrow<Q>,
    {
        let at = self.find(key).ok()?;
        self.entries.get(at).map(|(_, v)| v)
    }

    /// The value of `key`, mutable.
    pub fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: core::borrow::Borrow<Q>,
    {
        let at = self.find(key).ok()?;
        self.entries.get_mut(at).map(|(_, v)| v)
    }

    /// Whether `key` has an entry.
    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: core::borrow::Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    /// Sets `key` to `value`; the value it replaced, if any.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        // Keys often come in ascending order (decoded payloads, collected iterators): those
        // append without a search.
        if self.entries.last().is_none_or(|(last, _)| *last < key) {
            self.grow_by_one();
            self.entries.push((key, value));
            return None;
        }
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

    /// Removes `key`; its value, if it had one.
    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: core::borrow::Borrow<Q>,
    {
        let at = self.find(key).ok()?;
        Some(self.entries.remove(at).1)
    }

    /// The value of `key`, made with `make` if there is none.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
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

    /// The entry of `key`, for `or_insert`, `or_default` and `or_insert_with`.
    pub fn entry(&mut self, key: K) -> Entry<'_, K, V> {
        Entry { map: self, key }
    }

    /// The entries whose keys are in `range`, in order.
    pub fn range<R: core::ops::RangeBounds<K>>(&self, range: R) -> Iter<'_, K, V> {
        use core::ops::Bound;
        let start = match range.start_bound() {
            Bound::Included(k) => self.find(k).unwrap_or_else(|at| at),
            Bound::Excluded(k) => self.find(k).map_or_else(|at| at, |at| at + 1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(k) => self.find(k).map_or_else(|at| at, |at| at + 1),
            Bound::Excluded(k) => self.find(k).unwrap_or_else(|at| at),
            Bound::Unbounded => self.entries.len(),
        };
        Iter(
            self.entries
                .get(start..end.max(start))
                .unwrap_or(&[])
                .iter(),
        )
    }
}

/// `map[&key]`, as with `BTreeMap`: panics when the key has no entry, so it is for tests and
/// for keys known to be there; the library itself uses [`VecMap::get`].
impl<K: Ord + core::borrow::Borrow<Q>, Q: Ord + ?Sized, V> core::ops::Index<&Q> for VecMap<K, V> {
    type Output = V;
    fn index(&self, key: &Q) -> &V {
        match self.get(key) {
            Some(v) => v,
            None => panic!("no entry for this key in the VecMap"),
        }
    }
}

/// One key's place in a [`VecMap`], from [`VecMap::entry`].
pub struct Entry<'a, K, V> {
    map: &'a mut VecMap<K, V>,
    key: K,
}

impl<'a, K: Ord, V> Entry<'a, K, V> {
    /// The value, `value` inserted first if there was none.
    pub fn or_insert(self, value: V) -> &'a mut V {
        self.map.get_or_insert_with(self.key, || value)
    }

    /// The value, made with `make` first if there was none.
    pub fn or_insert_with(self, make: impl FnOnce() -> V) -> &'a mut V {
        self.map.get_or_insert_with(self.key, make)
    }

    /// The value, the default inserted first if there was none.
    pub fn or_default(self) -> &'a mut V
    where
        V: Default,
    {
        self.map.get_or_insert_with(self.key, V::default)
    }
}

/// The entries of a [`VecMap`] by reference, in key order.
#[derive(Clone, Debug)]
pub struct Iter<'a, K, V>(core::slice::Iter<'a, (K, V)>);

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k, v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<K, V> DoubleEndedIterator for Iter<'_, K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(k, v)| (k, v))
    }
}

impl<K, V> ExactSizeIterator for Iter<'_, K, V> {}

/// The entries of a [`VecMap`], values mutable, in key order.
#[derive(Debug)]
pub struct IterMut<'a, K, V>(core::slice::IterMut<'a, (K, V)>);

impl<'a, K, V> Iterator for IterMut<'a, K, V> {
    type Item = (&'a K, &'a mut V);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (&*k, v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<K, V> DoubleEndedIterator for IterMut<'_, K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(k, v)| (&*k, v))
    }
}

impl<K, V> ExactSizeIterator for IterMut<'_, K, V> {}

impl<K: Ord, V> FromIterator<(K, V)> for VecMap<K, V> {
    /// As `BTreeMap`'s: for a key given twice, the later value is kept.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut entries: Vec<(K, V)> = iter.into_iter().collect();
        // In place, no second vector: entries given in strictly ascending order (the usual
        // case) are kept as they are.
        if !entries.is_sorted_by(|a, b| a.0 < b.0) {
            // Stable: equal keys keep their order. Reversed, the last of each run comes first
            // and is the one `dedup_by` keeps.
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            entries.reverse();
            entries.dedup_by(|later, kept| later.0 == kept.0);
            entries.reverse();
        }
        entries.shrink_to_fit();
        VecMap { entries }
    }
}

impl<K: Ord, V> Extend<(K, V)> for VecMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<K: Ord, V, const N: usize> From<[(K, V); N]> for VecMap<K, V> {
    fn from(entries: [(K, V); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl<K, V> IntoIterator for VecMap<K, V> {
    type Item = (K, V);
    type IntoIter = alloc::vec::IntoIter<(K, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a, K, V> IntoIterator for &'a VecMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a, K, V> IntoIterator for &'a mut VecMap<K, V> {
    type Item = (&'a K, &'a mut V);
    type IntoIter = IterMut<'a, K, V>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

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
    fn collect_keeps_the_last_value_of_each_key_as_btreemap_does() {
        use alloc::collections::BTreeMap;
        // Every sequence of up to 5 keys from 0..4 (sorted, unsorted, repeated), each value
        // its position, so which duplicate is kept shows.
        for len in 0..=5u32 {
            for code in 0..4u32.pow(len) {
                let pairs: Vec<(u8, u32)> = (0..len)
                    .map(|at| (((code >> (2 * at)) & 3) as u8, at))
                    .collect();
                let ours: VecMap<u8, u32> = pairs.iter().copied().collect();
                let std: BTreeMap<u8, u32> = pairs.iter().copied().collect();
                assert!(ours.iter().eq(std.iter()), "{pairs:?}");
            }
        }
    }

    #[test]
    fn collect_range_and_entry_behave_as_btreemap_does() {
        use alloc::collections::BTreeMap;
        let pairs = [(4u16, 'd'), (1, 'a'), (4, 'D'), (9, 'i'), (2, 'b')];
        let ours: VecMap<u16, char> = pairs.into_iter().collect();
        let std: BTreeMap<u16, char> = pairs.into_iter().collect();
        assert!(ours.iter().eq(std.iter()));
        for (lo, hi) in [(0, 10), (1, 4), (2, 3), (5, 9), (10, 20), (4, 4)] {
            assert!(ours.range(lo..hi).eq(std.range(lo..hi)), "{lo}..{hi}");
            assert!(ours.range(lo..=hi).eq(std.range(lo..=hi)), "{lo}..={hi}");
        }
        assert!(ours.range(3..).eq(std.range(3..)));
        let mut m = ours.clone();
        *m.entry(7).or_default() = 'g';
        *m.entry(1).or_insert('z') = 'A';
        assert_eq!(m.entry(7).or_insert_with(|| 'x'), &'g');
        assert_eq!(
            m.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>(),
            [(1, 'A'), (2, 'b'), (4, 'D'), (7, 'g'), (9, 'i')]
        );
        assert_eq!(m.first_key_value(), Some((&1, &'A')));
        assert_eq!(m.last_key_value(), Some((&9, &'i')));
        assert_eq!(alloc::format!("{ours:?}"), alloc::format!("{std:?}"));
        assert_eq!(
            VecMap::from([(2u8, 0u8), (1, 1)])
                .into_iter()
                .collect::<Vec<_>>(),
            [(1, 1), (2, 0)]
        );
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
