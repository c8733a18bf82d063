//! The sandbox server: learner sessions as Docker containers, their terminals
//! over WebSockets, and the lessons they follow. See ARCHITECTURE.md for the map.

pub mod admin_client;
pub mod admin_token;
pub mod app;
pub mod client_addr;
pub mod config;
pub mod firewall;
pub mod graders;
pub mod http;
pub mod http_fetch;
pub mod lesson_test;
pub mod lessons;
pub mod metrics;
pub mod runtime;
pub mod sessions;
pub mod store;
pub mod subnets;
pub mod terminal;
