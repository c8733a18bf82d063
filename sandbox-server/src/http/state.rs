//! What every handler can reach: the configuration, the sessions, the lesson
//! catalog, the metrics, the admin token and the rate limits of session
//! creation and of wrong workshop codes.

use std::sync::Arc;

use super::rate_limit::RateLimiter;
use crate::admin_token::AdminToken;
use crate::config::Config;
use crate::lessons::Catalog;
use crate::metrics::Metrics;
use crate::sessions::Sessions;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub sessions: Arc<Sessions>,
    pub catalog: Arc<Catalog>,
    pub metrics: Arc<Metrics>,
    /// Opens the operator routes, workshops and watching (`admin_token_file`).
    pub admin: AdminToken,
    /// Session creations per client (`session_creations_per_minute`).
    pub creations: Arc<RateLimiter>,
    /// Joins with a wrong workshop code per client
    /// (`workshop_join_failures_per_minute`).
    pub join_failures: Arc<RateLimiter>,
}

impl AppState {
    /// The state of a server with fresh rate limits.
    pub fn new(
        config: Arc<Config>,
        sessions: Arc<Sessions>,
        catalog: Arc<Catalog>,
        metrics: Arc<Metrics>,
        admin: AdminToken,
    ) -> AppState {
        AppState {
            creations: Arc::new(RateLimiter::per_minute(config.session_creations_per_minute)),
            join_failures: Arc::new(RateLimiter::per_minute(
                config.workshop_join_failures_per_minute,
            )),
            config,
            sessions,
            catalog,
            metrics,
            admin,
        }
    }
}
