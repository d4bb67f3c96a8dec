//! The ordered map base offset -> segment of one partition log (Kafka's `LogSegments`).
//! The last segment is the active one; every other segment is closed (indexes trimmed).

use std::collections::BTreeMap;

use super::segment::Segment;

#[derive(Default)]
pub(crate) struct Segments {
    map: BTreeMap<i64, Segment>,
}

impl Segments {
    pub fn insert(&mut self, segment: Segment) {
        self.map.insert(segment.base_offset(), segment);
    }
    pub fn remove(&mut self, base_offset: i64) -> Option<Segment> {
        self.map.remove(&base_offset)
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn first(&self) -> Option<&Segment> {
        self.map.values().next()
    }
    pub fn active(&self) -> Option<&Segment> {
        self.map.values().next_back()
    }
    pub fn active_mut(&mut self) -> Option<&mut Segment> {
        self.map.values_mut().next_back()
    }
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Segment> {
        self.map.values()
    }
    pub fn base_offsets(&self) -> Vec<i64> {
        self.map.keys().copied().collect()
    }
    /// The segment holding `offset` (the last one whose base offset is <= it).
    pub fn floor(&self, offset: i64) -> Option<&Segment> {
        self.map.range(..=offset).next_back().map(|(_, s)| s)
    }
    pub fn floor_mut(&mut self, offset: i64) -> Option<&mut Segment> {
        self.map.range_mut(..=offset).next_back().map(|(_, s)| s)
    }
    /// Segments from the one holding `offset` on (from the first if `offset` precedes them).
    pub fn floor_onward(&self, offset: i64) -> impl Iterator<Item = &Segment> {
        let start = self.floor(offset).map_or(i64::MIN, Segment::base_offset);
        self.map.range(start..).map(|(_, s)| s)
    }
    pub fn size_in_bytes(&self) -> u64 {
        self.map.values().map(Segment::size).sum()
    }
    /// Remove and return every segment.
    pub fn take_all(&mut self) -> Vec<Segment> {
        std::mem::take(&mut self.map).into_values().collect()
    }
}
