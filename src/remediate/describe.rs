//! Plans in words: for review on a terminal, as a patch `git apply` takes, and as the title and
//! body of a pull request (with the marker that tells gitdrift's own descriptions apart).

use super::{FileChange, Plan, Suggestion, label, propose};
use crate::report::{ScanReport, display_value};

/// The plan as text for review.
pub fn render_plan(plan: &Plan) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if plan.changes.is_empty() && plan.suggestions.is_empty() {
        out.push_str("nothing to remediate (no drift the configuration adopts)\n");
        return out;
    }
    for c in &plan.changes {
        let _ = writeln!(
            out,
            "edit {} (source {}, target {}, at {})",
            c.file,
            c.source,
            c.target,
            &c.commit[..c.commit.len().min(12)]
        );
        for f in &c.fields {
            let who = match (&f.changed_by, &f.changed_at) {
                (Some(by), Some(at)) => format!("  (set by {by} at {at})"),
                (Some(by), None) => format!("  (set by {by})"),
                _ => String::new(),
            };
            if f.path.is_empty() && c.new_file {
                let _ = writeln!(out, "  {}: import it from the live state", f.resource);
            } else if f.path.is_empty() {
                let _ = writeln!(out, "  {}: delete the declaration", f.resource);
            } else {
                let _ = writeln!(
                    out,
                    "  {} {}: {} -> {}{who}",
                    f.resource,
                    f.path,
                    display_value(&f.git),
                    display_value(&f.live)
                );
            }
            if let Some(note) = &f.note {
                let _ = writeln!(out, "    {note}");
            }
        }
    }
    for s in &plan.suggestions {
        let _ = writeln!(
            out,
            "suggest {} in {} (source {}): {}",
            s.resource, s.file, s.source, s.reason
        );
        for f in &s.fields {
            let _ = writeln!(
                out,
                "  {}{}: {} -> {}",
                f.path,
                at_line(f.line),
                display_value(&f.git),
                display_value(&f.live)
            );
        }
    }
    out
}

/// What a changed file is, for a reviewer.
fn kind_of_file(c: &FileChange) -> &'static str {
    let note = c
        .fields
        .iter()
        .find_map(|f| f.note.as_deref())
        .unwrap_or("");
    if c.new_file && c.fields.iter().any(|f| f.path.is_empty()) {
        "new file: imported from the live state"
    } else if c.new_file {
        "new file: a patch of the overlay"
    } else if note.contains("the values key") {
        "Helm values file"
    } else if note.contains("`images:`") || note.contains("`replicas:`") {
        "Kustomize overlay"
    } else if note.contains("patch") {
        "Kustomize patch"
    } else if c.fields.iter().any(|f| f.resource.starts_with("AWS::")) {
        "gitdrift declaration"
    } else if c.fields.is_empty() {
        "Kustomize overlay: lists a new patch"
    } else {
        "manifest"
    }
}

/// Where a field's value was written, as the table says it.
fn written(c: &FileChange, f: &super::FieldChange) -> String {
    match (&f.note, f.path.is_empty()) {
        (Some(note), _) => note.clone(),
        (None, true) if c.new_file => "imported whole".into(),
        (None, true) => "declaration deleted".into(),
        (None, false) => format!("edited in place{}", at_line(f.line)),
    }
}

/// A value on one line, for a diff.
fn one_line(value: &serde_json::Value) -> String {
    flat(&display_value(value))
}

/// Text on one line (a key may hold a line break), so that no line of it closes a code fence.
fn flat(text: &str) -> String {
    text.replace('\n', "\\n").replace('\r', "\\r")
}

/// ` (line N)` where the scan located the field in git's file.
fn at_line(line: Option<u64>) -> String {
    line.map(|l| format!(" (line {l})")).unwrap_or_default()
}

/// The plan's edits as a unified diff (`a/` and `b/` paths from the repository root).
pub fn patch(changes: &[&FileChange]) -> String {
    let mut out = String::new();
    for c in changes {
        let diff = similar::TextDiff::from_lines(&c.before, &c.after);
        out.push_str(&format!("diff --git a/{0} b/{0}\n", c.file));
        let old = if c.new_file {
            out.push_str("new file mode 100644\n");
            "/dev/null".to_string()
        } else {
            format!("a/{}", c.file)
        };
        out.push_str(
            &diff
                .unified_diff()
                .context_radius(3)
                .header(&old, &format!("b/{}", c.file))
                .to_string(),
        );
    }
    out
}

/// Marks the lines of a description that name the scan: they change with every scan, the plan
/// does not.
pub const SCAN_LINE: &str = "<!-- gitdrift:scan -->";

/// Whether two descriptions say the same, apart from which scan they come from.
pub fn same_description(a: &str, b: &str) -> bool {
    let plan = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.contains(SCAN_LINE))
            .map(str::to_string)
            .collect()
    };
    plan(a) == plan(b)
}

/// The title of a remediation pull request.
pub fn pr_title(target: &str, fields: usize) -> String {
    format!(
        "gitdrift: adopt the live state of {fields} field{} on {target}",
        if fields == 1 { "" } else { "s" }
    )
}

/// The body of a remediation pull request: what drifted, field by field, who changed it and
/// when, the scan it comes from, and the compliance findings the change brings into git or
/// takes out of it.
pub fn pr_body(
    report: &ScanReport,
    source: &str,
    changes: &[&FileChange],
    suggestions: &[&Suggestion],
    scan: &propose::ScanRef,
) -> String {
    use std::fmt::Write as _;
    let cell = |v: &str| v.replace('|', "\\|").replace('\n', " ");
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!-- gitdrift:remediation source={source} -->\nThe live state differs from git, and the configuration says the live state is right (`remediation.adopt`). This change brings git in line with it; nothing in the environment is touched.\n"
    );
    // By file: what it is, each field with where it went, each resource's change as a diff.
    let mut resources = std::collections::BTreeSet::new();
    for c in changes {
        let _ = writeln!(out, "### `{}` ({})\n", c.file, kind_of_file(c));
        let _ = writeln!(
            out,
            "| resource | field | git | live | changed by | at | written |\n|---|---|---|---|---|---|---|"
        );
        for f in &c.fields {
            resources.insert(f.resource.clone());
            let path = if f.path.is_empty() {
                "(declaration deleted)".to_string()
            } else {
                format!("`{}`", f.path)
            };
            let _ = writeln!(
                out,
                "| {} | {} | `{}` | `{}` | {} | {} | {} |",
                cell(&f.resource),
                cell(&path),
                cell(&display_value(&f.git)),
                cell(&display_value(&f.live)),
                cell(f.changed_by.as_deref().unwrap_or("")),
                cell(f.changed_at.as_deref().unwrap_or("")),
                cell(&written(c, f))
            );
        }
        // Each resource's fields, as the change renders them.
        let mut by_resource: std::collections::BTreeMap<&str, Vec<&super::FieldChange>> =
            std::collections::BTreeMap::new();
        for f in c.fields.iter().filter(|f| !f.path.is_empty()) {
            by_resource.entry(f.resource.as_str()).or_default().push(f);
        }
        for (resource, fields) in by_resource {
            let _ = writeln!(out, "\n```diff\n  {}", flat(resource));
            for f in fields {
                if !f.git.is_null() {
                    let _ = writeln!(out, "- {}: {}", flat(&f.path), one_line(&f.git));
                }
                if !f.live.is_null() {
                    let _ = writeln!(out, "+ {}: {}", flat(&f.path), one_line(&f.live));
                }
            }
            let _ = writeln!(out, "```");
        }
        out.push('\n');
    }
    let files: Vec<&str> = changes.iter().map(|c| c.file.as_str()).collect();
    let commit = changes.first().map(|c| c.commit.as_str()).unwrap_or("");
    let id = scan.id.map(|id| format!(" {id}")).unwrap_or_default();
    let _ = writeln!(
        out,
        "\nFiles: {}. Scan{id} of {} at commit `{}`. {SCAN_LINE}",
        files
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(", "),
        report.scan.started_at.format("%Y-%m-%d %H:%M UTC"),
        commit
    );
    if let Some(url) = &scan.url {
        let _ = writeln!(out, "Full report: {url} {SCAN_LINE}");
    }
    // Findings: what git would take over from the live state, and what it would lose.
    let mut introduced = std::collections::BTreeSet::new();
    let mut fixed = std::collections::BTreeSet::new();
    for resource in &resources {
        let of = |side: crate::model::Side| -> std::collections::BTreeSet<String> {
            report
                .findings
                .iter()
                .filter(|f| {
                    f.side == side
                        && label(&f.resource.kind, &f.resource.namespace, &f.resource.name)
                            == *resource
                })
                .map(|f| format!("`{}` ({}) on {resource}", f.rule, f.severity.as_str()))
                .collect()
        };
        let (git, live) = (
            of(crate::model::Side::Desired),
            of(crate::model::Side::Live),
        );
        introduced.extend(live.difference(&git).cloned());
        fixed.extend(git.difference(&live).cloned());
    }
    if !introduced.is_empty() || !fixed.is_empty() {
        let _ = writeln!(out, "\n**Compliance**");
        for f in &introduced {
            let _ = writeln!(out, "- brings into git: {f}");
        }
        for f in &fixed {
            let _ = writeln!(out, "- fixes in git: {f}");
        }
    }
    if !suggestions.is_empty() {
        let _ = writeln!(out, "\n**Not applied** (change these by hand):");
        for s in suggestions {
            let _ = writeln!(out, "- {} in `{}`: {}", s.resource, s.file, s.reason);
            for f in &s.fields {
                let _ = writeln!(
                    out,
                    "  - `{}`{}: `{}` → `{}`",
                    f.path,
                    at_line(f.line),
                    display_value(&f.git),
                    display_value(&f.live)
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::FieldChange;
    use super::*;
    use serde_json::{Value, json};

    fn field(
        resource: &str,
        path: &str,
        git: Value,
        live: Value,
        note: Option<&str>,
    ) -> FieldChange {
        FieldChange {
            resource: resource.into(),
            path: path.into(),
            git_path: None,
            git,
            live,
            changed_by: None,
            changed_at: None,
            line: Some(7),
            note: note.map(str::to_string),
        }
    }

    fn change(file: &str, fields: Vec<FieldChange>, new_file: bool) -> FileChange {
        FileChange {
            source: "shop".into(),
            target: "prod".into(),
            commit: "0123456789abcdef".into(),
            file: file.into(),
            before: String::new(),
            after: String::new(),
            fields,
            new_file,
        }
    }

    /// The description groups the change by file, says what each file is and where each field
    /// went, shows each resource's change as a diff, and lists what was only described, with why.
    #[test]
    fn a_pull_request_says_file_by_file_where_each_field_was_written() {
        let report: ScanReport = serde_json::from_value(json!({
            "schema": crate::report::SCHEMA,
            "scan": {"started_at": "2026-01-01T01:00:00Z", "finished_at": "2026-01-01T01:00:01Z",
                     "gitdrift_version": "0.1.0", "config": "gitdrift.yaml", "sources": [], "targets": []},
            "summary": {"resources": 0, "in_sync": 0, "drifted": 0, "missing": 0, "unmanaged": 0,
                        "drifts": 0, "unreadable": 0, "errors": 0, "warnings": 0},
            "resources": [], "problems": [], "stale_ignore_rules": [], "unreadable": [], "coverage": [],
            "findings": [],
            "compliance": {"rules": [], "failing": {}, "waived": 0, "frameworks": [], "waivers": []}
        }))
        .unwrap();
        let web = "Deployment shop/web";
        let changes = [
            change(
                "k8s/web.yaml",
                vec![field(web, "/spec/replicas", json!(2), json!(3), None)],
                false,
            ),
            change(
                "overlays/prod/kustomization.yaml",
                vec![field(
                    web,
                    "/spec/template/spec/containers/0/image",
                    json!("web:1"),
                    json!("web:2"),
                    Some(
                        "written into the `images:` entry for web of overlays/prod/kustomization.yaml",
                    ),
                )],
                false,
            ),
            change(
                "env/prod.yaml",
                vec![field(
                    web,
                    "/data/motd",
                    json!("a\nb"),
                    json!("c"),
                    Some("written into env/prod.yaml at `motd`, the values key that renders it"),
                )],
                false,
            ),
        ];
        let suggestion = Suggestion {
            resource: web.into(),
            source: "shop".into(),
            file: "charts/shop/templates/web.yaml".into(),
            reason: "no values key holds the rendered value".into(),
            fields: vec![field(
                web,
                "/metadata/labels/tier",
                json!("a"),
                json!("b"),
                None,
            )],
        };
        let body = pr_body(
            &report,
            "shop",
            &changes.iter().collect::<Vec<_>>(),
            &[&suggestion],
            &propose::ScanRef {
                id: Some(4),
                url: None,
            },
        );
        for expected in [
            "### `k8s/web.yaml` (manifest)\n",
            "| `2` | `3` |  |  | edited in place (line 7) |",
            "```diff\n  Deployment shop/web\n- /spec/replicas: 2\n+ /spec/replicas: 3\n```",
            "### `overlays/prod/kustomization.yaml` (Kustomize overlay)\n",
            "| written into the `images:` entry for web of overlays/prod/kustomization.yaml |",
            "### `env/prod.yaml` (Helm values file)\n",
            "- /data/motd: \"a\\nb\"\n+ /data/motd: \"c\"\n",
            "- Deployment shop/web in `charts/shop/templates/web.yaml`: no values key holds the rendered value",
        ] {
            assert!(body.contains(expected), "{expected:?} in\n{body}");
        }
    }
}
