//! Segments, the segment map and the partition log.
