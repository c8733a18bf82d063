//! The sandbox server: learner sessions as Docker containers, their terminals
//! over WebSockets, and the lessons they follow. See ARCHITECTURE.md for the map.

pub mod api;
pub mod app;
pub mod config;
pub mod error;
pub mod files;
pub mod lesson_api;
pub mod lesson_test;
pub mod lessons;
pub mod metrics;
pub mod preview;
pub mod runtime;
pub mod sessions;
pub mod store;
pub mod terminal;
pub mod terminal_ws;
