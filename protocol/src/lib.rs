//! Wire types shared by `sandbox-server` and `playground-web`.
//!
//! Two families live here and nowhere else:
//! - [`api`]: the JSON bodies of the REST API (`/api/v1/...`), see `docs/api.md`.
//! - [`admin`]: the JSON bodies of the operator and workshop routes.
//! - [`terminal`]: the binary frames of the terminal WebSocket, with their
//!   encoder and decoder, so both ends agree byte for byte.
//!
//! The crate does no I/O and builds for `wasm32-unknown-unknown` as well as native.

pub mod admin;
pub mod api;
pub mod terminal;
