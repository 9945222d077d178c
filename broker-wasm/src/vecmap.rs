//! A string-keyed map on a `Vec`, for the broker's small maps (a page has a handful of workloads
//! and scope sets). Hand-written on purpose: `BTreeMap`'s node code is monomorphised per value type
//! and cost ~40 KB of wasm across the broker's four maps; a linear scan over a few entries is
//! smaller and, at these sizes, no slower.

use alloc::string::String;
use alloc::vec::Vec;

/// Inserts `item` into the sorted, duplicate-free `v`, keeping it so. Used instead of
/// `sort` + `dedup`, whose generic sorting code costs ~3 KB of wasm per element type, for lists
/// of a few scopes.
pub fn insert_sorted<T: Ord>(v: &mut Vec<T>, item: T) {
    if let Err(at) = v.binary_search(&item) {
        v.insert(at, item);
    }
}

/// Keys are unique; order is insertion order.
#[derive(Debug, Clone)]
pub struct VecMap<V> {
    entries: Vec<(String, V)>,
}

impl<V> Default for VecMap<V> {
    fn default() -> Self {
        Self { entries: Vec::new() }
    }
}

impl<V> VecMap<V> {
    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Inserts or replaces.
    pub fn insert(&mut self, key: String, value: V) {
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<V> {
        let i = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.swap_remove(i).1)
    }

    /// Keeps only the entries for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&V) -> bool) {
        self.entries.retain(|(_, v)| keep(v));
    }

    /// Empties the map.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u8),
        Remove(u8),
        Retain(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..6, any::<u8>()).prop_map(|(k, v)| Op::Insert(k, v)),
            (0u8..6).prop_map(Op::Remove),
            any::<u8>().prop_map(Op::Retain),
        ]
    }

    proptest! {
        /// Same result as sort + dedup, whatever the insertion order.
        #[test]
        fn insert_sorted_sorts_and_dedups(items in proptest::collection::vec(0u8..20, 0..30)) {
            let mut ours = Vec::new();
            for i in &items {
                insert_sorted(&mut ours, *i);
            }
            let mut model = items.clone();
            model.sort();
            model.dedup();
            prop_assert_eq!(ours, model);
        }

        /// Behaves like `BTreeMap` under any sequence of operations.
        #[test]
        fn agrees_with_btreemap(ops in proptest::collection::vec(op(), 0..40)) {
            let mut ours = VecMap::default();
            let mut model = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        ours.insert(k.to_string(), v);
                        model.insert(k.to_string(), v);
                    }
                    Op::Remove(k) => {
                        prop_assert_eq!(ours.remove(&k.to_string()), model.remove(&k.to_string()));
                    }
                    Op::Retain(t) => {
                        ours.retain(|v| *v >= t);
                        model.retain(|_, v| *v >= t);
                    }
                }
                prop_assert_eq!(ours.len(), model.len());
                prop_assert_eq!(ours.is_empty(), model.is_empty());
                for k in 0u8..6 {
                    prop_assert_eq!(ours.get(&k.to_string()), model.get(&k.to_string()));
                }
            }
            ours.clear();
            prop_assert!(ours.is_empty());
        }
    }
}
