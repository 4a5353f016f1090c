//! The object-storage tier (`RemotePackStore`) against a real S3-compatible server
//! (`rclone serve s3` on loopback, started by the test): the conformance suite, the round
//! trip through the object store after the local copies are gone, GC's deletion, an
//! upload that could not finish resuming at the next open, eviction checking the object
//! first, and a lost local pack put back from its object.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nas_blob::{
    BlobError, BlobStore, LocalPackStore, MemoryPlacements, PlacementLog, RemoteConfig,
    RemotePackStore, conformance,
};
use nas_testkit::rclone::{ACCESS_KEY, S3Server, SECRET_KEY};
use nas_types::ChunkId;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn config(s3: &S3Server, prefix: &str) -> RemoteConfig {
    let mut c = RemoteConfig::from_url(&format!("s3://bkt/{prefix}")).unwrap();
    c.endpoint = Some(s3.endpoint.clone());
    c.access_key_id = Some(ACCESS_KEY.into());
    c.secret_access_key = Some(SECRET_KEY.into());
    c.block_size = 64 << 10;
    c.cache_size = 1 << 20;
    c.read_ahead = 2;
    c.request_timeout = Duration::from_secs(20);
    c
}

fn open(dir: &Path, cfg: &RemoteConfig, log: Arc<dyn PlacementLog>) -> RemotePackStore {
    let local = LocalPackStore::open(dir, 256 << 10).unwrap();
    RemotePackStore::open(local, cfg, log).unwrap()
}

fn frame(i: u32) -> Vec<u8> {
    nas_testkit::content(u64::from(i), 3000 + (i as usize * 131) % 5000)
}

#[test]
fn remote_packs_conform() {
    let s3 = S3Server::start(&["bkt"]).unwrap();
    let cfg = config(&s3, "conformance");
    conformance::run_all(&|dir, faults| -> Box<dyn BlobStore> {
        let local = LocalPackStore::open_with_faults(dir, 1 << 16, faults).unwrap();
        Box::new(RemotePackStore::open(local, &cfg, Arc::new(MemoryPlacements::default())).unwrap())
    });
}

#[test]
fn sealed_packs_are_uploaded_verified_and_read_back_from_the_object_store() {
    let s3 = S3Server::start(&["bkt"]).unwrap();
    let cfg = config(&s3, "trip");
    let dir = tempfile::tempdir().unwrap();
    let log: Arc<dyn PlacementLog> = Arc::new(MemoryPlacements::default());
    let s = open(dir.path(), &cfg, log.clone());
    let frames: Vec<_> = (0..300).map(frame).collect();
    let locs: Vec<_> = frames
        .iter()
        .map(|f| s.append(&ChunkId::of(f), f).unwrap())
        .collect();
    s.sync().unwrap();
    s.seal().unwrap();
    assert!(s.wait_uploaded(Duration::from_secs(60)), "uploads finish");
    let packs = s.packs().unwrap();
    assert!(packs.len() >= 4, "several packs: {}", packs.len());
    let st = s.remote_status().unwrap();
    assert_eq!(st.packs_uploaded, packs.len() as u64);
    assert_eq!(st.upload_queue, 0);
    assert_eq!(st.placement.both, packs.len() as u64);
    // every pack is one object of the same size under the prefix
    let objects = s3.objects("bkt");
    for p in &packs {
        let key = format!("trip/packs/{}.pack", p.id);
        let found = objects.iter().find(|(k, _)| *k == key);
        assert_eq!(found.map(|o| o.1), Some(p.size), "{key}");
        assert!(
            log.all_placements()
                .unwrap()
                .iter()
                .any(|pl| pl.pack == p.id && pl.remote && pl.md5.is_some())
        );
    }
    let records_before: Vec<_> = packs.iter().map(|p| s.records(p.id).unwrap()).collect();
    for p in &packs {
        assert!(
            s.evict_local(p.id).unwrap(),
            "verified packs can be evicted"
        );
    }
    assert!(
        LocalPackStore::open(dir.path(), 1 << 20)
            .unwrap()
            .packs()
            .unwrap()
            .is_empty(),
        "no local pack left"
    );
    for (f, loc) in frames.iter().zip(&locs) {
        assert_eq!(&s.read(loc).unwrap(), f, "read back from the object store");
    }
    for (p, before) in packs.iter().zip(&records_before) {
        assert_eq!(
            &s.records(p.id).unwrap(),
            before,
            "records of a remote pack"
        );
    }
    let listed = |v: Vec<nas_blob::PackInfo>| -> Vec<_> {
        v.into_iter().map(|p| (p.id, p.size, p.active)).collect()
    };
    assert_eq!(
        listed(s.packs().unwrap()),
        listed(packs.clone()),
        "remote-only packs are still listed"
    );
    let st = s.remote_status().unwrap();
    assert_eq!(st.remote_reads, frames.len() as u64);
    assert_eq!(st.placement.remote_only, packs.len() as u64);
    assert!(st.cache_hits > 0 && st.cache_misses > 0, "{st:?}");

    // a reopened store (the placements persisted) still reads them
    drop(s);
    let s = open(dir.path(), &cfg, log.clone());
    assert_eq!(s.read(&locs[7]).unwrap(), frames[7]);
    // GC's delete removes the object and the placement
    let gone = locs[0].pack;
    s.delete_pack(gone).unwrap();
    let key = format!("trip/packs/{gone}.pack");
    assert!(
        s3.objects("bkt").iter().all(|(k, _)| *k != key),
        "object deleted"
    );
    assert!(matches!(s.read(&locs[0]), Err(BlobError::Missing { .. })));
    assert!(log.all_placements().unwrap().iter().all(|p| p.pack != gone));
}

#[test]
fn a_pack_never_leaves_the_disk_without_a_verified_remote_copy_and_uploads_resume() {
    let mut s3 = S3Server::start(&["bkt"]).unwrap();
    let cfg = config(&s3, "resume");
    s3.stop(); // the object store is down
    let dir = tempfile::tempdir().unwrap();
    let log: Arc<dyn PlacementLog> = Arc::new(MemoryPlacements::default());
    let frames: Vec<_> = (0..100).map(frame).collect();
    let locs: Vec<_> = {
        let s = open(dir.path(), &cfg, log.clone());
        let locs: Vec<_> = frames
            .iter()
            .map(|f| s.append(&ChunkId::of(f), f).unwrap())
            .collect();
        s.seal().unwrap(); // committed locally while the object store is down
        std::thread::sleep(Duration::from_millis(500));
        let st = s.remote_status().unwrap();
        assert_eq!(st.packs_uploaded, 0);
        assert!(st.upload_queue > 0, "{st:?}");
        for p in s.packs().unwrap() {
            assert!(
                !s.evict_local(p.id).unwrap(),
                "no eviction before a verified upload"
            );
        }
        for (f, l) in frames.iter().zip(&locs) {
            assert_eq!(&s.read(l).unwrap(), f);
        }
        locs
    }; // dropped with uploads pending, as a crash would leave them
    assert!(log.all_placements().unwrap().iter().all(|p| !p.remote));
    s3.restart().unwrap();
    let s = open(dir.path(), &cfg, log.clone());
    assert!(s.wait_uploaded(Duration::from_secs(60)), "uploads resume");
    let packs = s.packs().unwrap();
    assert_eq!(
        s.remote_status().unwrap().packs_uploaded,
        packs.len() as u64
    );
    for p in &packs {
        assert!(s.evict_local(p.id).unwrap());
    }
    for (f, l) in frames.iter().zip(&locs) {
        assert_eq!(&s.read(l).unwrap(), f);
    }
}

#[test]
fn a_lost_or_truncated_local_pack_is_read_from_its_verified_remote_copy() {
    let s3 = S3Server::start(&["bkt"]).unwrap();
    let cfg = config(&s3, "fallback");
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), &cfg, Arc::new(MemoryPlacements::default()));
    let frames: Vec<_> = (0..200).map(frame).collect();
    let locs: Vec<_> = frames
        .iter()
        .map(|f| s.append(&ChunkId::of(f), f).unwrap())
        .collect();
    s.seal().unwrap();
    assert!(s.wait_uploaded(Duration::from_secs(60)));
    let packs: Vec<_> = s.packs().unwrap().into_iter().map(|p| p.id).collect();
    assert!(packs.len() >= 3);
    let path = |p: nas_types::PackId| {
        let n = p.to_string();
        dir.path()
            .join("packs")
            .join(&n[..2])
            .join(format!("{n}.pack"))
    };
    std::fs::remove_file(path(packs[0])).unwrap(); // lost
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path(packs[1]))
        .unwrap();
    f.set_len(100).unwrap(); // truncated
    for (f, l) in frames.iter().zip(&locs) {
        assert_eq!(&s.read(l).unwrap(), f);
    }
    let remote = locs
        .iter()
        .filter(|l| l.pack == packs[0] || l.pack == packs[1])
        .count() as u64;
    assert_eq!(s.remote_status().unwrap().remote_reads, remote);
}

/// An object gone from the bucket after its verified upload (deleted by hand, a bucket
/// policy): eviction sees it with its HEAD, keeps the local copy, records the pack as not
/// remote and uploads it again; then it may go. `repair_packs` puts back a lost local
/// copy from the object, and `tier_packs` lists where each pack lives.
#[test]
fn eviction_checks_the_object_is_still_there_and_a_lost_local_pack_is_put_back() {
    let s3 = S3Server::start(&["bkt"]).unwrap();
    let cfg = config(&s3, "check");
    let dir = tempfile::tempdir().unwrap();
    let log: Arc<dyn PlacementLog> = Arc::new(MemoryPlacements::default());
    let s = open(dir.path(), &cfg, log.clone());
    let frames: Vec<_> = (0..120).map(frame).collect();
    let locs: Vec<_> = frames
        .iter()
        .map(|f| s.append(&ChunkId::of(f), f).unwrap())
        .collect();
    s.seal().unwrap();
    assert!(s.wait_uploaded(Duration::from_secs(60)));
    let packs: Vec<_> = s.tier_packs().unwrap();
    assert!(packs.len() >= 2 && packs.iter().all(|p| p.local && p.remote && !p.active));
    let (a, b) = (packs[0].id, packs[1].id);
    let object = |p: nas_types::PackId| s3.root.join("bkt").join(format!("check/packs/{p}.pack"));
    // deleted through the server (rclone keeps what it knows of a file removed under it)
    let url = format!("{}/bkt/check/packs/{a}.pack", s3.endpoint);
    let del = std::process::Command::new("curl")
        .args([
            "-sf",
            "-X",
            "DELETE",
            "--aws-sigv4",
            "aws:amz:us-east-1:s3",
            "--user",
        ])
        .arg(format!("{ACCESS_KEY}:{SECRET_KEY}"))
        .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", &url])
        .status()
        .unwrap();
    assert!(del.success() && !object(a).exists());
    assert!(!s.evict_local(a).unwrap(), "kept: its object is gone");
    assert!(s.wait_uploaded(Duration::from_secs(60)), "uploaded again");
    assert!(object(a).exists());
    assert!(s.evict_local(a).unwrap());
    let listed = s.tier_packs().unwrap();
    assert!(listed.iter().any(|p| p.id == a && !p.local && p.remote));

    // b's local file is lost: put back whole from its object, byte for byte
    let name = b.to_string();
    let local_b = dir
        .path()
        .join("packs")
        .join(&name[..2])
        .join(format!("{name}.pack"));
    let before = std::fs::read(&local_b).unwrap();
    std::fs::remove_file(&local_b).unwrap();
    let fixed = s.repair_packs().unwrap();
    assert_eq!(fixed.len(), 1, "{fixed:?}");
    assert_eq!((fixed[0].pack, fixed[0].result.clone()), (b, Ok(())));
    assert!(std::fs::read(&local_b).unwrap() == before);
    assert!(
        s.repair_packs().unwrap().is_empty(),
        "nothing left to repair"
    );
    for (f, l) in frames.iter().zip(&locs) {
        assert_eq!(&s.read(l).unwrap(), f);
    }
}

#[test]
fn a_pack_above_the_multipart_threshold_is_uploaded_in_parts_and_reads_back() {
    let s3 = S3Server::start(&["bkt"]).unwrap();
    let mut cfg = config(&s3, "parts");
    cfg.multipart_threshold = 8 << 20;
    cfg.part_size = 5 << 20;
    let dir = tempfile::tempdir().unwrap();
    let log: Arc<dyn PlacementLog> = Arc::new(MemoryPlacements::default());
    let local = LocalPackStore::open(dir.path(), 12 << 20).unwrap();
    let s = RemotePackStore::open(local, &cfg, log.clone()).unwrap();
    // ~12.6 MB of frames: one pack of three parts (5 + 5 + the rest)
    let frames: Vec<_> = (0..200u32)
        .map(|i| nas_testkit::content(u64::from(i) + 9000, 63_000))
        .collect();
    let locs: Vec<_> = frames
        .iter()
        .map(|f| s.append(&ChunkId::of(f), f).unwrap())
        .collect();
    s.sync().unwrap();
    s.seal().unwrap();
    assert!(s.wait_uploaded(Duration::from_secs(60)), "uploads finish");
    let packs = s.packs().unwrap();
    let big = packs.iter().max_by_key(|p| p.size).unwrap();
    assert!(big.size > cfg.multipart_threshold, "{packs:?}");
    // the object is the pack, byte for byte, and its placement has the MD5 of the whole
    let key = format!("parts/packs/{}.pack", big.id);
    let object = std::fs::read(s3.root.join("bkt").join(&key)).unwrap();
    let pack_file = dir
        .path()
        .join("packs")
        .join(&big.id.to_string()[..2])
        .join(format!("{}.pack", big.id));
    let local_bytes = std::fs::read(&pack_file).unwrap();
    assert!(object == local_bytes, "{key}: the object is the pack");
    let md5 = log
        .all_placements()
        .unwrap()
        .into_iter()
        .find(|p| p.pack == big.id && p.remote)
        .and_then(|p| p.md5)
        .unwrap();
    assert_eq!(md5, md5_hex(&local_bytes));
    // evicted, every frame reads back from the object
    for p in &packs {
        assert!(s.evict_local(p.id).unwrap());
    }
    assert!(!pack_file.exists());
    for (f, loc) in frames.iter().zip(&locs) {
        assert_eq!(&s.read(loc).unwrap(), f);
    }
}

fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    md5::Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
