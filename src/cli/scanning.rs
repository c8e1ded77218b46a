//! The commands that scan: `scan`, `validate`, `snapshot` and `remediate`.

use std::io::Write;
use std::sync::Arc;

use super::*;

pub(super) async fn scan(args: ScanArgs) -> anyhow::Result<u8> {
    let mut config = Config::load(&args.config.config, &crate::live::known())?;
    if args.explain.is_some() {
        config.drift.explain = true;
    }
    let config = Arc::new(config);
    let options = ScanOptions {
        cache_dir: cache_dir(&args.config),
        targets: args.targets.clone(),
    };
    let config_threshold = config.audit.fail_on_severity;
    let context = scan::Context::new(config, Arc::new(Metrics::new()));
    let mut report = scan::run(&context, &options).await;
    // With a history, each drift is dated from the scan that first saw it.
    let store = match &args.data_dir {
        Some(dir) => {
            let store = crate::store::Store::open(dir)?;
            store.previous_ages(&report).apply(&mut report);
            Some((dir, store))
        }
        None => None,
    };
    for problem in &report.problems {
        match problem.severity {
            Severity::Error => tracing::info!(message = "scan problem", %problem),
            _ => tracing::debug!(message = "scan problem", %problem),
        }
    }
    let text_options = TextOptions {
        show_in_sync: args.show_in_sync,
        explain: args.explain.is_some(),
    };
    let one = args.explain.as_deref().filter(|r| !r.is_empty());
    let written = match (&args.output, args.format) {
        // One resource's reasoning, as text wherever it goes.
        _ if one.is_some() => {
            let wanted = one.unwrap_or_default();
            let Some(text) = report::text::explain(&report, wanted) else {
                anyhow::bail!(
                    "--explain {wanted}: no resource of the scan is {wanted} (write KIND/NAME or KIND/NAMESPACE/NAME, optionally after TARGET:)"
                );
            };
            match &args.output {
                Some(path) => {
                    let plain = anstream::adapter::strip_str(&text).to_string();
                    crate::files::write_atomically(path, &plain, crate::files::Access::Umask)
                        .map_err(|err| anyhow::anyhow!("cannot write {}: {err}", path.display()))?;
                    Ok(())
                }
                None => {
                    let mut out = anstream::stdout().lock();
                    out.write_all(text.as_bytes()).and_then(|()| out.flush())
                }
            }
        }
        // JSON goes straight to its destination: a large report is never held whole.
        (Some(path), Format::Json) => {
            crate::files::write_atomically_with(path, crate::files::Access::Umask, |out| {
                report::json::write(&report, out)
            })
            .map_err(|err| anyhow::anyhow!("cannot write {}: {err}", path.display()))?;
            Ok(())
        }
        (Some(path), format) => {
            let plain = report::render_plain(&report, format, text_options);
            crate::files::write_atomically(path, &plain, crate::files::Access::Umask)
                .map_err(|err| anyhow::anyhow!("cannot write {}: {err}", path.display()))?;
            Ok(())
        }
        (None, Format::Json) => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            report::json::write(&report, &mut out).and_then(|()| out.flush())
        }
        (None, Format::Text) => {
            let rendered = report::render(&report, args.format, text_options);
            let mut out = anstream::stdout().lock();
            out.write_all(rendered.as_bytes())
                .and_then(|()| out.flush())
        }
        (None, format) => {
            let rendered = report::render(&report, format, text_options);
            let mut out = std::io::stdout().lock();
            out.write_all(rendered.as_bytes())
                .and_then(|()| out.flush())
        }
    };
    match written {
        // A reader that went away (`| head`) is not an error of the scan.
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other?,
    }
    if let Some((dir, store)) = &store {
        let id = store.save(&report)?;
        tracing::info!(message = "scan stored", id, data_dir = %dir.display());
    }
    let threshold = args.fail_on_severity.map_or(config_threshold, |t| t.0);
    let code = report.exit_code(threshold, args.fail_on_health.is_some());
    // The process ends next: freeing a large report (200,000 findings at 100,000 objects)
    // allocation by allocation would only delay the exit.
    std::mem::forget(report);
    Ok(code)
}

/// `gitdrift remediate`: the plan, printed and optionally written as a patch.
pub(super) async fn remediate(args: RemediateArgs) -> anyhow::Result<u8> {
    let config = Arc::new(Config::load(&args.config.config, &crate::live::known())?);
    let cache = cache_dir(&args.config);
    let recorder: Arc<dyn crate::live::Recorder> = Arc::new(Metrics::new());
    let mut scan_ref = crate::remediate::propose::ScanRef::default();
    let report = match &args.data_dir {
        Some(dir) => {
            let store = crate::store::Store::open(dir)?;
            let id = match args.scan {
                Some(id) => id,
                None => store
                    .latest()?
                    .ok_or_else(|| anyhow::anyhow!("no scan in {}", dir.display()))?,
            };
            scan_ref.id = Some(id);
            store
                .get(id)?
                .map(|(_, report)| report)
                .ok_or_else(|| anyhow::anyhow!("no scan {id} in {}", dir.display()))?
        }
        None => {
            let options = ScanOptions {
                cache_dir: cache.clone(),
                targets: Vec::new(),
            };
            scan::run(
                &scan::Context::new(Arc::clone(&config), recorder.clone()),
                &options,
            )
            .await
        }
    };
    let mut plan = crate::remediate::plan(&config, &report, &cache);
    let candidates = crate::remediate::import_candidates(&config, &report);
    if !candidates.is_empty() {
        let live = crate::remediate::read_unmanaged(&config, &candidates, &recorder).await;
        crate::remediate::add_imports(&config, &report, &live, &mut plan, &cache);
    }
    match args.format {
        ListFormat::Text => print!("{}", crate::remediate::render_plan(&plan)),
        ListFormat::Json => println!("{}", serde_json::to_string_pretty(&plan)?),
    }
    let _ = args.plan;
    if let Some(path) = &args.patch_out {
        let mut repos: Vec<String> = Vec::new();
        for c in &plan.changes {
            let repo = config
                .sources
                .iter()
                .find(|s| s.name == c.source)
                .map(|s| s.repo.to_string())
                .unwrap_or_default();
            if !repos.contains(&repo) {
                repos.push(repo);
            }
        }
        if repos.len() > 1 {
            anyhow::bail!(
                "the plan changes files in {} repositories ({}); a patch applies to one",
                repos.len(),
                repos.join(", ")
            );
        }
        let changes: Vec<&crate::remediate::FileChange> = plan.changes.iter().collect();
        crate::files::write_atomically(
            path,
            &crate::remediate::patch(&changes),
            crate::files::Access::Umask,
        )
        .map_err(|err| anyhow::anyhow!("cannot write {}: {err}", path.display()))?;
    }
    if args.open {
        let Some(provider) = &config.remediation.provider else {
            anyhow::bail!("--open needs remediation.provider in the configuration (local)");
        };
        let proposals =
            crate::remediate::propose::propose(&config, provider, &report, &plan, None, &scan_ref)
                .await
                .map_err(|e| anyhow::anyhow!(e))?;
        for line in proposals.iter().filter_map(|p| p.describe()) {
            println!("{line}");
        }
    }
    Ok(0)
}

/// Validation is a scan whose report is not printed: every source and target is read and judged
/// exactly as `scan` would, so every problem `scan` would meet (unreadable refs, bad files,
/// objects declared twice, stale ignore rules) is listed, all at once.
pub(super) async fn validate(args: ValidateArgs) -> anyhow::Result<u8> {
    let config = match Config::load(&args.config.config, &crate::live::known()) {
        Ok(config) => Arc::new(config),
        Err(err) => {
            eprintln!("{err}");
            return Ok(2);
        }
    };
    let options = ScanOptions {
        cache_dir: cache_dir(&args.config),
        targets: Vec::new(),
    };
    let context = scan::Context::new(Arc::clone(&config), Arc::new(Metrics::new()));
    let report = scan::run(&context, &options).await;
    let mut out = anstream::stdout().lock();
    for source in &report.scan.sources {
        writeln!(
            out,
            "source {}: {} objects in {} files at {}",
            source.name,
            source.objects,
            source.files,
            source.commit.as_deref().unwrap_or("(unreadable)")
        )?;
    }
    for target in &report.scan.targets {
        writeln!(
            out,
            "target {}: {} objects in {} {}",
            target.name, target.objects, target.provider, target.location
        )?;
    }
    for problem in &report.problems {
        writeln!(out, "{problem}")?;
    }
    let errors = report.summary.errors;
    if errors == 0 {
        writeln!(out, "configuration {} is valid", config.path.display())?;
        Ok(0)
    } else {
        writeln!(
            out,
            "configuration {}: {errors} error{}",
            config.path.display(),
            if errors == 1 { "" } else { "s" }
        )?;
        Ok(2)
    }
}

/// Reads a target as a scan would (the kinds and namespaces its sources declare) and writes
/// what it read as a snapshot folder. Exit 0 when everything was read, 2 otherwise (what could
/// be read is still written).
pub(super) async fn snapshot(args: SnapshotArgs) -> anyhow::Result<u8> {
    let config = Arc::new(Config::load(&args.config.config, &crate::live::known())?);
    let Some(target) = config.target(&args.target).cloned() else {
        anyhow::bail!(
            "no target named `{}` in {}",
            args.target,
            config.path.display()
        );
    };
    let permits = Arc::new(tokio::sync::Semaphore::new(config.concurrency.max(1)));
    let wanted = std::collections::HashSet::from([target.name.as_str()]);
    let sources = scan::read_sources(&config, &wanted, &cache_dir(&args.config), &permits).await;
    let request = scan::live_request(&config, &target.name, &sources);
    let recorder: Arc<dyn crate::live::Recorder> = Arc::new(Metrics::new());
    let provider = crate::live::LiveProvider::for_target(&target, &recorder);
    let read = provider.read(&target.name, &request, &config.limits).await;
    let mut errors = 0usize;
    for problem in sources
        .iter()
        .flat_map(|s| &s.problems)
        .chain(&read.problems)
    {
        if problem.severity == Severity::Error {
            errors += 1;
            eprintln!("{problem}");
        }
    }
    for kind in &read.unreadable {
        errors += 1;
        eprintln!(
            "error [target {}]: {} is unreadable: {}: {}",
            target.name,
            crate::live::kube::kind_label(&kind.gk),
            kind.reason(),
            kind.message
        );
    }
    if !read.complete {
        return Ok(2);
    }
    let files = crate::live::snapshot::write(&args.out, &read)
        .map_err(|err| anyhow::anyhow!("cannot write {}: {err}", args.out.display()))?;
    println!(
        "wrote {} objects of {} kinds to {}",
        read.objects.len(),
        files.len(),
        args.out.display()
    );
    Ok(if errors == 0 { 0 } else { 2 })
}
