//! [`Documents`] on SQLite (`documents`, schema step 23). A single SQLite server keeps its
//! small state as files of the data directory instead; this is here so that both backends
//! keep one schema and one contract (the conformance suite runs it on both).

use super::SqliteMeta;
use crate::{Document, Documents, MetaResult};
use rusqlite::OptionalExtension;

impl Documents for SqliteMeta {
    fn document(&self, name: &str) -> MetaResult<Option<Document>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT bytes, version FROM documents WHERE name = ?1",
                [name],
                |r| {
                    Ok(Document {
                        bytes: r.get(0)?,
                        version: r.get(1)?,
                    })
                },
            )
            .optional()?)
        })
    }

    fn document_version(&self, name: &str) -> MetaResult<Option<i64>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT version FROM documents WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    fn put_document(&self, name: &str, bytes: &[u8]) -> MetaResult<i64> {
        self.write(|tx| {
            Ok(tx.query_row(
                "INSERT INTO documents (name, bytes, version) VALUES (?1, ?2, 1)
                 ON CONFLICT (name) DO UPDATE SET bytes = excluded.bytes,
                   version = documents.version + 1
                 RETURNING version",
                rusqlite::params![name, bytes],
                |r| r.get(0),
            )?)
        })
    }

    fn create_document(&self, name: &str, bytes: &[u8]) -> MetaResult<Vec<u8>> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO documents (name, bytes, version) VALUES (?1, ?2, 1)
                 ON CONFLICT (name) DO NOTHING",
                rusqlite::params![name, bytes],
            )?;
            Ok(
                tx.query_row("SELECT bytes FROM documents WHERE name = ?1", [name], |r| {
                    r.get(0)
                })?,
            )
        })
    }
}
