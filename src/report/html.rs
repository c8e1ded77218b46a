//! The HTML report: one self-contained file (styles inline, no scripts, no external resources),
//! readable on screen and printable: summary, drift per resource with git and live values side by
//! side, findings by severity, controls per framework, waivers, coverage, problems. Built with
//! maud, so every value from a report is escaped.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::{ScanReport, display_value, resource_name};
use crate::audit::findings::FindingStatus;
use crate::diff::Status;
use crate::judge::ResourceReport;

const STYLE: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;margin:2rem auto;max-width:1200px;padding:0 1rem}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.15rem;margin:2rem 0 .5rem;border-bottom:1px solid #d0d7de;padding-bottom:.25rem}
.meta{color:#57606a;margin:0 0 1rem}
.cards{display:flex;flex-wrap:wrap;gap:.75rem}.card{border:1px solid #d0d7de;border-radius:6px;padding:.5rem .9rem;min-width:7rem}
.card b{display:block;font-size:1.4rem}.card.bad b{color:#cf222e}.card.warn b{color:#9a6700}.card.ok b{color:#1a7f37}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}code{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all}
.status{font-weight:600}.drifted{color:#9a6700}.missing{color:#cf222e}.unmanaged{color:#8250df}.in_sync{color:#1a7f37}.healthy{color:#1a7f37}.degraded{color:#cf222e}.progressing{color:#9a6700}.suspended,.unknown{color:#57606a}
.sev-critical,.sev-high{color:#cf222e;font-weight:600}.sev-medium{color:#9a6700;font-weight:600}.sev-low,.sev-info{color:#57606a}
.waived{color:#57606a;font-style:italic}.weakened td{background:#ffebe9;font-weight:600}.mark{text-align:center;white-space:nowrap}.git{background:#fff8c5}.live{background:#ffebe9}
.muted{color:#57606a}figure{margin:.5rem 0}figcaption{color:#57606a;font-size:12px}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}tr{break-inside:avoid}.card{break-inside:avoid}}
"#;

fn place(r: &ResourceReport) -> String {
    crate::model::place(&r.source)
}

/// Renders the report as a self-contained HTML page.
pub fn render(report: &ScanReport) -> String {
    page(report).into_string()
}

fn page(report: &ScanReport) -> Markup {
    let trend = report.trend.as_ref();
    let s = &report.summary;
    let c = &report.compliance;
    let failing: usize = c.failing.values().sum();
    let changed: Vec<&ResourceReport> = report
        .resources
        .iter()
        .filter(|r| r.status != Status::InSync)
        .map(AsRef::as_ref)
        .collect();
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "gitdrift report " (report.scan.started_at.format("%Y-%m-%d %H:%M UTC")) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "gitdrift report" }
                p.meta {
                    "Scan of " (report.scan.started_at.format("%Y-%m-%d %H:%M:%S UTC"))
                    " · gitdrift " (report.scan.gitdrift_version)
                    " · " code { (report.scan.config) }
                }
                div.cards {
                    div.card { b { (s.resources) } "resources" }
                    div.card.ok { b { (s.in_sync) } "in sync" }
                    div.card.warn { b { (s.drifted) } "drifted" }
                    div.card.bad { b { (s.missing) } "missing" }
                    div.card.warn { b { (s.unmanaged) } "unmanaged" }
                    div.card.bad { b { (failing) } "failing findings" }
                    div.card { b { (c.waived) } "waived" }
                    div.card.bad[s.errors > 0] { b { (s.errors) } "errors" }
                }
                (super::chart::status_bar(s.in_sync, s.drifted, s.missing, s.unmanaged))
                @if let Some(t) = trend {
                    h2 { "Trend" }
                    p { (t.describe()) "." }
                    (super::chart::trend("every target", &t.history))
                    @if !t.new_items.is_empty() {
                        h3 { "New" }
                        ul { @for item in &t.new_items { li { (item) } } }
                    }
                    @if !t.resolved_items.is_empty() {
                        h3 { "Resolved" }
                        ul { @for item in &t.resolved_items { li { (item) } } }
                    }
                }
                @if !report.convergence.is_empty() {
                    h2 { "Convergence" }
                    p.muted { "From each commit to every resource it declares in sync and healthy." }
                    table {
                        tr { th { "revision" } th { "committed" } th { "first seen" } th { "outcome" } }
                        @for r in &report.convergence {
                            @let row = super::convergence::Row::of(r);
                            tr {
                                td { code { (row.revision) } } td { (row.committed) }
                                td { (row.first_seen) }
                                td.status.(if r.converged_at.is_some() { "in_sync" } else { "progressing" }) { (row.outcome) }
                            }
                        }
                    }
                }
                h2 { "Sources and targets" }
                table {
                    tr { th { "source" } th { "repository" } th { "commit" } th { "target" } th { "objects" } }
                    @for src in &report.scan.sources {
                        tr {
                            td { (src.name) } td { code { (src.repo) } }
                            td { code { (src.commit.as_deref().map(|c| c.chars().take(12).collect::<String>()).unwrap_or_else(|| "unreadable".into())) } }
                            td { (src.target) } td { (src.objects) }
                        }
                    }
                    @for t in &report.scan.targets {
                        tr {
                            td.muted { "target" } td { (t.provider) " " code { (t.location) } }
                            td { (t.observed_at.format("%Y-%m-%d %H:%M:%S UTC")) } td { (t.name) } td { (t.objects) }
                        }
                    }
                }
                h2 { "Drift (" (changed.len()) ")" }
                @if changed.is_empty() {
                    p.muted { "Every resource is in sync." }
                } @else {
                    table {
                        tr { th { "status" } th { "target" } th { "resource" } th { "declared at" } th { "field" } th { "git" } th { "live" } th { "changed by" } }
                        @for r in &changed {
                            @if r.drifts.is_empty() {
                                tr id=(super::anchor(r)) {
                                    td.status.(r.status.as_str()) { (r.status.as_str()) }
                                    td { (r.target) } td { (r.kind) " " (resource_name(&r.namespace, &r.name)) }
                                    td { code { (place(r)) } }
                                    td colspan="4" { (r.reason.as_deref().unwrap_or("")) }
                                }
                            }
                            @for (i, d) in r.drifts.iter().enumerate() {
                                tr id=[(i == 0).then(|| super::anchor(r))] {
                                    td.status.(r.status.as_str()) { (r.status.as_str()) }
                                    td { (r.target) } td { (r.kind) " " (resource_name(&r.namespace, &r.name)) }
                                    td { code { (super::drift_place(r, d).unwrap_or_else(|| place(r))) } }
                                    td { code { (d.path) } }
                                    td.git { code { (display_value(&d.desired)) } }
                                    td.live { code { (display_value(&d.live)) } }
                                    td { (d.changed_by.as_deref().unwrap_or("")) (d.changed_at.as_deref().map(|a| format!(" at {a}")).unwrap_or_default()) (super::drifting_since(d, report.scan.started_at)) }
                                }
                            }
                        }
                    }
                }
                @let unwell = super::unwell(report);
                @if !unwell.is_empty() {
                    h2 { "Health (" (unwell.len()) " not healthy)" }
                    table {
                        tr { th { "health" } th { "target" } th { "resource" } th { "why" } }
                        @for r in &unwell {
                            @if let Some(h) = &r.health {
                                tr {
                                    td.status.(h.status.as_str()) { (h.status.as_str()) }
                                    td { (r.target) }
                                    td { (r.kind) " " (resource_name(&r.namespace, &r.name)) }
                                    td { (h.reason) }
                                }
                            }
                        }
                    }
                }
                @let rows = super::finding_rows(&report.findings);
                h2 { "Compliance findings (" (rows.len()) ")" }
                @if !rows.is_empty() {
                    p.muted { (super::finding_counts(&rows)) ". A row is a rule's finding on one resource: ✗ where git's object fails it, where the live one does; live only — weakened by hand — first." }
                }
                @for severity in crate::model::RuleSeverity::ALL {
                    @let rows: Vec<_> = rows.iter().filter(|r| r.finding().severity == severity).collect();
                    @if !rows.is_empty() {
                        h3.(format!("sev-{severity}")) { (severity) " (" (rows.len()) ")" }
                        table {
                            tr { th { "rule" } th { "resource" } th { "git" } th { "live" } th { "message" } th { "declared at" } th { "status" } }
                            @for row in rows {
                                @let f = row.finding();
                                @let class = match (f.status == FindingStatus::Waived, row.live_only()) {
                                    (true, true) => Some("waived weakened"),
                                    (true, false) => Some("waived"),
                                    (false, true) => Some("weakened"),
                                    (false, false) => None,
                                };
                                tr class=[class] {
                                    td { code { (f.rule) } }
                                    td { (f.resource.kind) " " (resource_name(&f.resource.namespace, &f.resource.name)) " (" (f.resource.target) ")" }
                                    td.mark { @if row.desired.is_some() { "✗" } @else { "—" } }
                                    td.mark { @if row.live_only() { "✗ live only" } @else if row.live.is_some() { "✗" } @else { "—" } }
                                    td { (f.message) }
                                    td { code { (crate::model::place(&row.desired.or(row.live).and_then(|f| f.source.clone()))) } }
                                    td {
                                        @match &f.waiver {
                                            Some(w) => { "waived until " (w.expires) ": " (w.justification) }
                                            None => { "fail" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if !c.frameworks.is_empty() {
                    h2 { "Controls by framework" }
                    table {
                        tr { th { "framework" } th { "passing" } th { "failing" } th { "failing controls" } }
                        @for f in &c.frameworks {
                            tr {
                                td { (f.framework) } td { (f.passing) } td { (f.failing) }
                                td { (f.controls.iter().filter(|c| c.status == "fail").map(|c| c.id.as_str()).collect::<Vec<_>>().join(", ")) }
                            }
                        }
                    }
                }
                @if !c.waivers.is_empty() {
                    h2 { "Waivers" }
                    table {
                        tr { th { "rule" } th { "status" } th { "findings" } th { "expires" } th { "written in" } }
                        @for w in &c.waivers {
                            tr { td { code { (w.rule) } } td { (w.status) } td { (w.findings) } td { (w.expires) } td { code { (w.file) ":" (w.line) } } }
                        }
                    }
                }
                @if !report.coverage.is_empty() {
                    h2 { "AWS coverage" }
                    table {
                        tr { th { "target" } th { "type" } th { "managed" } th { "unmanaged" } th { "missing" } th { "coverage" } }
                        @for cov in &report.coverage {
                            tr { td { (cov.target) } td { (cov.resource_type) } td { (cov.managed) } td { (cov.unmanaged) } td { (cov.missing) } td { (format!("{:.1} %", cov.percent)) } }
                        }
                    }
                }
                @if !report.problems.is_empty() {
                    h2 { "Problems (" (report.problems.len()) ")" }
                    ul { @for p in &report.problems { li { (p.to_string()) } } }
                }
            }
        }
    }
}
