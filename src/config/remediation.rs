//! The `remediation:` block: which drift git should adopt from the live state (nothing unless
//! asked), and whether missing resources may be proposed for deletion from git and unmanaged
//! ones for import.
//!
//! ```yaml
//! remediation:
//!   adopt:                          # the live state wins for these (a selector, as ignore rules)
//!     - target: prod
//!       group: apps
//!       kind: Deployment
//!       namespace: shop
//!       name: web
//!       source: shop                # only resources declared by this source
//!       paths: ["/spec/replicas"]   # only these fields (and below); default: every drifted field
//!   delete_missing: false           # propose deleting declarations of missing resources
//!   import_unmanaged: false         # propose unmanaged resources as new manifests
//!   provider: local                 # where `remediate --open` proposes: a branch per source
//! ```

use super::node::Node;
use super::{Checker, Selector, parse_pointer};

/// Remediation settings.
#[derive(Clone, Debug, Default)]
pub struct RemediationSettings {
    /// Drift to adopt from the live state.
    pub adopt: Vec<AdoptRule>,
    /// Propose deleting the declarations of missing resources.
    pub delete_missing: bool,
    /// Propose unmanaged resources as new manifests.
    pub import_unmanaged: bool,
    /// Where `remediate --open` proposes the change.
    pub provider: Option<Provider>,
}

/// Where remediation proposes its changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Provider {
    /// A commit on a branch of the source's local repository.
    Local,
}

/// Resources (and fields) whose live state git should adopt.
#[derive(Clone, Debug)]
pub struct AdoptRule {
    /// Which resources.
    pub selector: Selector,
    /// Only resources declared by this source.
    pub source: Option<String>,
    /// Only these fields (JSON Pointer segments, prefixes); empty: every drifted field.
    pub paths: Vec<Vec<String>>,
    /// Line in the configuration file.
    pub line: u64,
}

impl AdoptRule {
    /// Whether the rule covers a drifted field of a resource.
    pub fn covers(&self, source: Option<&str>, path: &[String]) -> bool {
        self.source.as_deref().is_none_or(|s| Some(s) == source)
            && (self.paths.is_empty() || self.paths.iter().any(|p| path.starts_with(p)))
    }
}

impl Checker {
    pub(super) fn remediation(&mut self, node: &Node) -> RemediationSettings {
        let mut settings = RemediationSettings::default();
        let Some(fields) = self.fields(
            node,
            "remediation",
            &["adopt", "delete_missing", "import_unmanaged", "provider"],
        ) else {
            return settings;
        };
        if let Some(list) = fields.get("adopt") {
            for item in self.seq(list, "remediation.adopt") {
                let Some(f) = self.fields(
                    item,
                    "an adopt rule",
                    &[
                        "group",
                        "kind",
                        "namespace",
                        "name",
                        "target",
                        "source",
                        "paths",
                    ],
                ) else {
                    continue;
                };
                let selector = self.selector(&f);
                let source = self.optional(&f, "source", "adopt");
                let mut paths = Vec::new();
                if let Some(p) = f.get("paths") {
                    for pointer in self.string_list(p, "adopt.paths") {
                        match parse_pointer(&pointer) {
                            Ok(segments) => paths.push(segments),
                            Err(message) => self.error(p, format!("adopt.paths: {message}")),
                        }
                    }
                }
                settings.adopt.push(AdoptRule {
                    selector,
                    source,
                    paths,
                    line: item.line,
                });
            }
        }
        if let Some(n) = fields.get("provider") {
            match self.string(n, "remediation.provider").as_deref() {
                Some("local") => settings.provider = Some(Provider::Local),
                Some(other) => self.error(
                    n,
                    format!("unknown remediation.provider `{other}`; known: local"),
                ),
                None => {}
            }
        }
        for (key, slot) in [
            ("delete_missing", &mut settings.delete_missing),
            ("import_unmanaged", &mut settings.import_unmanaged),
        ] {
            if let Some(n) = fields.get(key) {
                match n.kind {
                    super::node::NodeKind::Bool(b) => *slot = b,
                    _ => self.error(n, format!("remediation.{key} must be true or false")),
                }
            }
        }
        settings
    }
}
