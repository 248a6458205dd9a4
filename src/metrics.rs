//! Prometheus metrics (SPEC §9), served at `/metrics` on the admin listener
//! only. Label values come from small fixed sets (route patterns, status
//! codes, method and result names), never from request input.

use std::sync::LazyLock;

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// All of gatehouse's series, in their own registry.
pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub auth: IntCounterVec,
    pub ratelimited: IntCounterVec,
    pub logins: IntCounterVec,
    pub store_errors: IntCounter,
    pub store_latency: Histogram,
    /// 1 while an upstream address passes its health checks, else 0.
    pub upstream_healthy: IntGaugeVec,
    /// Requests sent to each upstream address.
    pub upstream_requests: IntCounterVec,
}

/// The process-wide metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Metrics {
        let registry = Registry::new();
        let counter_vec = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels)
                .expect("static metric definition");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric name");
            c
        };
        let requests = counter_vec(
            "gatehouse_requests_total",
            "Requests by route and status.",
            &["route", "status"],
        );
        let auth = counter_vec(
            "gatehouse_auth_total",
            "Credential checks by method and result.",
            &["method", "result"],
        );
        let ratelimited = counter_vec(
            "gatehouse_ratelimited_total",
            "Requests refused by a rate limit.",
            &["limit"],
        );
        let logins = counter_vec(
            "gatehouse_logins_total",
            "Login attempts by outcome.",
            &["outcome"],
        );
        let store_errors = IntCounter::new("gatehouse_store_errors_total", "Failed store calls.")
            .expect("static metric");
        registry
            .register(Box::new(store_errors.clone()))
            .expect("unique metric name");
        let store_latency = Histogram::with_opts(
            HistogramOpts::new("gatehouse_store_latency_seconds", "Store call latency.").buckets(
                vec![
                    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5,
                    1.0, 2.5,
                ],
            ),
        )
        .expect("static metric");
        registry
            .register(Box::new(store_latency.clone()))
            .expect("unique metric name");
        let upstream_requests = counter_vec(
            "gatehouse_upstream_requests_total",
            "Requests sent to each upstream address.",
            &["upstream", "addr"],
        );
        let upstream_healthy = IntGaugeVec::new(
            Opts::new(
                "gatehouse_upstream_healthy",
                "1 while an upstream address passes its health checks.",
            ),
            &["upstream", "addr"],
        )
        .expect("static metric definition");
        registry
            .register(Box::new(upstream_healthy.clone()))
            .expect("unique metric name");
        Metrics {
            upstream_healthy,
            upstream_requests,
            registry,
            requests,
            auth,
            ratelimited,
            logins,
            store_errors,
            store_latency,
        }
    }

    /// The Prometheus text exposition of every series.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_contains_series_after_use() {
        METRICS
            .requests
            .with_label_values(&["/api/**", "200"])
            .inc();
        METRICS.store_latency.observe(0.001);
        let text = METRICS.render();
        assert!(text.contains("gatehouse_requests_total{route=\"/api/**\",status=\"200\"}"));
        assert!(text.contains("gatehouse_store_latency_seconds_bucket"));
    }
}
