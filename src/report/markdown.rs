//! The Markdown report: short enough for a pull-request comment or an issue. A summary, drift
//! per resource (one row per drifted field), findings by severity, controls, problems.

use std::fmt::Write;

use super::{ScanReport, display_value, resource_name};
use crate::audit::findings::FindingStatus;
use crate::diff::Status;
use crate::model::place;

/// Text for a table: line breaks folded, long values cut.
fn fold(text: &str) -> String {
    let out = text.replace(['\n', '\r'], " ");
    if out.chars().count() > 120 {
        out.chars().take(119).collect::<String>() + "…"
    } else {
        out
    }
}

/// A table cell of text gitdrift does not control (names, manager names, messages): every
/// character Markdown gives a meaning to is escaped, so a value cannot become a link, an image,
/// emphasis or raw HTML (`[x](javascript:…)` shows as typed), nor end its table cell.
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in fold(text).chars() {
        if matches!(
            c,
            '\\' | '|'
                | '['
                | ']'
                | '('
                | ')'
                | '<'
                | '>'
                | '!'
                | '*'
                | '_'
                | '`'
                | '&'
                | '~'
                | '#'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A code span: shown literally (Markdown makes no links inside one); backticks become `'`.
fn code(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!("`{}`", fold(text).replace('`', "'").replace('|', "\\|"))
    }
}

/// Renders the report as Markdown.
pub fn render(report: &ScanReport) -> String {
    let mut out = String::new();
    let s = &report.summary;
    let _ = writeln!(
        out,
        "## gitdrift scan, {}\n",
        report.scan.started_at.format("%Y-%m-%d %H:%M UTC")
    );
    let _ = writeln!(
        out,
        "**{} resources**: {} in sync · {} drifted · {} missing · {} unmanaged · {} drifted field{} · {} error{}",
        s.resources,
        s.in_sync,
        s.drifted,
        s.missing,
        s.unmanaged,
        s.drifts,
        if s.drifts == 1 { "" } else { "s" },
        s.errors,
        if s.errors == 1 { "" } else { "s" },
    );
    let c = &report.compliance;
    if !c.rules.is_empty() {
        let failing: usize = c.failing.values().sum();
        let by = c.failing_by_severity();
        let _ = writeln!(
            out,
            "\n**Compliance**: {} rules · {failing} failing{} · {} waived",
            c.rules.len(),
            if by.is_empty() {
                String::new()
            } else {
                format!(" ({})", by.join(", "))
            },
            c.waived
        );
    }
    if let Some(t) = &report.trend {
        let _ = writeln!(out, "\n**Trend**: {}", t.describe());
        for (title, items) in [("New", &t.new_items), ("Resolved", &t.resolved_items)] {
            if items.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "\n<details><summary>{title} ({})</summary>\n",
                items.len()
            );
            for item in items.iter().take(200) {
                let _ = writeln!(out, "- {}", code(item));
            }
            if items.len() > 200 {
                let _ = writeln!(out, "- … and {} more", items.len() - 200);
            }
            let _ = writeln!(out, "\n</details>");
        }
    }
    if !report.convergence.is_empty() {
        let _ = writeln!(
            out,
            "\n**Convergence** (commit to in sync and healthy)\n\n| revision | committed | first seen | outcome |\n|---|---|---|---|"
        );
        for r in &report.convergence {
            let row = super::convergence::Row::of(r);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                code(&row.revision),
                row.committed,
                row.first_seen,
                cell(&row.outcome)
            );
        }
    }
    for source in &report.scan.sources {
        let _ = writeln!(
            out,
            "\n- source {} at `{}`",
            code(&source.name),
            source
                .commit
                .as_deref()
                .map_or("unreadable".to_string(), |c| c.chars().take(12).collect())
        );
    }

    let changed: Vec<_> = report
        .resources
        .iter()
        .filter(|r| r.status != Status::InSync)
        .collect();
    if !changed.is_empty() {
        let _ = writeln!(
            out,
            "\n### Drift\n\n| status | target | resource | declared at | field | git | live | changed by |\n|---|---|---|---|---|---|---|---|"
        );
        for r in changed {
            let resource = format!("{} {}", r.kind, resource_name(&r.namespace, &r.name));
            let at = place(&r.source);
            if r.drifts.is_empty() {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | | | | |",
                    r.status.as_str(),
                    cell(&r.target),
                    cell(&resource),
                    code(&at)
                );
            }
            for d in &r.drifts {
                let at = super::drift_place(r, d).unwrap_or_else(|| at.clone());
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} | {}{} |",
                    r.status.as_str(),
                    cell(&r.target),
                    cell(&resource),
                    code(&at),
                    code(&d.path),
                    code(&display_value(&d.desired)),
                    code(&display_value(&d.live)),
                    cell(d.changed_by.as_deref().unwrap_or("")),
                    cell(&super::drifting_since(d, report.scan.started_at))
                );
            }
        }
    }

    let unwell = super::unwell(report);
    if !unwell.is_empty() {
        let _ = writeln!(
            out,
            "\n### Health\n\n| health | target | resource | why |\n|---|---|---|---|"
        );
        for r in unwell {
            let Some(h) = &r.health else { continue };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                h.status.as_str(),
                cell(&r.target),
                cell(&format!(
                    "{} {}",
                    r.kind,
                    resource_name(&r.namespace, &r.name)
                )),
                cell(&h.reason)
            );
        }
    }

    if !report.findings.is_empty() {
        let rows = super::finding_rows(&report.findings);
        let _ = writeln!(
            out,
            "\n### Findings\n\n{}. One row per rule and resource: ✗ where git's object fails, where the live one does; **live only** (weakened by hand) first.",
            super::finding_counts(&rows)
        );
        for severity in crate::model::RuleSeverity::ALL {
            let rows: Vec<_> = rows
                .iter()
                .filter(|r| r.finding().severity == severity)
                .collect();
            if rows.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "\n**{severity}** ({})\n\n| | rule | resource | git | live | message | declared at |\n|---|---|---|---|---|---|---|",
                rows.len()
            );
            for row in rows {
                let f = row.finding();
                let mark = match f.status {
                    FindingStatus::Fail => "✗",
                    FindingStatus::Waived => "waived",
                };
                let git = if row.desired.is_some() { "✗" } else { "—" };
                let live = if row.live_only() {
                    "**✗ live only**"
                } else if row.live.is_some() {
                    "✗"
                } else {
                    "—"
                };
                let at = place(&row.desired.or(row.live).and_then(|f| f.source.clone()));
                let _ = writeln!(
                    out,
                    "| {mark} | {} | {} {} ({}) | {git} | {live} | {} | {} |",
                    code(&f.rule),
                    cell(&f.resource.kind),
                    cell(&resource_name(&f.resource.namespace, &f.resource.name)),
                    cell(&f.resource.target),
                    cell(&f.message),
                    code(&at)
                );
            }
        }
    }
    if !c.frameworks.is_empty() {
        let _ = writeln!(
            out,
            "\n### Controls\n\n| framework | passing | failing | failing controls |\n|---|---|---|---|"
        );
        for f in &c.frameworks {
            let failing: Vec<String> = f
                .controls
                .iter()
                .filter(|c| c.status == "fail")
                .map(|c| c.id.clone())
                .collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                cell(&f.framework),
                f.passing,
                f.failing,
                cell(&failing.join(", "))
            );
        }
    }
    if !report.problems.is_empty() {
        let _ = writeln!(out, "\n### Problems\n");
        for p in &report.problems {
            let _ = writeln!(out, "- {}", cell(&p.to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{cell, code};

    #[test]
    fn cluster_supplied_text_cannot_become_a_link_or_html() {
        let hostile = "[x](javascript:alert(1)) ![i](http://t/p.png) <img src=x> *b* | c";
        let escaped = cell(hostile);
        assert_eq!(
            escaped,
            "\\[x\\]\\(javascript:alert\\(1\\)\\) \\!\\[i\\]\\(http://t/p.png\\) \\<img src=x\\> \\*b\\* \\| c"
        );
        assert_eq!(code("a`b|c"), "`a'b\\|c`");
        assert_eq!(cell("kubectl-edit"), "kubectl-edit");
    }
}
