//! The limiter's rules, one node alone.
#![allow(clippy::unwrap_used)]
use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn a_pair_is_slowed_then_refused_and_others_are_not_touched() {
    let l = RateLimiter::default();
    let (a, b) = (ip("10.0.0.1"), ip("10.0.0.2"));
    for _ in 0..3 {
        assert_eq!(l.check("victim", a), Throttle::Allow);
        l.fail("victim", a);
    }
    let mut last = Duration::ZERO;
    for _ in 3..10 {
        let Throttle::Delay(d) = l.check("victim", a) else {
            panic!("a delay")
        };
        assert!(d >= last && d <= Duration::from_secs(2), "{d:?}");
        last = d;
        l.fail("victim", a);
    }
    assert_eq!(last, Duration::from_secs(2), "capped");
    assert!(matches!(l.check("victim", a), Throttle::Refuse(_)));
    // the victim's own address, and another name from the attacker's, are untouched
    assert_eq!(l.check("victim", b), Throttle::Allow);
    assert_eq!(l.check("other", a), Throttle::Allow);
    l.succeed("other", a);
    assert!(matches!(l.check("victim", a), Throttle::Refuse(_)));
}

#[test]
fn an_address_spraying_names_is_refused_for_every_name() {
    let l = RateLimiter::default();
    let a = ip("2001:db8::1");
    for i in 0..30 {
        assert_eq!(l.check(&format!("u{i}"), a), Throttle::Allow);
        l.fail(&format!("u{i}"), a);
    }
    // the same /64 is the same client; another /64 is not
    assert!(matches!(
        l.check("anyone", ip("2001:db8::ffff")),
        Throttle::Refuse(_)
    ));
    assert!(matches!(l.check_addr(a), Throttle::Refuse(_)));
    assert_eq!(l.check("anyone", ip("2001:db8:0:1::1")), Throttle::Allow);
}

#[test]
fn counts_expire_and_a_success_clears_its_pair() {
    let l = RateLimiter::new(Limits {
        window: Duration::from_millis(50),
        ..Limits::default()
    });
    let a = ip("::ffff:10.0.0.9");
    for _ in 0..10 {
        l.fail("x", a);
    }
    assert!(matches!(l.check("x", ip("10.0.0.9")), Throttle::Refuse(_)));
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(l.check("x", a), Throttle::Allow);
    for _ in 0..5 {
        l.fail("y", a);
    }
    l.succeed("y", a);
    assert_eq!(l.check("y", a), Throttle::Allow);
}

#[test]
fn parallel_attempts_count_before_they_are_checked() {
    let l = std::sync::Arc::new(RateLimiter::default());
    let a = ip("10.0.0.5");
    let refused: usize = (0..8)
        .map(|_| {
            let l = l.clone();
            std::thread::spawn(move || {
                (0..10)
                    .filter(|_| matches!(l.attempt("victim", a), Throttle::Refuse(_)))
                    .count()
            })
        })
        .map(|t| t.join().unwrap())
        .sum();
    assert_eq!(
        refused,
        80 - 10,
        "only the first ten attempts of the burst pass"
    );
    // a success gives back only its own attempt
    let b = ip("10.0.0.6");
    for _ in 0..5 {
        l.attempt("x", b);
    }
    l.attempt("y", b);
    l.succeed("y", b);
    assert_eq!(
        count(&lock(&l.by_addr), &addr_key(b), Duration::from_secs(60))
            .unwrap()
            .0,
        5
    );
}

#[test]
fn the_tables_are_bounded() {
    let l = RateLimiter::new(Limits {
        max_entries: 1000,
        ..Limits::default()
    });
    for i in 0..5000u32 {
        let a = IpAddr::from(i.to_be_bytes());
        l.fail(&"n".repeat(1000), a);
    }
    let (p, a) = l.entries();
    assert!(p <= 1000 && a <= 1000, "{p} {a}");
    // the newest failures are the ones kept
    assert!(matches!(
        l.check_addr(IpAddr::from(4999u32.to_be_bytes())),
        Throttle::Allow
    ));
    assert!(
        l.by_addr
            .lock()
            .unwrap()
            .contains_key(&addr_key(IpAddr::from(4999u32.to_be_bytes())))
    );
}
