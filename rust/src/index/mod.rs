//! Sparse offset index (8-byte entries) and time index (12-byte entries) over memory maps.
