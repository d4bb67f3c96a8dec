//! Tests of segments and the partition log against brute-force models: batches are parsed
//! straight from the bytes, index contents are recomputed from Kafka's rule, and crash images
//! are made by cutting and damaging copies of real segment files.

mod append_read;
mod follower;
mod lifecycle;
mod recovery;
mod retention;
mod timestamps;
mod truncate;
mod txn_index;
mod util;
