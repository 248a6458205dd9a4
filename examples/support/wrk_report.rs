//! The summary lines of a wrk run, printed by the benchmark's own load
//! generators (`bench_h2`, `bench_ws`) so bench/run.sh reads them alike.

use std::time::Duration;

/// Latency percentiles (from microseconds), totals, `Non-2xx`, req/s.
pub fn print(latencies_us: &mut [u64], run: Duration, non_2xx: u64) {
    latencies_us.sort_unstable();
    let n = latencies_us.len();
    let pct = |p: f64| {
        let i = ((n as f64 * p) as usize).min(n.saturating_sub(1));
        latencies_us.get(i).map_or(0.0, |&us| us as f64 / 1000.0)
    };
    println!("  Latency Distribution");
    println!("     50%    {:.2}ms", pct(0.50));
    println!("     99%    {:.2}ms", pct(0.99));
    println!("  {n} requests in {:.2}s", run.as_secs_f64());
    if non_2xx > 0 {
        println!("  Non-2xx or 3xx responses: {non_2xx}");
    }
    println!("Requests/sec: {:.2}", n as f64 / run.as_secs_f64());
}
