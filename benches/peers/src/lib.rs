//! Shared ground for the side-by-side benchmarks in `benches/` (docs/benchmarks.md):
//! one set of keys, one Authing-shaped id_token per algorithm, a JWKS served on
//! 127.0.0.1, and each contestant prepared once so that only verification is timed.
//!
//! Nothing here is part of the library: this crate is a workspace member with
//! `publish = false`, and the library does not depend on it.

#![forbid(unsafe_code)]

pub mod agreement;
pub mod contestants;
pub mod fixture;
pub mod jwks_server;
pub mod keys;

pub use fixture::{ACCESS_TOKEN, CLIENT_ID, Fixture, NONCE, SECRET};
pub use keys::{Alg, Keys};
