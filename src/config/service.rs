//! The `serve:` block (how the long-lived service schedules, listens, keeps history and writes
//! scheduled reports) and the per-target schedule keys. Only `gitdrift serve` reads these; a
//! one-off `scan` ignores them.
//!
//! ```yaml
//! serve:
//!   listen: 0.0.0.0:9464            # the one HTTP port: /metrics, /healthz, /readyz, /api/v1, /
//!                                   # (default 127.0.0.1:9464; 0.0.0.0:9464 with API tokens)
//!   auth:
//!     tokens_file: /etc/gitdrift/api-tokens   # `name: token` per line; or token_env
//!     protect_metrics: false        # /metrics needs a token too
//!     allow_unauthenticated: false  # serve beyond loopback without tokens (not advised)
//!   tls: {cert_file: /etc/gitdrift/tls.crt, key_file: /etc/gitdrift/tls.key}
//!   interval: 5m                    # how often each target is scanned (a target may override)
//!   jitter: 10%                     # each wait is lengthened by up to this share, at random
//!   fetch_interval: 1m              # how often git sources are fetched (and on webhook)
//!   watch_debounce: 2s              # watch mode: quiet time after a change before the full scan
//!   shutdown_timeout: 30s           # SIGTERM: how long running scans may take to finish
//!   resource_metrics: false         # per-resource gauge (one series per drifted resource!)
//!   drift_age_limit: 1d             # GitdriftDriftTooOld fires on drift older than this
//!   convergence_limit: 1h           # GitdriftSourceNotConverged: a revision not live by then
//!   external_url: https://gitdrift.example.com   # links in remediation pull requests
//!   webhook_secret_env: GITDRIFT_WEBHOOK_SECRET   # or webhook_secret_file
//!   retention:
//!     max_age: 90d
//!     max_count: 2000
//!   reports:
//!     - name: weekly
//!       schedule: "0 6 * * MON"     # cron: [second] minute hour day month weekday
//!       timezone: Europe/Berlin     # default UTC
//!       formats: [html, markdown, json, sarif, junit, csv]
//!       output: ./reports
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::SecretRef;
use super::checker::{Checker, Fields};
use super::node::{Node, NodeKind};
use crate::model::Format;

/// Settings of `gitdrift serve`.
#[derive(Clone, Debug)]
pub struct ServeSettings {
    /// Address and port of the HTTP server, where configured (see [`ServeSettings::listen`]).
    pub listen: Option<SocketAddr>,
    /// Who may read the API.
    pub auth: AuthSettings,
    /// TLS for the HTTP server.
    pub tls: Option<TlsSettings>,
    /// Bounds on the HTTP server's work.
    pub http: HttpLimits,
    /// Default time between two scans of a target.
    pub interval: Duration,
    /// Share of the interval added at random to each wait (0 to 1), so that targets spread out.
    pub jitter: f64,
    /// Time between two fetches of a git source.
    pub fetch_interval: Duration,
    /// Watch mode: how long the live state must be quiet after a change before the full scan
    /// that stores it (its counts are published at once, `serve::instant`).
    pub watch_debounce: Duration,
    /// How long running scans may take to finish after SIGTERM.
    pub shutdown_timeout: Duration,
    /// Whether the per-resource gauge is exported.
    pub resource_metrics: bool,
    /// Drift older than this is an alert (exported as `gitdrift_drift_age_limit_seconds`, which
    /// the `GitdriftDriftTooOld` rule compares with).
    pub drift_age_limit: Duration,
    /// A source's revision not converged this long after gitdrift first read it is an alert
    /// (exported as `gitdrift_source_convergence_limit_seconds`, which the
    /// `GitdriftSourceNotConverged` rule compares with).
    pub convergence_limit: Duration,
    /// The secret webhooks are signed with; without one, webhooks are refused.
    pub webhook_secret: Option<SecretRef>,
    /// How long and how many scans the history keeps.
    pub retention: Retention,
    /// Reports written on a schedule.
    pub reports: Vec<ScheduledReport>,
    /// Where people reach this service (`https://gitdrift.example.com`): links in remediation
    /// pull requests point there.
    pub external_url: Option<String>,
}

/// Port of the HTTP server unless configured.
pub const DEFAULT_PORT: u16 = 9464;

/// Who may read what `serve` shows: by default nobody beyond loopback.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuthSettings {
    /// A file of API tokens, one `name: token` per line (read at start and on SIGHUP).
    pub tokens_file: Option<PathBuf>,
    /// An environment variable holding one API token (named after the variable).
    pub token_env: Option<String>,
    /// `/metrics` needs a token too (it is open by default, for Prometheus).
    pub protect_metrics: bool,
    /// Serve beyond loopback without any token.
    pub allow_unauthenticated: bool,
}

impl AuthSettings {
    /// Whether any token is configured.
    pub fn has_tokens(&self) -> bool {
        self.tokens_file.is_some() || self.token_env.is_some()
    }
}

/// Bounds on the HTTP server: no client, slow or many, can hold it.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpLimits {
    /// How long a request's headers (or a TLS handshake, or an idle keep-alive connection's
    /// next request) may take.
    pub header_timeout: Duration,
    /// Connections served at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// Reports rendered (or read whole) at once; more wait.
    pub max_renders: usize,
    /// How long a report request waits for its turn before it is answered 503.
    pub render_wait: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            max_connections: 256,
            max_renders: 4,
            render_wait: Duration::from_secs(10),
        }
    }
}

/// TLS for the HTTP server: PEM files, read at start and on SIGHUP.
#[derive(Clone, Debug, PartialEq)]
pub struct TlsSettings {
    /// The certificate chain.
    pub cert_file: PathBuf,
    /// The private key.
    pub key_file: PathBuf,
}

impl ServeSettings {
    /// Where the HTTP server listens: as configured, else on loopback only, unless API tokens
    /// guard it (then on every address).
    pub fn listen(&self) -> SocketAddr {
        self.listen.unwrap_or_else(|| {
            let open = if self.auth.has_tokens() {
                [0, 0, 0, 0]
            } else {
                [127, 0, 0, 1]
            };
            SocketAddr::from((open, DEFAULT_PORT))
        })
    }
}

impl Default for ServeSettings {
    fn default() -> Self {
        ServeSettings {
            listen: None,
            auth: AuthSettings::default(),
            tls: None,
            http: HttpLimits::default(),
            interval: Duration::from_secs(300),
            jitter: 0.1,
            fetch_interval: Duration::from_secs(60),
            watch_debounce: Duration::from_secs(2),
            shutdown_timeout: Duration::from_secs(30),
            drift_age_limit: Duration::from_secs(86_400),
            convergence_limit: Duration::from_secs(3600),
            resource_metrics: false,
            webhook_secret: None,
            retention: Retention::default(),
            reports: Vec::new(),
            external_url: None,
        }
    }
}

/// How much history is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Scans older than this are deleted.
    pub max_age: Option<Duration>,
    /// Only the newest this many scans are kept.
    pub max_count: Option<usize>,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_age: Some(Duration::from_secs(90 * 86_400)),
            max_count: Some(2000),
        }
    }
}

/// A report written on a schedule, with the trend against the previous one.
#[derive(Clone, Debug)]
pub struct ScheduledReport {
    /// Unique name; files are named after it.
    pub name: String,
    /// The cron expression, as written.
    pub schedule: String,
    /// The parsed schedule.
    pub cron: croner::Cron,
    /// The time zone the schedule is read in.
    pub timezone: chrono_tz::Tz,
    /// Formats written.
    pub formats: Vec<Format>,
    /// Folder the files go to.
    pub output: PathBuf,
    /// Line in the configuration file.
    pub line: u64,
}

/// A target's own schedule.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TargetSchedule {
    /// Time between scans, in place of `serve.interval`.
    pub interval: Option<Duration>,
    /// Kubernetes targets: keep the live state from watches (default) or list it at each scan.
    pub watch: Option<bool>,
    /// Longest a live read may take before it is abandoned; `None`: five intervals, at least
    /// ten minutes.
    pub scan_timeout: Option<Duration>,
}

impl TargetSchedule {
    /// The scan deadline, given the interval in force (the target's or `serve.interval`).
    pub fn scan_timeout(&self, default_interval: Duration) -> Duration {
        self.scan_timeout.unwrap_or_else(|| {
            (self.interval.unwrap_or(default_interval) * 5).max(Duration::from_secs(600))
        })
    }
}

/// The longest scan or fetch interval accepted: a month. Longer ones are almost certainly a
/// typo, and far longer ones would overflow the clock.
pub const MAX_INTERVAL: Duration = Duration::from_secs(30 * 86_400);

impl Checker {
    pub(super) fn target_schedule(&mut self, fields: &Fields<'_>) -> TargetSchedule {
        TargetSchedule {
            interval: fields
                .get("interval")
                .and_then(|n| self.bounded_duration(n, "target.interval", MAX_INTERVAL)),
            watch: fields
                .get("watch")
                .and_then(|n| self.boolean(n, "target.watch")),
            scan_timeout: fields.get("scan_timeout").and_then(|n| {
                self.bounded_duration(n, "target.scan_timeout", Duration::from_secs(86_400))
            }),
        }
    }

    pub(super) fn serve(&mut self, node: &Node) -> ServeSettings {
        let mut serve = ServeSettings::default();
        let Some(fields) = self.fields(node, "serve") else {
            return serve;
        };
        if let Some(n) = fields.get("listen") {
            match self.string_or_int(n).map(|s| parse_listen(&s)) {
                Some(Some(addr)) => serve.listen = Some(addr),
                _ => self.error(
                    n,
                    "serve.listen must be an address and port such as 0.0.0.0:9464 or 127.0.0.1:9464, or a port",
                ),
            }
        }
        for (key, slot, max) in [
            ("interval", &mut serve.interval, MAX_INTERVAL),
            ("fetch_interval", &mut serve.fetch_interval, MAX_INTERVAL),
            (
                "watch_debounce",
                &mut serve.watch_debounce,
                Duration::from_secs(3600),
            ),
            (
                "shutdown_timeout",
                &mut serve.shutdown_timeout,
                Duration::from_secs(3600),
            ),
            (
                "drift_age_limit",
                &mut serve.drift_age_limit,
                Duration::from_secs(366 * 86_400),
            ),
            (
                "convergence_limit",
                &mut serve.convergence_limit,
                Duration::from_secs(366 * 86_400),
            ),
        ] {
            if let Some(n) = fields.get(key)
                && let Some(d) = self.bounded_duration(n, &format!("serve.{key}"), max)
            {
                *slot = d;
            }
        }
        if let Some(n) = fields.get("jitter") {
            let parsed = match &n.kind {
                NodeKind::Str(s) => s
                    .trim()
                    .strip_suffix('%')
                    .and_then(|p| p.trim().parse::<f64>().ok())
                    .map(|p| p / 100.0),
                NodeKind::Int(i) => Some(*i as f64),
                NodeKind::Float(f) => Some(*f),
                _ => None,
            };
            match parsed {
                Some(j) if (0.0..=1.0).contains(&j) => serve.jitter = j,
                _ => self.error(
                    n,
                    "serve.jitter must be a share of the interval from 0% to 100% (or 0 to 1)",
                ),
            }
        }
        if let Some(n) = fields.get("resource_metrics")
            && let Some(b) = self.boolean(n, "serve.resource_metrics")
        {
            serve.resource_metrics = b;
        }
        let env = self.optional(&fields, "webhook_secret_env", "serve");
        let file = fields
            .get("webhook_secret_file")
            .and_then(|n| self.path(n, "serve.webhook_secret_file"));
        if env.is_some() && file.is_some() {
            self.error(
                node,
                "serve takes `webhook_secret_env` or `webhook_secret_file`, not both",
            );
        }
        serve.webhook_secret = env.map(SecretRef::Env).or(file.map(SecretRef::File));
        serve.external_url = self.optional(&fields, "external_url", "serve");
        if let Some(n) = fields.get("auth") {
            serve.auth = self.auth_settings(n);
        }
        if let Some(n) = fields.get("tls") {
            serve.tls = self.tls_settings(n);
        }
        if let Some(n) = fields.get("http") {
            serve.http = self.http_limits(n);
        }
        if let Some(n) = fields.get("retention") {
            serve.retention = self.retention(n);
        }
        if let Some(n) = fields.get("reports") {
            let mut names = std::collections::BTreeMap::new();
            for item in self.seq(n, "serve.reports") {
                if let Some(report) = self.scheduled_report(item) {
                    if let Some(first) = names.insert(report.name.clone(), report.line) {
                        self.duplicate(
                            item,
                            format!(
                                "report `{}` is defined twice (first on line {first})",
                                report.name
                            ),
                        );
                    }
                    serve.reports.push(report);
                }
            }
        }
        serve
    }

    fn auth_settings(&mut self, node: &Node) -> AuthSettings {
        let mut auth = AuthSettings::default();
        let Some(fields) = self.fields(node, "serve.auth") else {
            return auth;
        };
        auth.tokens_file = fields
            .get("tokens_file")
            .and_then(|n| self.path(n, "serve.auth.tokens_file"));
        auth.token_env = self.optional(&fields, "token_env", "serve.auth");
        for (key, slot) in [
            ("protect_metrics", &mut auth.protect_metrics),
            ("allow_unauthenticated", &mut auth.allow_unauthenticated),
        ] {
            if let Some(n) = fields.get(key)
                && let Some(b) = self.boolean(n, &format!("serve.auth.{key}"))
            {
                *slot = b;
            }
        }
        auth
    }

    fn http_limits(&mut self, node: &Node) -> HttpLimits {
        let mut limits = HttpLimits::default();
        let Some(fields) = self.fields(node, "serve.http") else {
            return limits;
        };
        for (key, slot) in [
            ("header_timeout", &mut limits.header_timeout),
            ("render_wait", &mut limits.render_wait),
        ] {
            if let Some(n) = fields.get(key)
                && let Some(d) = self.bounded_duration(
                    n,
                    &format!("serve.http.{key}"),
                    Duration::from_secs(3600),
                )
            {
                *slot = d;
            }
        }
        for (key, slot, max) in [
            ("max_connections", &mut limits.max_connections, 65_536),
            ("max_renders", &mut limits.max_renders, 256),
        ] {
            if let Some(n) = fields.get(key) {
                match n.kind {
                    NodeKind::Int(v) if (1..=max).contains(&v) => *slot = v as usize,
                    _ => self.error(
                        n,
                        format!("serve.http.{key} must be a whole number from 1 to {max}"),
                    ),
                }
            }
        }
        limits
    }

    fn tls_settings(&mut self, node: &Node) -> Option<TlsSettings> {
        let fields = self.fields(node, "serve.tls")?;
        let cert = fields.get("cert_file");
        let key = fields.get("key_file");
        let (Some(cert), Some(key)) = (cert, key) else {
            self.missing(node, "serve.tls needs `cert_file` and `key_file`");
            return None;
        };
        Some(TlsSettings {
            cert_file: self.path(cert, "serve.tls.cert_file")?,
            key_file: self.path(key, "serve.tls.key_file")?,
        })
    }

    fn retention(&mut self, node: &Node) -> Retention {
        let mut retention = Retention::default();
        let Some(fields) = self.fields(node, "serve.retention") else {
            return retention;
        };
        if let Some(n) = fields.present("max_age") {
            retention.max_age = match n.kind {
                NodeKind::Null => None,
                _ => self.positive_duration(n, "serve.retention.max_age"),
            };
        }
        if let Some(n) = fields.present("max_count") {
            retention.max_count = match n.kind {
                NodeKind::Null => None,
                NodeKind::Int(c) if c >= 1 => Some(c as usize),
                _ => {
                    self.error(
                        n,
                        "serve.retention.max_count must be a whole number of at least 1 (or null: no limit)",
                    );
                    None
                }
            };
        }
        retention
    }

    fn scheduled_report(&mut self, node: &Node) -> Option<ScheduledReport> {
        let what = "a scheduled report";
        let fields = self.fields(node, what)?;
        let name = self.required(&fields, "name", "report");
        if let Some(name) = &name
            && !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            self.error(
                node,
                format!("report name `{name}` may hold only letters, digits, `-` and `_` (it names files)"),
            );
        }
        let schedule = self.required(&fields, "schedule", "report");
        let cron = schedule.as_deref().and_then(|s| {
            let parser = croner::parser::CronParser::builder()
                .seconds(croner::parser::Seconds::Optional)
                .build();
            match parser.parse(s) {
                Ok(cron) => Some(cron),
                Err(err) => {
                    let at = fields.get("schedule").unwrap_or(node);
                    self.error(
                        at,
                        format!("report.schedule `{s}` is not a cron expression: {err}"),
                    );
                    None
                }
            }
        });
        let timezone = match fields.get("timezone") {
            None => Some(chrono_tz::UTC),
            Some(n) => self.string(n, "report.timezone").and_then(|s| {
                match s.parse::<chrono_tz::Tz>() {
                    Ok(tz) => Some(tz),
                    Err(_) => {
                        self.error(
                            n,
                            format!(
                                "report.timezone `{s}` is not a time zone name such as UTC or Europe/Berlin"
                            ),
                        );
                        None
                    }
                }
            }),
        };
        let formats = match fields.get("formats") {
            None => vec![Format::Html, Format::Json],
            Some(n) => {
                let mut formats = Vec::new();
                for raw in self.string_list(n, "report.formats") {
                    match Format::named(&raw.to_ascii_lowercase()) {
                        Some(f) if !formats.contains(&f) => formats.push(f),
                        Some(_) => {}
                        None => self.error(
                            n,
                            format!("unknown report format `{raw}`; known: {}", Format::names()),
                        ),
                    }
                }
                formats
            }
        };
        let output = match fields.get("output") {
            Some(n) => self.path(n, "report.output"),
            None => {
                self.missing(
                    node,
                    "report needs `output` (the folder reports are written to)",
                );
                None
            }
        };
        Some(ScheduledReport {
            name: name?,
            schedule: schedule?,
            cron: cron?,
            timezone: timezone?,
            formats,
            output: output?,
            line: node.line,
        })
    }
}

/// `0.0.0.0:9464`, `[::]:9464`, `:9464` or `9464`.
fn parse_listen(raw: &str) -> Option<SocketAddr> {
    let raw = raw.trim();
    if let Ok(port) = raw.trim_start_matches(':').parse::<u16>() {
        return Some(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    raw.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, LoadError};

    const BASE: &str = "sources: []\ntargets:\n  - name: t\n    snapshot: ./live\n    interval: 30s\n    watch: false\n";

    fn load(serve: &str) -> Result<Config, String> {
        Config::from_str(
            &format!("{BASE}{serve}"),
            std::path::Path::new("/etc/gitdrift.yaml"),
            std::path::Path::new("/etc"),
            &crate::live::known(),
        )
        .map_err(|e| match e {
            LoadError::Invalid(errors) => errors
                .iter()
                .map(|e| format!("{}: {}", e.line, e.message))
                .collect::<Vec<_>>()
                .join("\n"),
            other => other.to_string(),
        })
    }

    #[test]
    fn the_documented_block_is_read_as_written() {
        let config = load(
            "serve:\n  listen: 127.0.0.1:9100\n  interval: 10m\n  jitter: 20%\n  fetch_interval: 2m\n  watch_debounce: 500ms\n  shutdown_timeout: 1m\n  resource_metrics: true\n  webhook_secret_env: HOOK\n  retention:\n    max_age: 30d\n    max_count: null\n  reports:\n    - name: weekly\n      schedule: \"0 6 * * MON\"\n      timezone: Europe/Berlin\n      formats: [html, sarif]\n      output: ./reports\n",
        )
        .unwrap();
        let s = &config.serve;
        assert_eq!(s.listen(), SocketAddr::from(([127, 0, 0, 1], 9100)));
        assert_eq!(s.interval, Duration::from_secs(600));
        assert!((s.jitter - 0.2).abs() < 1e-9);
        assert_eq!(s.fetch_interval, Duration::from_secs(120));
        assert_eq!(s.watch_debounce, Duration::from_millis(500));
        assert_eq!(s.shutdown_timeout, Duration::from_secs(60));
        assert!(s.resource_metrics);
        assert_eq!(s.webhook_secret, Some(SecretRef::Env("HOOK".into())));
        assert_eq!(
            s.retention,
            Retention {
                max_age: Some(Duration::from_secs(30 * 86_400)),
                max_count: None
            }
        );
        let r = &s.reports[0];
        assert_eq!(r.timezone, chrono_tz::Europe::Berlin);
        assert_eq!(r.formats, vec![Format::Html, Format::Sarif]);
        assert_eq!(r.output, PathBuf::from("/etc/reports"));
        let t = &config.targets[0].schedule;
        assert_eq!(t.interval, Some(Duration::from_secs(30)));
        assert_eq!(t.watch, Some(false));
        let defaults = load("").unwrap().serve;
        assert_eq!(
            defaults.listen(),
            SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)),
            "loopback only without API tokens"
        );
        assert_eq!(defaults.interval, Duration::from_secs(300));
        let guarded = load(
            "serve:\n  auth:\n    tokens_file: tokens\n    protect_metrics: true\n  tls: {cert_file: tls.crt, key_file: tls.key}\n",
        )
        .unwrap()
        .serve;
        assert_eq!(
            guarded.listen(),
            SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT))
        );
        assert_eq!(guarded.auth.tokens_file, Some(PathBuf::from("/etc/tokens")));
        assert!(guarded.auth.protect_metrics && !guarded.auth.allow_unauthenticated);
        assert_eq!(
            guarded.tls.map(|t| t.key_file),
            Some(PathBuf::from("/etc/tls.key"))
        );
    }

    #[test]
    fn mistakes_are_named_with_their_lines() {
        let errors = load(
            "serve:\n  intervall: 5m\n  jitter: 150%\n  reports:\n    - name: a b\n      schedule: \"61 * * * *\"\n      timezone: Mars/Olympus\n      formats: [pdf]\n",
        )
        .unwrap_err();
        for expected in [
            "8: unknown key `intervall` in serve; did you mean `interval`?",
            "9: serve.jitter must be",
            "11: report name `a b` may hold only",
            "12: report.schedule `61 * * * *` is not a cron expression",
            "13: report.timezone `Mars/Olympus` is not a time zone",
            "14: unknown report format `pdf`",
            "11: report needs `output`",
        ] {
            assert!(
                errors.contains(expected),
                "{expected} missing from:\n{errors}"
            );
        }
    }

    #[test]
    fn listen_addresses() {
        assert_eq!(
            parse_listen("9464"),
            Some(SocketAddr::from(([0, 0, 0, 0], 9464)))
        );
        assert_eq!(
            parse_listen(":80"),
            Some(SocketAddr::from(([0, 0, 0, 0], 80)))
        );
        assert_eq!(
            parse_listen("127.0.0.1:9"),
            Some(SocketAddr::from(([127, 0, 0, 1], 9)))
        );
        assert_eq!(parse_listen("localhost"), None);
    }
}
