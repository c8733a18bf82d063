//! Wiring: connect to the runtime, open the store, reconcile, serve the app
//! (`listen`) and the previews (`preview_listen`, an origin of their own)
//! until a signal.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::admin_token::AdminToken;
use crate::config::Config;
use crate::http::listener::{self, ListenerLimits};
use crate::http::{preview_router, router, AppState};
use crate::lessons::Catalog;
use crate::metrics::Metrics;
use crate::sessions::Sessions;
use crate::store::Store;

/// How long open connections get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Runs the server until SIGTERM or Ctrl-C. Sessions stay in Docker and in the
/// database, so the next start serves them again.
pub async fn serve(config: Config, catalog: Arc<Catalog>) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let admin_file = config.admin_token_path();
    let (admin, created) = AdminToken::load_or_create(&admin_file)
        .context("the admin token (admin_token_file) cannot be used")?;
    if created {
        tracing::info!(file = %admin_file.display(), "made a new admin token; operators read it from this file");
    } else {
        tracing::info!(file = %admin_file.display(), "admin token read from this file");
    }
    crate::firewall::check(&config).context("learner nodes would reach this host")?;
    // The error says why: no engine answers, it is not isolated, or it cannot apply a
    // required disk limit.
    let runtime = crate::runtime::connect(&config)
        .await
        .context("the Docker Engine for learner nodes cannot be used")?;
    let store = Store::open(&config.database_path())
        .with_context(|| format!("opening {}", config.database_path().display()))?;
    let metrics = Arc::new(Metrics::default());
    let sessions = Arc::new(Sessions::new(
        config.clone(),
        runtime,
        store,
        catalog.clone(),
        metrics.clone(),
    ));
    let report = sessions
        .reconcile()
        .await
        .map_err(|e| anyhow::anyhow!("reconciling sessions with Docker: {e}"))?;
    tracing::info!(
        workshops = report.workshops,
        restored = report.restored,
        removed = report.removed,
        orphans_removed = report.orphans_removed,
        "reconciled with Docker"
    );

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let reaper = tokio::spawn(sessions.clone().run_reaper(stop_rx.clone()));
    // The warm pool fills after reconcile removed the last run's (no record).
    let pool = tokio::spawn(sessions.clone().run_pool(stop_rx));

    let state = AppState::new(config.clone(), sessions.clone(), catalog, metrics, admin);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let preview_listener = tokio::net::TcpListener::bind(config.preview_listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} for previews (preview_listen)",
                config.preview_listen
            )
        })?;
    // Each listener has its own cap, so pages of previews cannot starve the app.
    let limits = ListenerLimits {
        max_connections: config.max_connections,
        header_read_timeout: Duration::from_secs(config.header_read_timeout_secs),
    };
    tracing::info!("listening on http://{}", config.listen);
    tracing::info!(
        "previews on http://{}{}",
        config.preview_listen,
        match config.preview_public_origin() {
            Ok(Some(url)) => format!(", published as {url}"),
            _ => String::new(),
        }
    );
    // One signal fans out: the server stops accepting and closes terminals,
    // and a grace timer starts for connections that linger.
    let (signal_tx, mut signal_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = signal_tx.send(true);
    });
    let sessions_for_shutdown = sessions.clone();
    let mut graceful_rx = signal_rx.clone();
    let server = listener::serve(listener, router(state.clone()), limits, async move {
        let _ = graceful_rx.wait_for(|stop| *stop).await;
        tracing::info!("shutting down: closing terminals; sessions stay for the next start");
        let _ = stop_tx.send(true);
        sessions_for_shutdown.shutdown().await;
    });
    let mut preview_rx = signal_rx.clone();
    let previews = listener::serve(
        preview_listener,
        preview_router(state),
        limits,
        async move {
            let _ = preview_rx.wait_for(|stop| *stop).await;
        },
    );
    let mut server = tokio::spawn(async move {
        tokio::join!(server, previews);
    });
    tokio::select! {
        result = &mut server => result?,
        _ = async {
            let _ = signal_rx.wait_for(|stop| *stop).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => tracing::warn!("connections still open after {SHUTDOWN_GRACE:?}; exiting"),
    }
    reaper.abort();
    pool.abort();
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
