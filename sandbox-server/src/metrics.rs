//! Counters for `GET /metrics`, encoded by `prometheus-client` in the
//! Prometheus text format (0.0.4).
//!
//! The hot path (terminal bytes) pays one relaxed atomic add per chunk: every
//! series is created once, here, and callers hold its [`Counter`] directly,
//! so no label lookup or lock sits on that path. Only the start-latency
//! histogram takes a lock, once per session start.

use std::sync::atomic::AtomicI64;

use prometheus_client::encoding::{prometheus_text, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Upper bounds (seconds) of the session start latency histogram.
const START_BUCKETS: [f64; 9] = [0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0];
/// Upper bounds (seconds) of the grader check duration histogram.
const GRADER_BUCKETS: [f64; 8] = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0, 10.0];
/// Upper bounds (bytes) of the grader memory histogram.
const GRADER_MEMORY_BUCKETS: [f64; 7] = [
    65536.0,
    262144.0,
    1048576.0,
    4194304.0,
    16777216.0,
    67108864.0,
    268435456.0,
];

pub struct Metrics {
    pub sessions_created: Counter,
    pub sessions_reaped_expired: Counter,
    pub sessions_reaped_idle: Counter,
    pub sessions_deleted: Counter,
    pub sessions_rejected_full: Counter,
    pub sessions_rejected_ip: Counter,
    pub terminal_bytes_out: Counter,
    pub terminal_bytes_in: Counter,
    pub terminal_connections: Counter,
    /// Sessions handed out from the warm pool.
    pub pool_handouts: Counter,
    /// Requests for a lesson with a warm pool that found it empty.
    pub pool_misses: Counter,
    /// Pooled sessions removed unused: their lesson changed, or room was needed.
    pub pool_drained: Counter,
    /// Grader checks that passed, failed, or did not finish in time.
    pub grader_passed: Counter,
    pub grader_failed: Counter,
    pub grader_timed_out: Counter,
    grader_check: Histogram,
    grader_memory: Histogram,
    /// Ready sessions per lesson, set from the pool when rendering.
    pool_ready: Family<Vec<(String, String)>, Gauge<i64, AtomicI64>>,
    /// Set from the live session count when rendering.
    sessions_live: Gauge<i64, AtomicI64>,
    session_start: Histogram,
    registry: Registry,
}

impl Default for Metrics {
    fn default() -> Self {
        let counter = Counter::default;
        let (created, expired, idle, deleted) = (counter(), counter(), counter(), counter());
        let (full, per_ip, bytes_out, bytes_in) = (counter(), counter(), counter(), counter());
        let connections = counter();
        let (handouts, misses, drained) = (counter(), counter(), counter());
        let pool_ready = Family::<Vec<(String, String)>, Gauge<i64, AtomicI64>>::default();
        let live = Gauge::<i64, AtomicI64>::default();
        let start = Histogram::new(START_BUCKETS);
        let (g_passed, g_failed, g_timed_out) = (counter(), counter(), counter());
        let grader_check = Histogram::new(GRADER_BUCKETS);
        let grader_memory = Histogram::new(GRADER_MEMORY_BUCKETS);
        let mut registry = Registry::default();
        registry.register(
            "playground_grader_checks",
            "Checks run by graders, by result",
            Labelled::new(
                "result",
                [
                    ("passed", &g_passed),
                    ("failed", &g_failed),
                    ("timed_out", &g_timed_out),
                ],
            ),
        );
        registry.register(
            "playground_grader_check_seconds",
            "Time a grader check took, host calls included",
            grader_check.clone(),
        );
        registry.register(
            "playground_grader_memory_bytes",
            "The most linear memory a grader had during its check",
            grader_memory.clone(),
        );
        registry.register(
            "playground_sessions_live",
            "Sessions alive now",
            live.clone(),
        );
        registry.register(
            "playground_sessions_created",
            "Sessions created",
            created.clone(),
        );
        registry.register(
            "playground_sessions_reaped",
            "Sessions removed by the server",
            Labelled::new("reason", [("expired", &expired), ("idle", &idle)]),
        );
        registry.register(
            "playground_sessions_deleted",
            "Sessions ended by their learner",
            deleted.clone(),
        );
        registry.register(
            "playground_sessions_rejected",
            "Session requests refused by a limit",
            Labelled::new("reason", [("full", &full), ("per_ip", &per_ip)]),
        );
        registry.register(
            "playground_terminal_bytes",
            "Terminal bytes streamed",
            Labelled::new("direction", [("out", &bytes_out), ("in", &bytes_in)]),
        );
        registry.register(
            "playground_terminal_connections",
            "Terminal WebSockets opened",
            connections.clone(),
        );
        registry.register(
            "playground_session_start_seconds",
            "Time from a session request to its nodes running",
            start.clone(),
        );
        registry.register(
            "playground_pool_ready",
            "Ready sessions in the warm pool, per lesson",
            pool_ready.clone(),
        );
        registry.register(
            "playground_pool_handouts",
            "Sessions handed out from the warm pool",
            handouts.clone(),
        );
        registry.register(
            "playground_pool_misses",
            "Session requests for a pooled lesson that found its pool empty",
            misses.clone(),
        );
        registry.register(
            "playground_pool_drained",
            "Pooled sessions removed unused (their lesson changed, or room was needed)",
            drained.clone(),
        );
        Metrics {
            grader_passed: g_passed,
            grader_failed: g_failed,
            grader_timed_out: g_timed_out,
            grader_check,
            grader_memory,
            pool_handouts: handouts,
            pool_misses: misses,
            pool_drained: drained,
            pool_ready,
            sessions_created: created,
            sessions_reaped_expired: expired,
            sessions_reaped_idle: idle,
            sessions_deleted: deleted,
            sessions_rejected_full: full,
            sessions_rejected_ip: per_ip,
            terminal_bytes_out: bytes_out,
            terminal_bytes_in: bytes_in,
            terminal_connections: connections,
            sessions_live: live,
            session_start: start,
            registry,
        }
    }
}

impl Metrics {
    /// Counts a grader check: `passed`, else `timed_out`, else failed; its
    /// time and the most linear memory it had.
    pub fn observe_grader(
        &self,
        passed: bool,
        timed_out: bool,
        took: std::time::Duration,
        memory_bytes: u64,
    ) {
        match (passed, timed_out) {
            (true, _) => self.grader_passed.inc(),
            (false, true) => self.grader_timed_out.inc(),
            (false, false) => self.grader_failed.inc(),
        };
        self.grader_check.observe(took.as_secs_f64());
        self.grader_memory.observe(memory_bytes as f64);
    }

    pub fn observe_start(&self, took: std::time::Duration) {
        self.session_start.observe(took.as_secs_f64());
    }

    /// Renders every metric; `live` is the number of live sessions now,
    /// `pool_ready` the ready sessions of each pooled lesson.
    pub fn render(&self, live: usize, pool_ready: &[(String, usize)]) -> String {
        self.sessions_live
            .set(i64::try_from(live).unwrap_or(i64::MAX));
        for (lesson, ready) in pool_ready {
            self.pool_ready
                .get_or_create(&vec![("lesson".to_owned(), lesson.clone())])
                .set(i64::try_from(*ready).unwrap_or(i64::MAX));
        }
        let mut out = String::new();
        prometheus_text::encode(&mut out, &self.registry).expect("writing to a String");
        out
    }
}

/// One counter per value of one label, in a fixed order. Unlike a `Family`,
/// it needs no map lookup (and no lock) to reach a series: the series are
/// the very counters [`Metrics`] hands out.
#[derive(Debug)]
struct Labelled<const N: usize> {
    label: &'static str,
    series: [(&'static str, Counter); N],
}

impl<const N: usize> Labelled<N> {
    fn new(label: &'static str, series: [(&'static str, &Counter); N]) -> Self {
        Labelled {
            label,
            series: series.map(|(value, counter)| (value, counter.clone())),
        }
    }
}

impl<const N: usize> EncodeMetric for Labelled<N> {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (value, counter) in &self.series {
            counter.encode(encoder.encode_family(&[(self.label, *value)])?)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        Counter::<u64>::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.observe_start(Duration::from_millis(300));
        m.observe_start(Duration::from_millis(1500));
        let text = m.render(2, &[]);
        assert!(text.contains("playground_sessions_live 2"));
        assert!(text.contains("playground_session_start_seconds_bucket{le=\"0.25\"} 0"));
        assert!(text.contains("playground_session_start_seconds_bucket{le=\"0.5\"} 1"));
        assert!(text.contains("playground_session_start_seconds_bucket{le=\"2\"} 2"));
        assert!(text.contains("playground_session_start_seconds_count 2"));
        assert!(text.contains("playground_session_start_seconds_sum 1.8"));
    }

    #[test]
    fn counters_keep_their_names_and_labels() {
        let m = Metrics::default();
        m.sessions_created.inc();
        m.sessions_reaped_expired.inc();
        m.sessions_rejected_ip.inc_by(2);
        m.terminal_bytes_out.inc_by(42);
        m.terminal_connections.inc();
        m.pool_handouts.inc();
        let text = m.render(0, &[("shell".into(), 2)]);
        for line in [
            "playground_sessions_live 0",
            "playground_sessions_created_total 1",
            "playground_sessions_reaped_total{reason=\"expired\"} 1",
            "playground_sessions_reaped_total{reason=\"idle\"} 0",
            "playground_sessions_deleted_total 0",
            "playground_sessions_rejected_total{reason=\"full\"} 0",
            "playground_sessions_rejected_total{reason=\"per_ip\"} 2",
            "playground_terminal_bytes_total{direction=\"out\"} 42",
            "playground_terminal_bytes_total{direction=\"in\"} 0",
            "playground_terminal_connections_total 1",
            "playground_pool_ready{lesson=\"shell\"} 2",
            "playground_pool_handouts_total 1",
            "playground_pool_misses_total 0",
            "playground_pool_drained_total 0",
            "playground_session_start_seconds_bucket{le=\"+Inf\"} 0",
            "# TYPE playground_sessions_reaped_total counter",
            "# TYPE playground_session_start_seconds histogram",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} in\n{text}");
        }
        assert!(!text.contains("# EOF"), "{text}");
    }
}
