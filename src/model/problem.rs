//! Problems met during a scan: how serious, what, and where (source, target, file, line).
//! Messages pass through [`super::redact::scrub`] when a problem is made, so no registered
//! secret can reach a report.

use std::fmt;

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
    pub fn new(severity: Severity, message: impl Into<String>) -> Problem {
        Problem {
            severity,
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
