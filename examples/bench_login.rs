//! Password-check throughput for `bench/run.sh`: how many logins per second
//! the argon2id cost that `gatehouse hash-password` uses allows, measured by
//! calling `gatehouse::auth::password::verify_password` on N threads for a
//! bounded time.
//!
//! Measured directly rather than over HTTP because `POST /auth/login` is rate
//! limited per client IP (10/min, burst 10) and per username (lockout), which
//! no configuration turns off, so a load generator would measure the limiter.
//! The end-to-end latency of a few real logins is measured by `bench/run.sh`.
//!
//! Usage: `bench_login [THREADS] [SECONDS]` (defaults: available cores, 5).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse::auth::password::{hash_password, verify_password};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let threads = args
        .get(1)
        .and_then(|t| t.parse().ok())
        .unwrap_or(cores)
        .max(1);
    let seconds = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5u64)
        .max(1);

    let password = "bench-login-password";
    let phc = match hash_password(password) {
        Ok(phc) => phc,
        Err(e) => {
            eprintln!("bench_login: {e}");
            std::process::exit(1);
        }
    };
    if !verify_password(&phc, password) || verify_password(&phc, "wrong") {
        eprintln!("bench_login: verify_password does not verify");
        std::process::exit(1);
    }
    let params = phc.split('$').nth(3).unwrap_or("?").to_string();

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (stop, done, phc) = (stop.clone(), done.clone(), phc.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    // Keep the result alive so the call is not optimised away.
                    std::hint::black_box(verify_password(&phc, password));
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    let per_sec = n as f64 / elapsed;
    let ms_each = if n > 0 {
        elapsed * 1000.0 * threads as f64 / n as f64
    } else {
        f64::NAN
    };
    println!(
        "argon2id {params}: {n} verifications on {threads} threads in {elapsed:.1}s = {per_sec:.1} logins/s ({ms_each:.1} ms each)"
    );
}
