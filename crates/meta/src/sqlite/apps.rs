//! [`AppPasswords`] on SQLite: the `app_passwords` table, looked up by the secret's hash.

use super::SqliteMeta;
use crate::{AppPasswordRecord, AppPasswords, MetaResult};
use rusqlite::{OptionalExtension, params};

const SELECT: &str =
    "SELECT id, user, name, hash, read_only, created_ns, last_used_ns FROM app_passwords";

fn app_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<AppPasswordRecord> {
    let hash: Vec<u8> = r.get(3)?;
    Ok(AppPasswordRecord {
        id: r.get(0)?,
        user: r.get(1)?,
        name: r.get(2)?,
        hash: hash.try_into().unwrap_or([0; 32]), // a stored hash is always 32 bytes
        read_only: r.get::<_, i64>(4)? != 0,
        created_ns: r.get(5)?,
        last_used_ns: r.get(6)?,
    })
}

impl AppPasswords for SqliteMeta {
    fn create_app_password(&self, a: &AppPasswordRecord) -> MetaResult<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO app_passwords (id, user, name, hash, read_only, created_ns, last_used_ns)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    a.id,
                    a.user,
                    a.name,
                    &a.hash[..],
                    a.read_only as i64,
                    a.created_ns,
                    a.last_used_ns
                ],
            )?;
            Ok(())
        })
    }

    fn app_password_by_hash(&self, hash: &[u8; 32]) -> MetaResult<Option<AppPasswordRecord>> {
        self.read(|c| {
            Ok(c.prepare_cached(&format!("{SELECT} WHERE hash = ?1"))?
                .query_row([&hash[..]], app_from)
                .optional()?)
        })
    }

    fn app_passwords(&self, user: &str) -> MetaResult<Vec<AppPasswordRecord>> {
        self.read(|c| {
            let mut st =
                c.prepare_cached(&format!("{SELECT} WHERE user = ?1 ORDER BY created_ns, id"))?;
            Ok(st.query_map([user], app_from)?.collect::<Result<_, _>>()?)
        })
    }

    fn delete_app_password(&self, user: &str, id: &str) -> MetaResult<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "DELETE FROM app_passwords WHERE user = ?1 AND id = ?2",
                [user, id],
            )? > 0)
        })
    }

    fn touch_app_password(&self, id: &str, now_ns: i64) -> MetaResult<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE app_passwords SET last_used_ns = ?2 WHERE id = ?1",
                params![id, now_ns],
            )?;
            Ok(())
        })
    }
}
