//! The drift judgement: given what git declares and what is live, which fields differ, who
//! changed them and when. Pure: values in, values out, no I/O. README.md states the rules;
//! `rules` holds the tables of server behaviour, `compare` the walk, `owners` the attribution,
//! `ignore` the one place where results are filtered.

pub mod aws;
pub mod compare;
pub mod defaults;
pub mod ignore;
pub mod owners;
pub mod path;
pub mod quantity;
pub mod rules;
pub mod unmanaged;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::DriftSettings;
use compare::{Comparer, RawDrift};
use owners::Ownership;
use path::Seg;

/// What stands in for a secret value in every output.
pub const REDACTED: &str = "<redacted>";

/// The judgement on one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Declared and live agree.
    InSync,
    /// Declared and live differ in at least one field.
    Drifted,
    /// Declared, not live.
    Missing,
    /// Live, in scope, not declared.
    Unmanaged,
}

impl Status {
    /// The status as written in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::InSync => "in_sync",
            Status::Drifted => "drifted",
            Status::Missing => "missing",
            Status::Unmanaged => "unmanaged",
        }
    }
}

/// Why a field is drift: what the evidence says happened to it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Git and live both have it, with different values.
    #[default]
    Changed,
    /// Only live has it, and nothing says git ever had it: set by hand, or a content key or
    /// list element added live.
    AddedLive,
    /// Only live has it, and the last apply from git set it (the `last-applied-configuration`
    /// annotation lists it, or an `Apply` manager of git's fields owns it): git dropped it
    /// since, and the next sync would prune it.
    RemovedFromGit,
    /// Git declares it; live lacks it.
    MissingLive,
}

impl Reason {
    /// The reason as written in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Changed => "changed",
            Reason::AddedLive => "added_live",
            Reason::RemovedFromGit => "removed_from_git",
            Reason::MissingLive => "missing_live",
        }
    }

    /// The reason a drift between these two values has when the evidence says no more: both
    /// present is a change, one side absent an addition or a loss.
    pub fn between(desired: &Value, live: &Value) -> Reason {
        match (desired.is_null(), live.is_null()) {
            (true, _) => Reason::AddedLive,
            (false, true) => Reason::MissingLive,
            (false, false) => Reason::Changed,
        }
    }
}

/// One field that differs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    /// JSON Pointer into the live object; a declared list element the live list lacks ends in
    /// `/-`.
    pub path: String,
    /// The declared value; `null` when git does not declare the field.
    pub desired: Value,
    /// The live value; `null` when the field is absent live.
    pub live: Value,
    /// What happened to the field, as far as the evidence tells.
    #[serde(default)]
    pub reason: Reason,
    /// The managedFields manager that last set the live value, where the evidence exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_by: Option<String>,
    /// When that manager last wrote (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<String>,
    /// Every manager owning the live field (for manager ignore rules); not reported.
    #[serde(skip)]
    pub owners: Vec<String>,
    /// JSON Pointer into the declared object, where it differs from `path`: a list element
    /// matched by key at another position, or `-` for an element only the live list has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_path: Option<String>,
    /// The line of the field's key in the git file that declares the resource (the nearest
    /// existing ancestor's where git lacks the field); set after the judgement, for plain
    /// manifests only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The start of the first scan in the history since which this field has drifted in every
    /// scan of its target (`serve`, and `scan --data-dir`); the report module dates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<chrono::DateTime<chrono::Utc>>,
}

/// Why a difference between git and live was not counted as drift.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscountReason {
    /// The server fills or allocates it on its own (its defaulting code, or an allocation git
    /// asked for with an empty value).
    ServerDefault,
    /// The API's schema (a built-in kind's OpenAPI `default`, or a CRD's structural schema)
    /// gives it this value.
    SchemaDefault,
    /// Another party owns it: a controller or manager, named in the detail.
    OwnedBy,
    /// An ignore rule of the configuration drops it (the detail names the rule's line).
    IgnoredByRule,
    /// Equal once both sides are brought to one form (the detail says which: quantity,
    /// int-or-string, empty-equals-absent, set order, number, base64).
    Normalised,
}

impl DiscountReason {
    /// The reason as written in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            DiscountReason::ServerDefault => "server_default",
            DiscountReason::SchemaDefault => "schema_default",
            DiscountReason::OwnedBy => "owned_by",
            DiscountReason::IgnoredByRule => "ignored_by_rule",
            DiscountReason::Normalised => "normalised",
        }
    }
}

/// A difference between git and live that the judgement discounted, and why: the evidence
/// behind an "in sync" that a textual diff would dispute.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Discount {
    /// JSON Pointer into the live object (into the declared one for a declared field absent
    /// live).
    pub path: String,
    /// Why it is not drift.
    pub reason: DiscountReason,
    /// The particulars: the manager, the rule, the default value, the normalisation.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// At most this many discounts are kept per resource; the rest are counted.
pub const MAX_DISCOUNTS: usize = 50;

/// The judgement of one object pair: its drifts and what was discounted on the way.
#[derive(Clone, Debug, Default)]
pub struct Verdict {
    /// Fields that differ.
    pub drifts: Vec<Drift>,
    /// Differences not counted, with the reason (live-only fields only when explaining).
    pub discounted: Vec<Discount>,
    /// Discounts past [`MAX_DISCOUNTS`], counted only.
    pub discounted_more: usize,
}

/// Compares a declared object with its live counterpart. Returns every drift, attributed and
/// with secret values redacted; ignore rules are applied afterwards by [`ignore::Registry`].
/// `applied` is the live object's [`crate::model::Object::applied`]: the evidence for fields
/// removed from git. Differences judged not to be drift are in the verdict's `discounted`; with
/// `settings.explain`, so is every live-only field git does not declare.
pub fn compare(
    group: &str,
    kind: &str,
    desired: &Value,
    live: &Value,
    applied: Option<&str>,
    settings: &DriftSettings,
    schemas: &defaults::Schemas,
) -> Verdict {
    let is_secret = group.is_empty() && kind == "Secret";
    let normalized;
    let desired = if is_secret {
        normalized = normalize_secret(desired);
        &normalized
    } else {
        desired
    };
    let ownership = Ownership::of(live);
    let (raw, discounted, discounted_more) = Comparer::new(
        kind,
        group,
        desired,
        live,
        applied,
        &ownership,
        &settings.imperative_managers,
    )
    .explain(settings.explain)
    .schemas(schemas)
    .unordered(&settings.unordered)
    .run();
    Verdict {
        drifts: raw
            .into_iter()
            .map(|drift| finish(drift, live, &ownership, is_secret))
            .collect(),
        discounted,
        discounted_more,
    }
}

fn finish(raw: RawDrift, live: &Value, ownership: &Ownership<'_>, is_secret: bool) -> Drift {
    let RawDrift {
        path,
        mut desired,
        live: mut live_value,
        set_by,
        git_path,
        reason,
    } = raw;
    let (changed_by, changed_at, owners) = match set_by {
        Some((manager, time)) => (Some(manager.clone()), time, vec![manager]),
        None if path.contains(&Seg::Missing) => (None, None, Vec::new()),
        None => {
            let owners = ownership.owners(live, &path);
            let first = owners.first();
            (
                first.map(|e| e.manager.to_string()),
                first.and_then(|e| e.time.map(str::to_string)),
                owners.iter().map(|e| e.manager.to_string()).collect(),
            )
        }
    };
    if is_secret && touches_secret_values(&path) {
        desired = redact(&desired);
        live_value = redact(&live_value);
    }
    Drift {
        path: path::pointer(&path),
        desired,
        live: live_value,
        reason,
        changed_by,
        changed_at,
        owners,
        git_path: git_path.map(|p| path::pointer(&p)),
        line: None,
        first_seen: None,
    }
}

/// Whether a Secret path is at, above or inside the values (`/data/…`, `/stringData/…`).
fn touches_secret_values(path: &[Seg]) -> bool {
    match path.first() {
        None => true,
        Some(Seg::Key(k)) => k == "data" || k == "stringData",
        Some(_) => false,
    }
}

/// Replaces every scalar in a value with [`REDACTED`], keeping keys (which are not secret).
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Null => Value::Null,
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), redact(v)))
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        _ => Value::String(REDACTED.to_string()),
    }
}

/// A declared Secret as the API server stores it: `stringData` merged into `data` as base64
/// (`stringData` wins, as on the server).
pub fn normalize_secret(desired: &Value) -> Value {
    let mut out = desired.clone();
    let Some(map) = out.as_object_mut() else {
        return out;
    };
    if let Some(Value::Object(string_data)) = map.remove("stringData") {
        let data = map
            .entry("data")
            .or_insert_with(|| Value::Object(Map::new()));
        if !data.is_object() {
            *data = Value::Object(Map::new());
        }
        if let Some(data) = data.as_object_mut() {
            for (key, value) in string_data {
                let text = match value {
                    Value::String(s) => s,
                    Value::Null => continue,
                    other => other.to_string(),
                };
                data.insert(
                    key,
                    Value::String(base64::engine::general_purpose::STANDARD.encode(text)),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod cases;
