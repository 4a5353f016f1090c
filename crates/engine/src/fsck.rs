//! fsck and scrub. The structural check proves that every version's chunk list covers its
//! length, every referenced chunk is indexed and lies inside an existing pack, and every
//! reference count matches the versions that use it, and every home's usage counters (what
//! quotas check) match a recount. With `verify_data` every chunk is
//! read back, decoded and re-hashed. Every damaged file is reported by path. With a second
//! copy (the object-storage tier's verified copy of a pack) `verify_data` also repairs:
//! a local pack lost or cut short is put back whole, a damaged frame is rewritten with
//! its verified copy (`repair`); what was repaired is reported apart from the problems,
//! each with the pack and the files affected, and logged the same way. Damage without a
//! good second copy stays a problem, marked unrepairable. A delta chunk's base must be indexed and stored whole (depth 1);
//! a damaged base damages every delta against it, and so every file using one of them.

use crate::error::EngineResult;
use crate::progress::{Progress, ProgressUnit};
use crate::store::Store;
use nas_meta::{ChunkRecord, ChunkRow};
use nas_types::{NodeId, PackId, VersionNum};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap, HashSet};

/// One thing found wrong.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    /// The damaged file (and version), when the problem belongs to one.
    pub path: Option<String>,
    /// What is wrong.
    pub detail: String,
}

/// Result of a check.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FsckReport {
    /// Versions examined.
    pub versions: u64,
    /// Chunks examined.
    pub chunks: u64,
    /// Chunks re-hashed (with `verify_data`).
    pub chunks_verified: u64,
    /// Packs on disk.
    pub packs: u64,
    /// Every problem found and not repaired (damage without a good second copy is marked
    /// unrepairable in its detail).
    pub problems: Vec<Problem>,
    /// Damage repaired from the second copy: one entry per affected file (version), and
    /// one without a path for a repair no file's data depended on.
    pub repaired: Vec<Problem>,
    /// Paths of the damaged files, sorted.
    pub damaged_files: BTreeSet<String>,
    /// The check was stopped before it finished (a scrub interrupted by shutdown): only
    /// what was examined so far is reported.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}

impl FsckReport {
    /// True when nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Store {
    /// Checks the store. `progress` is called with (done, total) chunk counts while
    /// verifying data.
    pub fn fsck(
        &self,
        verify_data: bool,
        progress: &mut dyn FnMut(u64, u64),
    ) -> EngineResult<FsckReport> {
        self.check(verify_data, false, progress, &mut |_, _| true)
    }

    /// A scrub: fsck with data verification that is safe while the store serves (writes,
    /// deletes, GC and compaction going on). Whatever looks wrong against the scan's
    /// snapshot of the index is checked again against the index as it is now, so a chunk
    /// moved or freed meanwhile is not damage; reference counts are not compared (that
    /// needs an offline `fsck`). `after_chunk` is called with the stored bytes of each
    /// chunk read back and how far the scrub is (stored bytes examined of the index
    /// snapshot's total): it paces the scrub (it may sleep) and stops it by returning
    /// `false`; the report is then marked [`FsckReport::interrupted`] and holds only the
    /// chunk damage found so far.
    pub fn scrub(
        &self,
        after_chunk: &mut dyn FnMut(u64, Progress) -> bool,
    ) -> EngineResult<FsckReport> {
        self.check(true, true, &mut |_, _| {}, after_chunk)
    }

    /// What is wrong with the chunk at `row` now: `None` if the row is gone (freed) or
    /// its frame, wherever it lives now, reads back and verifies.
    fn recheck(&self, row: ChunkRow) -> EngineResult<Option<String>> {
        Ok(match self.inner.meta.chunk(row)? {
            None => None,
            Some(c) => self.verify_frame(&c)?.err(),
        })
    }

    fn check(
        &self,
        verify_data: bool,
        online: bool,
        progress: &mut dyn FnMut(u64, u64),
        after_chunk: &mut dyn FnMut(u64, Progress) -> bool,
    ) -> EngineResult<FsckReport> {
        let meta = &self.inner.meta;
        let blobs = &self.inner.blobs;
        let mut rep = FsckReport::default();
        for msg in meta.integrity_check()? {
            rep.problems.push(Problem {
                path: None,
                detail: format!("sqlite: {msg}"),
            });
        }
        for detail in meta.check_usage()? {
            rep.problems.push(Problem { path: None, detail });
        }
        // whole packs lost or cut short first: put back, their frames verify below
        let mut restored: HashMap<PackId, String> = HashMap::new();
        if verify_data {
            for r in blobs.repair_packs()? {
                match r.result {
                    Ok(()) => {
                        restored.insert(
                            r.pack,
                            format!("{}: restored from the remote copy", r.problem),
                        );
                    }
                    Err(e) => rep.problems.push(Problem {
                        path: None,
                        detail: format!("{} (unrepairable: {e})", r.problem),
                    }),
                }
            }
        }
        let has_copy = blobs.remote_status().is_some();
        let mut repaired_rows: HashMap<ChunkRow, String> = HashMap::new();
        let packs: HashMap<PackId, u64> =
            blobs.packs()?.into_iter().map(|p| (p.id, p.size)).collect();
        rep.packs = packs.len() as u64;
        let mut chunks: HashMap<ChunkRow, ChunkRecord> = HashMap::new();
        meta.for_each_chunk(&mut |c| {
            chunks.insert(c.row, c);
            Ok(())
        })?;
        rep.chunks = chunks.len() as u64;
        let total = chunks.len() as u64;
        let total_bytes: u64 = chunks.values().map(|c| u64::from(c.loc.len)).sum();
        let mut bad: HashMap<ChunkRow, String> = HashMap::new();
        let mut done = 0u64;
        let mut bytes_done = 0u64;
        for c in chunks.values() {
            let end = c.loc.offset + u64::from(c.loc.len);
            bytes_done += u64::from(c.loc.len);
            let mut problem = match packs.get(&c.loc.pack) {
                None => Some(format!(
                    "chunk {} is in pack {}, which is missing",
                    c.id, c.loc.pack
                )),
                Some(&size) if end > size => Some(format!(
                    "chunk {} lies past the end of pack {}",
                    c.id, c.loc.pack
                )),
                Some(_) if verify_data => {
                    rep.chunks_verified += 1;
                    done += 1;
                    if done.is_multiple_of(256) {
                        progress(done, total);
                    }
                    let mut found = self.verify_frame(c)?.err();
                    if let Some(why) = found.take() {
                        found = match crate::repair::repair_chunk(&self.inner, c, &why) {
                            Some(Ok(())) => {
                                repaired_rows.insert(c.row, why);
                                None
                            }
                            Some(Err(e)) => Some(format!("{why} (unrepairable: {e})")),
                            None if has_copy => Some(format!(
                                "{why} (unrepairable: pack {} has no remote copy)",
                                c.loc.pack
                            )),
                            None => Some(format!("{why} (unrepairable: no other copy)")),
                        };
                    }
                    let at = Progress::new(bytes_done, Some(total_bytes), ProgressUnit::Bytes);
                    if !after_chunk(u64::from(c.loc.len), at) {
                        rep.interrupted = true;
                    }
                    found
                }
                Some(_) => None,
            };
            if problem.is_some() && online {
                // GC may have moved or deleted the chunk since the scan began, and the
                // active pack grows: only what is wrong with the chunk *now* is damage.
                problem = self.recheck(c.row)?;
            }
            if let Some(p) = problem {
                bad.insert(c.row, p);
            }
            if rep.interrupted {
                break;
            }
        }
        progress(done, total);
        // depth 1 and a base indexed; a damaged base damages each of its deltas
        for c in chunks.values() {
            let Some(b) = c.base else { continue };
            let why = match chunks.get(&b) {
                None => Some(format!(
                    "chunk {}: its base row {} is not in the index",
                    c.id, b.0
                )),
                Some(base) if base.base.is_some() => Some(format!(
                    "chunk {}: its base chunk {} is itself a delta",
                    c.id, base.id
                )),
                Some(base) => bad.get(&b).map(|why| {
                    format!(
                        "chunk {}: its base chunk {} is damaged ({why})",
                        c.id, base.id
                    )
                }),
            };
            if let Some(why) = why {
                let why = if online {
                    self.recheck(c.row)?
                } else {
                    Some(why)
                };
                if let Some(why) = why {
                    bad.insert(c.row, why);
                }
            }
        }
        if rep.interrupted {
            let mut found: Vec<Problem> = bad
                .into_values()
                .map(|detail| Problem { path: None, detail })
                .collect();
            found.sort();
            rep.problems = found;
            return Ok(rep);
        }

        let mut counted: HashMap<ChunkRow, i64> = HashMap::new();
        let mut damaged: Vec<(NodeId, u64, String)> = Vec::new();
        // extents naming a chunk row the index snapshot lacks or disagrees with
        let mut suspects: Vec<(NodeId, u64, ChunkRow, u32, String)> = Vec::new();
        let mut reported: HashSet<ChunkRow> = HashSet::new();
        // repairs by pack: what was done, and every file (version) whose data it holds
        let mut repairs: HashMap<PackId, (String, BTreeSet<String>)> = HashMap::new();
        let mut repaired_by: Vec<(PackId, NodeId, u64)> = Vec::new();
        let mut frames: HashMap<PackId, usize> = HashMap::new();
        for row in repaired_rows.keys() {
            if let Some(c) = chunks.get(row) {
                *frames.entry(c.loc.pack).or_default() += 1;
            }
        }
        for (pack, n) in frames {
            let why = format!("{n} damaged frames of pack {pack} rewritten from its remote copy");
            repairs.insert(pack, (why, BTreeSet::new()));
        }
        for (pack, why) in &restored {
            repairs.insert(*pack, (why.clone(), BTreeSet::new()));
        }
        meta.for_each_version(&mut |scan| {
            rep.versions += 1;
            let v = &scan.version;
            let extents = match &scan.extents {
                Ok(e) => e,
                Err(e) => {
                    damaged.push((v.node, v.num.0, format!("chunk list unreadable: {e}")));
                    return Ok(());
                }
            };
            let covered: u64 = extents.iter().map(|e| u64::from(e.len)).sum();
            if covered != v.size {
                damaged.push((
                    v.node,
                    v.num.0,
                    format!("chunk list covers {covered} of {} bytes", v.size),
                ));
            }
            for e in extents {
                *counted.entry(e.chunk).or_default() += 1;
                match chunks.get(&e.chunk) {
                    None => suspects.push((
                        v.node,
                        v.num.0,
                        e.chunk,
                        e.len,
                        format!("chunk row {} is not in the index", e.chunk.0),
                    )),
                    Some(c) if c.raw_len != e.len => suspects.push((
                        v.node,
                        v.num.0,
                        e.chunk,
                        e.len,
                        format!("chunk {} length differs from the chunk list", c.id),
                    )),
                    Some(c) => {
                        if repaired_rows.contains_key(&e.chunk)
                            || restored.contains_key(&c.loc.pack)
                        {
                            repaired_by.push((c.loc.pack, v.node, v.num.0));
                        }
                        if let Some(why) = bad.get(&e.chunk) {
                            damaged.push((v.node, v.num.0, why.clone()));
                            reported.insert(e.chunk);
                        }
                    }
                }
            }
            Ok(())
        })?;
        for (node, num, row, len, detail) in suspects {
            if online {
                // a version committed after the index snapshot names a newer chunk row
                let now = meta.chunk(row)?;
                if let Some(c) = now.filter(|c| c.raw_len == len) {
                    match self.verify_frame(&c)? {
                        Ok(()) => continue,
                        Err(why) => {
                            damaged.push((node, num, why));
                            continue;
                        }
                    }
                }
                // ...or it was deleted since the scan saw it (purged, pruned) and GC freed
                // the chunk. Asked after the chunk: a version still there now was there
                // all along, holding its reference, so its chunk could not have gone.
                if meta.version(node, Some(VersionNum(num)))?.is_none() {
                    continue;
                }
            }
            damaged.push((node, num, detail));
        }
        for (node, num, detail) in damaged {
            let path = meta
                .node_path(node)?
                .unwrap_or_else(|| format!("[detached node {node}]"));
            let p = format!("{path} (version {num})");
            rep.damaged_files.insert(path);
            rep.problems.push(Problem {
                path: Some(p),
                detail,
            });
        }
        repaired_by.sort();
        repaired_by.dedup();
        for (pack, node, num) in repaired_by {
            let path = meta
                .node_path(node)?
                .unwrap_or_else(|| format!("[detached node {node}]"));
            if let Some((_, files)) = repairs.get_mut(&pack) {
                files.insert(format!("{path} (version {num})"));
            }
        }
        for (pack, (why, files)) in &repairs {
            let names: Vec<&str> = files.iter().map(String::as_str).collect();
            tracing::warn!(pack = %pack, files = %names.join(", "), "repaired: {why}");
            if files.is_empty() {
                rep.repaired.push(Problem {
                    path: None,
                    detail: why.clone(),
                });
            }
            for f in files {
                rep.repaired.push(Problem {
                    path: Some(f.clone()),
                    detail: why.clone(),
                });
            }
        }
        rep.repaired.sort();
        for (row, why) in &bad {
            if !reported.contains(row) {
                rep.problems.push(Problem {
                    path: None,
                    detail: format!("unreferenced {why}"),
                });
            }
        }
        // a delta holds one reference on its base
        for b in chunks.values().filter_map(|c| c.base) {
            *counted.entry(b).or_default() += 1;
        }
        // Reference counts move with every write and delete: only an offline check (no
        // writer) can compare them with the versions.
        for c in chunks.values().filter(|_| !online) {
            let actual = counted.get(&c.row).copied().unwrap_or(0);
            if actual != c.refs {
                rep.problems.push(Problem {
                    path: None,
                    detail: format!(
                        "chunk {} has reference count {} but {} references",
                        c.id, c.refs, actual
                    ),
                });
            }
        }
        rep.problems.sort();
        rep.problems.dedup();
        Ok(rep)
    }
}

impl Store {
    /// Reads a chunk's frame back, decodes it (against its base, for a delta) and checks
    /// its hash and length; the inner `Err` says what is wrong.
    fn verify_frame(&self, c: &ChunkRecord) -> EngineResult<Result<(), String>> {
        let frame = match self.inner.blobs.read(&c.loc) {
            Ok(f) => f,
            Err(e) => return Ok(Err(format!("chunk {}: {e}", c.id))),
        };
        let data = match crate::delta::decode(&self.inner, c, &frame)? {
            Ok(d) => d,
            Err(why) => return Ok(Err(why)),
        };
        if data.len() != c.raw_len as usize {
            return Ok(Err(format!("chunk {} decodes to the wrong length", c.id)));
        }
        Ok(Ok(()))
    }
}
