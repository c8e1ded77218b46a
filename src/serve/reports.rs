//! Scheduled audit reports: at each time a report's cron schedule names (in its time zone), a
//! scan of every target, stored in the history like any other, with the trend against the
//! previous report of the same schedule, written in each configured format to the output
//! folder (`NAME-YYYYMMDDTHHMMSSZ.EXT`, and `NAME-latest.EXT`). The previous report's items and
//! the time of the last run are kept in the store's metadata, so the trend survives restarts and
//! retention, and a run missed while the service was down (or reloading) is made up at start.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Service;
use crate::config::service::ScheduledReport;
use crate::model::{Code, Format};
use crate::report::{self, ScanReport, TextOptions, Trend, TrendBase};
use crate::scan::Context;

/// A scheduled report's last run, for the API and the overview page.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
// Read back from other shards, which may run another version: missing fields default.
#[serde(default)]
pub struct ReportRun {
    /// Report name.
    pub name: String,
    /// Its cron expression.
    pub schedule: String,
    /// Its time zone.
    pub timezone: String,
    /// Formats written.
    pub formats: Vec<String>,
    /// When it last ran.
    pub last_run_at: Option<DateTime<Utc>>,
    /// When it runs next.
    pub next_run_at: Option<DateTime<Utc>>,
    /// The stored scan of the last run.
    pub scan_id: Option<i64>,
    /// Its trend.
    pub trend: Option<Trend>,
    /// Files written by the last run.
    pub files: Vec<String>,
    /// Why the last run failed, if it did.
    pub error: Option<String>,
}

/// The metadata key of a report's trend base.
fn base_key(name: &str) -> String {
    format!("report:{name}")
}

/// The metadata key of the time of a report's last run.
fn last_run_key(name: &str) -> String {
    format!("report-run:{name}")
}

/// Whether a run was missed: the last time the schedule named is after the last run. A report
/// never run before starts counting now.
async fn missed(service: &Service, report: &ScheduledReport) -> bool {
    let store = Arc::clone(&service.store);
    let key = last_run_key(&report.name);
    let last = tokio::task::spawn_blocking(move || {
        let last = store.meta(&key).ok().flatten();
        if last.is_none() {
            let _ = store.set_meta(&key, &Utc::now().to_rfc3339());
        }
        last
    })
    .await
    .ok()
    .flatten()
    .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
    .map(|t| t.with_timezone(&Utc));
    let Some(last) = last else {
        return false;
    };
    let now = Utc::now().with_timezone(&report.timezone);
    report
        .cron
        .find_previous_occurrence(&now, true)
        .is_ok_and(|previous| previous.with_timezone(&Utc) > last)
}

/// Waits for each time the schedule names and writes the report then.
pub async fn schedule_loop(service: Arc<Service>, context: Context, report: ScheduledReport) {
    update_run(&service, &report, |_| {});
    if missed(&service, &report).await {
        tracing::info!(message = "making up a missed scheduled report", report = %report.name);
        run_report(&service, &context, &report).await;
    }
    loop {
        let now = Utc::now().with_timezone(&report.timezone);
        let next = match report.cron.find_next_occurrence(&now, false) {
            Ok(next) => next.with_timezone(&Utc),
            Err(err) => {
                tracing::error!(message = "schedule has no next time", report = %report.name, error = %err);
                return;
            }
        };
        update_run(&service, &report, |run| run.next_run_at = Some(next));
        let wait = (next - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        tokio::time::sleep(wait).await;
        // Sleep may wake a little early on some clocks: never run twice for one time.
        while Utc::now() < next {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        run_report(&service, &context, &report).await;
    }
}

fn update_run(service: &Service, report: &ScheduledReport, change: impl FnOnce(&mut ReportRun)) {
    let mut runs = service
        .report_runs
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let run = runs
        .entry(report.name.clone())
        .or_insert_with(|| ReportRun {
            name: report.name.clone(),
            schedule: report.schedule.clone(),
            timezone: report.timezone.name().to_string(),
            formats: report
                .formats
                .iter()
                .map(|f| f.name().to_string())
                .collect(),
            ..ReportRun::default()
        });
    change(run);
}

/// Scans every target now, stores the scan with its trend, and writes the files.
pub async fn run_report(service: &Arc<Service>, context: &Context, report: &ScheduledReport) {
    let config = &context.config;
    // Shutting down: the writer waits for running scans; no new one starts.
    let Ok(_running) = service.running.clone().try_read_owned() else {
        return;
    };
    // One of the `concurrency` scans at once.
    let permits = Arc::clone(&service.permits.read().unwrap_or_else(|e| e.into_inner()));
    let Ok(_permit) = permits.acquire_owned().await else {
        return;
    };
    let started = Utc::now();
    // Sources of targets another shard scans are read here for the report.
    let mut sources = Vec::new();
    for target in &config.targets {
        if service.owns(&target.name) {
            sources.extend(super::loops::target_sources(service, config, &target.name).await);
        } else {
            for source in config.sources.iter().filter(|s| s.target == target.name) {
                let (config, source, cache) = (
                    Arc::clone(config),
                    source.clone(),
                    service.options.cache_dir.clone(),
                );
                if let Ok(read) = tokio::task::spawn_blocking(move || {
                    crate::desired::read_source(&config, &source, &cache)
                })
                .await
                {
                    sources.push(read);
                }
            }
        }
    }
    // The report's scan takes every target's turn: no target is scanned twice at once.
    let targets: Vec<String> = context
        .config
        .targets
        .iter()
        .map(|t| t.name.clone())
        .collect();
    let held = service.lock_targets(&targets).await;
    let scanned =
        super::loops::scan_off_workers(service, context, Vec::new(), sources, Default::default())
            .await;
    // Dated and stored while every target's turn is held: no loop scan slips in between.
    let result = match scanned {
        Ok(mut scan) => {
            super::loops::date_drifts(service, &mut scan).await;
            finish(service, report, scan).await
        }
        Err(err) => Err(format!("the scan failed: {err}")),
    };
    drop(held);
    match result {
        Ok((id, trend, files)) => {
            service.publish_head().await;
            tracing::info!(message = "scheduled report written", report = %report.name, id, files = files.len());
            update_run(service, report, |run| {
                run.last_run_at = Some(started);
                run.scan_id = Some(id);
                run.trend = Some(trend);
                run.files = files;
                run.error = None;
            });
        }
        Err(err) => {
            tracing::error!(message = "scheduled report failed", report = %report.name, error = %err);
            service
                .metrics
                .stage_error(&format!("report:{}", report.name), Code::ReportWrite);
            update_run(service, report, |run| {
                run.last_run_at = Some(started);
                run.error = Some(err);
            });
        }
    }
}

async fn finish(
    service: &Arc<Service>,
    report: &ScheduledReport,
    mut scan: ScanReport,
) -> Result<(i64, Trend, Vec<String>), String> {
    let store = Arc::clone(&service.store);
    let name = report.name.clone();
    let output = report.output.clone();
    let formats = report.formats.clone();
    let service = Arc::clone(service);
    tokio::task::spawn_blocking(move || {
        let previous: Option<TrendBase> = store
            .meta(&base_key(&name))
            .map_err(|e| e.to_string())?
            .and_then(|text| serde_json::from_str(&text).ok());
        let mut trend = Trend::since(previous.as_ref(), &scan);
        // The earlier scans of every target (the scheduled reports' and the like), for the chart.
        let targets = scan.scan.targets.len();
        let mut history: Vec<crate::report::chart::Point> = store
            .list(59)
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|s| s.targets.len() == targets && targets > 0)
            .map(|s| s.point())
            .collect();
        history.sort_by_key(|p| p.at);
        history.push(crate::report::chart::Point {
            at: scan.scan.started_at,
            drifted: scan.summary.drifted,
            missing: scan.summary.missing,
            unmanaged: scan.summary.unmanaged,
            failing: scan.compliance.failing.values().sum(),
            degraded: scan.summary.health.get("degraded").copied().unwrap_or(0),
        });
        trend.history = history;
        scan.trend = Some(trend.clone());
        scan.convergence = period_revisions(&service, &store, previous.map(|p| p.at));
        let id = store.save(&scan).map_err(|e| e.to_string())?;
        let base = TrendBase {
            scan: id,
            at: scan.scan.started_at,
            items: Trend::items(&scan),
        };
        store
            .set_meta(
                &base_key(&name),
                &serde_json::to_string(&base).map_err(|e| e.to_string())?,
            )
            .map_err(|e| e.to_string())?;
        store
            .set_meta(&last_run_key(&name), &Utc::now().to_rfc3339())
            .map_err(|e| e.to_string())?;
        let files = write_files(&scan, &name, &output, &formats)?;
        Ok((id, trend, files))
    })
    .await
    .map_err(|e| e.to_string())?
}

/// The revisions a scheduled report shows: those first seen since the previous report (the
/// last 100 for a first report) and any still converging, the newest first; an unconverged one
/// says what it waits on, as the service last judged.
fn period_revisions(
    service: &Service,
    store: &crate::store::Store,
    since: Option<DateTime<Utc>>,
) -> Vec<crate::report::convergence::Revision> {
    let mut revisions = store.revisions(None, since, 100).unwrap_or_else(|err| {
        tracing::warn!(message = "cannot read the revisions for a report", error = %err);
        Vec::new()
    });
    for revision in revisions.iter_mut().filter(|r| r.converged_at.is_none()) {
        if let Some(current) = service.convergence.heads(&revision.source).current
            && current.commit == revision.commit
        {
            revision.waiting = current.waiting;
        }
    }
    revisions
}

/// Writes a report in each format: a file named by its time, and the `-latest` copy.
pub fn write_files(
    scan: &ScanReport,
    name: &str,
    output: &std::path::Path,
    formats: &[Format],
) -> Result<Vec<String>, String> {
    std::fs::create_dir_all(output)
        .map_err(|e| format!("cannot create {}: {e}", output.display()))?;
    let stamp = scan.scan.started_at.format("%Y%m%dT%H%M%SZ");
    let mut files = Vec::new();
    for format in formats {
        let text = report::render_plain(scan, *format, TextOptions::default());
        for file in [
            output.join(format!("{name}-{stamp}.{}", format.extension())),
            output.join(format!("{name}-latest.{}", format.extension())),
        ] {
            crate::files::write_atomically(&file, &text, crate::files::Access::Umask)
                .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
            files.push(file.display().to_string());
        }
    }
    Ok(files)
}
