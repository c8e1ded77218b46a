//! Remediation: bring git back in line with the live state where the live state is right. From
//! a [`ScanReport`], [`plan`] computes, for the drift the configuration says to adopt, the edits
//! to the git files that declare it — format-preserving ([`yaml_edit`]), checked by parsing the
//! edited file again; for rendered sources, the overlay or values edits checked by rendering
//! again — and says why where it will not edit (Terraform state, secret values, a file that
//! changed since the scan). A plan is data: printed for review, written as a patch
//! `git apply` accepts. gitdrift never touches the environment; remediation only writes to git.

pub mod api;
mod codify;
mod describe;
pub mod gitea;
pub mod github;
pub mod gitlab;
mod imports;
pub mod lines;
pub mod local;
mod overlay;
mod planning;
pub mod propose;
mod rendered;
mod values;
pub mod yaml_edit;

pub use describe::{SCAN_LINE, patch, pr_body, pr_title, render_plan, same_description};
pub use imports::{add_imports, clean, import_candidates, read_unmanaged};
pub use planning::{plan, read_at, repo_path};

use serde::Serialize;
use serde_json::Value;

use crate::judge::ResourceReport;
use crate::model::ResourceKey;

/// Why a proposal could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RemediateError {
    /// The hosting API could not be reached, or its answer not read.
    #[error("{0}")]
    Unreachable(String),
    /// The hosting API answered a call with an error.
    #[error("{0}")]
    Refused(String),
    /// The local repository could not be read or written.
    #[error("{0}")]
    Git(String),
    /// The remediation token could not be read.
    #[error("{0}")]
    Token(String),
    /// The proposal would write where gitdrift never writes (a source's own branch).
    #[error("{0}")]
    NotAllowed(String),
}

impl RemediateError {
    /// The problem code.
    pub fn code(&self) -> crate::model::Code {
        use crate::model::Code;
        match self {
            RemediateError::Unreachable(_) => Code::RemediateUnreachable,
            RemediateError::Refused(_) => Code::RemediateRefused,
            RemediateError::Git(_) => Code::RemediateGit,
            RemediateError::Token(_) => Code::RemediateToken,
            RemediateError::NotAllowed(_) => Code::RemediateNotAllowed,
        }
    }

    /// The same error, its message prefixed with where it happened.
    pub fn within(self, place: impl std::fmt::Display) -> RemediateError {
        let prefix = |m: String| format!("{place}: {m}");
        match self {
            RemediateError::Unreachable(m) => RemediateError::Unreachable(prefix(m)),
            RemediateError::Refused(m) => RemediateError::Refused(prefix(m)),
            RemediateError::Git(m) => RemediateError::Git(prefix(m)),
            RemediateError::Token(m) => RemediateError::Token(prefix(m)),
            RemediateError::NotAllowed(m) => RemediateError::NotAllowed(prefix(m)),
        }
    }
}

/// What remediation would change.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Plan {
    /// Files to change, each whole (before and after).
    pub changes: Vec<FileChange>,
    /// Changes described, not applied, and why.
    pub suggestions: Vec<Suggestion>,
}

/// One file of one source, changed.
#[derive(Clone, Debug, Serialize)]
pub struct FileChange {
    /// The source.
    pub source: String,
    /// The target it declares.
    pub target: String,
    /// The commit the file was read at (the scanned one).
    pub commit: String,
    /// Path in the repository.
    pub file: String,
    /// Its content at that commit.
    #[serde(skip)]
    pub before: String,
    /// Its content after the change.
    #[serde(skip)]
    pub after: String,
    /// The fields changed.
    pub fields: Vec<FieldChange>,
    /// The file is new (an imported resource).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub new_file: bool,
}

/// One field set to its live value.
#[derive(Clone, Debug, Serialize)]
pub struct FieldChange {
    /// The resource (`Deployment shop/web`).
    pub resource: String,
    /// JSON Pointer (into the live object).
    pub path: String,
    /// JSON Pointer into git's declaration, where it differs (list elements matched by key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_path: Option<String>,
    /// Git's value.
    pub git: Value,
    /// The live value git adopts (`null`: the field goes).
    pub live: Value,
    /// Who changed it live, where managedFields tell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_by: Option<String>,
    /// When.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<String>,
    /// The line of the field in git's file, where the scan located it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// What a reviewer should know of how the field was written (a string written
    /// double-quoted where git had another style, and why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A change gitdrift describes but does not make.
#[derive(Clone, Debug, Serialize)]
pub struct Suggestion {
    /// The resource.
    pub resource: String,
    /// The source.
    pub source: String,
    /// Where it is declared.
    pub file: String,
    /// Why it is not applied.
    pub reason: String,
    /// The fields to change by hand.
    pub fields: Vec<FieldChange>,
}

fn key_of(r: &ResourceReport) -> ResourceKey {
    ResourceKey {
        group: crate::model::split_api_version(&r.api_version)
            .0
            .to_string(),
        kind: r.kind.clone(),
        namespace: r.namespace.clone(),
        name: r.name.clone(),
    }
}

/// How plans and descriptions name a resource: `Deployment shop/web`.
fn label(kind: &str, namespace: &Option<String>, name: &str) -> String {
    format!("{kind} {}", crate::report::resource_name(namespace, name))
}

fn describe(r: &ResourceReport) -> String {
    label(&r.kind, &r.namespace, &r.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::report::ScanReport;
    use serde_json::json;
    use std::path::Path;

    #[test]
    fn terraform_state_and_rendered_output_are_suggested_never_edited() {
        let config = Config::from_str(
            "sources:\n  - name: infra\n    repo: .\n    target: prod\ntargets:\n  - name: prod\n    snapshot: ./live\nremediation:\n  adopt:\n    - target: prod\n",
            Path::new("/etc/gitdrift.yaml"),
            Path::new("/etc"),
            &crate::live::known(),
        )
        .unwrap();
        let resource = |kind: &str, source: Value| {
            json!({
                "target": "prod", "apiVersion": "aws/v1", "kind": kind, "namespace": "eu-west-1",
                "name": "x", "status": "drifted", "source": source,
                "drifts": [{"path": "/InstanceType", "desired": "t3.small", "live": "t3.large", "owners": []}]
            })
        };
        let report: ScanReport = serde_json::from_value(json!({
            "schema": crate::report::SCHEMA,
            "scan": {"started_at": "2026-01-01T01:00:00Z", "finished_at": "2026-01-01T01:00:01Z",
                     "gitdrift_version": "0.1.0", "config": "gitdrift.yaml", "sources": [], "targets": []},
            "summary": {"resources": 2, "in_sync": 0, "drifted": 2, "missing": 0, "unmanaged": 0,
                        "drifts": 2, "unreadable": 0, "errors": 0, "warnings": 0},
            "resources": [
                resource("AWS::EC2::Instance", json!({"name": "infra", "file": "tf/terraform.tfstate", "line": null})),
                resource("AWS::EC2::Volume", json!({"name": "infra", "file": "charts/x/templates/v.yaml", "line": 1,
                    "rendered": {"tool": "helm", "path": "charts/x"}})),
            ],
            "problems": [], "stale_ignore_rules": [], "unreadable": [], "coverage": [], "findings": [],
            "compliance": {"rules": [], "failing": {}, "waived": 0, "frameworks": [], "waivers": []}
        }))
        .unwrap();
        let plan = plan(&config, &report, Path::new("/nonexistent"));
        assert!(plan.changes.is_empty());
        assert_eq!(plan.suggestions.len(), 2);
        assert!(
            plan.suggestions[0].reason.contains("Terraform state"),
            "{:?}",
            plan.suggestions
        );
        // Rendered output is never edited: its source (not read here) would be.
        assert_eq!(plan.suggestions[1].resource, "AWS::EC2::Volume eu-west-1/x");
        assert_eq!(plan.suggestions[1].reason, "the source was not read");
        assert_eq!(plan.suggestions[0].fields[0].live, json!("t3.large"));
    }
}
