//! Counters for `GET /metrics`, in the Prometheus text format. Plain atomics:
//! the hot path (terminal bytes) pays one relaxed add per chunk.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (seconds) of the session start latency histogram.
const START_BUCKETS: [f64; 9] = [0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0];

#[derive(Default)]
pub struct Metrics {
    pub sessions_created: AtomicU64,
    pub sessions_reaped_expired: AtomicU64,
    pub sessions_reaped_idle: AtomicU64,
    pub sessions_deleted: AtomicU64,
    pub sessions_rejected_full: AtomicU64,
    pub sessions_rejected_ip: AtomicU64,
    pub terminal_bytes_out: AtomicU64,
    pub terminal_bytes_in: AtomicU64,
    pub terminal_connections: AtomicU64,
    start_buckets: [AtomicU64; START_BUCKETS.len()],
    start_count: AtomicU64,
    start_sum_micros: AtomicU64,
}

impl Metrics {
    pub fn observe_start(&self, took: Duration) {
        let secs = took.as_secs_f64();
        for (bound, bucket) in START_BUCKETS.iter().zip(&self.start_buckets) {
            if secs <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.start_count.fetch_add(1, Ordering::Relaxed);
        self.start_sum_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    /// Renders every metric; `live` is the number of live sessions now.
    pub fn render(&self, live: usize) -> String {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, lines: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in lines {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        metric(
            "playground_sessions_live",
            "gauge",
            "Sessions alive now.",
            &[("", live as u64)],
        );
        metric(
            "playground_sessions_created_total",
            "counter",
            "Sessions created.",
            &[("", get(&self.sessions_created))],
        );
        metric(
            "playground_sessions_reaped_total",
            "counter",
            "Sessions removed by the server.",
            &[
                ("{reason=\"expired\"}", get(&self.sessions_reaped_expired)),
                ("{reason=\"idle\"}", get(&self.sessions_reaped_idle)),
            ],
        );
        metric(
            "playground_sessions_deleted_total",
            "counter",
            "Sessions ended by their learner.",
            &[("", get(&self.sessions_deleted))],
        );
        metric(
            "playground_sessions_rejected_total",
            "counter",
            "Session requests refused by a limit.",
            &[
                ("{reason=\"full\"}", get(&self.sessions_rejected_full)),
                ("{reason=\"per_ip\"}", get(&self.sessions_rejected_ip)),
            ],
        );
        metric(
            "playground_terminal_bytes_total",
            "counter",
            "Terminal bytes streamed.",
            &[
                ("{direction=\"out\"}", get(&self.terminal_bytes_out)),
                ("{direction=\"in\"}", get(&self.terminal_bytes_in)),
            ],
        );
        metric(
            "playground_terminal_connections_total",
            "counter",
            "Terminal WebSockets opened.",
            &[("", get(&self.terminal_connections))],
        );
        let name = "playground_session_start_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time from a session request to its nodes running.\n# TYPE {name} histogram"
        );
        for (bound, bucket) in START_BUCKETS.iter().zip(&self.start_buckets) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {}", get(bucket));
        }
        let count = get(&self.start_count);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            get(&self.start_sum_micros) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.observe_start(Duration::from_millis(300));
        m.observe_start(Duration::from_millis(1500));
        let text = m.render(2);
        assert!(text.contains("playground_sessions_live 2"));
        assert!(text.contains("playground_session_start_seconds_bucket{le=\"0.25\"} 0"));
        assert!(text.contains("playground_session_start_seconds_bucket{le=\"0.5\"} 1"));
        assert!(text.contains("playground_session_start_seconds_bucket{le=\"2\"} 2"));
        assert!(text.contains("playground_session_start_seconds_count 2"));
        assert!(text.contains("playground_session_start_seconds_sum 1.8"));
    }
}
