//! File regions and sendfile to socket file descriptors.
