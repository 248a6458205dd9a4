//! gatehouse: a reverse-proxy authentication gateway on Pingora.
//!
//! The crate is laid out one concern per module; `proxy` and `endpoints` are
//! the only modules that touch Pingora's `Session`, everything else takes plain
//! values and is tested without a socket.
#![forbid(unsafe_code)]

pub mod admin;
pub mod auth;
pub mod cli;
pub mod config;
pub mod decision;
pub mod endpoints;
pub mod error;
pub mod metrics;
pub mod pages;
pub mod policy;
pub mod proxy;
pub mod server;
pub mod state;
pub mod store;
pub mod tls;
pub mod upstream;
