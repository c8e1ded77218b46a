//! Problems met during a scan: how serious, what class ([`Code`], stable, for filters and
//! alerts), what exactly, and where (source, target, file, line). Messages pass through
//! [`super::redact::scrub`] when a problem is made, so no registered secret can reach a report.

use std::fmt;

/// Declares [`Code`] once: each code's name, its stable text and what it means. The README's
/// table of codes is checked against this list.
macro_rules! codes {
    ($($variant:ident => $text:literal, $meaning:literal;)*) => {
        /// The class of a problem: `stage.reason`, stable across releases. The stage (the part
        /// before the dot) is the `stage` label of `gitdrift_scan_errors_total`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $(#[doc = $meaning] $variant,)*
        }

        impl Code {
            /// Every code, in the order of the table.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The stable text (`git.ref_not_found`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $text,)*
                }
            }

            /// What the code means, for the README's table.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(Code::$variant => $meaning,)*
                }
            }
        }
    };
}

codes! {
    ConfigUnreadable => "config.unreadable", "The configuration file cannot be read.";
    ConfigSyntax => "config.syntax", "The configuration (or a waiver file) is not valid YAML.";
    ConfigUnknownKey => "config.unknown_key", "A key the configuration does not know; the message suggests the closest one.";
    ConfigMissingKey => "config.missing_key", "A key the configuration needs is missing.";
    ConfigInvalidValue => "config.invalid_value", "A value of the wrong type, out of range, or not in the allowed set.";
    ConfigDuplicate => "config.duplicate", "A name (source, target, report) is defined twice.";
    ConfigUnknownTarget => "config.unknown_target", "`--target` names a target the configuration does not have.";
    GitOpen => "git.open", "A local repository cannot be opened.";
    GitFetch => "git.fetch", "A remote repository cannot be cloned or fetched.";
    GitTimeout => "git.timeout", "A clone or fetch took longer than `git.fetch_timeout` and was abandoned.";
    GitRefNotFound => "git.ref_not_found", "The source's ref is not in the repository.";
    GitCredential => "git.credential", "A credential for the repository cannot be read.";
    GitRead => "git.read", "A tree or file cannot be read from the repository.";
    GitCache => "git.cache", "The cache folder for remote repositories cannot be used.";
    SourceStale => "source.stale", "The source cannot be read now; the scan used its last good revision (`serve`).";
    SourceUnread => "source.unread", "The source could not be read: nothing it declares is judged, and nothing is called unmanaged on its account.";
    SourceInvalidDeclaration => "source.invalid_declaration", "An `AWSResource` declaration is incomplete or wrong.";
    SourceTerraformInvalid => "source.terraform_invalid", "A Terraform state file does not parse or has an unsupported format version.";
    SourceTerraformIncomplete => "source.terraform_incomplete", "A Terraform resource has no id, or no region to place it in.";
    SourceTerraformSkipped => "source.terraform_skipped", "Terraform resources of types gitdrift does not read were skipped.";
    ManifestTooLarge => "manifest.too_large", "A file is over `limits.max_file_size` (a snapshot's JSON list: over `limits.max_snapshot_file_size`) and was not read.";
    ManifestNotUtf8 => "manifest.not_utf8", "A file is not valid UTF-8.";
    ManifestSyntax => "manifest.syntax", "A file is not valid YAML or JSON, or goes past the node or depth limits.";
    ManifestInvalidObject => "manifest.invalid_object", "An object lacks apiVersion, kind or metadata.name, or has a malformed field.";
    ManifestSkipped => "manifest.skipped", "Documents that are not cluster objects (no apiVersion/kind, build files) were skipped.";
    RenderMissingTool => "render.missing_tool", "`kustomize`, `kubectl` or `helm` is not installed.";
    RenderFailed => "render.failed", "The renderer failed, or printed something that is not a manifest.";
    RenderTimeout => "render.timeout", "A render took longer than `render_timeout` and was stopped.";
    RenderRefused => "render.refused", "A render input was refused before rendering (a remote base, a missing folder or file).";
    RenderSkipped => "render.skipped", "Rendered objects that are not part of the steady state (Helm hooks) were skipped.";
    KubeConfig => "kube.config", "The kubeconfig or in-cluster configuration cannot be loaded.";
    KubeUnreachable => "kube.unreachable", "The API server cannot be reached, or its discovery fails.";
    KubeForbidden => "kube.forbidden", "The API server refuses to list a kind (RBAC).";
    KubeError => "kube.error", "Listing or watching a kind failed.";
    KubeObjectSkipped => "kube.object_skipped", "One live object could not be parsed (nested deeper than the parser's limit, say) and was skipped; its declaration is not judged, the rest of its kind is.";
    AwsUnreachable => "aws.unreachable", "The EC2 endpoint cannot be reached (connection, timeout, credentials).";
    AwsForbidden => "aws.forbidden", "AWS refuses a read (`UnauthorizedOperation`, `AccessDenied`).";
    AwsThrottled => "aws.throttled", "AWS kept throttling a read after every retry.";
    AwsError => "aws.error", "AWS answered a read with another error.";
    SnapshotUnreadable => "snapshot.unreadable", "A snapshot folder or file cannot be read.";
    JudgeDeclaredTwice => "judge.declared_twice", "Two declarations name the same resource; the first is used.";
    JudgeLiveTwice => "judge.live_twice", "The live state holds the same resource twice; the first is used.";
    JudgeNotRead => "judge.not_read", "A declaration is for a region or type the target does not read: not judged.";
    JudgeAmbiguousTags => "judge.ambiguous_tags", "A declaration's tags match several live resources.";
    JudgeUnmanagedNotReported => "judge.unmanaged_not_reported", "A source could not be read, so unmanaged resources are not reported for its target.";
    JudgeStaleIgnoreRule => "judge.stale_ignore_rule", "An ignore rule matched nothing in a complete scan.";
    AuditRulesUnreadable => "audit.rules_unreadable", "A configured rule folder cannot be read.";
    AuditRuleFile => "audit.rule_file", "A rule file does not compile or its METADATA is wrong; its rules are not run.";
    AuditGatekeeper => "audit.gatekeeper", "A Gatekeeper ConstraintTemplate or Constraint cannot be used (no Rego, Rego that does not compile, a Constraint without its template); the others run.";
    AuditUnknownSelection => "audit.unknown_selection", "A pack or rule the configuration selects is not loaded.";
    AuditRuleFailed => "audit.rule_failed", "A rule failed (or ran too long) on one resource.";
    AuditWaiverExpired => "audit.waiver_expired", "A waiver has expired: its findings fail again.";
    AuditWaiverUnused => "audit.waiver_unused", "A waiver matched no finding in a complete scan.";
    AuditWaiverInvalid => "audit.waiver_invalid", "A waiver file is missing at the source's ref, or a waiver in it is wrong.";
    RemediateUnreachable => "remediate.unreachable", "The hosting API cannot be reached, or its answer not read.";
    RemediateRefused => "remediate.refused", "The hosting API answered a remediation call with an error.";
    RemediateGit => "remediate.git", "The local repository cannot be read or written for a proposal.";
    RemediateToken => "remediate.token", "The remediation token cannot be read.";
    RemediateNotAllowed => "remediate.not_allowed", "A proposal would write to a source's own branch; gitdrift never does.";
    StoreOpen => "store.open", "The history in the data folder cannot be opened or created.";
    StoreWrite => "store.write", "A scan could not be stored in (or read from) the history database.";
    StoreCorrupt => "store.corrupt", "A stored report does not read back.";
    ReportWrite => "report.write", "A scheduled report could not be written.";
    ScanTimeout => "scan.timeout", "A target's live read ran past its deadline (`targets[].scan_timeout`) and was abandoned; nothing is judged missing.";
    ScanInternal => "scan.internal", "A task of the scan stopped unexpectedly; the message says which (please report it).";
    Unclassified => "unclassified", "A problem from a report stored before problems had codes.";
}

impl Code {
    /// The stage the code belongs to (`git` for `git.ref_not_found`).
    pub fn stage(self) -> &'static str {
        self.as_str().split('.').next().unwrap_or("")
    }

    /// Every stage, once, in the order of the table.
    pub fn stages() -> Vec<&'static str> {
        let mut stages: Vec<&'static str> = Vec::new();
        for code in Code::ALL {
            if !stages.contains(&code.stage()) {
                stages.push(code.stage());
            }
        }
        stages
    }
}

#[allow(clippy::derivable_impls)] // the enum is declared by `codes!`
impl Default for Code {
    fn default() -> Code {
        Code::Unclassified
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Code, D::Error> {
        let text = String::deserialize(deserializer)?;
        // A code this version does not know (a newer report) reads as unclassified.
        Ok(Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == text)
            .unwrap_or(Code::Unclassified))
    }
}

/// How serious a problem is.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Part of the input could not be used; the scan is incomplete.
    Error,
    /// Something looks wrong but the scan is complete.
    Warning,
    /// For information (a file that holds no Kubernetes objects).
    Note,
}

/// A problem met during a scan, tied to the source, target, file and line it concerns. Messages
/// never quote manifest content.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Problem {
    /// How serious.
    pub severity: Severity,
    /// What class of problem (stable, for filters and alerts).
    #[serde(default)]
    pub code: Code,
    /// Source name, for problems with desired state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Target name, for problems with live state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// File, relative to its repository or snapshot folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 1-based line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// What happened.
    pub message: String,
}

impl Problem {
    /// A problem with no location yet; add one with the builder methods.
    pub fn new(severity: Severity, code: Code, message: impl Into<String>) -> Problem {
        Problem {
            severity,
            code,
            source: None,
            target: None,
            file: None,
            line: None,
            message: super::redact::scrub(&message.into()),
        }
    }

    /// Names the source.
    pub fn source(mut self, source: &str) -> Problem {
        self.source = Some(source.to_string());
        self
    }

    /// Names the target.
    pub fn target(mut self, target: &str) -> Problem {
        self.target = Some(target.to_string());
        self
    }

    /// Names the file and line.
    pub fn at(mut self, file: &str, line: Option<u64>) -> Problem {
        self.file = Some(file.to_string());
        self.line = line;
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        };
        write!(f, "{severity}")?;
        if let Some(source) = &self.source {
            write!(f, " [source {source}]")?;
        }
        if let Some(target) = &self.target {
            write!(f, " [target {target}]")?;
        }
        if let Some(file) = &self.file {
            write!(f, " {file}")?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_every_one_is_documented() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
            .expect("README.md");
        let documented: Vec<&str> = readme
            .lines()
            .skip_while(|l| !l.starts_with("### Problem codes"))
            .skip(1)
            .take_while(|l| !l.starts_with('#'))
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .collect();
        let codes: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(documented, codes, "README's problem codes table, in order");
        for code in Code::ALL {
            let (stage, reason) = code.as_str().split_once('.').unwrap_or(("", code.as_str()));
            assert!(
                reason
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{code}"
            );
            assert!(stage.chars().all(|c| c.is_ascii_lowercase()), "{code}");
        }
        let problem = Problem::new(Severity::Error, Code::GitRefNotFound, "x");
        let json = serde_json::to_value(&problem).unwrap();
        assert_eq!(json["code"], "git.ref_not_found");
        let old: Problem =
            serde_json::from_str(r#"{"severity": "error", "message": "stored before codes"}"#)
                .unwrap();
        assert_eq!(old.code, Code::Unclassified);
    }
}
