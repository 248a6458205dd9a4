use std::time::Duration;

use super::*;

#[test]
fn expired_entries_are_dropped_on_read() {
    let now = Instant::now();
    let mut s: Shard<String, u32> = Shard::default();
    s.insert("a".into(), 1, now + Duration::from_secs(1), now);
    assert!(s.live("a", now).is_some());
    assert!(s.live("a", now + Duration::from_secs(1)).is_none());
    assert_eq!(s.len(), 0);
}

#[test]
fn sweep_bounds_a_shard_to_about_twice_its_live_entries() {
    let t0 = Instant::now();
    let mut s: Shard<String, u32> = Shard::default();
    // 10 000 keys, each dead by the time the next is written.
    for i in 0..10_000u32 {
        let now = t0 + Duration::from_millis(u64::from(i) * 2);
        s.insert(format!("k{i}"), i, now + Duration::from_millis(1), now);
    }
    assert!(
        s.len() <= 2 * SWEEP_MIN,
        "shard kept {} dead entries",
        s.len()
    );
}

#[test]
fn sweep_keeps_live_entries_and_drops_dead_ones() {
    let t0 = Instant::now();
    let mut s: Shard<String, u32> = Shard::default();
    for i in 0..1_000u32 {
        s.insert(format!("live{i}"), i, t0 + Duration::from_secs(60), t0);
    }
    for i in 0..10_000u32 {
        let now = t0 + Duration::from_millis(u64::from(i) * 2);
        s.insert(format!("dead{i}"), i, now + Duration::from_millis(1), now);
    }
    assert!(s.len() <= 2 * 1_001 + SWEEP_MIN, "shard holds {}", s.len());
    let later = t0 + Duration::from_secs(30);
    assert!((0..1_000).all(|i| s.live(&format!("live{i}"), later).is_some()));
}

#[test]
fn a_bounded_shard_never_holds_more_than_its_capacity() {
    let t0 = Instant::now();
    let mut s: Shard<String, u32> = Shard::bounded(Some(100));
    let later = t0 + Duration::from_secs(60);
    for i in 0..1_000u32 {
        s.insert(format!("k{i}"), i, later, t0);
        assert!(s.len() <= 100, "{} entries", s.len());
    }
    // Expired entries go first: live ones survive while there is room.
    let mut s: Shard<String, u32> = Shard::bounded(Some(10));
    for i in 0..5u32 {
        s.insert(format!("live{i}"), i, later, t0);
    }
    for i in 0..5u32 {
        s.insert(format!("dead{i}"), i, t0 + Duration::from_millis(1), t0);
    }
    let now = t0 + Duration::from_millis(2);
    s.insert("new".into(), 9, later, now);
    assert!((0..5).all(|i| s.live(&format!("live{i}"), now).is_some()));
    assert_eq!(s.len(), 6);
}

#[test]
fn lookups_borrow_the_key() {
    let map: TtlMap<String, u32> = TtlMap::default();
    let now = Instant::now();
    map.lock("a")
        .insert("a".to_string(), 1, now + Duration::from_secs(1), now);
    assert_eq!(map.lock("a").live("a", now).map(|e| e.value), Some(1));
    let mut n = 0;
    map.each_shard(|s| n += s.len());
    assert_eq!(n, 1);
}
