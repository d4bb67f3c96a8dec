//! File regions and sendfile to socket file descriptors: how fetched log data leaves the broker
//! without being copied through user space.

pub mod region;
pub mod response;
pub mod sendfile;

pub use region::FileRegion;
pub use sendfile::sendfile;
