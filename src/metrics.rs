//! Prometheus metrics (SPEC §9), served at `/metrics` on the admin listener
//! only. Label values come from small fixed sets (route patterns, status
//! codes, method and result names), never from request input.

use std::sync::{LazyLock, OnceLock};

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
    /// `auth` for the results every request has (`ok`, `anonymous`), by
    /// method, resolved once.
    auth_common: CounterGrid,
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
        let auth_common = CounterGrid::new(
            &auth,
            AUTH_METHODS.iter().map(|m| m.to_string()).collect(),
            &AUTH_COMMON_RESULTS,
        );
        Metrics {
            auth_common,
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

    /// Count a credential check: `method` is `none` or an `AuthMethod`
    /// name, `result` `ok`, `anonymous` or the refusal's reason. (Named in
    /// text, not linked: this module stays free of `auth`, which depends
    /// on it through the store.) A method missing from `AUTH_METHODS` is
    /// still counted, through the label lookup.
    pub fn count_auth(&self, method: &str, result: &str) {
        let row = AUTH_METHODS.iter().position(|m| *m == method);
        let col = AUTH_COMMON_RESULTS.iter().position(|r| *r == result);
        match (row, col) {
            (Some(row), Some(col)) => self.auth_common.inc(row, col),
            _ => self.auth.with_label_values(&[method, result]).inc(),
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

const AUTH_METHODS: [&str; 4] = ["none", "cookie", "bearer", "apikey"];
const AUTH_COMMON_RESULTS: [&str; 2] = ["ok", "anonymous"];

/// The `status` label of `gatehouse_requests_total`: the statuses gatehouse
/// and common upstreams answer by number, any other by class, and `none`
/// when no answer was written.
pub const STATUS_LABELS: [&str; 23] = [
    "200", "201", "204", "301", "302", "303", "304", "400", "401", "403", "404", "405", "413",
    "429", "500", "502", "503", "504", "none", "2xx", "3xx", "4xx", "5xx",
];

/// The index of `status`'s label in [`STATUS_LABELS`].
pub fn status_label_index(status: u16) -> usize {
    const NUMBERED: [u16; 18] = [
        200, 201, 204, 301, 302, 303, 304, 400, 401, 403, 404, 405, 413, 429, 500, 502, 503, 504,
    ];
    if let Some(i) = NUMBERED.iter().position(|s| *s == status) {
        return i;
    }
    NUMBERED.len()
        + match status {
            0 => 0,
            s if s < 300 => 1,
            s if s < 400 => 2,
            s if s < 500 => 3,
            _ => 4,
        }
}

/// Where a finished request is counted in `gatehouse_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteLabel {
    /// The gateway's own endpoints (`gateway`).
    Gateway,
    /// The policy route at this index (its pattern).
    Route(usize),
    /// No route matched (`none`).
    Unrouted,
}

/// `gatehouse_requests_total`'s counters for one loaded policy: its route
/// patterns, then `gateway` and `none`, by status label.
pub struct RequestCounts {
    grid: CounterGrid,
    routes: usize,
}

impl RequestCounts {
    pub fn new(patterns: impl Iterator<Item = String>) -> Self {
        let mut rows: Vec<String> = patterns.collect();
        let routes = rows.len();
        rows.extend(["gateway".to_string(), "none".to_string()]);
        RequestCounts {
            grid: CounterGrid::new(&METRICS.requests, rows, &STATUS_LABELS),
            routes,
        }
    }

    pub fn count(&self, route: RouteLabel, status: u16) {
        let row = match route {
            RouteLabel::Route(i) if i < self.routes => i,
            RouteLabel::Gateway => self.routes,
            RouteLabel::Route(_) | RouteLabel::Unrouted => self.routes + 1,
        };
        self.grid.inc(row, status_label_index(status));
    }

    /// Count a request that ended before a policy was loaded for it.
    pub fn count_without_policy(route: RouteLabel, status: u16) {
        let route = if route == RouteLabel::Gateway {
            "gateway"
        } else {
            "none"
        };
        METRICS
            .requests
            .with_label_values(&[route, STATUS_LABELS[status_label_index(status)]])
            .inc();
    }
}

/// The counters of one two-label vector for fixed rows and columns, each
/// resolved on first use and then kept: `with_label_values` hashes both
/// labels and takes the vector's lock on every call, and the hot path
/// counts every request. A cell is created lazily, so `/metrics` shows only
/// the series that were counted, as before.
pub struct CounterGrid {
    vec: IntCounterVec,
    rows: Vec<String>,
    cols: &'static [&'static str],
    cells: Box<[OnceLock<IntCounter>]>,
}

impl CounterGrid {
    pub fn new(vec: &IntCounterVec, rows: Vec<String>, cols: &'static [&'static str]) -> Self {
        let cells = (0..rows.len() * cols.len())
            .map(|_| OnceLock::new())
            .collect();
        CounterGrid {
            vec: vec.clone(),
            rows,
            cols,
            cells,
        }
    }

    /// Add one to the series (`rows[row]`, `cols[col]`); an index out of
    /// range is a caller's bug and counts nothing.
    pub fn inc(&self, row: usize, col: usize) {
        let (Some(row_label), Some(col_label)) = (self.rows.get(row), self.cols.get(col)) else {
            return;
        };
        self.cells[row * self.cols.len() + col]
            .get_or_init(|| self.vec.with_label_values(&[row_label.as_str(), col_label]))
            .inc();
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

    #[test]
    fn every_status_maps_to_its_label() {
        for (status, label) in [
            (200, "200"),
            (504, "504"),
            (0, "none"),
            (206, "2xx"),
            (307, "3xx"),
            (418, "4xx"),
            (599, "5xx"),
            (999, "5xx"),
            (101, "2xx"),
        ] {
            assert_eq!(STATUS_LABELS[status_label_index(status)], label, "{status}");
        }
        // Every numbered label is the number it stands for.
        for (i, label) in STATUS_LABELS.iter().enumerate() {
            if let Ok(status) = label.parse::<u16>() {
                assert_eq!(status_label_index(status), i, "{label}");
            }
        }
    }

    #[test]
    fn a_grid_counts_into_the_vector_it_was_made_from() {
        let vec = IntCounterVec::new(Opts::new("grid_test", "test"), &["a", "b"]).unwrap();
        let grid = CounterGrid::new(&vec, vec!["r0".into(), "r1".into()], &["x", "y"]);
        grid.inc(1, 0);
        grid.inc(1, 0);
        grid.inc(0, 1);
        grid.inc(2, 0); // out of range: nothing
        assert_eq!(vec.with_label_values(&["r1", "x"]).get(), 2);
        assert_eq!(vec.with_label_values(&["r0", "y"]).get(), 1);
        assert_eq!(vec.with_label_values(&["r0", "x"]).get(), 0);
    }

    #[test]
    fn request_counts_use_the_route_pattern_and_status_label() {
        let counts = RequestCounts::new(["/grid-test/**".to_string()].into_iter());
        let get =
            |route: &str, status: &str| METRICS.requests.with_label_values(&[route, status]).get();
        let before = get("/grid-test/**", "403");
        counts.count(RouteLabel::Route(0), 403);
        assert_eq!(get("/grid-test/**", "403"), before + 1);
        let before = get("gateway", "2xx");
        counts.count(RouteLabel::Gateway, 206);
        assert_eq!(get("gateway", "2xx"), before + 1);
        let before = get("none", "none");
        counts.count(RouteLabel::Route(7), 0);
        RequestCounts::count_without_policy(RouteLabel::Unrouted, 0);
        assert_eq!(get("none", "none"), before + 2);
    }

    #[test]
    fn common_auth_results_and_refusals_are_both_counted() {
        let before_ok = METRICS.auth.with_label_values(&["bearer", "ok"]).get();
        let before_bad = METRICS
            .auth
            .with_label_values(&["bearer", "bad_token"])
            .get();
        METRICS.count_auth("bearer", "ok");
        METRICS.count_auth("bearer", "bad_token");
        assert_eq!(
            METRICS.auth.with_label_values(&["bearer", "ok"]).get(),
            before_ok + 1
        );
        assert_eq!(
            METRICS
                .auth
                .with_label_values(&["bearer", "bad_token"])
                .get(),
            before_bad + 1
        );
    }
}
