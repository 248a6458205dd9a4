//! The embedded in-memory store: the same semantics as Redis, in one process.

/// In-memory store (stub until merged).
pub struct MemoryStore;

impl MemoryStore {
    pub fn new() -> Self {
        MemoryStore
    }
}
