//! Wire types shared by `sandbox-server` and `playground-web`.
//!
//! Two families live here and nowhere else:
//! - [`api`]: the JSON bodies of the REST API (`/api/v1/...`), see `docs/api.md`.
//! - [`admin`]: the JSON bodies of the operator and workshop routes.
//! - [`terminal`]: the binary frames of the terminal WebSocket, with their
//!   encoder and decoder, so both ends agree byte for byte.
//!
//! Besides, what both ends must read alike: [`dialect`], the info-string words
//! and `{{NAME}}` placeholders of the lesson Markdown; and [`lesson_test`], the
//! JSON report of `sandbox-server lesson test --json` for programs.
//!
//! The crate does no I/O and builds for `wasm32-unknown-unknown` as well as native.

pub mod admin;
pub mod api;
pub mod dialect;
pub mod join_code;
pub mod lesson_test;
pub mod terminal;
