//! [`Shares`] on SQLite: the `shares` table (schema 14), looked up by the token's hash.

use super::SqliteMeta;
use crate::{MetaError, MetaResult, ShareKind, ShareRecord, Shares};
use nas_types::NodeId;
use rusqlite::{OptionalExtension, params};

const SELECT: &str = "SELECT id, owner, node, kind, token_hash, password, expires_ns, \
    max_downloads, downloads, created_ns FROM shares";

fn share_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<ShareRecord> {
    let hash: Vec<u8> = r.get(4)?;
    let kind: String = r.get(3)?;
    Ok(ShareRecord {
        id: r.get(0)?,
        owner: r.get(1)?,
        node: NodeId(r.get(2)?),
        // an unknown kind is never written; read as the narrower right
        kind: ShareKind::parse(&kind).unwrap_or(ShareKind::Drop),
        token_hash: hash.try_into().unwrap_or([0; 32]), // a stored hash is always 32 bytes
        password: r.get(5)?,
        expires_ns: r.get(6)?,
        max_downloads: r.get::<_, Option<i64>>(7)?.map(|n| n.max(0) as u64),
        downloads: r.get::<_, i64>(8)?.max(0) as u64,
        created_ns: r.get(9)?,
    })
}

impl Shares for SqliteMeta {
    fn create_share(&self, s: &ShareRecord) -> MetaResult<()> {
        self.write(|tx| {
            let taken: i64 = tx.query_row(
                "SELECT count(*) FROM shares WHERE id = ?1 OR token_hash = ?2",
                params![s.id, &s.token_hash[..]],
                |r| r.get(0),
            )?;
            if taken > 0 {
                return Err(MetaError::Exists(format!("share {}", s.id)));
            }
            tx.execute(
                "INSERT INTO shares (id, owner, node, kind, token_hash, password, expires_ns,
                    max_downloads, downloads, created_ns)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    s.id,
                    s.owner,
                    s.node.0,
                    s.kind.as_str(),
                    &s.token_hash[..],
                    s.password,
                    s.expires_ns,
                    s.max_downloads.map(|n| n.min(i64::MAX as u64) as i64),
                    s.downloads.min(i64::MAX as u64) as i64,
                    s.created_ns
                ],
            )?;
            Ok(())
        })
    }

    fn share_by_hash(&self, hash: &[u8; 32]) -> MetaResult<Option<ShareRecord>> {
        self.read(|c| {
            Ok(
                c.prepare_cached(&format!("{SELECT} WHERE token_hash = ?1"))?
                    .query_row([&hash[..]], share_from)
                    .optional()?,
            )
        })
    }

    fn shares(&self, owner: &str) -> MetaResult<Vec<ShareRecord>> {
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "{SELECT} WHERE owner = ?1 ORDER BY created_ns, id"
            ))?;
            Ok(st
                .query_map([owner], share_from)?
                .collect::<Result<_, _>>()?)
        })
    }

    fn delete_share(&self, owner: &str, id: &str) -> MetaResult<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "DELETE FROM shares WHERE owner = ?1 AND id = ?2",
                [owner, id],
            )? > 0)
        })
    }

    fn take_share_download(&self, id: &str) -> MetaResult<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE shares SET downloads = downloads + 1
                 WHERE id = ?1 AND (max_downloads IS NULL OR downloads < max_downloads)",
                [id],
            )? > 0)
        })
    }
}
