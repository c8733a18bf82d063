//! What every handler can reach: the configuration, the sessions, the lesson
//! catalog and the metrics.

use std::sync::Arc;

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
}
