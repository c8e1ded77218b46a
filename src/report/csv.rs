//! The CSV report, for auditors' spreadsheets: one row per drifted field, per missing or
//! unmanaged resource, and per compliance finding, with the same columns throughout. Scheduled
//! reports mark each row `new` or `open` against the previous report (`trend`), and add a
//! `resolved` row per item that is gone.

use super::{ScanReport, Trend, display_value};
use crate::diff::Status;

/// The header row.
pub const COLUMNS: &[&str] = &[
    "record",
    "target",
    "api_version",
    "kind",
    "namespace",
    "name",
    "status",
    "path",
    "git",
    "live",
    "changed_by",
    "changed_at",
    "rule",
    "severity",
    "side",
    "message",
    "file",
    "line",
    "fingerprint",
    "trend",
];

fn file_and_line(source: &Option<crate::model::SourceRef>) -> (String, String) {
    source
        .as_ref()
        .map(|s| {
            (
                s.file.clone(),
                s.line.map(|l| l.to_string()).unwrap_or_default(),
            )
        })
        .unwrap_or_default()
}

/// A cell a spreadsheet will show as text: one starting with `=`, `+`, `-`, `@`, a tab or a
/// carriage return would be read as a formula (CSV injection), so it gets a leading `'`, the
/// neutralisation OWASP recommends. Cluster-supplied strings (manager names, values) reach
/// these cells.
pub fn neutral(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// Writes one row, every cell neutralised.
fn write_row<S: AsRef<str>>(writer: &mut ::csv::Writer<Vec<u8>>, row: impl IntoIterator<Item = S>) {
    let _ = writer.write_record(
        row.into_iter()
            .map(|cell| neutral(cell.as_ref()).into_owned()),
    );
}

/// Renders the report as CSV (RFC 4180, with a header row).
pub fn render(report: &ScanReport) -> String {
    let mut writer = ::csv::Writer::from_writer(Vec::new());
    write_row(&mut writer, COLUMNS);
    let mark = |item: String| match &report.trend {
        None => String::new(),
        Some(t) if t.is_new(&item) => "new".to_string(),
        Some(_) => "open".to_string(),
    };
    for r in &report.resources {
        if r.status == Status::InSync {
            continue;
        }
        let trend = mark(Trend::resource_item(r));
        let (file, line) = file_and_line(&r.source);
        let base = |path: &str, git: String, live: String, by: &str, at: &str| {
            vec![
                "resource".to_string(),
                r.target.clone(),
                r.api_version.clone(),
                r.kind.clone(),
                r.namespace.clone().unwrap_or_default(),
                r.name.clone(),
                r.status.as_str().to_string(),
                path.to_string(),
                git,
                live,
                by.to_string(),
                at.to_string(),
                String::new(),
                String::new(),
                String::new(),
                r.reason.clone().unwrap_or_default(),
                file.clone(),
                line.clone(),
                String::new(),
                trend.clone(),
            ]
        };
        if r.drifts.is_empty() {
            write_row(&mut writer, base("", String::new(), String::new(), "", ""));
        }
        for d in &r.drifts {
            let mut row = base(
                &d.path,
                display_value(&d.desired),
                display_value(&d.live),
                d.changed_by.as_deref().unwrap_or(""),
                d.changed_at.as_deref().unwrap_or(""),
            );
            row[0] = "drift".to_string();
            write_row(&mut writer, row);
        }
    }
    for f in &report.findings {
        let (file, line) = file_and_line(&f.source);
        let status = match f.status {
            crate::audit::findings::FindingStatus::Fail => "fail",
            crate::audit::findings::FindingStatus::Waived => "waived",
        };
        write_row(
            &mut writer,
            [
                "finding",
                &f.resource.target,
                &f.resource.api_version,
                &f.resource.kind,
                f.resource.namespace.as_deref().unwrap_or(""),
                &f.resource.name,
                status,
                "",
                "",
                "",
                "",
                "",
                &f.rule,
                f.severity.as_str(),
                if f.live_only {
                    "live only"
                } else {
                    f.side.as_str()
                },
                &f.message,
                &file,
                &line,
                &f.fingerprint,
                &match f.status {
                    crate::audit::findings::FindingStatus::Fail => mark(Trend::finding_item(f)),
                    crate::audit::findings::FindingStatus::Waived => String::new(),
                },
            ],
        );
    }
    if let Some(t) = &report.trend {
        for item in &t.resolved_items {
            let mut row = vec![String::new(); COLUMNS.len()];
            row[0] = "resolved".to_string();
            row[15] = item.clone();
            row[COLUMNS.len() - 1] = "resolved".to_string();
            write_row(&mut writer, row);
        }
    }
    let bytes = writer.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::neutral;

    #[test]
    fn formula_starts_are_neutralised_and_plain_text_is_kept() {
        for hostile in [
            "=HYPERLINK(\"http://x\")",
            "+1",
            "-2+3",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            assert_eq!(neutral(hostile), format!("'{hostile}"));
        }
        for plain in ["kubectl-edit", "3", "", "a=b", " =x"] {
            assert_eq!(neutral(plain), plain);
        }
    }
}
