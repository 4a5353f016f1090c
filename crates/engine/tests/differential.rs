//! Differential test: random sequences of write / overwrite / rename / copy / delete /
//! trash-restore / version-restore / version-delete / purge / GC / cold recompression
//! against a simple in-memory
//! model (a new file numbering its versions on from those deleted from its path). After
//! every step, every version of every file must read back as the model says,
//! and every path the model does not have must be absent. Seeds are fixed so a failure is
//! reproducible: the message names the seed and the step.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use nas_engine::{EngineError, Home, Store, WriteOptions};
use nas_types::{ByteRange, TrashId, VersionNum};
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default)]
struct File {
    versions: Vec<(u64, Vec<u8>)>,
    next: u64,
}

#[derive(Default)]
struct Model {
    files: BTreeMap<String, File>,
    trash: Vec<(TrashId, String, File)>,
}

const PATHS: [&str; 6] = ["/a", "/b", "/c", "/d/x", "/d/y", "/d/z"];

fn content(rng: &mut StdRng, pool: &[u8]) -> Vec<u8> {
    match rng.random_range(0..4) {
        0 => Vec::new(),
        1 => pool[..rng.random_range(1..2000)].to_vec(),
        _ => {
            let start = rng.random_range(0..pool.len() / 2);
            let len = rng.random_range(1..pool.len() / 2);
            let mut v = pool[start..start + len].to_vec();
            for _ in 0..rng.random_range(0..3) {
                let at = rng.random_range(0..v.len());
                v[at] ^= 0x5a;
            }
            v
        }
    }
}

fn check(h: &Home, m: &Model, rng: &mut StdRng, ctx: &str) {
    for path in PATHS {
        let np = p(path);
        match m.files.get(path) {
            None => assert!(!h.exists(&np).unwrap(), "{ctx}: {path} should not exist"),
            Some(f) => {
                let vs = h.versions(&np).unwrap();
                let nums: Vec<u64> = vs.iter().map(|v| v.num.0).collect();
                let want: Vec<u64> = f.versions.iter().map(|v| v.0).collect();
                assert_eq!(nums, want, "{ctx}: version numbers of {path}");
                for (num, data) in &f.versions {
                    let got = h.read_all(&np, Some(VersionNum(*num))).unwrap();
                    assert!(
                        got == *data,
                        "{ctx}: {path} v{num} differs ({} vs {} bytes)",
                        got.len(),
                        data.len()
                    );
                }
                let head = &f.versions.last().unwrap().1;
                if !head.is_empty() {
                    let a = rng.random_range(0..head.len() as u64);
                    let b = rng.random_range(a..=head.len() as u64);
                    let r = h
                        .open(&np, None)
                        .unwrap()
                        .range(ByteRange { start: a, end: b })
                        .read_to_vec()
                        .unwrap();
                    assert_eq!(r, &head[a as usize..b as usize], "{ctx}: range of {path}");
                }
            }
        }
    }
}

fn step(s: &Store, h: &Home, m: &mut Model, rng: &mut StdRng, pool: &[u8]) -> String {
    let path = PATHS[rng.random_range(0..PATHS.len())];
    let other = PATHS[rng.random_range(0..PATHS.len())];
    match rng.random_range(0..100) {
        0..=34 => {
            let data = content(rng, pool);
            let v = h
                .write_all(&p(path), &data, WriteOptions::default())
                .unwrap();
            // a new file numbers on from the files deleted from its path (schema 20)
            let after = m
                .trash
                .iter()
                .filter(|(_, t, _)| t == path)
                .flat_map(|(_, _, f)| f.versions.iter().map(|v| v.0))
                .max()
                .unwrap_or(0);
            let f = m.files.entry(path.into()).or_insert_with(|| File {
                versions: Vec::new(),
                next: after + 1,
            });
            if f.versions.last().is_some_and(|(_, d)| d.is_empty()) {
                f.versions.pop(); // an empty version is replaced, not kept as history
            }
            assert_eq!(v.num.0, f.next);
            f.versions.push((f.next, data));
            f.next += 1;
            format!("write {path}")
        }
        35..=44 => {
            let res = h.rename(&p(path), &p(other), true);
            match (m.files.contains_key(path), path == other) {
                (false, _) => assert!(matches!(res, Err(EngineError::NotFound(_)))),
                // onto itself: refused, as a copy is (the one rule of every door)
                (true, true) => assert!(matches!(res, Err(EngineError::Conflict(_)))),
                (true, false) => {
                    res.unwrap();
                    if let Some(old) = m.files.remove(other) {
                        let id = h.trash_list().unwrap()[0].id;
                        m.trash.push((id, other.into(), old));
                    }
                    let f = m.files.remove(path).unwrap();
                    m.files.insert(other.into(), f);
                }
            }
            format!("rename {path} -> {other}")
        }
        45..=52 => {
            let res = h.copy(&p(path), &p(other), true);
            match (m.files.get(path).cloned(), path == other) {
                (None, _) => assert!(matches!(res, Err(EngineError::NotFound(_)))),
                (Some(_), true) => assert!(res.is_err()),
                (Some(f), false) => {
                    res.unwrap();
                    if let Some(old) = m.files.remove(other) {
                        let id = h.trash_list().unwrap()[0].id;
                        m.trash.push((id, other.into(), old));
                    }
                    let head = f.versions.last().unwrap().1.clone();
                    m.files.insert(
                        other.into(),
                        File {
                            versions: vec![(1, head)],
                            next: 2,
                        },
                    );
                }
            }
            format!("copy {path} -> {other}")
        }
        53..=62 => {
            match m.files.remove(path) {
                Some(f) => {
                    let t = h.delete(&p(path)).unwrap();
                    m.trash.push((t.id, path.into(), f));
                }
                None => assert!(matches!(h.delete(&p(path)), Err(EngineError::NotFound(_)))),
            }
            format!("delete {path}")
        }
        63..=70 => {
            if m.trash.is_empty() {
                return "noop".into();
            }
            let i = rng.random_range(0..m.trash.len());
            let (id, orig, _) = m.trash[i].clone();
            let res = h.trash_restore(id, None);
            if m.files.contains_key(&orig) {
                assert!(
                    matches!(res, Err(EngineError::AlreadyExists(_))),
                    "restore onto existing {orig}: {res:?}"
                );
            } else {
                res.unwrap();
                let (_, _, f) = m.trash.remove(i);
                m.files.insert(orig.clone(), f);
            }
            format!("trash-restore {orig}")
        }
        71..=78 => {
            let Some(f) = m.files.get_mut(path) else {
                return "noop".into();
            };
            let i = rng.random_range(0..f.versions.len());
            let (num, data) = f.versions[i].clone();
            let v = h.restore_version(&p(path), VersionNum(num)).unwrap();
            assert_eq!(v.num.0, f.next);
            f.versions.push((f.next, data));
            f.next += 1;
            format!("restore-version {path} v{num}")
        }
        79..=85 => {
            let Some(f) = m.files.get_mut(path) else {
                return "noop".into();
            };
            let i = rng.random_range(0..f.versions.len());
            let num = f.versions[i].0;
            let res = h.delete_version(&p(path), VersionNum(num));
            if f.versions.len() == 1 {
                assert!(matches!(res, Err(EngineError::Conflict(_))));
            } else {
                res.unwrap();
                f.versions.remove(i);
            }
            format!("delete-version {path} v{num}")
        }
        86..=91 => {
            if m.trash.is_empty() {
                return "noop".into();
            }
            let i = rng.random_range(0..m.trash.len());
            let (id, ..) = m.trash.remove(i);
            h.trash_purge(id).unwrap();
            format!("purge {id}")
        }
        92..=95 => {
            s.gc(false).unwrap();
            "gc".into()
        }
        _ => {
            // cold recompression of every pack: LZ4 chunks become zstd or deltas
            let (n, _) = recompress_all(s, 8);
            format!("recompress ({n} chunks)")
        }
    }
}

/// Runs `steps` random steps; returns the chunks recompression re-encoded.
fn run(seed: u64, steps: usize) -> u64 {
    let (_d, s) = store();
    let h = home(&s);
    h.mkdir(&p("/d")).unwrap();
    let pool = {
        let mut v = random_bytes(400_000, seed);
        v.extend(text_bytes(400_000, seed));
        v
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let mut m = Model::default();
    let mut recoded = 0;
    for i in 0..steps {
        let what = step(&s, &h, &mut m, &mut rng, &pool);
        if let Some(n) = what.strip_prefix("recompress (") {
            recoded += n.trim_end_matches(" chunks)").parse::<u64>().unwrap();
        }
        check(&h, &m, &mut rng, &format!("seed {seed} step {i} ({what})"));
    }
    s.gc(false).unwrap();
    check(&h, &m, &mut rng, &format!("seed {seed} after final gc"));
    let report = s.fsck(true, &mut |_, _| {}).unwrap();
    assert!(report.is_clean(), "seed {seed}: fsck {:?}", report.problems);
    recoded
}

#[test]
fn random_operation_sequences_agree_with_model() {
    let recoded: u64 = (0..12).map(|seed| run(seed, 60)).sum();
    assert!(recoded > 0, "no step recompressed anything");
}
