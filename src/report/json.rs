//! The JSON report: the `gitdrift.report/v1` document, pretty-printed, newline-terminated.

use super::ScanReport;

/// Renders the report as JSON.
pub fn render(report: &ScanReport) -> String {
    let mut out = serde_json::to_string_pretty(report).unwrap_or_else(|err| {
        // Serialization of plain data cannot fail; say so if it ever does rather than panic.
        format!("{{\"schema\":\"{}\",\"error\":\"{err}\"}}", super::SCHEMA)
    });
    out.push('\n');
    out
}

/// Writes the report as JSON (as [`render`] renders it) straight to `out`.
pub fn write(report: &ScanReport, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report).map_err(std::io::Error::other)?;
    out.write_all(b"\n")
}
