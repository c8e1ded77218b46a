//! Each source's revisions and their convergence, beside the scans in the history database:
//! one row per revision as `serve` first saw it (a revision seen again after another is a new
//! row), updated once when it converges. Not part of the scans' hash chain: it is derived from
//! the scans, and the scans are the evidence.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};
use crate::report::convergence::Revision;

/// The table, created with the store.
pub(super) const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS revisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    revision TEXT NOT NULL,
    committed_at TEXT,
    first_seen_at TEXT NOT NULL,
    converged_at TEXT,
    superseded_at TEXT,
    baseline INTEGER NOT NULL
 );
 CREATE INDEX IF NOT EXISTS revisions_by_source ON revisions (source, id);";

const COLUMNS: &str =
    "source, target, revision, committed_at, first_seen_at, converged_at, baseline, superseded_at";

fn time(text: Option<String>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&text?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Revision> {
    let mut revision = Revision::new(
        &r.get::<_, String>(0)?,
        &r.get::<_, String>(1)?,
        &r.get::<_, String>(2)?,
        time(r.get(3)?),
        time(Some(r.get(4)?)).unwrap_or_default(),
        r.get::<_, i64>(6)? != 0,
    );
    if let Some(at) = time(r.get(5)?) {
        revision.converge(at);
    }
    revision.superseded_at = time(r.get(7)?);
    Ok(revision)
}

/// A source's newest revision, and the newest one that converged.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Heads {
    /// The newest revision.
    pub current: Option<Revision>,
    /// The newest converged one (the current one, once it converges).
    pub last_converged: Option<Revision>,
    /// While the current revision has not converged: the first sight of the oldest revision
    /// since the last convergence (commits that keep replacing each other never converging
    /// still age).
    pub unconverged_since: Option<DateTime<Utc>>,
}

impl Store {
    /// Records a revision as first seen.
    pub fn add_revision(&self, revision: &Revision) -> Result<(), StoreError> {
        self.conn().execute(
            &format!("INSERT INTO revisions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
            params![
                revision.source,
                revision.target,
                revision.commit,
                revision.committed_at.map(|t| t.to_rfc3339()),
                revision.first_seen_at.to_rfc3339(),
                revision.converged_at.map(|t| t.to_rfc3339()),
                i64::from(revision.baseline),
                revision.superseded_at.map(|t| t.to_rfc3339()),
            ],
        )?;
        Ok(())
    }

    /// Marks every unconverged revision of a source but the newest superseded at `at`.
    pub fn revisions_superseded(&self, source: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE revisions SET superseded_at = ?2
             WHERE source = ?1 AND converged_at IS NULL AND superseded_at IS NULL
               AND id < (SELECT max(id) FROM revisions WHERE source = ?1)",
            params![source, at.to_rfc3339()],
        )?;
        Ok(())
    }

    /// Marks the newest row of a source's revision converged at `at` (once).
    pub fn revision_converged(
        &self,
        source: &str,
        commit: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE revisions SET converged_at = ?3
             WHERE id = (SELECT max(id) FROM revisions WHERE source = ?1 AND revision = ?2)
               AND converged_at IS NULL",
            params![source, commit, at.to_rfc3339()],
        )?;
        Ok(())
    }

    /// Each source's newest revision and newest converged one.
    pub fn revision_heads(&self) -> Result<HashMap<String, Heads>, StoreError> {
        let conn = self.conn();
        let mut out: HashMap<String, Heads> = HashMap::new();
        for (query, converged) in [
            ("SELECT max(id) FROM revisions GROUP BY source", false),
            (
                "SELECT max(id) FROM revisions WHERE converged_at IS NOT NULL GROUP BY source",
                true,
            ),
        ] {
            let ids: Vec<i64> = conn
                .prepare(query)?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for id in ids {
                let revision = conn
                    .query_row(
                        &format!("SELECT {COLUMNS} FROM revisions WHERE id = ?1"),
                        params![id],
                        row,
                    )
                    .optional()?;
                if let Some(revision) = revision {
                    let heads = out.entry(revision.source.clone()).or_default();
                    if converged {
                        heads.last_converged = Some(revision);
                    } else {
                        heads.current = Some(revision);
                    }
                }
            }
        }
        // Waiting since the oldest revision after the last converged one.
        for (source, heads) in &mut out {
            if heads
                .current
                .as_ref()
                .is_some_and(|c| c.converged_at.is_none())
            {
                let after: i64 = conn.query_row(
                    "SELECT coalesce(max(id), 0) FROM revisions WHERE source = ?1 AND converged_at IS NOT NULL",
                    params![source],
                    |r| r.get(0),
                )?;
                heads.unconverged_since = conn
                    .query_row(
                        "SELECT first_seen_at FROM revisions WHERE source = ?1 AND id > ?2 ORDER BY id LIMIT 1",
                        params![source, after],
                        |r| r.get::<_, String>(0),
                    )
                    .optional()?
                    .and_then(|t| time(Some(t)));
            }
        }
        Ok(out)
    }

    /// Revisions newest first: of one source or all, those first seen at or after `since` and
    /// those not converged by then; at most `limit`.
    pub fn revisions(
        &self,
        source: Option<&str>,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Result<Vec<Revision>, StoreError> {
        let conn = self.conn();
        let since = since.map(|t| t.to_rfc3339());
        let mut statement = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM revisions
             WHERE (?1 IS NULL OR source = ?1)
               AND (?2 IS NULL OR first_seen_at >= ?2 OR converged_at >= ?2
                    OR (converged_at IS NULL AND superseded_at IS NULL))
             ORDER BY id DESC LIMIT ?3"
        ))?;
        let rows = statement.query_map(params![source, since, limit as i64], row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Deletes revisions first seen before `cutoff` (when given) and beyond the newest
    /// `max_count` (when given), except each source's newest and newest converged one, and
    /// every unconverged one (what the service starts from).
    pub(super) fn retain_revisions(
        tx: &rusqlite::Transaction<'_>,
        cutoff: Option<DateTime<Utc>>,
        max_count: Option<usize>,
    ) -> Result<usize, StoreError> {
        let kept = "id NOT IN (SELECT max(id) FROM revisions GROUP BY source)
               AND id NOT IN (SELECT max(id) FROM revisions WHERE converged_at IS NOT NULL GROUP BY source)
               AND (converged_at IS NOT NULL OR superseded_at IS NOT NULL)";
        let mut deleted = 0;
        if let Some(cutoff) = cutoff {
            deleted += tx.execute(
                &format!("DELETE FROM revisions WHERE first_seen_at < ?1 AND {kept}"),
                params![cutoff.to_rfc3339()],
            )?;
        }
        if let Some(count) = max_count {
            deleted += tx.execute(
                &format!(
                    "DELETE FROM revisions WHERE id NOT IN
                       (SELECT id FROM revisions ORDER BY id DESC LIMIT ?1) AND {kept}"
                ),
                params![count as i64],
            )?;
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn revisions_are_kept_converged_once_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let first = Revision::new(
            "shop",
            "prod",
            "aaa",
            Some(at("2026-12-01T09:00:00Z")),
            at("2026-12-01T09:01:00Z"),
            true,
        );
        store.add_revision(&first).unwrap();
        store
            .revision_converged("shop", "aaa", at("2026-12-01T09:02:00Z"))
            .unwrap();
        // Converged once: a later scan does not move the time.
        store
            .revision_converged("shop", "aaa", at("2026-12-01T09:09:00Z"))
            .unwrap();
        let second = Revision::new(
            "shop",
            "prod",
            "bbb",
            Some(at("2026-12-01T10:00:00Z")),
            at("2026-12-01T10:00:30Z"),
            false,
        );
        store.add_revision(&second).unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        let heads = store.revision_heads().unwrap();
        let shop = &heads["shop"];
        assert_eq!(shop.current.as_ref().unwrap(), &second);
        let converged = shop.last_converged.as_ref().unwrap();
        assert_eq!(
            (converged.commit.as_str(), converged.converged_at),
            ("aaa", Some(at("2026-12-01T09:02:00Z")))
        );
        assert!(converged.baseline);
        let all = store.revisions(None, None, 10).unwrap();
        assert_eq!(
            all.iter().map(|r| r.commit.as_str()).collect::<Vec<_>>(),
            ["bbb", "aaa"]
        );
        // Since 09:30: the newer one, and none that converged before.
        let since = store
            .revisions(Some("shop"), Some(at("2026-12-01T09:30:00Z")), 10)
            .unwrap();
        assert_eq!(since, std::slice::from_ref(&second));
        assert!(store.revisions(Some("other"), None, 10).unwrap().is_empty());
        assert_eq!(shop.unconverged_since, Some(at("2026-12-01T10:00:30Z")));
        // A third commit replaces the second before it converged: the second is superseded,
        // and the source has waited since the second was first seen.
        let third = Revision::new(
            "shop",
            "prod",
            "ccc",
            None,
            at("2026-12-01T10:05:00Z"),
            false,
        );
        store.add_revision(&third).unwrap();
        store
            .revisions_superseded("shop", at("2026-12-01T10:05:00Z"))
            .unwrap();
        let heads = store.revision_heads().unwrap();
        assert_eq!(heads["shop"].current.as_ref().unwrap().commit, "ccc");
        assert_eq!(
            heads["shop"].unconverged_since,
            Some(at("2026-12-01T10:00:30Z"))
        );
        let all = store.revisions(None, None, 10).unwrap();
        assert_eq!(all[1].superseded_at, Some(at("2026-12-01T10:05:00Z")));
        // A superseded revision is not listed as still converging in a later period.
        let since = store
            .revisions(Some("shop"), Some(at("2026-12-01T10:04:00Z")), 10)
            .unwrap();
        assert_eq!(
            since.iter().map(|r| r.commit.as_str()).collect::<Vec<_>>(),
            ["ccc"]
        );
        // Retention: the superseded one goes; what the service starts from stays, however old.
        let mut conn = store.conn();
        let tx = conn.transaction().unwrap();
        assert_eq!(
            Store::retain_revisions(&tx, Some(at("2026-12-02T00:00:00Z")), None).unwrap(),
            1
        );
        assert_eq!(
            Store::retain_revisions(&tx, None, Some(1)).unwrap(),
            0,
            "the newest and the newest converged are kept"
        );
        tx.commit().unwrap();
        drop(conn);
        let left = store.revisions(None, None, 10).unwrap();
        assert_eq!(
            left.iter().map(|r| r.commit.as_str()).collect::<Vec<_>>(),
            ["ccc", "aaa"]
        );
    }
}
