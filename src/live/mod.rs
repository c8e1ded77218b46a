//! Live state: what actually runs. One submodule per provider; every provider only reads.
//! Providers return plain objects; matching and judging happen in `scan` and `diff`.

pub mod snapshot;

use chrono::{DateTime, Utc};

use crate::config::{LiveSettings, Target};
use crate::desired::manifest::Limits;
use crate::model::{Object, Problem};

/// Trims a live object to what judging needs, as soon as it is read: the
/// last-applied-configuration annotation goes (see [`crate::model::drop_last_applied`]), and each
/// managedFields entry's fieldsV1 tree is kept as compact JSON text, parsed again only for objects
/// that drift. Then the object is frozen into text (see [`crate::model::Body`]).
pub fn compact(object: &mut Object) {
    if let Some(value) = object.body.tree_mut() {
        crate::model::drop_last_applied(value);
        if let Some(entries) = value
            .pointer_mut("/metadata/managedFields")
            .and_then(serde_json::Value::as_array_mut)
        {
            for entry in entries {
                if let Some(fields) = entry.get_mut("fieldsV1")
                    && fields.is_object()
                {
                    let text = serde_json::to_string(fields).unwrap_or_default();
                    *fields = serde_json::Value::String(text);
                }
            }
        }
    }
    object.body.freeze();
}

/// What one target's live state read produced.
#[derive(Debug)]
pub struct LiveRead {
    /// Live objects.
    pub objects: Vec<Object>,
    /// Problems met while reading, each naming the target (and file, for snapshots).
    pub problems: Vec<Problem>,
    /// When the state was observed.
    pub observed_at: DateTime<Utc>,
    /// `false` when the read failed as a whole (nothing can be called missing then).
    pub complete: bool,
}

/// A way of reading a target's live state.
#[derive(Clone, Debug)]
pub enum LiveProvider {
    /// Exported objects in a folder or file.
    Snapshot(snapshot::SnapshotProvider),
}

impl LiveProvider {
    /// The provider a target's configuration names.
    pub fn for_target(target: &Target) -> LiveProvider {
        match &target.live {
            LiveSettings::Snapshot(path) => {
                LiveProvider::Snapshot(snapshot::SnapshotProvider::new(path.clone()))
            }
        }
    }

    /// A short word for reports: `snapshot`.
    pub fn kind(&self) -> &'static str {
        match self {
            LiveProvider::Snapshot(_) => "snapshot",
        }
    }

    /// Where the state comes from, for reports.
    pub fn location(&self) -> String {
        match self {
            LiveProvider::Snapshot(p) => p.path().display().to_string(),
        }
    }

    /// Reads the live state of `target`.
    pub async fn read(&self, target: &str, limits: &Limits) -> LiveRead {
        match self {
            LiveProvider::Snapshot(provider) => {
                let provider = provider.clone();
                let target = target.to_string();
                let limits = limits.clone();
                let join =
                    tokio::task::spawn_blocking(move || provider.read(&target, &limits)).await;
                join.unwrap_or_else(|err| LiveRead {
                    objects: Vec::new(),
                    problems: vec![Problem::new(
                        crate::model::Severity::Error,
                        format!("snapshot reader failed: {err}"),
                    )],
                    observed_at: Utc::now(),
                    complete: false,
                })
            }
        }
    }
}
