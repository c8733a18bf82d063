//! What every handler can reach: the configuration, the sessions, the lesson
//! catalog, the metrics and the rate limit of session creation.

use std::sync::Arc;

use super::rate_limit::RateLimiter;
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
    /// Session creations per client (`session_creations_per_minute`).
    pub creations: Arc<RateLimiter>,
}
