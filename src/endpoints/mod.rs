//! Gateway-served endpoints
