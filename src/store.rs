//! The history of scans: every scan's full report in an SQLite database in the data folder
//! (`history.sqlite3`, WAL mode, synchronous writes), so that a crash or `kill -9` at any moment
//! leaves either the whole scan or none of it. Each stored report keeps the SHA-256 of its
//! canonical JSON (stored gzip-compressed) and the previous report's hash: a hash chain that
//! [`Store::verify`] walks, naming the first broken link. Retention deletes the oldest scans and
//! keeps the last deleted hash as the chain's anchor.

mod revisions;

pub use revisions::Heads;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::model::Code;
use crate::report::{ScanReport, Summary};

/// The database file in the data folder.
pub const FILE: &str = "history.sqlite3";

/// Why the store could not do something.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data folder or database could not be opened or created.
    #[error("cannot open the history in {path}: {message}")]
    Open {
        /// The data folder.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A database operation failed.
    #[error("history database: {0}")]
    Database(#[from] rusqlite::Error),
    /// A stored report could not be read back.
    #[error("stored scan {id} is not a readable report: {message}")]
    Corrupt {
        /// The scan.
        id: i64,
        /// Why.
        message: String,
    },
}

impl StoreError {
    /// The problem code.
    pub fn code(&self) -> Code {
        match self {
            StoreError::Open { .. } => Code::StoreOpen,
            StoreError::Database(_) => Code::StoreWrite,
            StoreError::Corrupt { .. } => Code::StoreCorrupt,
        }
    }
}

/// One stored scan, without its report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
// Read back from other shards, which may run another version: missing fields default.
#[serde(default)]
pub struct StoredScan {
    /// Sequence number, from 1.
    pub id: i64,
    /// When the scan started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
    /// The targets it scanned.
    pub targets: Vec<String>,
    /// Its counts.
    pub summary: Summary,
    /// Failing findings.
    pub failing_findings: usize,
    /// SHA-256 of the stored report, hex.
    pub sha256: String,
    /// The previous stored report's hash (the chain's anchor for the first kept scan).
    pub previous_sha256: String,
    /// Bytes of the stored report.
    pub bytes: usize,
}

impl StoredScan {
    /// Its counts as a point of a trend chart.
    pub fn point(&self) -> crate::report::chart::Point {
        crate::report::chart::Point {
            at: self.started_at,
            drifted: self.summary.drifted,
            missing: self.summary.missing,
            unmanaged: self.summary.unmanaged,
            failing: self.failing_findings,
            degraded: self.summary.health.get("degraded").copied().unwrap_or(0),
        }
    }
}

/// A broken link of the hash chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokenLink {
    /// The first scan that does not verify.
    pub id: i64,
    /// What is wrong with it.
    pub message: String,
}

/// The scan history of one data folder.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
}

/// The hash every chain starts from.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Reports are stored gzip-compressed; a report stored as plain JSON still reads.
fn compress(json: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(json.len() / 8),
        flate2::Compression::new(6),
    );
    let _ = encoder.write_all(json);
    encoder.finish().unwrap_or_default()
}

/// The canonical JSON of a stored report.
fn decompress(stored: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    if !stored.starts_with(&[0x1f, 0x8b]) {
        return Ok(stored.to_vec());
    }
    let mut json = Vec::with_capacity(stored.len() * 8);
    flate2::read::GzDecoder::new(stored).read_to_end(&mut json)?;
    Ok(json)
}

fn sha256_hex(bytes: &[u8]) -> String {
    crate::digest::hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// The canonical JSON of a report: compact, fields in their declared order.
pub fn canonical(report: &ScanReport) -> Vec<u8> {
    serde_json::to_vec(report).unwrap_or_default()
}

impl Store {
    /// Opens (creating where needed) the history in a data folder.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let fail = |message: String| StoreError::Open {
            path: dir.to_path_buf(),
            message,
        };
        // A folder gitdrift creates is its own (0700); an existing one keeps its permissions.
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
            }
        }
        let path = dir.join(FILE);
        // The history is the owner's alone (0600); SQLite gives its WAL files the same mode.
        crate::files::create_private(&path).map_err(|e| fail(e.to_string()))?;
        let conn = Connection::open(&path).map_err(|e| fail(e.to_string()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // WAL: readers never block the writer; FULL: a committed scan survives power loss.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS scans (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                started_at TEXT NOT NULL,
                finished_at TEXT NOT NULL,
                targets TEXT NOT NULL,
                summary TEXT NOT NULL,
                failing_findings INTEGER NOT NULL,
                report BLOB NOT NULL,
                sha256 TEXT NOT NULL,
                previous_sha256 TEXT NOT NULL
             );
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
        )?;
        conn.execute_batch(revisions::SCHEMA)?;
        Ok(Store {
            conn: Mutex::new(conn),
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores a report, chained to the last one; returns its id.
    pub fn save(&self, report: &ScanReport) -> Result<i64, StoreError> {
        let bytes = canonical(report);
        let hash = sha256_hex(&bytes);
        let targets: Vec<&str> = report
            .scan
            .targets
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        let summary = serde_json::to_string(&report.summary).unwrap_or_default();
        let failing: usize = report.compliance.failing.values().sum();
        let mut conn = self.conn();
        // Immediate: the write lock is taken at once, so a second writer waits (busy_timeout)
        // instead of failing on a stale snapshot.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let previous = last_hash(&tx)?;
        tx.execute(
            "INSERT INTO scans (started_at, finished_at, targets, summary, failing_findings, report, sha256, previous_sha256)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                report.scan.started_at.to_rfc3339(),
                report.scan.finished_at.to_rfc3339(),
                targets.join(","),
                summary,
                failing as i64,
                compress(&bytes),
                hash,
                previous,
            ],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        // The chain's head, outside the database: removing scans from the end shows against it.
        tracing::info!(message = "history head", id, sha256 = %hash);
        Ok(id)
    }

    /// When each drift of the previous scans of `report`'s targets was first seen (see
    /// [`crate::report::age`]); empty without history.
    pub fn previous_ages(&self, report: &ScanReport) -> crate::report::age::Ages {
        let mut ages = crate::report::age::Ages::default();
        for target in &report.scan.targets {
            ages.extend(self.target_ages(&target.name));
        }
        ages
    }

    /// The drift ages of a target as its newest stored scan that judged it dated them (a scan
    /// whose read of the target failed says nothing; up to ten scans back are looked at).
    pub fn target_ages(&self, target: &str) -> crate::report::age::Ages {
        let Ok(scans) = self.list_target(target, 10) else {
            return Default::default();
        };
        for scan in scans {
            let Ok(Some((_, stored))) = self.get(scan.id) else {
                continue;
            };
            if stored.resources.iter().any(|r| r.target == target) {
                return crate::report::age::Ages::of(&stored, Some(target));
            }
        }
        Default::default()
    }

    /// The most recent scans, newest first.
    pub fn list(&self, limit: usize) -> Result<Vec<StoredScan>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT id, started_at, finished_at, targets, summary, failing_findings, sha256, previous_sha256, length(report)
             FROM scans ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = statement.query_map(params![limit as i64], row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The most recent scans of one target, newest first.
    pub fn list_target(&self, target: &str, limit: usize) -> Result<Vec<StoredScan>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT id, started_at, finished_at, targets, summary, failing_findings, sha256, previous_sha256, length(report)
             FROM scans WHERE instr(',' || targets || ',', ',' || ?1 || ',') > 0 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = statement.query_map(params![target, limit as i64], row)?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// One scan's metadata and its canonical JSON (decompressed).
    pub fn get_raw(&self, id: i64) -> Result<Option<(StoredScan, Vec<u8>)>, StoreError> {
        // The database is free again before the report is decompressed.
        let found = self.conn().query_row(
                "SELECT id, started_at, finished_at, targets, summary, failing_findings, sha256, previous_sha256, length(report), report
                 FROM scans WHERE id = ?1",
                params![id],
                |r| Ok((row(r)?, r.get::<_, Vec<u8>>(9)?)),
            )
            .optional()?;
        found
            .map(|(scan, stored)| {
                decompress(&stored)
                    .map(|json| (scan, json))
                    .map_err(|e| StoreError::Corrupt {
                        id,
                        message: format!("the stored report does not decompress: {e}"),
                    })
            })
            .transpose()
    }

    /// A value the service keeps between runs (the last scheduled report of each schedule).
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Sets a value the service keeps between runs (not the chain's anchor).
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        debug_assert_ne!(key, "anchor");
        self.conn().execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Moves the write-ahead log into the database file (at shutdown).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(())
    }

    /// One scan and its report.
    pub fn get(&self, id: i64) -> Result<Option<(StoredScan, ScanReport)>, StoreError> {
        let Some((scan, bytes)) = self.get_raw(id)? else {
            return Ok(None);
        };
        let report = serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            id,
            message: e.to_string(),
        })?;
        Ok(Some((scan, report)))
    }

    /// The newest scan's id and hash: the chain's head. Kept outside the database (a metric, a
    /// log line, `verify --expect-head`), it shows when scans were removed from the end.
    pub fn head(&self) -> Result<Option<(i64, String)>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id, sha256 FROM scans ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// The newest scan's id.
    pub fn latest(&self) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT max(id) FROM scans", [], |r| {
                r.get::<_, Option<i64>>(0)
            })?)
    }

    /// Deletes scans older than `max_age` and beyond the newest `max_count`; returns how many.
    /// The hash of the last deleted scan becomes the anchor the first kept one chains to.
    pub fn retain(
        &self,
        max_age: Option<chrono::Duration>,
        max_count: Option<usize>,
    ) -> Result<usize, StoreError> {
        let mut conn = self.conn();
        // Immediate: the write lock is taken at once, so a second writer waits (busy_timeout)
        // instead of failing on a stale snapshot.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut cutoff_id: i64 = 0;
        Store::retain_revisions(&tx, max_age.map(|age| Utc::now() - age), max_count)?;
        if let Some(age) = max_age {
            let oldest_kept = (Utc::now() - age).to_rfc3339();
            let id: Option<i64> = tx.query_row(
                "SELECT max(id) FROM scans WHERE started_at < ?1",
                params![oldest_kept],
                |r| r.get(0),
            )?;
            cutoff_id = cutoff_id.max(id.unwrap_or(0));
        }
        if let Some(count) = max_count {
            let id: Option<i64> = tx
                .query_row(
                    "SELECT id FROM scans ORDER BY id DESC LIMIT 1 OFFSET ?1",
                    params![count as i64],
                    |r| r.get(0),
                )
                .optional()?;
            cutoff_id = cutoff_id.max(id.unwrap_or(0));
        }
        if cutoff_id == 0 {
            tx.commit()?;
            return Ok(0);
        }
        let anchor: Option<String> = tx
            .query_row(
                "SELECT sha256 FROM scans WHERE id = ?1",
                params![cutoff_id],
                |r| r.get(0),
            )
            .optional()?;
        let deleted = tx.execute("DELETE FROM scans WHERE id <= ?1", params![cutoff_id])?;
        if let Some(anchor) = anchor {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('anchor', ?1)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![anchor],
            )?;
        }
        tx.commit()?;
        Ok(deleted)
    }

    /// Walks the chain from the anchor: every report must hash to its stored hash, and name the
    /// previous one's. Returns how many scans verified, or the first broken link.
    pub fn verify(&self) -> Result<Result<usize, BrokenLink>, StoreError> {
        let conn = self.conn();
        let mut expected: String = conn
            .query_row("SELECT value FROM meta WHERE key = 'anchor'", [], |r| {
                r.get(0)
            })
            .optional()?
            .unwrap_or_else(|| GENESIS.to_string());
        let mut statement =
            conn.prepare("SELECT id, report, sha256, previous_sha256 FROM scans ORDER BY id")?;
        let mut rows = statement.query([])?;
        let mut count = 0;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            // Whatever was written there, as bytes (a report edited by hand may be text).
            let bytes: Vec<u8> = match r.get_ref(1)? {
                rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => {
                    b.to_vec()
                }
                other => format!("{other:?}").into_bytes(),
            };
            let bytes = match decompress(&bytes) {
                Ok(json) => json,
                Err(err) => {
                    return Ok(Err(BrokenLink {
                        id,
                        message: format!(
                            "scan {id}'s report does not decompress ({err}): the report was changed"
                        ),
                    }));
                }
            };
            let stored: String = r.get(2)?;
            let previous: String = r.get(3)?;
            if previous != expected {
                return Ok(Err(BrokenLink {
                    id,
                    message: format!(
                        "scan {id} names {} as the previous report's hash, but the chain has {}",
                        short(&previous),
                        short(&expected)
                    ),
                }));
            }
            let actual = sha256_hex(&bytes);
            if actual != stored {
                return Ok(Err(BrokenLink {
                    id,
                    message: format!(
                        "scan {id}'s report hashes to {}, not its recorded {}: the report was changed",
                        short(&actual),
                        short(&stored)
                    ),
                }));
            }
            expected = stored;
            count += 1;
        }
        Ok(Ok(count))
    }
}

fn short(hash: &str) -> String {
    hash.chars().take(16).collect()
}

fn last_hash(conn: &Connection) -> Result<String, rusqlite::Error> {
    let last: Option<String> = conn
        .query_row(
            "SELECT sha256 FROM scans ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(last) = last {
        return Ok(last);
    }
    let anchor: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'anchor'", [], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(anchor.unwrap_or_else(|| GENESIS.to_string()))
}

fn row(r: &rusqlite::Row<'_>) -> Result<StoredScan, rusqlite::Error> {
    let time = |i: usize| -> Result<DateTime<Utc>, rusqlite::Error> {
        let text: String = r.get(i)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    i,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })
    };
    let targets: String = r.get(3)?;
    let summary: String = r.get(4)?;
    Ok(StoredScan {
        id: r.get(0)?,
        started_at: time(1)?,
        finished_at: time(2)?,
        targets: targets
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect(),
        summary: serde_json::from_str(&summary).unwrap_or_default(),
        failing_findings: r.get::<_, i64>(5)? as usize,
        sha256: r.get(6)?,
        previous_sha256: r.get(7)?,
        bytes: r.get::<_, i64>(8)? as usize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(n: usize) -> ScanReport {
        serde_json::from_value(json!({
            "schema": crate::report::SCHEMA,
            "scan": {"started_at": "2026-01-01T01:00:00Z", "finished_at": "2026-01-01T01:00:01Z",
                     "gitdrift_version": "0.1.0", "config": "gitdrift.yaml", "sources": [],
                     "targets": [{"name": "prod", "provider": "snapshot", "location": "live",
                                  "observed_at": "2026-11-27T01:00:00Z", "objects": n}]},
            "summary": {"resources": n, "in_sync": n, "drifted": 0, "missing": 0, "unmanaged": 0,
                        "drifts": 0, "unreadable": 0, "errors": 0, "warnings": 0},
            "resources": [], "problems": [], "stale_ignore_rules": [], "unreadable": [],
            "coverage": [], "findings": [],
            "compliance": {"rules": [], "failing": {}, "waived": 0, "frameworks": [], "waivers": []}
        }))
        .unwrap()
    }

    #[test]
    fn scans_chain_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let ids: Vec<i64> = (1..=3).map(|n| store.save(&report(n)).unwrap()).collect();
        assert_eq!(ids, vec![1, 2, 3]);
        let list = store.list(10).unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(list[0].id, 3);
        assert_eq!(list[0].previous_sha256, list[1].sha256);
        assert_eq!(list[2].previous_sha256, GENESIS);
        assert_eq!(list[0].targets, vec!["prod"]);
        let (scan, back) = store.get(2).unwrap().unwrap();
        assert_eq!(back.summary.resources, 2);
        assert_eq!(
            scan.sha256,
            sha256_hex(&canonical(&back)),
            "canonical bytes round-trip"
        );
        assert_eq!(store.verify().unwrap(), Ok(3));
        // Reopened, the chain goes on.
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.save(&report(4)).unwrap(), 4);
        assert_eq!(store.verify().unwrap(), Ok(4));
    }

    #[test]
    fn a_changed_report_or_link_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for n in 1..=4 {
            store.save(&report(n)).unwrap();
        }
        let tampered = String::from_utf8(canonical(&report(99))).unwrap();
        store
            .conn()
            .execute(
                "UPDATE scans SET report = ?1 WHERE id = 3",
                params![tampered],
            )
            .unwrap();
        let broken = store.verify().unwrap().unwrap_err();
        assert_eq!(broken.id, 3);
        assert!(broken.message.contains("was changed"), "{broken:?}");
        // Rewriting the hash too breaks the next link.
        let rehashed = sha256_hex(tampered.as_bytes());
        store
            .conn()
            .execute(
                "UPDATE scans SET sha256 = ?1 WHERE id = 3",
                params![rehashed],
            )
            .unwrap();
        let broken = store.verify().unwrap().unwrap_err();
        assert_eq!(broken.id, 4);
        assert!(
            broken.message.contains("previous report's hash"),
            "{broken:?}"
        );
    }

    #[test]
    fn retention_keeps_the_chain_verifiable() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for n in 1..=6 {
            store.save(&report(n)).unwrap();
        }
        assert_eq!(store.retain(None, Some(4)).unwrap(), 2);
        let ids: Vec<i64> = store.list(10).unwrap().iter().map(|s| s.id).collect();
        assert_eq!(ids, vec![6, 5, 4, 3]);
        assert_eq!(store.verify().unwrap(), Ok(4));
        assert_eq!(store.save(&report(7)).unwrap(), 7);
        assert_eq!(store.verify().unwrap(), Ok(5));
        // Everything started long ago is older than a day.
        assert_eq!(
            store.retain(Some(chrono::Duration::days(1)), None).unwrap(),
            5
        );
        assert!(store.list(10).unwrap().is_empty());
        store.save(&report(8)).unwrap();
        assert_eq!(store.verify().unwrap(), Ok(1));
        assert_eq!(store.retain(None, Some(10)).unwrap(), 0);
    }
}
