//! Kafka request headers, and the bodies of the hottest APIs (Produce, Fetch), read and written
//! without a Python object per field. The schema codec in `ferrokafka.protocol` speaks every API and is
//! the reference: whatever these functions do not handle exactly (a malformed frame, a tagged
//! field, a value out of range) they decline with `None`, and the schema codec then answers
//! as it always did, errors included.

pub mod cursor;
pub mod fetch;
pub mod header;
pub mod produce;

#[cfg(test)]
mod fetch_tests;
#[cfg(test)]
mod produce_tests;
