//! Checks of [`PlacementLog`] (pack placement, written by the object-storage tier): rows
//! set, replaced, listed, looked up one at a time and removed; reads moving
//! `last_read_ns` forward only; and each row's age, by the log's own clock, growing from
//! its last write (GC's grace for packs with no index rows is measured with it).

use nas_blob::{Placement, PlacementLog};
use nas_types::PackId;
use std::time::Duration;

/// `p` without its age (what was written, to compare with what is read).
fn unaged(mut p: Placement) -> Placement {
    p.age = None;
    p
}

fn sorted(log: &dyn PlacementLog) -> Vec<Placement> {
    let mut all: Vec<Placement> = log.all_placements().unwrap();
    all.sort_by_key(|x| x.pack);
    all
}

/// One pack's row, as `placement` and as `all_placements` give it, and the rest of the
/// contract (see the module docs).
pub fn placements_are_looked_up_one_at_a_time_with_their_age(log: &dyn PlacementLog) {
    let mut p = Placement {
        pack: PackId(u64::MAX - 3), // above i64::MAX: stored as its bit pattern
        local: true,
        remote: false,
        size: 1234,
        md5: None,
        last_read_ns: 50,
        age: None,
    };
    assert_eq!(log.placement(p.pack).unwrap(), None, "no row yet");
    log.set_placement(&p).unwrap();
    let got = log.placement(p.pack).unwrap().expect("the row just set");
    assert_eq!(unaged(got.clone()), p);
    let age = got.age.expect("a row read from the log has an age");
    assert!(age < Duration::from_secs(60), "just written: {age:?}");
    assert_eq!(log.all_placements().unwrap().len(), 1);
    assert!(log.all_placements().unwrap()[0].age.is_some());

    // the age grows from the last write and starts again at the next
    std::thread::sleep(Duration::from_millis(300));
    let older = log.placement(p.pack).unwrap().unwrap().age.unwrap();
    assert!(
        older >= age + Duration::from_millis(250),
        "age grows: {age:?} then {older:?}"
    );
    p.remote = true;
    p.md5 = Some("00112233445566778899aabbccddeeff".into());
    log.set_placement(&p).unwrap();
    let replaced = log.placement(p.pack).unwrap().unwrap();
    assert_eq!(unaged(replaced.clone()), p, "replaced");
    assert!(
        replaced.age.unwrap() < older,
        "a write stamps the row again: {:?} after {older:?}",
        replaced.age
    );

    let q = Placement {
        pack: PackId(7),
        local: false,
        remote: true,
        size: 9,
        md5: None,
        last_read_ns: 7,
        age: None,
    };
    log.set_placement(&q).unwrap();
    let all: Vec<Placement> = sorted(log).into_iter().map(unaged).collect();
    assert_eq!(all, vec![q.clone(), p.clone()]);
    assert_eq!(log.placement(PackId(8)).unwrap(), None, "another pack");

    // reads move last_read_ns forward only; a later set never moves it back
    log.record_reads(&[(p.pack, 40), (q.pack, 70), (PackId(99), 1)])
        .unwrap();
    let mut q2 = q.clone();
    q2.last_read_ns = 0;
    log.set_placement(&q2).unwrap();
    assert_eq!(log.placement(q.pack).unwrap().unwrap().last_read_ns, 70);
    assert_eq!(log.placement(p.pack).unwrap().unwrap().last_read_ns, 50);
    assert_eq!(log.placement(PackId(99)).unwrap(), None, "reads add no row");

    log.remove_placement(p.pack).unwrap();
    log.remove_placement(p.pack).unwrap();
    assert_eq!(log.placement(p.pack).unwrap(), None, "removed");
    assert_eq!(sorted(log).len(), 1);
}
