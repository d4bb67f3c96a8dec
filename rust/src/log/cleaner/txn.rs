//! Transactions while cleaning (Kafka's `CleanedTransactionMetadata`, KIP-98): which batches
//! belong to aborted transactions (dropped at once, whatever their keys), when a transaction
//! marker may go, and which aborted transactions the cleaned segment's index still lists.
//!
//! The cleaner reads the log in offset order and feeds every batch here. Aborted transactions
//! come from the transaction indexes ([`TxnTracker::add_aborted`]); one becomes "ongoing" for
//! its producer once the cleaner reaches its first offset, and ends at its ABORT marker.
//! Meanwhile that producer's transactional batches are aborted. A transactional batch of a
//! producer with no ongoing aborted transaction belongs to a transaction that commits (the
//! cleaner never reads past the last stable offset, so every transaction it sees is decided).
//!
//! A marker is removable ("its transaction is empty") when no batch of its transaction was
//! read in this clean: an ABORT whose data is gone, a COMMIT whose data is gone. Markers of
//! transactions that still have data stay, and an ABORT that stays keeps its index entry. A
//! removable marker is not dropped at once: like a tombstone it first gets a delete horizon
//! (`now + delete.retention.ms`, KIP-534) and goes in a clean after that time, so that a
//! consumer that read the transaction's data still sees its end.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use crate::index::AbortedTxn;
use crate::record::batch::ControlRecordType;
use crate::record::header::BatchHeader;

/// An aborted transaction the cleaner is inside of, and the last batch of it seen.
struct Ongoing {
    txn: AbortedTxn,
    last_observed_batch_offset: Option<i64>,
}

/// Transaction state carried through one clean, across its groups of segments.
#[derive(Default)]
pub(crate) struct TxnTracker {
    /// Aborted transactions not yet reached, smallest first offset first.
    pending: BinaryHeap<Reverse<(i64, i64, i64, i64)>>,
    ongoing_aborted: HashMap<i64, Ongoing>,
    /// Producers with a transactional batch read since their last COMMIT marker.
    ongoing_committed: HashSet<i64>,
    /// Entries for the index of the segment being written (taken per group).
    cleaned_index: Vec<AbortedTxn>,
}

impl TxnTracker {
    /// Aborted transactions found in the indexes of the segments about to be read. The same
    /// transaction may come twice (its range spans two segments); the second is a no-op.
    pub fn add_aborted(&mut self, txns: impl IntoIterator<Item = AbortedTxn>) {
        for t in txns {
            self.pending.push(Reverse((
                t.first_offset,
                t.producer_id,
                t.last_offset,
                t.last_stable_offset,
            )));
        }
    }

    fn reach(&mut self, offset: i64) {
        while let Some(&Reverse((first, pid, last, lso))) = self.pending.peek() {
            if first > offset {
                break;
            }
            self.pending.pop();
            self.ongoing_aborted.entry(pid).or_insert(Ongoing {
                txn: AbortedTxn {
                    producer_id: pid,
                    first_offset: first,
                    last_offset: last,
                    last_stable_offset: lso,
                },
                last_observed_batch_offset: None,
            });
        }
    }

    /// A data batch: whether it belongs to an aborted transaction (and may be discarded).
    pub fn on_batch(&mut self, h: &BatchHeader) -> bool {
        self.reach(h.last_offset());
        if !h.is_transactional() {
            return false;
        }
        match self.ongoing_aborted.get_mut(&h.producer_id) {
            Some(ongoing) => {
                ongoing.last_observed_batch_offset = Some(h.last_offset());
                true
            }
            None => {
                self.ongoing_committed.insert(h.producer_id);
                false
            }
        }
    }

    /// A control batch with its record's type (None: no record, already emptied by a clean):
    /// whether it may be discarded (its transaction has no data left). An ABORT marker that
    /// stays puts its transaction in the cleaned index.
    pub fn on_control_batch(&mut self, h: &BatchHeader, kind: Option<ControlRecordType>) -> bool {
        self.reach(h.last_offset());
        match kind {
            None => true,
            Some(ControlRecordType::Abort) => match self.ongoing_aborted.remove(&h.producer_id) {
                Some(o) if o.last_observed_batch_offset.is_some() => {
                    self.cleaned_index.push(o.txn);
                    false
                }
                _ => true,
            },
            Some(ControlRecordType::Commit) => !self.ongoing_committed.remove(&h.producer_id),
            Some(ControlRecordType::Other(_)) => false,
        }
    }

    /// The entries for the cleaned segment written so far, in marker order; the next
    /// segment starts with none.
    pub fn take_cleaned_index(&mut self) -> Vec<AbortedTxn> {
        std::mem::take(&mut self.cleaned_index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::header::{CONTROL_FLAG_MASK, TRANSACTIONAL_FLAG_MASK};

    fn header(pid: i64, base: i64, last: i64, control: bool) -> BatchHeader {
        let mut attributes = TRANSACTIONAL_FLAG_MASK;
        if control {
            attributes |= CONTROL_FLAG_MASK;
        }
        BatchHeader {
            base_offset: base,
            batch_length: 0,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes,
            last_offset_delta: (last - base) as i32,
            base_timestamp: 0,
            max_timestamp: 0,
            producer_id: pid,
            producer_epoch: 0,
            base_sequence: 0,
            record_count: (last - base + 1) as i32,
        }
    }

    fn aborted(pid: i64, first: i64, last: i64) -> AbortedTxn {
        AbortedTxn {
            producer_id: pid,
            first_offset: first,
            last_offset: last,
            last_stable_offset: first,
        }
    }

    #[test]
    fn aborted_data_goes_and_its_marker_stays_while_data_was_seen() {
        let mut t = TxnTracker::default();
        // pid 1 aborts [0, 4) with its marker at 4; pid 2 commits [1, 3) at 5.
        t.add_aborted([aborted(1, 0, 4)]);
        assert!(t.on_batch(&header(1, 0, 0, false)));
        assert!(!t.on_batch(&header(2, 1, 2, false)));
        assert!(t.on_batch(&header(1, 3, 3, false)));
        assert!(!t.on_control_batch(&header(1, 4, 4, true), Some(ControlRecordType::Abort)));
        assert!(!t.on_control_batch(&header(2, 5, 5, true), Some(ControlRecordType::Commit)));
        assert_eq!(t.take_cleaned_index(), vec![aborted(1, 0, 4)]);
        // Later transactions of the same producers, with nothing left of their data.
        t.add_aborted([aborted(1, 6, 7), aborted(1, 6, 7)]);
        assert!(t.on_control_batch(&header(1, 7, 7, true), Some(ControlRecordType::Abort)));
        assert!(t.on_control_batch(&header(2, 8, 8, true), Some(ControlRecordType::Commit)));
        assert!(t.on_control_batch(&header(2, 9, 9, true), None));
        assert_eq!(t.take_cleaned_index(), vec![]);
        // Non-transactional batches are never aborted; other control types stay.
        let mut plain = header(1, 10, 10, false);
        plain.attributes = 0;
        assert!(!t.on_batch(&plain));
        assert!(!t.on_control_batch(&header(1, 11, 11, true), Some(ControlRecordType::Other(2))));
    }
}
