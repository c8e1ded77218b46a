//! The words compliance findings are told in: how bad a violation is, and which side of a scan
//! (git's or the live system's) a resource was judged on.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How bad a violation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleSeverity {
    /// Informational.
    Info,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl RuleSeverity {
    /// Every severity, highest first.
    pub const ALL: [RuleSeverity; 5] = [
        RuleSeverity::Critical,
        RuleSeverity::High,
        RuleSeverity::Medium,
        RuleSeverity::Low,
        RuleSeverity::Info,
    ];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleSeverity::Critical => "critical",
            RuleSeverity::High => "high",
            RuleSeverity::Medium => "medium",
            RuleSeverity::Low => "low",
            RuleSeverity::Info => "info",
        }
    }
}

impl FromStr for RuleSeverity {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        RuleSeverity::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(())
    }
}

impl std::fmt::Display for RuleSeverity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which side of a scan a resource comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// As git declares it.
    Desired,
    /// As it runs.
    Live,
}

impl Side {
    /// `desired` or `live`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Desired => "desired",
            Side::Live => "live",
        }
    }
}
