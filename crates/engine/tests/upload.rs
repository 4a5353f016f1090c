//! The one upload bridge ([`nas_engine::Upload`]) and the quota rule as a door meets it: a
//! body past the quota is refused part way, its rest is read and discarded up to the
//! swallow limit, nothing is stored, and concurrent uploads cannot overrun the quota.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

use bytes::Bytes;
use nas_engine::{EngineError, QuotaCounts, Store, StoreOptions, Upload, UserRecord, WriteOptions};
use nas_types::NasPath;

fn store_with(user: &str, quota: u64) -> (tempfile::TempDir, Store) {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(d.path(), StoreOptions::default()).unwrap();
    s.accounts()
        .create(&UserRecord {
            name: user.into(),
            password: "$argon2id$x".into(),
            role: "user".into(),
            quota: Some(quota),
            disabled: false,
            created_ns: 1,
            keep_versions: None,
            keep_days: None,
            sessions_epoch: 0,
        })
        .unwrap();
    (d, s)
}

fn p(s: &str) -> NasPath {
    NasPath::parse(s).unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_body_past_the_quota_is_refused_part_way_and_its_rest_discarded() {
    let (_d, s) = store_with("bob", 3 << 20);
    let home = s.home("bob").unwrap();
    rt().block_on(async {
        let mut up = Upload::new(
            home.writer(&p("/big.bin"), WriteOptions::default())
                .unwrap(),
        );
        let frame = Bytes::from(vec![7u8; 64 << 10]);
        // 8 MiB: refused after ~3 MiB, the rest read and discarded without an error
        for _ in 0..128 {
            up.push(frame.clone()).await.unwrap();
        }
        assert!(up.is_refused());
        assert_eq!(up.received(), 8 << 20);
        assert!(matches!(
            up.finish(None, None).await,
            Err(EngineError::QuotaExceeded { quota, .. }) if quota == 3 << 20
        ));
        // past the swallow limit, push itself fails
        let mut up = Upload::new(
            home.writer(&p("/big.bin"), WriteOptions::default())
                .unwrap(),
        );
        let mut failed = None;
        for i in 0..2000 {
            if let Err(e) = up.push(frame.clone()).await {
                failed = Some((i, e));
                break;
            }
        }
        let (i, e) = failed.expect("push fails past the swallow limit");
        assert!(matches!(e, EngineError::QuotaExceeded { .. }), "{e}");
        assert!(
            (64 << 10) * (i as u64) > nas_engine::upload::SWALLOW,
            "discarded {i} frames"
        );
    });
    assert!(home.stat(&p("/big.bin")).is_err(), "nothing stored");
    assert_eq!(home.usage().unwrap().used(), 0);
}

#[test]
fn small_uploads_racing_a_quota_store_only_what_fits() {
    let (_d, s) = store_with("amy", 1_000_000);
    let home = s.home("amy").unwrap();
    let results: Vec<_> = rt().block_on(async {
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let w = home
                    .writer(&p(&format!("/f{i}")), WriteOptions::default())
                    .unwrap();
                tokio::spawn(async move {
                    let mut up = Upload::new(w);
                    up.push(Bytes::from(vec![i as u8; 200_000])).await.unwrap();
                    up.finish(None, None).await
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 5, "{results:?}");
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, EngineError::QuotaExceeded { .. }))
    );
    assert_eq!(home.usage().unwrap().used(), 1_000_000);
    assert!(s.fsck(false, &mut |_, _| {}).unwrap().is_clean());
}

#[test]
fn counting_every_version_is_a_store_setting() {
    let (_d, s) = store_with("cy", 1000);
    assert_eq!(s.quota_counts().unwrap(), QuotaCounts::Current);
    let home = s.home("cy").unwrap();
    let f = p("/f");
    home.write_all(&f, &[1u8; 600], WriteOptions::default())
        .unwrap();
    home.write_all(&f, &[2u8; 600], WriteOptions::default())
        .unwrap();
    s.set_quota_counts(QuotaCounts::All).unwrap();
    assert!(matches!(
        home.write_all(&f, &[3u8; 600], WriteOptions::default()),
        Err(EngineError::QuotaExceeded { .. })
    ));
    assert_eq!(home.read_all(&f, None).unwrap(), vec![2u8; 600]);
}
