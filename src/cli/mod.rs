//! The command line: argument parsing, logging set-up, and the mapping of outcomes to exit codes
//! (0 in sync, 1 drift found, 2 error). Thin glue over the library.

mod history;
mod rules;
mod scanning;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::config::Config;
use crate::desired;
use crate::metrics::Metrics;
use crate::model::{Format, RuleSeverity, Severity};
use crate::report::{self, TextOptions};
use crate::scan::{self, ScanOptions};
use history::{history, stored_report, verify};
use rules::rules;
use scanning::{remediate, scan, snapshot, validate};

/// gitdrift: where live infrastructure no longer matches what git declares. Read-only.
#[derive(Debug, Parser)]
#[command(name = "gitdrift", version, about, long_about = None)]
struct Cli {
    /// More log output on standard error (-v info, -vv debug); GITDRIFT_LOG overrides.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    verbose: u8,
    /// No progress lines on standard error (they are drawn only when it is a terminal).
    #[arg(short, long, global = true)]
    quiet: bool,
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
    Verify(VerifyArgs),
    /// Print the version; with `--verbose`, also the commit, its date and the render tools
    /// found with their versions.
    Version,
    /// Internal: one git fetch, run in a child process so that a hung remote can be killed.
    #[command(name = "__fetch", hide = true)]
    Fetch,
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
    /// Say why each verdict is what it is: every difference between git and live that was not
    /// counted as drift, with the reason (server or schema default, owner, ignore rule,
    /// normalisation). With RESOURCE (`KIND/NAME`, `KIND/NAMESPACE/NAME`, optionally after
    /// `TARGET:`), print only that resource's full reasoning.
    #[arg(long, value_name = "RESOURCE", num_args = 0..=1, default_missing_value = "")]
    explain: Option<String>,
    /// Exit 1 when compliance findings at or above this severity fail (critical, high, medium,
    /// low, info, or none) [default: audit.fail_on_severity, high].
    #[arg(long, value_name = "SEVERITY", value_parser = parse_threshold)]
    fail_on_severity: Option<Threshold>,
    /// Exit 1 when a resource's health is this (`degraded`): deployment status counts, not
    /// only drift and findings.
    #[arg(long, value_name = "HEALTH", value_parser = ["degraded"])]
    fail_on_health: Option<String>,
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
struct VerifyArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The head the history must end with (the hash `gitdrift_history_head_info` or the log's
    /// `history head` line last showed; a prefix of at least 12 hex digits will do): fails when
    /// scans were removed from the end.
    #[arg(long, value_name = "SHA256")]
    expect_head: Option<String>,
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
    // Long work shows progress on a terminal (never in `serve`, whose logs say how long each
    // phase took, and never on standard output).
    let long_work = matches!(
        cli.command,
        Command::Scan(_) | Command::Validate(_) | Command::Snapshot(_) | Command::Remediate(_)
    );
    if long_work && !cli.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        crate::progress::enable();
    }
    // gix's HTTPS transport uses rustls without a built-in provider: install ring, once.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Fetches run in child processes of this very binary (killed, lock and all, on timeout).
    if let Ok(exe) = std::env::current_exe() {
        crate::desired::git::use_fetch_helper(exe);
    }
    match cli.command {
        Command::Fetch => ExitCode::from(crate::desired::git::fetch_child_main()),
        Command::Version => {
            println!("gitdrift {}", env!("CARGO_PKG_VERSION"));
            if cli.verbose > 0 {
                println!("commit: {}", env!("GITDRIFT_COMMIT"));
                println!("built: {} (the commit's date)", env!("GITDRIFT_BUILD_DATE"));
                println!("render tools:");
                for tool in crate::desired::render::tools() {
                    match tool.found {
                        Some((path, version)) => {
                            println!("  {}: {} ({version})", tool.name, path.display())
                        }
                        None => println!("  {}: not found ({})", tool.name, tool.without),
                    }
                }
                match crate::desired::render::ssh_program() {
                    Some(path) => println!("git over SSH: {}", path.display()),
                    None => println!(
                        "git over SSH: no ssh here (SSH git sources cannot be fetched; use HTTPS)"
                    ),
                }
            }
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
        // Standard error, around the progress lines when they are drawn.
        .with_writer(|| crate::progress::LogWriter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

fn cache_dir(args: &ConfigArgs) -> PathBuf {
    args.cache_dir
        .clone()
        .unwrap_or_else(desired::git::default_cache_dir)
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
