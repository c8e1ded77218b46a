//! The `audit:` block (compliance rules, waivers) and a target's own rule selection.
//!
//! ```yaml
//! audit:
//!   builtin: true                       # the built-in packs; the default
//!   rules: [./policies]                 # users' folders of packs
//!   packs: [pod-security-baseline, aws-ec2, team]   # which packs run; default: all loaded
//!   include_rules: []                   # only these rules (default: every rule of the packs)
//!   exclude_rules: [pss-restricted-run-as-user]
//!   timeout: 2s                         # per rule and resource
//!   compiled: true                      # rules run on regorus's VM; false: its interpreter
//!   gatekeeper:                         # Gatekeeper ConstraintTemplates and Constraints
//!     paths: [./gatekeeper]             # folders (or files) holding them
//!     from_sources: true                # and those each target's git sources declare
//!   fail_on_severity: high              # exit 1 at or above; `none`: never
//!   max_waiver_days: 365
//!   waiver_files: [./waivers.yaml]      # files holding `waivers:` lists
//!   waivers:
//!     - rule: pss-restricted-run-as-non-root
//!       kind: Deployment
//!       group: apps
//!       namespace: legacy
//!       name: "*"
//!       side: live                      # default: both
//!       paths: ["/spec/template/spec/initContainers/[name=istio-init]"]   # only what these cause
//!       justification: vendor image runs as root; replacement tracked in OPS-123
//!       expires: 2027-03-31
//!       owner: team-shop
//! ```

use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;

use super::ConfigError;
use super::checker::{Checker, Fields, parse_duration, resolve_path};
use super::node::{self, Node, NodeKind};
use crate::model::Selector;
use crate::model::{RuleSeverity, Side};

/// Compliance auditing settings.
#[derive(Clone, Debug)]
pub struct AuditSettings {
    /// Whether rules run at all.
    pub enabled: bool,
    /// Whether the built-in packs are loaded.
    pub builtin: bool,
    /// Whether rules run compiled to regorus's virtual machine (the default) or in its
    /// interpreter.
    pub compiled: bool,
    /// Users' rule folders (or files).
    pub rules: Vec<PathBuf>,
    /// Which packs and rules run, for every target (a target may narrow it further).
    pub selection: RuleSelection,
    /// How long one rule may take on one resource.
    pub timeout: Duration,
    /// Findings at or above this severity make the exit code 1; `None`: findings never do.
    pub fail_on_severity: Option<RuleSeverity>,
    /// How far ahead a waiver may expire.
    pub max_waiver_days: u32,
    /// Waivers from the configuration and its waiver files.
    pub waivers: Vec<Waiver>,
    /// Where Gatekeeper policies are read from.
    pub gatekeeper: GatekeeperSettings,
}

/// `audit.gatekeeper`: where Gatekeeper ConstraintTemplates and Constraints come from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GatekeeperSettings {
    /// Folders (or files) searched for them.
    pub paths: Vec<PathBuf>,
    /// Whether those a target's git sources declare run on that target.
    pub from_sources: bool,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            enabled: true,
            builtin: true,
            compiled: true,
            rules: Vec::new(),
            selection: RuleSelection::default(),
            timeout: Duration::from_secs(2),
            fail_on_severity: Some(RuleSeverity::High),
            max_waiver_days: 365,
            waivers: Vec::new(),
            gatekeeper: GatekeeperSettings::default(),
        }
    }
}

/// Which packs and rules run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuleSelection {
    /// Packs that run; `None`: every pack loaded.
    pub packs: Option<Vec<String>>,
    /// Only these rules; empty: every rule of the packs.
    pub include: Vec<String>,
    /// Never these rules.
    pub exclude: Vec<String>,
}

impl RuleSelection {
    /// Whether a rule of `pack` with `id` is selected.
    pub fn selects(&self, pack: &str, id: &str) -> bool {
        self.packs
            .as_ref()
            .is_none_or(|packs| packs.iter().any(|p| p == pack))
            && (self.include.is_empty() || self.include.iter().any(|r| r == id))
            && !self.exclude.iter().any(|r| r == id)
    }
}

/// An accepted exception: findings of `rule` on the resources the selector picks are reported
/// as waived, not failing, until `expires`.
#[derive(Clone, Debug)]
pub struct Waiver {
    /// The rule id.
    pub rule: String,
    /// The resources it covers.
    pub selector: Selector,
    /// Only findings of this side; `None`: both.
    pub side: Option<Side>,
    /// Only findings these parts of the resource cause (JSON Pointer patterns, with `*` and
    /// `[key=glob]` list element selectors): a finding whose message the rule no longer gives
    /// once they are taken out of the resource (and that gives no new one). Empty: every
    /// finding of the rule on the resource.
    pub paths: Vec<Vec<String>>,
    /// Why the exception is accepted.
    pub justification: String,
    /// The last day it applies.
    pub expires: NaiveDate,
    /// Who answers for it.
    pub owner: Option<String>,
    /// Where it is written.
    pub file: PathBuf,
    /// Its line there.
    pub line: u64,
}

impl Checker {
    pub(super) fn audit(&mut self, node: &Node, today: NaiveDate) -> AuditSettings {
        let mut audit = AuditSettings::default();
        let Some(fields) = self.fields(node, "audit") else {
            return audit;
        };
        for (key, slot) in [
            ("enabled", &mut audit.enabled),
            ("builtin", &mut audit.builtin),
            ("compiled", &mut audit.compiled),
        ] {
            if let Some(n) = fields.get(key) {
                match n.kind {
                    NodeKind::Bool(b) => *slot = b,
                    _ => self.error(n, format!("audit.{key} must be true or false")),
                }
            }
        }
        if let Some(list) = fields.get("rules") {
            for raw in self.string_list(list, "audit.rules") {
                audit.rules.push(resolve_path(&self.base, &raw));
            }
        }
        audit.selection = self.selection(&fields, "audit");
        if let Some(n) = fields.get("gatekeeper")
            && let Some(gk) = self.fields(n, "audit.gatekeeper")
        {
            if let Some(list) = gk.get("paths") {
                for raw in self.string_list(list, "audit.gatekeeper.paths") {
                    audit.gatekeeper.paths.push(resolve_path(&self.base, &raw));
                }
            }
            if let Some(b) = gk.get("from_sources") {
                match b.kind {
                    NodeKind::Bool(b) => audit.gatekeeper.from_sources = b,
                    _ => self.error(b, "audit.gatekeeper.from_sources must be true or false"),
                }
            }
        }
        if let Some(n) = fields.get("timeout") {
            match self.string_or_int(n).as_deref().and_then(parse_duration) {
                Some(d) if !d.is_zero() && d <= Duration::from_secs(600) => audit.timeout = d,
                _ => self.error(
                    n,
                    "audit.timeout must be a duration from 1ms to 10m, such as 500ms or 2s",
                ),
            }
        }
        if let Some(n) = fields.get("fail_on_severity") {
            match &n.kind {
                NodeKind::Str(s) if s == "none" => audit.fail_on_severity = None,
                NodeKind::Str(s) => match s.parse::<RuleSeverity>() {
                    Ok(severity) => audit.fail_on_severity = Some(severity),
                    Err(()) => self.error(
                        n,
                        format!(
                            "audit.fail_on_severity: `{s}` is not critical, high, medium, low, info or none"
                        ),
                    ),
                },
                _ => self.error(n, "audit.fail_on_severity must be a severity name"),
            }
        }
        if let Some(n) = fields.get("max_waiver_days") {
            match n.kind {
                NodeKind::Int(d) if (1..=3650).contains(&d) => audit.max_waiver_days = d as u32,
                _ => self.error(
                    n,
                    "audit.max_waiver_days must be a whole number from 1 to 3650",
                ),
            }
        }
        let max = audit.max_waiver_days;
        if let Some(list) = fields.get("waivers") {
            let file = self.file.clone();
            for item in self.seq(list, "audit.waivers") {
                if let Some(waiver) = self.waiver(item, &file, today, max) {
                    audit.waivers.push(waiver);
                }
            }
        }
        if let Some(list) = fields.get("waiver_files") {
            for raw in self.string_list(list, "audit.waiver_files") {
                let path = resolve_path(&self.base, &raw);
                self.waiver_file(list, &path, today, max, &mut audit.waivers);
            }
        }
        audit
    }

    /// `packs`, `include_rules` and `exclude_rules` of a block.
    pub(super) fn selection(&mut self, fields: &Fields<'_>, what: &str) -> RuleSelection {
        RuleSelection {
            packs: fields
                .get("packs")
                .map(|n| self.string_list(n, &format!("{what}.packs"))),
            include: fields
                .get("include_rules")
                .map(|n| self.string_list(n, &format!("{what}.include_rules")))
                .unwrap_or_default(),
            exclude: fields
                .get("exclude_rules")
                .map(|n| self.string_list(n, &format!("{what}.exclude_rules")))
                .unwrap_or_default(),
        }
    }

    fn waiver_file(
        &mut self,
        at: &Node,
        path: &std::path::Path,
        today: NaiveDate,
        max: u32,
        out: &mut Vec<Waiver>,
    ) {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) => {
                self.error(
                    at,
                    format!("audit.waiver_files: cannot read {}: {err}", path.display()),
                );
                return;
            }
        };
        match parse_waivers(&text, path, today, max) {
            Ok(waivers) => out.extend(waivers),
            Err(errors) => self.extend(errors),
        }
    }

    fn waiver(
        &mut self,
        node: &Node,
        file: &std::path::Path,
        today: NaiveDate,
        max_days: u32,
    ) -> Option<Waiver> {
        let fields = self.fields(node, "a waiver")?;
        let rule = self.required(&fields, "rule", "waiver");
        let selector = self.selector(&fields);
        let side = match self.optional(&fields, "side", "waiver").as_deref() {
            None => None,
            Some("desired") => Some(Side::Desired),
            Some("live") => Some(Side::Live),
            Some(other) => {
                let at = fields.get("side").unwrap_or(node);
                self.error(
                    at,
                    format!("waiver.side must be `desired` or `live`, not `{other}`"),
                );
                None
            }
        };
        let justification = self.required(&fields, "justification", "waiver");
        let owner = self.optional(&fields, "owner", "waiver");
        let paths = fields
            .get("paths")
            .map(|list| self.pointer_patterns(list, "waiver.paths"))
            .unwrap_or_default();
        let expires = match fields.get("expires") {
            None => {
                self.missing(node, "waiver needs `expires` (a date, YYYY-MM-DD)");
                None
            }
            Some(n) => {
                let raw = match &n.kind {
                    NodeKind::Str(s) => s.clone(),
                    other => format!("{other:?}"),
                };
                match NaiveDate::parse_from_str(&raw, "%Y-%m-%d") {
                    Ok(date) if (date - today).num_days() > i64::from(max_days) => {
                        self.error(
                            n,
                            format!(
                                "waiver.expires {date} is more than {max_days} days ahead (audit.max_waiver_days)"
                            ),
                        );
                        None
                    }
                    Ok(date) => Some(date),
                    Err(_) => {
                        self.error(
                            n,
                            format!("waiver.expires must be a date (YYYY-MM-DD), not `{raw}`"),
                        );
                        None
                    }
                }
            }
        };
        Some(Waiver {
            rule: rule?,
            selector,
            side,
            paths,
            justification: justification?,
            expires: expires?,
            owner,
            file: file.to_path_buf(),
            line: node.line,
        })
    }
}

/// Reads a waiver file (`waivers:` and a list); `file` is how it is named in problems. Every
/// problem is reported, with its line.
pub fn parse_waivers(
    text: &str,
    file: &std::path::Path,
    today: NaiveDate,
    max_days: u32,
) -> Result<Vec<Waiver>, Vec<ConfigError>> {
    let mut check = Checker::new(
        file,
        &file.parent().map(|p| p.to_path_buf()).unwrap_or_default(),
        super::Known::default(),
    );
    let root = node::parse(text).map_err(|(line, message)| {
        vec![ConfigError {
            file: file.to_path_buf(),
            line,
            column: 1,
            code: crate::model::Code::ConfigSyntax,
            message: format!("invalid YAML: {message}"),
        }]
    })?;
    let mut out = Vec::new();
    if let Some(fields) = check.fields(&root, "a waiver file") {
        match fields.get("waivers") {
            Some(list) => {
                for item in check.seq(list, "waivers") {
                    if let Some(waiver) = check.waiver(item, file, today, max_days) {
                        out.push(waiver);
                    }
                }
            }
            None => check.missing(&root, "a waiver file needs `waivers`"),
        }
    }
    if check.failed() {
        Err(check.into_errors())
    } else {
        Ok(out)
    }
}
