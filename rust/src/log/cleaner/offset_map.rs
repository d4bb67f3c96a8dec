//! The cleaner's key -> latest offset map (Kafka's `SkimpyOffsetMap`), bounded in bytes.
//!
//! Kafka stores a 16-byte MD5 of each key; a hash collision there silently drops a record.
//! This map keeps the keys themselves, so it is exact, and charges each entry its key length
//! plus [`ENTRY_OVERHEAD_BYTES`] against the `log.cleaner.dedupe.buffer.size` budget.

use std::collections::HashMap;

/// What one entry costs besides its key bytes: the offset, the `Vec` header and the hash
/// table's slot, rounded up (measured on 64-bit: 8 + 24 + ~16 with the table's load factor).
pub const ENTRY_OVERHEAD_BYTES: usize = 48;

pub(crate) struct OffsetMap {
    map: HashMap<Vec<u8>, i64>,
    used_bytes: usize,
    limit_bytes: usize,
    /// Largest offset put so far (-1: none).
    latest_offset: i64,
}

impl OffsetMap {
    pub fn new(limit_bytes: usize) -> Self {
        OffsetMap {
            map: HashMap::new(),
            used_bytes: 0,
            limit_bytes,
            latest_offset: -1,
        }
    }

    /// What adding `key` would cost (0 if it is already there).
    pub fn cost_of(&self, key: &[u8]) -> usize {
        if self.map.contains_key(key) {
            0
        } else {
            key.len() + ENTRY_OVERHEAD_BYTES
        }
    }

    pub fn has_room_for(&self, extra_bytes: usize) -> bool {
        self.used_bytes + extra_bytes <= self.limit_bytes
    }

    /// Record `offset` as the latest for `key` (callers check the room first).
    pub fn put(&mut self, key: &[u8], offset: i64) {
        match self.map.get_mut(key) {
            Some(o) => *o = offset,
            None => {
                self.used_bytes += key.len() + ENTRY_OVERHEAD_BYTES;
                self.map.insert(key.to_vec(), offset);
            }
        }
        self.latest_offset = self.latest_offset.max(offset);
    }

    pub fn get(&self, key: &[u8]) -> Option<i64> {
        self.map.get(key).copied()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn limit_bytes(&self) -> usize {
        self.limit_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_offset_wins_and_budget_counts_new_keys_only() {
        let mut m = OffsetMap::new(2 * (1 + ENTRY_OVERHEAD_BYTES));
        m.put(b"a", 1);
        m.put(b"a", 5);
        assert_eq!(m.get(b"a"), Some(5));
        assert_eq!(m.cost_of(b"a"), 0);
        assert!(m.has_room_for(m.cost_of(b"b")));
        m.put(b"b", 6);
        assert!(!m.has_room_for(m.cost_of(b"c")));
        assert_eq!((m.len(), m.get(b"c")), (2, None));
    }
}
