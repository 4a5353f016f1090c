//! Two `RemotePackStore`s — two nodes — over one placement log and one bucket (`rclone
//! serve s3` on loopback), as cluster mode runs them (`RemoteConfig::shared`): a pack one
//! wrote after the other opened is read by the other (its placement looked up on the
//! miss); without `shared` it is not (the copy in memory is all a single node consults);
//! a pack the first deletes is reported missing to the second (the engine then looks the
//! chunk up again); listings come from the log, with each pack's age.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nas_blob::{
    BlobError, BlobStore, LocalPackStore, MemoryPlacements, PlacementLog, RemoteConfig,
    RemotePackStore,
};
use nas_testkit::rclone::{ACCESS_KEY, S3Server, SECRET_KEY};
use nas_types::ChunkId;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn config(s3: &S3Server, shared: bool) -> RemoteConfig {
    let mut c = RemoteConfig::from_url("s3://bkt/cluster").unwrap();
    c.endpoint = Some(s3.endpoint.clone());
    c.access_key_id = Some(ACCESS_KEY.into());
    c.secret_access_key = Some(SECRET_KEY.into());
    c.block_size = 64 << 10;
    c.cache_size = 1 << 20;
    c.request_timeout = Duration::from_secs(20);
    c.ack_remote = true;
    c.shared = shared;
    c
}

fn open(dir: &Path, cfg: &RemoteConfig, log: &Arc<MemoryPlacements>) -> RemotePackStore {
    let local = LocalPackStore::open(dir, 256 << 10).unwrap();
    RemotePackStore::open(local, cfg, log.clone()).unwrap()
}

#[test]
fn a_node_reads_packs_another_node_wrote_after_it_opened_and_lists_them_from_the_log() {
    let s3 = S3Server::start(&["bkt"]).unwrap();
    let log = Arc::new(MemoryPlacements::default());
    let (da, db, dc) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let a = open(da.path(), &config(&s3, true), &log);
    let b = open(db.path(), &config(&s3, true), &log);
    let alone = open(dc.path(), &config(&s3, false), &log); // not told the log is shared

    let data = nas_testkit::content(1, 40_000);
    let loc = a.append(&ChunkId::of(&data), &data).unwrap();
    a.sync().unwrap(); // ack = remote: sealed, uploaded, verified, recorded
    assert!(log.placement(loc.pack).unwrap().is_some_and(|p| p.remote));

    assert_eq!(
        b.read(&loc).unwrap(),
        data,
        "B looks the placement up on its miss"
    );
    assert!(b.is_remote_only(loc.pack));
    assert!(
        matches!(alone.read(&loc), Err(BlobError::Missing { .. })),
        "a store that does not share its log keeps to what it loaded"
    );

    // listings come from the log, each pack with its age by the log's clock
    let listed = b.packs().unwrap();
    let p = listed
        .iter()
        .find(|p| p.id == loc.pack)
        .expect("A's pack listed on B");
    assert!(p.age.is_some_and(|a| a < Duration::from_secs(60)), "{p:?}");
    assert!(!alone.packs().unwrap().iter().any(|p| p.id == loc.pack));
    assert!(
        b.tier_packs()
            .unwrap()
            .iter()
            .any(|t| t.id == loc.pack && !t.local)
    );

    // A's GC deletes a pack (its frames moved elsewhere) that B knows of but never read
    // (so none of it is in B's read cache): B, whose memory still says it is remote, finds
    // it missing — not damage: the engine looks the chunk up again — and then forgets it
    let more = nas_testkit::content(2, 30_000);
    let gone = a.append(&ChunkId::of(&more), &more).unwrap();
    a.sync().unwrap();
    assert_ne!(gone.pack, loc.pack, "every commit seals its pack");
    assert!(b.is_remote_only(gone.pack), "B learnt its placement");
    a.delete_pack(gone.pack).unwrap();
    assert!(log.placement(gone.pack).unwrap().is_none());
    for attempt in ["memory says remote", "looked up again"] {
        assert!(
            matches!(b.read(&gone), Err(BlobError::Missing { .. })),
            "{attempt}: missing"
        );
    }
    assert!(!b.is_remote_only(gone.pack));
    assert!(
        !b.packs().unwrap().iter().any(|p| p.id == gone.pack),
        "gone from B's listing"
    );
    assert_eq!(b.read(&loc).unwrap(), data, "the other pack still reads");
}
