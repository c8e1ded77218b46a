//! `drift:` — how drift is judged: which managers count as people editing by hand, which
//! fields to ignore where, and which live objects are never unmanaged.

use std::collections::BTreeSet;

use super::checker::{Checker, Fields};
use super::node::{Node, NodeKind};
use crate::model::Selector;

/// The managers whose live-only fields count as drift: people changing objects by hand.
/// Creating managers (`kubectl-create`, `kubectl-run`, `kubectl-expose`) are left out on
/// purpose: the server records every defaulted field of a new object under its creator, so they
/// would turn defaults into drift.
pub const DEFAULT_IMPERATIVE_MANAGERS: &[&str] = &[
    "kubectl-edit",
    "kubectl-patch",
    "kubectl-set",
    "kubectl-label",
    "kubectl-annotate",
    "kubectl-scale",
    "kubectl-replace",
];

/// How drift is judged.
#[derive(Clone, Debug)]
pub struct DriftSettings {
    /// Managers whose live-only fields are drift.
    pub imperative_managers: BTreeSet<String>,
    /// Ignore rules, in file order.
    pub ignore: Vec<IgnoreRule>,
    /// Live objects never reported as unmanaged, beyond the built-in system objects.
    pub unmanaged_exclude: Vec<Selector>,
    /// List, per resource, every live-only field git does not declare and why it is not drift
    /// (`drift.explain`, or `scan --explain`); the discounted differences in git's own fields
    /// are listed always.
    pub explain: bool,
}

impl Default for DriftSettings {
    fn default() -> Self {
        DriftSettings {
            imperative_managers: DEFAULT_IMPERATIVE_MANAGERS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            ignore: Vec::new(),
            unmanaged_exclude: Vec::new(),
            explain: false,
        }
    }
}

/// An ignore rule: JSON Pointer paths (with `*` for any one segment) in selected objects, or
/// every field owned by the named managedFields managers.
#[derive(Clone, Debug)]
pub struct IgnoreRule {
    /// Line in the configuration file (stale rules are reported by it).
    pub line: u64,
    /// Which objects the rule applies to.
    pub selector: Selector,
    /// Pointer patterns, split into segments; a drift at or below one is ignored.
    pub paths: Vec<Vec<String>>,
    /// Managers whose fields are ignored.
    pub managers: Vec<String>,
}

impl IgnoreRule {
    /// A one-line description for reports.
    pub fn describe(&self) -> String {
        let mut what = Vec::new();
        if !self.paths.is_empty() {
            let paths: Vec<String> = self
                .paths
                .iter()
                .map(|segs| format!("/{}", segs.join("/")))
                .collect();
            what.push(format!("paths {}", paths.join(", ")));
        }
        if !self.managers.is_empty() {
            what.push(format!("managers {}", self.managers.join(", ")));
        }
        format!("{} in {}", what.join(" and "), self.selector.describe())
    }
}

impl Checker {
    pub(super) fn drift(&mut self, node: &Node) -> DriftSettings {
        let mut drift = DriftSettings::default();
        let Some(fields) = self.fields(node, "drift") else {
            return drift;
        };
        if let Some(managers) = fields.get("imperative_managers") {
            drift.imperative_managers = self
                .string_list(managers, "drift.imperative_managers")
                .into_iter()
                .collect();
        }
        if let Some(explain) = fields.get("explain") {
            drift.explain = self.boolean(explain, "drift.explain").unwrap_or(false);
        }
        if let Some(ignore) = fields.get("ignore") {
            for item in self.seq(ignore, "drift.ignore") {
                if let Some(rule) = self.ignore_rule(item) {
                    drift.ignore.push(rule);
                }
            }
        }
        if let Some(unmanaged) = fields.get("unmanaged")
            && let Some(unmanaged) = self.fields(unmanaged, "drift.unmanaged")
            && let Some(exclude) = unmanaged.get("exclude")
        {
            for item in self.seq(exclude, "drift.unmanaged.exclude") {
                if let Some(fields) = self.fields(item, "an entry of drift.unmanaged.exclude") {
                    drift.unmanaged_exclude.push(self.selector(&fields));
                }
            }
        }
        drift
    }

    pub(super) fn selector(&mut self, fields: &Fields<'_>) -> Selector {
        Selector {
            group: match fields.get("group") {
                Some(Node {
                    kind: NodeKind::Str(s),
                    ..
                }) => Some(s.clone()),
                Some(other) => {
                    self.error(other, "group must be a string (`\"\"` for the core group)");
                    None
                }
                None => None,
            },
            kind: self.optional(fields, "kind", "selector"),
            namespace: fields
                .get("namespace")
                .and_then(|n| self.glob(n, "selector.namespace")),
            name: fields
                .get("name")
                .and_then(|n| self.glob(n, "selector.name")),
            target: self.optional(fields, "target", "selector"),
        }
    }

    pub(super) fn ignore_rule(&mut self, node: &Node) -> Option<IgnoreRule> {
        let fields = self.fields(node, "an ignore rule")?;
        let selector = self.selector(&fields);
        let mut paths = Vec::new();
        if let Some(list) = fields.get("paths") {
            for pointer in self.string_list(list, "ignore.paths") {
                match crate::model::pointer::parse(&pointer) {
                    Ok(segments) => paths.push(segments),
                    Err(message) => self.error(list, format!("ignore.paths: {message}")),
                }
            }
        }
        let managers = fields
            .get("managers")
            .map(|n| self.string_list(n, "ignore.managers"))
            .unwrap_or_default();
        if fields.get("paths").is_none() && fields.get("managers").is_none() {
            self.missing(node, "an ignore rule needs `paths` or `managers`");
            return None;
        }
        Some(IgnoreRule {
            line: node.line,
            selector,
            paths,
            managers,
        })
    }
}
