//! GCRA (generic cell rate algorithm), SPEC §8. The same arithmetic runs in
//! memory here and in Redis (`gcra.lua`), both on integer microseconds.

use std::time::Duration;

/// What the rate limiter decided, for `RateLimit-*` and `Retry-After` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitInfo {
    pub limit: u64,
    pub remaining: u64,
    /// Seconds until the budget is full again.
    pub reset: u64,
    /// Seconds until the next request would pass (0 when allowed).
    pub retry_after: u64,
}

/// A compiled rate limit: `limit` per `period`, plus `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcraRule {
    pub limit: u64,
    pub period: Duration,
    pub burst: u64,
}

/// What one request is allowed, with the numbers for the headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitDecision {
    pub allowed: bool,
    pub info: LimitInfo,
}

impl GcraRule {
    /// Emission interval in microseconds: the time one unit of budget takes to refill.
    pub fn interval_us(&self) -> i64 {
        (self.period.as_micros() as i64 / self.limit.max(1) as i64).max(1)
    }
    /// The whole budget, `limit + burst`, in microseconds.
    pub fn capacity_us(&self) -> i64 {
        self.interval_us() * (self.limit + self.burst) as i64
    }
}

/// One GCRA step. `tat` is the stored theoretical arrival time (µs), `now`
/// the clock (µs). Returns the decision and the TAT to store (None: refused,
/// leave the stored value as it is).
pub fn step(tat: Option<i64>, now: i64, rule: &GcraRule) -> (LimitDecision, Option<i64>) {
    let t = rule.interval_us();
    let cap = rule.capacity_us();
    let tat = tat.unwrap_or(now).max(now);
    let new_tat = tat + t;
    let total = rule.limit + rule.burst;
    if new_tat - now <= cap {
        let remaining = ((cap - (new_tat - now)) / t) as u64;
        let info = LimitInfo {
            limit: total,
            remaining,
            reset: ceil_us(new_tat - now),
            retry_after: 0,
        };
        (
            LimitDecision {
                allowed: true,
                info,
            },
            Some(new_tat),
        )
    } else {
        let info = LimitInfo {
            limit: total,
            remaining: 0,
            reset: ceil_us(tat - now),
            retry_after: ceil_us(new_tat - now - cap).max(1),
        };
        (
            LimitDecision {
                allowed: false,
                info,
            },
            None,
        )
    }
}

fn ceil_us(us: i64) -> u64 {
    (us.max(0) as u64).div_ceil(1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(limit: u64, secs: u64, burst: u64) -> GcraRule {
        GcraRule {
            limit,
            period: Duration::from_secs(secs),
            burst,
        }
    }

    #[test]
    fn full_budget_is_limit_plus_burst_then_refused() {
        let r = rule(3, 60, 2);
        let mut tat = None;
        for i in 0..5 {
            let (d, t) = step(tat, 0, &r);
            assert!(d.allowed, "request {i} should pass");
            assert_eq!(d.info.remaining, 4 - i);
            tat = t;
        }
        let (d, t) = step(tat, 0, &r);
        assert!(!d.allowed);
        assert_eq!(t, None);
        assert_eq!(d.info.retry_after, 20);
    }

    #[test]
    fn whole_budget_back_after_period_of_silence_without_burst() {
        let r = rule(2, 10, 0);
        let (_, tat) = step(None, 0, &r);
        let (_, tat) = step(tat, 0, &r);
        assert!(!step(tat, 0, &r).0.allowed);
        let later = 10_000_000;
        let (d, tat) = step(tat, later, &r);
        assert!(d.allowed);
        assert_eq!(d.info.remaining, 1);
        assert!(step(tat, later, &r).0.allowed);
    }
}
