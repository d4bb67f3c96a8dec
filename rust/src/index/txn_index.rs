//! The transaction index of a segment (`<base offset>.txnindex`), Kafka's `TransactionIndex`:
//! one entry per aborted transaction whose ABORT marker was written in this segment, so that
//! a `read_committed` fetch can tell the consumer which producers' batches to skip.
//!
//! Each 34-byte big-endian entry is Kafka's `AbortedTxn`:
//! `version: i16 (= 0) | producerId: i64 | firstOffset: i64 | lastOffset: i64 |
//! lastStableOffset: i64`, where lastOffset is the offset of the ABORT marker and
//! lastStableOffset the partition's LSO when the abort completed. Entries are in marker order,
//! so lastOffset increases strictly.
//!
//! Unlike the offset and time indexes the file is not preallocated, not memory-mapped and not
//! created until the first entry is appended (as Kafka does): a segment without aborted
//! transactions has no `.txnindex` file. Entries are appended with positional writes and read
//! back from the file (the page cache keeps hot ones). No descriptor is held between calls, so
//! a log of many segments costs no file descriptors for their transaction indexes.
//!
//! This index cannot be rebuilt from the segment alone (an aborted transaction's first offset
//! may lie in an earlier segment and its LSO is history), so opening it trusts whole, sane
//! entries and only cuts a torn or insane tail.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::i64_at;
use crate::error::{Error, Result};

/// Bytes of one entry (Kafka's `AbortedTxn.TOTAL_SIZE`).
pub const TXN_INDEX_ENTRY_SIZE: usize = 34;
/// The only entry version Kafka writes and reads (`AbortedTxn.CURRENT_VERSION`).
pub const ABORTED_TXN_VERSION: i16 = 0;
/// Entries read from the file per `pread` while scanning (34 KiB).
const READ_CHUNK_ENTRIES: usize = 1024;

/// One aborted transaction: `producer_id`'s batches in [`first_offset`, `last_offset`) are
/// aborted; `last_offset` is the ABORT marker's offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    pub last_offset: i64,
    pub last_stable_offset: i64,
}

impl AbortedTxn {
    /// The entry's bytes, as Kafka writes them.
    pub fn encode(&self) -> [u8; TXN_INDEX_ENTRY_SIZE] {
        let mut b = [0u8; TXN_INDEX_ENTRY_SIZE];
        b[0..2].copy_from_slice(&ABORTED_TXN_VERSION.to_be_bytes());
        b[2..10].copy_from_slice(&self.producer_id.to_be_bytes());
        b[10..18].copy_from_slice(&self.first_offset.to_be_bytes());
        b[18..26].copy_from_slice(&self.last_offset.to_be_bytes());
        b[26..34].copy_from_slice(&self.last_stable_offset.to_be_bytes());
        b
    }

    /// Decode one entry; an unknown version is an error (Kafka refuses it too).
    pub fn decode(b: &[u8]) -> std::result::Result<Self, String> {
        let version = i16::from_be_bytes([b[0], b[1]]);
        if version != ABORTED_TXN_VERSION {
            return Err(format!("unknown aborted transaction version {version}"));
        }
        Ok(AbortedTxn {
            producer_id: i64_at(b, 2),
            first_offset: i64_at(b, 10),
            last_offset: i64_at(b, 18),
            last_stable_offset: i64_at(b, 26),
        })
    }
}

/// A segment's transaction index. The file exists once an entry was appended.
pub struct TxnIndex {
    path: PathBuf,
    base_offset: i64,
    entries: usize,
    /// lastOffset of the last entry: the next one must be larger.
    last_offset: Option<i64>,
}

/// What opening found wrong at the end of an existing file (bytes cut), if anything.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TxnIndexRepair {
    pub cut_bytes: u64,
    pub reason: Option<String>,
}

impl TxnIndex {
    /// Open the index of the segment at `base_offset`. A missing file is an empty index (and
    /// stays missing until an entry is appended). An existing file keeps its longest prefix of
    /// whole, sane entries (known version, first <= last, lastOffset >= the base offset and
    /// strictly increasing); the rest, a torn write or damage, is cut off.
    pub fn open(path: &Path, base_offset: i64) -> Result<(Self, TxnIndexRepair)> {
        let mut index = TxnIndex {
            path: path.to_path_buf(),
            base_offset,
            entries: 0,
            last_offset: None,
        };
        let file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok((index, TxnIndexRepair::default()))
            }
            Err(e) => return Err(e.into()),
        };
        let len = file.metadata()?.len();
        let whole = (len / TXN_INDEX_ENTRY_SIZE as u64) as usize;
        let mut reason = (len % TXN_INDEX_ENTRY_SIZE as u64 != 0)
            .then(|| format!("{len} bytes is not a whole number of entries"));
        let mut sane = 0;
        let mut last_offset = None;
        scan_file(&file, whole, |txn| {
            let problem = match txn {
                Err(e) => Some(e),
                Ok(t) if t.last_offset < base_offset => Some(format!(
                    "last offset {} is below the segment's base offset {base_offset}",
                    t.last_offset
                )),
                Ok(t) if t.first_offset > t.last_offset => Some(format!(
                    "first offset {} is after last offset {}",
                    t.first_offset, t.last_offset
                )),
                Ok(t) if last_offset.is_some_and(|l| t.last_offset <= l) => {
                    Some(format!("last offset {} does not increase", t.last_offset))
                }
                Ok(t) => {
                    last_offset = Some(t.last_offset);
                    sane += 1;
                    None
                }
            };
            if problem.is_some() {
                reason = problem;
                return false;
            }
            true
        })?;
        index.entries = sane;
        index.last_offset = last_offset;
        let keep = (sane * TXN_INDEX_ENTRY_SIZE) as u64;
        if keep < len {
            file.set_len(keep)?;
        }
        Ok((
            index,
            TxnIndexRepair {
                cut_bytes: len - keep,
                reason: reason.filter(|_| keep < len),
            },
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn entries(&self) -> usize {
        self.entries
    }
    /// The ABORT marker offset of the last entry, if any.
    pub fn last_offset(&self) -> Option<i64> {
        self.last_offset
    }

    /// Append an entry, creating the file if needed. Its lastOffset must exceed the previous
    /// entry's (Kafka: "must increase sequentially") and lie in this segment; firstOffset
    /// must not be after it. On a failed write the file is cut back to its entries.
    pub fn append(&mut self, txn: AbortedTxn) -> Result<()> {
        if let Some(last) = self.last_offset.filter(|l| *l >= txn.last_offset) {
            return Err(Error::InvalidOffset(format!(
                "aborted transaction last offset {} is not greater than the last offset {last} \
                 of transaction index {}",
                txn.last_offset,
                self.path.display()
            )));
        }
        if txn.last_offset < self.base_offset || txn.first_offset > txn.last_offset {
            return Err(Error::InvalidOffset(format!(
                "aborted transaction offsets {}..={} do not fit transaction index {} (base \
                 offset {})",
                txn.first_offset,
                txn.last_offset,
                self.path.display(),
                self.base_offset
            )));
        }
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.path)?;
        let at = (self.entries * TXN_INDEX_ENTRY_SIZE) as u64;
        if let Err(e) = file.write_all_at(&txn.encode(), at) {
            let _ = file.set_len(at);
            return Err(e.into());
        }
        self.entries += 1;
        self.last_offset = Some(txn.last_offset);
        Ok(())
    }

    /// Call `f` on each entry in order until it returns false.
    fn scan(&self, mut f: impl FnMut(AbortedTxn) -> bool) -> Result<()> {
        if self.entries == 0 {
            return Ok(());
        }
        let file = File::open(&self.path)?;
        let mut bad = None;
        scan_file(&file, self.entries, |txn| match txn {
            Ok(t) => f(t),
            Err(e) => {
                bad = Some(e);
                false
            }
        })?;
        match bad {
            // Entries were checked on open and written by us since: the file changed under us.
            Some(e) => Err(Error::corrupt(0, format!("{}: {e}", self.path.display()))),
            None => Ok(()),
        }
    }

    /// Every entry, in order.
    pub fn all(&self) -> Result<Vec<AbortedTxn>> {
        let mut out = Vec::with_capacity(self.entries);
        self.scan(|t| {
            out.push(t);
            true
        })?;
        Ok(out)
    }

    /// Kafka's `collectAbortedTxns`: push onto `out` every entry with lastOffset >=
    /// `fetch_offset` and firstOffset < `upper_bound_offset`, stopping after an entry whose
    /// lastStableOffset >= `upper_bound_offset` (no later abort can overlap the range: every
    /// transaction still open below the bound had completed by then). Returns whether that
    /// happened (the search is complete; later segments need not be read). Fails rather than
    /// push more than `limit` entries in all.
    pub fn collect(
        &self,
        fetch_offset: i64,
        upper_bound_offset: i64,
        out: &mut Vec<AbortedTxn>,
        limit: usize,
    ) -> Result<bool> {
        let mut complete = false;
        let mut over = false;
        self.scan(|t| {
            if t.last_offset >= fetch_offset && t.first_offset < upper_bound_offset {
                if out.len() >= limit {
                    over = true;
                    return false;
                }
                out.push(t);
            }
            complete = t.last_stable_offset >= upper_bound_offset;
            !complete
        })?;
        if over {
            return Err(Error::InvalidOffset(format!(
                "more than {limit} aborted transactions overlap offsets [{fetch_offset}, \
                 {upper_bound_offset}): ask for a smaller range"
            )));
        }
        Ok(complete)
    }

    /// Remove the entries whose lastOffset >= `offset` (Kafka's `truncateTo`). The file stays,
    /// possibly empty, as Kafka leaves it.
    pub fn truncate_to(&mut self, offset: i64) -> Result<()> {
        if self.last_offset.is_none_or(|l| l < offset) {
            return Ok(());
        }
        let mut keep = 0;
        let mut last = None;
        self.scan(|t| {
            if t.last_offset >= offset {
                return false;
            }
            keep += 1;
            last = Some(t.last_offset);
            true
        })?;
        let file = OpenOptions::new().write(true).open(&self.path)?;
        file.set_len((keep * TXN_INDEX_ENTRY_SIZE) as u64)?;
        self.entries = keep;
        self.last_offset = last;
        Ok(())
    }

    /// fsync the file, if there is one.
    pub fn flush(&self) -> Result<()> {
        match File::open(&self.path) {
            Ok(f) => Ok(f.sync_all()?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Remove the file (a missing file is fine).
    pub fn delete(self) -> Result<()> {
        match fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

/// Call `f` on each entry in order until it returns false; reads `count` entries of `file`.
fn scan_file(
    file: &File,
    count: usize,
    mut f: impl FnMut(std::result::Result<AbortedTxn, String>) -> bool,
) -> Result<()> {
    let mut buf = vec![0u8; READ_CHUNK_ENTRIES * TXN_INDEX_ENTRY_SIZE];
    let mut done = 0;
    while done < count {
        let n = (count - done).min(READ_CHUNK_ENTRIES);
        let bytes = &mut buf[..n * TXN_INDEX_ENTRY_SIZE];
        file.read_exact_at(bytes, (done * TXN_INDEX_ENTRY_SIZE) as u64)?;
        for entry in bytes.chunks_exact(TXN_INDEX_ENTRY_SIZE) {
            if !f(AbortedTxn::decode(entry)) {
                return Ok(());
            }
        }
        done += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(pid: i64, first: i64, last: i64, lso: i64) -> AbortedTxn {
        AbortedTxn {
            producer_id: pid,
            first_offset: first,
            last_offset: last,
            last_stable_offset: lso,
        }
    }

    fn open(path: &Path, base: i64) -> TxnIndex {
        TxnIndex::open(path, base).unwrap().0
    }

    #[test]
    fn entry_bytes_are_kafkas_aborted_txn() {
        let b = txn(0x0102030405060708, 42, 0x1122, -1).encode();
        let mut expected = vec![0, 0];
        expected.extend([1, 2, 3, 4, 5, 6, 7, 8]);
        expected.extend(42i64.to_be_bytes());
        expected.extend(0x1122i64.to_be_bytes());
        expected.extend([0xff; 8]);
        assert_eq!(b.to_vec(), expected);
        assert_eq!(
            AbortedTxn::decode(&b).unwrap(),
            txn(0x0102030405060708, 42, 0x1122, -1)
        );
        let mut v1 = b;
        v1[1] = 1;
        assert!(AbortedTxn::decode(&v1).is_err());
    }

    #[test]
    fn the_file_is_created_on_the_first_append_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000010.txnindex");
        let mut index = open(&path, 10);
        assert!(!path.exists());
        assert_eq!(index.all().unwrap(), vec![]);
        index.flush().unwrap();
        assert!(!path.exists());
        index.append(txn(7, 3, 12, 3)).unwrap();
        index.append(txn(8, 11, 15, 11)).unwrap();
        let bytes = fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 2 * TXN_INDEX_ENTRY_SIZE);
        assert_eq!(&bytes[..34], &txn(7, 3, 12, 3).encode());
        assert_eq!(&bytes[34..], &txn(8, 11, 15, 11).encode());
        index.delete().unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn appends_must_move_forward_inside_the_segment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.txnindex");
        let mut index = open(&path, 10);
        assert!(
            index.append(txn(1, 5, 9, 0)).is_err(),
            "below the base offset"
        );
        assert!(index.append(txn(1, 13, 12, 0)).is_err(), "first after last");
        index.append(txn(1, 5, 12, 5)).unwrap();
        let err = index.append(txn(2, 6, 12, 5)).unwrap_err().to_string();
        assert!(err.contains("not greater than the last offset 12"), "{err}");
        assert!(index.append(txn(2, 6, 11, 5)).is_err());
        assert_eq!(index.entries(), 1);
        // Reopened, the last offset is known again.
        let mut index = open(&path, 10);
        assert!(index.append(txn(2, 6, 12, 5)).is_err());
        index.append(txn(2, 6, 13, 5)).unwrap();
        assert_eq!(index.entries(), 2);
    }

    /// Kafka's TransactionIndexTest.testCollectAbortedTransactions, in our words.
    #[test]
    fn collect_takes_overlapping_entries_and_stops_at_the_lso() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = open(&dir.path().join("0.txnindex"), 0);
        let all = [
            txn(0, 0, 10, 11),
            txn(1, 5, 15, 13),
            txn(2, 18, 35, 25),
            txn(3, 32, 50, 40),
        ];
        for t in all {
            index.append(t).unwrap();
        }
        let collect = |from, to| {
            let mut out = Vec::new();
            let complete = index.collect(from, to, &mut out, 100).unwrap();
            (out, complete)
        };
        assert_eq!(collect(0, 32), (all[..3].to_vec(), true));
        assert_eq!(collect(0, 33), (all.to_vec(), true));
        assert_eq!(collect(15, 18), (vec![all[1]], true));
        assert_eq!(collect(16, 18), (vec![], true));
        assert_eq!(collect(51, 60), (vec![], false));
        assert_eq!(collect(11, 41), (all[1..].to_vec(), false));
        // The limit is an error, not a silently short answer.
        let mut out = Vec::new();
        assert!(index.collect(0, 100, &mut out, 2).is_err());
    }

    #[test]
    fn truncation_removes_entries_whose_marker_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.txnindex");
        let mut index = open(&path, 0);
        for (i, last) in [10, 20, 30].into_iter().enumerate() {
            index
                .append(txn(i as i64, last - 5, last, last - 5))
                .unwrap();
        }
        index.truncate_to(31).unwrap();
        assert_eq!(index.entries(), 3);
        index.truncate_to(20).unwrap();
        assert_eq!(index.entries(), 1);
        assert_eq!(fs::metadata(&path).unwrap().len(), 34);
        index.append(txn(5, 12, 14, 12)).unwrap();
        index.truncate_to(0).unwrap();
        assert_eq!(
            (index.entries(), fs::metadata(&path).unwrap().len()),
            (0, 0)
        );
        index.append(txn(5, 1, 2, 1)).unwrap();
        assert_eq!(open(&path, 0).all().unwrap(), vec![txn(5, 1, 2, 1)]);
    }

    #[test]
    fn opening_cuts_a_torn_or_insane_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.txnindex");
        let mut index = open(&path, 100);
        index.append(txn(1, 90, 100, 90)).unwrap();
        index.append(txn(2, 95, 110, 95)).unwrap();
        let good = fs::read(&path).unwrap();
        // A torn third entry.
        let mut torn = good.clone();
        torn.extend(&txn(3, 111, 120, 111).encode()[..20]);
        fs::write(&path, &torn).unwrap();
        let (index, repair) = TxnIndex::open(&path, 100).unwrap();
        assert_eq!(index.entries(), 2);
        assert_eq!(repair.cut_bytes, 20);
        assert!(repair.reason.unwrap().contains("whole number"));
        assert_eq!(fs::read(&path).unwrap(), good);
        // An entry that goes backwards, then an unknown version.
        for bad in [txn(3, 100, 105, 0).encode(), {
            let mut v = txn(3, 111, 120, 111).encode();
            v[0] = 9;
            v
        }] {
            let mut damaged = good.clone();
            damaged.extend(bad);
            damaged.extend(txn(4, 130, 140, 130).encode());
            fs::write(&path, &damaged).unwrap();
            let (index, repair) = TxnIndex::open(&path, 100).unwrap();
            assert_eq!((index.entries(), repair.cut_bytes), (2, 68));
            assert_eq!(index.last_offset(), Some(110));
        }
        // Sane files are left as they are.
        let (_, repair) = TxnIndex::open(&path, 100).unwrap();
        assert_eq!(repair, TxnIndexRepair::default());
    }
}
