//! Removing data from a partition log: truncation (replication divergence, a replica starting
//! over) and deletion from the front (retention, DeleteRecords). All of it runs under the write
//! lock; regions already handed to readers keep their files open until done.

use std::fs::File;
use std::sync::atomic::Ordering;

use super::log::{Log, State};
use super::segment::Segment;
use crate::error::{Error, Result};

impl State {
    /// Remove the segments at these base offsets and delete their files.
    fn delete_segments(&mut self, bases: &[i64]) -> Result<()> {
        for base in bases {
            if let Some(segment) = self.segments.remove(*base) {
                segment.delete()?;
            }
        }
        Ok(())
    }

    /// The longest prefix of closed segments (never the active one) for which `delete` says
    /// yes, given each segment and the base offset of the one after it.
    fn deletable_prefix(
        &self,
        mut delete: impl FnMut(&Segment, i64) -> Result<bool>,
    ) -> Result<Vec<i64>> {
        let mut out = Vec::new();
        let all: Vec<&Segment> = self.segments.iter().collect();
        for pair in all.windows(2) {
            if !delete(pair[0], pair[1].base_offset())? {
                break;
            }
            out.push(pair[0].base_offset());
        }
        Ok(out)
    }

    fn delete_prefix(
        &mut self,
        delete: impl FnMut(&Segment, i64) -> Result<bool>,
    ) -> Result<usize> {
        let bases = self.deletable_prefix(delete)?;
        self.delete_segments(&bases)?;
        if let Some(first) = self.segments.first() {
            self.log_start_offset = self.log_start_offset.max(first.base_offset());
        }
        Ok(bases.len())
    }
}

impl Log {
    /// Remove every record at or after `offset` (replication divergence). The batch holding
    /// `offset` is removed whole, so the log end offset becomes that batch's base offset when
    /// `offset` falls inside a batch. No-op when `offset` >= the log end offset.
    pub fn truncate_to(&self, offset: i64, now_ms: i64) -> Result<()> {
        if offset < 0 {
            return Err(Error::InvalidOffset(format!("cannot truncate to {offset}")));
        }
        let mut st = self.state.write();
        st.check_open()?;
        if offset >= st.log_end_offset {
            return Ok(());
        }
        if st
            .segments
            .first()
            .is_some_and(|s| s.base_offset() > offset)
        {
            return self.restart_at(&mut st, offset, now_ms);
        }
        let later: Vec<i64> = st
            .segments
            .base_offsets()
            .into_iter()
            .filter(|b| *b > offset)
            .collect();
        st.delete_segments(&later)?;
        let params = st.params();
        let active = st.active_mut();
        active.truncate_to(offset, now_ms)?;
        active.make_active(params)?;
        let leo = active.next_offset();
        st.log_end_offset = leo;
        st.log_start_offset = st.log_start_offset.min(leo);
        self.recovery_point.fetch_min(leo, Ordering::AcqRel);
        Ok(())
    }

    /// Delete every segment and restart the log, empty, at `new_start_offset` (a follower
    /// whose log is behind the leader's log start).
    pub fn truncate_fully(&self, new_start_offset: i64, now_ms: i64) -> Result<()> {
        if new_start_offset < 0 {
            return Err(Error::InvalidOffset(format!(
                "cannot restart the log at {new_start_offset}"
            )));
        }
        let mut st = self.state.write();
        st.check_open()?;
        self.restart_at(&mut st, new_start_offset, now_ms)
    }

    fn restart_at(&self, st: &mut State, new_start_offset: i64, now_ms: i64) -> Result<()> {
        for segment in st.segments.take_all() {
            segment.delete()?;
        }
        let segment = Segment::create(&self.dir, new_start_offset, st.params(), now_ms)?;
        st.segments.insert(segment);
        st.log_start_offset = new_start_offset;
        st.log_end_offset = new_start_offset;
        // Nothing below the new start exists, so nothing below it is unflushed.
        self.recovery_point
            .store(new_start_offset, Ordering::Release);
        File::open(&self.dir)?.sync_all()?;
        Ok(())
    }

    /// Raise the log start offset (DeleteRecords) and delete the segments wholly below it.
    pub fn advance_log_start_offset(&self, offset: i64) -> Result<()> {
        let mut st = self.state.write();
        st.check_open()?;
        if offset > st.log_end_offset {
            return Err(st.out_of_range(offset));
        }
        if offset <= st.log_start_offset {
            return Ok(());
        }
        st.log_start_offset = offset;
        st.delete_prefix(|_, next_base| Ok(next_base <= offset))?;
        Ok(())
    }

    /// Retention (Kafka's `deleteOldSegments`) over closed segments, oldest first: segments
    /// wholly below the log start offset; then by time (newest record older than
    /// `retention_ms`); then by size (while the log exceeds `retention_bytes` by at least the
    /// segment's size); time and size only when `cleanup.policy` holds "delete". Returns how
    /// many segments were deleted.
    pub fn delete_old_segments(&self, now_ms: i64) -> Result<usize> {
        let mut st = self.state.write();
        st.check_open()?;
        let start = st.log_start_offset;
        let mut deleted = st.delete_prefix(|_, next_base| Ok(next_base <= start))?;
        if !st.config.cleanup_delete {
            // cleanup.policy=compact: the cleaner, not retention, removes records.
            return Ok(deleted);
        }
        if let Some(retention_ms) = st.config.retention_ms {
            deleted +=
                st.delete_prefix(|s, _| Ok(now_ms - s.retention_timestamp()? > retention_ms))?;
        }
        if let Some(retention_bytes) = st.config.retention_bytes {
            let mut excess = st.segments.size_in_bytes().saturating_sub(retention_bytes);
            deleted += st.delete_prefix(|s, _| {
                let fits = s.size() <= excess;
                if fits {
                    excess -= s.size();
                }
                Ok(fits)
            })?;
        }
        Ok(deleted)
    }
}
