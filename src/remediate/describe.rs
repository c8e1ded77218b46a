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
    let _ = writeln!(
        out,
        "| resource | field | git | live | changed by | at |\n|---|---|---|---|---|---|"
    );
    let mut resources = std::collections::BTreeSet::new();
    for c in changes {
        for f in &c.fields {
            resources.insert(f.resource.clone());
            let path = if f.path.is_empty() {
                "(declaration deleted)".to_string()
            } else {
                format!("`{}`", f.path)
            };
            let _ = writeln!(
                out,
                "| {} | {} | `{}` | `{}` | {} | {} |",
                cell(&f.resource),
                cell(&path),
                cell(&display_value(&f.git)),
                cell(&display_value(&f.live)),
                cell(f.changed_by.as_deref().unwrap_or("")),
                cell(f.changed_at.as_deref().unwrap_or(""))
            );
        }
    }
    let notes: Vec<String> = changes
        .iter()
        .flat_map(|c| &c.fields)
        .filter_map(|f| {
            Some(format!(
                "- {} `{}`: {}",
                f.resource,
                f.path,
                f.note.as_ref()?
            ))
        })
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(out, "\n{}", notes.join("\n"));
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
