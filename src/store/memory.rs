//! The embedded in-memory store: the same semantics as Redis, in one process.
