//! Reading a segment: offset -> position (offset index, then a short header scan), whole-batch
//! slices for fetches, and timestamp searches (time index, then record timestamps).

use super::super::record_search;
use super::super::scan::{read_at, HeaderScanner};
use super::Segment;
use crate::error::Result;
use crate::index::TimestampOffset;
use crate::record::header::BatchHeader;

/// A contiguous run of whole batches in a segment, the result of a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SegmentSlice {
    pub position: u64,
    pub length: u64,
    /// The read hit its byte or offset limit here: later segments must not be read.
    pub stopped: bool,
}

impl Segment {
    /// The first batch whose last offset is >= `offset`, found from the offset index and a
    /// short scan; None if the segment has no such batch.
    pub fn translate_offset(&self, offset: i64) -> Result<Option<(u64, BatchHeader)>> {
        let start = self.offset_index.lookup(offset).position;
        let mut scan = HeaderScanner::new(&self.file, start, self.size);
        while let Some((pos, h)) = scan.next_header()? {
            if h.last_offset() >= offset {
                return Ok(Some((pos, h)));
            }
        }
        Ok(None)
    }

    /// Whole batches from the one holding `offset`, at most `max_bytes` of them (but the first
    /// one whole when `min_one`, KIP-74), stopping before the batch holding `max_offset`.
    /// None if no batch here reaches `offset`.
    pub(crate) fn read(
        &self,
        offset: i64,
        max_bytes: u64,
        max_offset: i64,
        min_one: bool,
    ) -> Result<Option<SegmentSlice>> {
        let Some((start, first)) = self.translate_offset(offset)? else {
            return Ok(None);
        };
        let slice = |end: u64, stopped: bool| SegmentSlice {
            position: start,
            length: end - start,
            stopped,
        };
        if first.last_offset() >= max_offset {
            return Ok(Some(slice(start, true)));
        }
        let first_end = start + first.total_size() as u64;
        let budget_end = start.saturating_add(max_bytes);
        if first_end > budget_end {
            return Ok(Some(slice(if min_one { first_end } else { start }, true)));
        }
        let offset_end = if max_offset >= self.next_offset {
            self.size
        } else {
            self.translate_offset(max_offset)?
                .map_or(self.size, |(pos, _)| pos)
        };
        if budget_end >= offset_end {
            return Ok(Some(slice(offset_end, offset_end < self.size)));
        }
        // The byte budget ends first: jump near its end with the index, then walk to the last
        // batch that fits.
        let hint = self
            .offset_index
            .lookup_by_position(budget_end)
            .position
            .max(start);
        let mut scan = HeaderScanner::new(&self.file, hint, offset_end);
        let mut end = hint;
        while let Some((pos, h)) = scan.next_header()? {
            let batch_end = pos + h.total_size() as u64;
            if batch_end > budget_end {
                break;
            }
            end = batch_end;
        }
        Ok(Some(slice(end, true)))
    }

    /// Search the batches from `position` for the first record with timestamp >= `target` and
    /// offset >= `min_offset`.
    fn search_timestamp(
        &self,
        position: u64,
        target: i64,
        min_offset: i64,
    ) -> Result<Option<TimestampOffset>> {
        let mut scan = HeaderScanner::new(&self.file, position, self.size);
        let mut bytes = Vec::new();
        while let Some((pos, h)) = scan.next_header()? {
            if !record_search::may_contain(&h, target, min_offset) {
                continue;
            }
            bytes.clear();
            if record_search::needs_bytes(&h) {
                bytes.resize(h.total_size(), 0);
                read_at(&self.file, &mut bytes, pos)?;
            }
            if let Some(found) =
                record_search::first_record_at_or_after(&bytes, pos, &h, target, min_offset)?
            {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// The first record with timestamp >= `target` at an offset >= `min_offset` (Kafka's
    /// `findOffsetByTimestamp`): the time index bounds where to start.
    pub fn find_offset_by_timestamp(
        &self,
        target: i64,
        min_offset: i64,
    ) -> Result<Option<TimestampOffset>> {
        let from = self.time_index.lookup(target).offset.max(min_offset);
        let position = self.offset_index.lookup(from).position;
        self.search_timestamp(position, target, min_offset)
    }

    /// The record holding this segment's largest timestamp, if any record has one.
    pub fn find_max_timestamp_record(&self) -> Result<Option<TimestampOffset>> {
        let max = self.max_timestamp;
        if max.timestamp < 0 || self.size == 0 {
            return Ok(None);
        }
        let Some((pos, h)) = self.translate_offset(max.offset)? else {
            return Ok(None);
        };
        Ok(self
            .search_timestamp(pos, max.timestamp, h.base_offset)?
            .or(Some(max)))
    }
}
