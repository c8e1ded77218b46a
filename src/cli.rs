//! The command line: argument parsing, logging set-up, and the mapping of outcomes to exit codes
//! (0 in sync, 1 drift found, 2 error). Thin glue over the library.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{ArgAction, Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::config::Config;
use crate::desired;
use crate::metrics::Metrics;
use crate::model::{Format, RuleSeverity, Severity};
use crate::report::{self, TextOptions};
use crate::scan::{self, ScanOptions};

/// gitdrift: where live infrastructure no longer matches what git declares. Read-only.
#[derive(Debug, Parser)]
#[command(name = "gitdrift", version, about, long_about = None)]
struct Cli {
    /// More log output on standard error (-v info, -vv debug); GITDRIFT_LOG overrides.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compare git-declared state with live state and report drift.
    Scan(ScanArgs),
    /// Check a configuration and every source and target it names; print all problems.
    Validate(ValidateArgs),
    /// Write the live objects a scan of a target would read, as a snapshot folder (Secret values
    /// replaced by digest markers).
    Snapshot(SnapshotArgs),
    /// List or test compliance rules.
    Rules(RulesArgs),
    /// Run as a service: scan every target on its schedule (Kubernetes targets from watches),
    /// keep the history, serve metrics, the API and an overview page, write scheduled reports.
    Serve(ServeArgs),
    /// Propose git changes that adopt the live state where the configuration says the live state
    /// is right (`remediation.adopt`): print the plan, or write it as a patch.
    Remediate(RemediateArgs),
    /// List the scans kept in a data folder's history.
    History(HistoryArgs),
    /// Render a stored scan in any report format.
    Report(ReportArgs),
    /// Check the history's hash chain; name the first broken link.
    Verify(DataArgs),
    /// Print the version.
    Version,
}

#[derive(Debug, Args)]
struct ConfigArgs {
    /// Configuration file.
    #[arg(short, long, env = "GITDRIFT_CONFIG", default_value = "gitdrift.yaml")]
    config: PathBuf,
    /// Folder for cached clones of remote repositories [default: the user's cache folder].
    #[arg(long, env = "GITDRIFT_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ScanArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Report format.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write the report to this file (atomically) instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Scan only this target (repeatable).
    #[arg(long = "target", value_name = "NAME")]
    targets: Vec<String>,
    /// List in-sync resources too (text format).
    #[arg(long)]
    show_in_sync: bool,
    /// Exit 1 when compliance findings at or above this severity fail (critical, high, medium,
    /// low, info, or none) [default: audit.fail_on_severity, high].
    #[arg(long, value_name = "SEVERITY", value_parser = parse_threshold)]
    fail_on_severity: Option<Threshold>,
    /// Also keep the report in the scan history in this folder (see `gitdrift history`).
    #[arg(long, value_name = "DIR", env = "GITDRIFT_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// The data folder: scan history [default: the user's data folder].
    #[arg(long, value_name = "DIR", env = "GITDRIFT_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Address and port of the HTTP server, in place of serve.listen.
    #[arg(long, value_name = "ADDR:PORT", env = "GITDRIFT_LISTEN")]
    listen: Option<std::net::SocketAddr>,
    /// Split the targets between this many replicas (rendezvous hashing of target names).
    #[arg(long, value_name = "N", env = "GITDRIFT_SHARD_COUNT")]
    shard_count: Option<usize>,
    /// This replica's shard, from 0 [default: the number its pod name ends with, `$POD_NAME`
    /// or `$HOSTNAME`, as a StatefulSet names its pods].
    #[arg(long, value_name = "I", env = "GITDRIFT_SHARD_INDEX")]
    shard_index: Option<usize>,
    /// How to reach another shard, `{index}` standing for its number
    /// (`http://gitdrift-{index}.gitdrift-shards:9464`): webhooks about its sources are passed on.
    #[arg(long, value_name = "URL", env = "GITDRIFT_SHARD_PEER_URL")]
    shard_peer_url: Option<String>,
}

#[derive(Debug, Args)]
struct RemediateArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Plan from a stored scan instead of scanning now (with `--scan`, that one; else the newest).
    #[arg(long, value_name = "DIR", env = "GITDRIFT_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The stored scan to plan from.
    #[arg(long, value_name = "ID", requires = "data_dir")]
    scan: Option<i64>,
    /// Print the plan (the default).
    #[arg(long)]
    plan: bool,
    /// How to print the plan.
    #[arg(short, long, value_enum, default_value_t = ListFormat::Text)]
    format: ListFormat,
    /// Write the plan's edits as a unified diff that `git apply` accepts (paths from the
    /// repository root).
    #[arg(long, value_name = "FILE")]
    patch_out: Option<PathBuf>,
    /// Propose the plan through `remediation.provider` (`local`: a commit on the branch
    /// `gitdrift/remediate/<source>-<target>`; no drift left deletes gitdrift's branch).
    #[arg(long)]
    open: bool,
}

#[derive(Debug, Args)]
struct DataArgs {
    /// The data folder holding the scan history.
    #[arg(long, value_name = "DIR", env = "GITDRIFT_DATA_DIR")]
    data_dir: PathBuf,
}

#[derive(Debug, Args)]
struct ReportArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The stored scan to render (its id); default: the newest.
    #[arg(long, value_name = "ID")]
    scan: Option<i64>,
    /// Report format.
    #[arg(short, long, value_enum, default_value_t = Format::Html)]
    format: Format,
    /// Write the report to this file (atomically) instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct HistoryArgs {
    #[command(flatten)]
    data: DataArgs,
    /// How many scans to list, newest first.
    #[arg(long, default_value_t = 20)]
    limit: usize,
}

/// A `--fail-on-severity` value.
#[derive(Clone, Copy, Debug)]
struct Threshold(Option<RuleSeverity>);

fn parse_threshold(raw: &str) -> Result<Threshold, String> {
    if raw == "none" {
        return Ok(Threshold(None));
    }
    raw.parse::<RuleSeverity>()
        .map(|s| Threshold(Some(s)))
        .map_err(|()| "expected critical, high, medium, low, info or none".to_string())
}

/// How `rules list` prints.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum ListFormat {
    /// A line per rule.
    Text,
    /// The rules as JSON.
    Json,
}

#[derive(Debug, Args)]
struct RulesArgs {
    #[command(subcommand)]
    command: RulesCommand,
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// List the compliance rules a configuration loads (the built-in packs without one).
    List {
        /// Configuration file; without it (and without gitdrift.yaml here), the built-in packs.
        #[arg(short, long, env = "GITDRIFT_CONFIG")]
        config: Option<PathBuf>,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
    },
    /// Run the `test_*` rules of the packs' `*_test.rego` files, like `opa test`: the built-in
    /// packs, or the folders named (with the built-in helpers available to them).
    Test {
        /// Rule folders or files; default: the built-in packs.
        dirs: Vec<PathBuf>,
        /// Print every test, not only failures.
        #[arg(short = 'V', long)]
        verbose_tests: bool,
    },
}

#[derive(Debug, Args)]
struct SnapshotArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// The target to read.
    #[arg(long, value_name = "NAME")]
    target: String,
    /// Folder to write (created if needed); one JSON file per kind.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

#[derive(Debug, Args)]
struct ValidateArgs {
    #[command(flatten)]
    config: ConfigArgs,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { 2 } else { 0 });
        }
    };
    init_logging(cli.verbose);
    // gix's HTTPS transport uses rustls without a built-in provider: install ring, once.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match cli.command {
        Command::Version => {
            println!("gitdrift {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Scan(args) => run(scan(args)),
        Command::Validate(args) => run(validate(args)),
        Command::Snapshot(args) => run(snapshot(args)),
        Command::Rules(args) => ExitCode::from(rules(args)),
        Command::Serve(args) => run(serve(args)),
        Command::Remediate(args) => run(remediate(args)),
        Command::History(args) => ExitCode::from(history(args)),
        Command::Report(args) => ExitCode::from(stored_report(args)),
        Command::Verify(args) => ExitCode::from(verify(args)),
    }
}

fn run(future: impl std::future::Future<Output = anyhow::Result<u8>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the runtime: {err}");
            return ExitCode::from(2);
        }
    };
    let code = match runtime.block_on(future) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!(
                "error: {}",
                crate::model::redact::scrub(&format!("{err:#}"))
            );
            ExitCode::from(2)
        }
    };
    // Work abandoned at a shutdown bound (a scan past `serve.shutdown_timeout`) must not hold
    // the exit: blocking threads still running are left behind.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}

/// Logs go to standard error. `-v` raises gitdrift's own level only: libraries (HTTP, TLS, git
/// transport) stay at `warn`, so that no request detail such as an authorization header is ever
/// logged unless `GITDRIFT_LOG` asks for it explicitly.
fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "gitdrift=info,warn",
        2 => "gitdrift=debug,warn",
        _ => "gitdrift=trace,warn",
    };
    let filter =
        EnvFilter::try_from_env("GITDRIFT_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

fn cache_dir(args: &ConfigArgs) -> PathBuf {
    args.cache_dir
        .clone()
        .unwrap_or_else(desired::git::default_cache_dir)
}

async fn scan(args: ScanArgs) -> anyhow::Result<u8> {
    let config = Arc::new(Config::load(&args.config.config, &crate::live::known())?);
    let options = ScanOptions {
        cache_dir: cache_dir(&args.config),
        targets: args.targets.clone(),
    };
    let config_threshold = config.audit.fail_on_severity;
    let context = scan::Context::new(config, Arc::new(Metrics::new()));
    let report = scan::run(&context, &options).await;
    for problem in &report.problems {
        match problem.severity {
            Severity::Error => tracing::info!(message = "scan problem", %problem),
            _ => tracing::debug!(message = "scan problem", %problem),
        }
    }
    let text_options = TextOptions {
        show_in_sync: args.show_in_sync,
    };
    let written = match (&args.output, args.format) {
        // JSON goes straight to its destination: a large report is never held whole.
        (Some(path), Format::Json) => {
            crate::files::write_atomically_with(path, |out| report::json::write(&report, out))
                .map_err(|err| anyhow::anyhow!("cannot write {}: {err}", path.display()))?;
            Ok(())
        }
        (Some(path), format) => {
            let rendered = report::render(&report, format, text_options);
            // Only text carries styling to strip.
            let plain = match format {
                Format::Text => anstream::adapter::strip_str(&rendered).to_string(),
                _ => rendered,
            };
            crate::files::write_atomically(path, &plain)
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
    if let Some(dir) = &args.data_dir {
        let store = crate::store::Store::open(dir)?;
        let id = store.save(&report)?;
        tracing::info!(message = "scan stored", id, data_dir = %dir.display());
    }
    let threshold = args.fail_on_severity.map_or(config_threshold, |t| t.0);
    Ok(report.exit_code(threshold))
}

/// `gitdrift remediate`: the plan, printed and optionally written as a patch.
async fn remediate(args: RemediateArgs) -> anyhow::Result<u8> {
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
        crate::files::write_atomically(path, &crate::remediate::patch(&changes))
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

async fn serve(args: ServeArgs) -> anyhow::Result<u8> {
    let data_dir = args.data_dir.clone().unwrap_or_else(|| {
        dirs::data_local_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join("gitdrift")
    });
    let shard = match (args.shard_count, args.shard_index) {
        (None, None) => None,
        (None, Some(_)) => anyhow::bail!("--shard-index needs --shard-count"),
        (Some(count), index) => {
            let index = match index {
                Some(index) => index,
                None => ["POD_NAME", "HOSTNAME"]
                    .iter()
                    .filter_map(|v| std::env::var(v).ok())
                    .find_map(|name| crate::serve::shard::Shard::index_from_name(&name))
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "--shard-count without --shard-index needs a pod name ending in its ordinal ($POD_NAME or $HOSTNAME, e.g. gitdrift-2)"
                        )
                    })?,
            };
            Some(
                crate::serve::shard::Shard::new(index, count).ok_or_else(|| {
                    anyhow::anyhow!("shard index {index} is not below the shard count {count}")
                })?,
            )
        }
    };
    crate::serve::run(crate::serve::ServeOptions {
        config_path: args.config.config.clone(),
        cache_dir: cache_dir(&args.config),
        data_dir,
        listen: args.listen,
        shard,
        shard_peer_url: args.shard_peer_url.clone(),
    })
    .await
}

fn open_store(args: &DataArgs) -> Result<crate::store::Store, u8> {
    if !args.data_dir.join(crate::store::FILE).exists() {
        eprintln!(
            "error: no scan history in {} (scans are kept with `scan --data-dir` or `serve`)",
            args.data_dir.display()
        );
        return Err(2);
    }
    crate::store::Store::open(&args.data_dir).map_err(|err| {
        eprintln!("error: {err}");
        2
    })
}

/// `gitdrift history`.
fn history(args: HistoryArgs) -> u8 {
    let store = match open_store(&args.data) {
        Ok(store) => store,
        Err(code) => return code,
    };
    match store.list(args.limit) {
        Ok(scans) => {
            for s in scans {
                println!(
                    "{:>6}  {}  {:<20} {} resources: {} drifted, {} missing, {} unmanaged · {} failing findings · {} errors · {} bytes · sha256 {}",
                    s.id,
                    s.started_at.format("%Y-%m-%dT%H:%M:%SZ"),
                    s.targets.join(","),
                    s.summary.resources,
                    s.summary.drifted,
                    s.summary.missing,
                    s.summary.unmanaged,
                    s.failing_findings,
                    s.summary.errors,
                    s.bytes,
                    s.sha256.chars().take(16).collect::<String>()
                );
            }
            0
        }
        Err(err) => {
            eprintln!("error: {err}");
            2
        }
    }
}

/// `gitdrift report`: a stored scan in any format.
fn stored_report(args: ReportArgs) -> u8 {
    let store = match open_store(&args.data) {
        Ok(store) => store,
        Err(code) => return code,
    };
    let id = match args
        .scan
        .map(Ok)
        .unwrap_or_else(|| store.latest().map(|id| id.unwrap_or(0)))
    {
        Ok(id) => id,
        Err(err) => {
            eprintln!("error: {err}");
            return 2;
        }
    };
    let report = match store.get(id) {
        Ok(Some((_, report))) => report,
        Ok(None) => {
            eprintln!("error: no scan {id} in {}", args.data.data_dir.display());
            return 2;
        }
        Err(err) => {
            eprintln!("error: {err}");
            return 2;
        }
    };
    let rendered = report::render(&report, args.format, TextOptions::default());
    let plain = match args.format {
        Format::Text => anstream::adapter::strip_str(&rendered).to_string(),
        _ => rendered,
    };
    let written = match &args.output {
        Some(path) => crate::files::write_atomically(path, &plain),
        None => std::io::stdout().lock().write_all(plain.as_bytes()),
    };
    match written {
        Ok(()) => 0,
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(err) => {
            eprintln!("error: cannot write the report: {err}");
            2
        }
    }
}

/// `gitdrift verify`: 0 when the chain holds, 1 at the first broken link.
fn verify(args: DataArgs) -> u8 {
    let store = match open_store(&args) {
        Ok(store) => store,
        Err(code) => return code,
    };
    match store.verify() {
        Ok(Ok(count)) => {
            println!(
                "history verifies: {count} scan{} in {}",
                if count == 1 { "" } else { "s" },
                store.path().display()
            );
            0
        }
        Ok(Err(broken)) => {
            println!(
                "history is broken at scan {}: {}",
                broken.id, broken.message
            );
            1
        }
        Err(err) => {
            eprintln!("error: {err}");
            2
        }
    }
}

/// `gitdrift rules list` and `gitdrift rules test`.
fn rules(args: RulesArgs) -> u8 {
    use crate::audit::packs;
    use crate::audit::testing::{self, TestStatus};

    match args.command {
        RulesCommand::List { config, format } => {
            let config_path = config.or_else(|| {
                let here = PathBuf::from("gitdrift.yaml");
                here.exists().then_some(here)
            });
            let config = match config_path {
                Some(path) => match Config::load(&path, &crate::live::known()) {
                    Ok(config) => config,
                    Err(err) => {
                        eprintln!("{err}");
                        return 2;
                    }
                },
                None => match Config::from_str(
                    "sources: []\ntargets: []\n",
                    std::path::Path::new("(built-in)"),
                    std::path::Path::new("."),
                    &crate::live::known(),
                ) {
                    Ok(config) => config,
                    Err(err) => {
                        eprintln!("{err}");
                        return 2;
                    }
                },
            };
            let auditor = crate::audit::run::Auditor::load(&config);
            for problem in &auditor.problems {
                eprintln!("{problem}");
            }
            let rules = &auditor.set.rules;
            match format {
                ListFormat::Json => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(rules).unwrap_or_default()
                    );
                }
                ListFormat::Text => {
                    for rule in rules {
                        let controls: Vec<String> = rule
                            .controls
                            .iter()
                            .map(|(f, c)| format!("{f} {}", c.join(", ")))
                            .collect();
                        println!(
                            "{:<44} {:<8} {:<24} {}",
                            rule.id,
                            rule.severity.as_str(),
                            rule.pack,
                            controls.join("; ")
                        );
                    }
                    println!("{} rules", rules.len());
                }
            }
            if auditor
                .problems
                .iter()
                .any(|p| p.severity == Severity::Error)
            {
                2
            } else {
                0
            }
        }
        RulesCommand::Test {
            dirs,
            verbose_tests,
        } => {
            let mut files = Vec::new();
            if dirs.is_empty() {
                files = packs::builtin();
            } else {
                files.extend(
                    packs::builtin()
                        .into_iter()
                        .filter(|f| f.pack == packs::LIB && !f.test),
                );
                for dir in &dirs {
                    match packs::folder(dir, &dir.display().to_string(), 8 << 20) {
                        Ok(more) => files.extend(more),
                        Err(message) => {
                            eprintln!("error: {message}");
                            return 2;
                        }
                    }
                }
            }
            let run = testing::run(&files, std::time::Duration::from_secs(10));
            for problem in &run.problems {
                match problem.line {
                    Some(line) => println!("ERROR {}:{line}: {}", problem.file, problem.message),
                    None => println!("ERROR {}: {}", problem.file, problem.message),
                }
            }
            let mut file = None;
            for result in &run.results {
                let show = verbose_tests || result.status != TestStatus::Pass;
                if !show {
                    continue;
                }
                if file != Some(&result.file) {
                    file = Some(&result.file);
                    println!("{}:", result.file);
                }
                let ms = result.elapsed.as_secs_f64() * 1000.0;
                match &result.status {
                    TestStatus::Pass => println!("  PASS {} ({ms:.1} ms)", result.name),
                    TestStatus::Fail => println!("  FAIL {} ({ms:.1} ms)", result.name),
                    TestStatus::Error(e) => println!("  ERROR {}: {e}", result.name),
                }
            }
            let passed = run
                .results
                .iter()
                .filter(|r| r.status == TestStatus::Pass)
                .count();
            let total = run.results.len();
            println!("{}", "-".repeat(60));
            if run.ok() {
                println!("PASS: {passed}/{total}");
                0
            } else {
                if total == 0 {
                    println!("no tests found (test rules are named test_… in *_test.rego files)");
                }
                println!(
                    "FAIL: {}/{total} failed{}",
                    total - passed,
                    if run.problems.is_empty() {
                        String::new()
                    } else {
                        format!(", {} file(s) could not be loaded", run.problems.len())
                    }
                );
                1
            }
        }
    }
}

/// Validation is a scan whose report is not printed: every source and target is read and judged
/// exactly as `scan` would, so every problem `scan` would meet (unreadable refs, bad files,
/// objects declared twice, stale ignore rules) is listed, all at once.
async fn validate(args: ValidateArgs) -> anyhow::Result<u8> {
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
async fn snapshot(args: SnapshotArgs) -> anyhow::Result<u8> {
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
