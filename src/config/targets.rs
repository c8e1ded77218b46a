//! `targets:` — where the live state comes from: a snapshot folder, a Kubernetes cluster or an
//! AWS account, each with how it is read, plus the target's own schedule and rule selection.

use std::path::PathBuf;
use std::time::Duration;

use super::checker::Checker;
use super::node::{Node, NodeKind};
use super::{audit, service};

/// A place whose live state is compared with git.
#[derive(Clone, Debug)]
pub struct Target {
    /// Unique name.
    pub name: String,
    /// How live state is read.
    pub live: LiveSettings,
    /// Which compliance packs and rules run on this target, in place of `audit`'s selection.
    pub audit: Option<audit::RuleSelection>,
    /// Its schedule under `serve`.
    pub schedule: service::TargetSchedule,
    /// Line in the configuration file.
    pub line: u64,
}

/// How a target's live state is read.
#[derive(Clone, Debug)]
pub enum LiveSettings {
    /// An offline folder (or file) of exported objects.
    Snapshot(PathBuf),
    /// A Kubernetes API server, read with get, list and watch only.
    Kubernetes(KubeSettings),
    /// AWS accounts and regions, read with Describe/Get/List calls only.
    Aws(AwsSettings),
}

/// Kinds `unmanaged: {kinds: all}` never lists (`Kind` or `Kind.group`): high-churn records
/// (events, leases, endpoints and endpoint slices, controller revisions), what the cluster
/// keeps for itself (nodes and their CSI records, volume attachments, API services, API
/// priority and fairness defaults, certificate signing requests, component statuses) and
/// metrics. Kinds that cannot be listed and watched (reviews, bindings) are never listed.
pub const ALL_KINDS_EXCLUDED: &[&str] = &[
    "Event",
    "Event.events.k8s.io",
    "Lease.coordination.k8s.io",
    "Endpoints",
    "EndpointSlice.discovery.k8s.io",
    "ControllerRevision.apps",
    "Node",
    "CSINode.storage.k8s.io",
    "VolumeAttachment.storage.k8s.io",
    "APIService.apiregistration.k8s.io",
    "FlowSchema.flowcontrol.apiserver.k8s.io",
    "PriorityLevelConfiguration.flowcontrol.apiserver.k8s.io",
    "CertificateSigningRequest.certificates.k8s.io",
    "ComponentStatus",
    "PodMetrics.metrics.k8s.io",
    "NodeMetrics.metrics.k8s.io",
];

/// How to reach and read one AWS account's EC2 state.
#[derive(Clone, Debug, PartialEq)]
pub struct AwsSettings {
    /// The target's name, for the metrics its read-only guard counts requests under.
    pub target: String,
    /// Regions to read; empty with `all_regions`: every region the account has enabled.
    pub regions: Vec<String>,
    /// Read every enabled region (DescribeRegions).
    pub all_regions: bool,
    /// Named profile of the shared config and credentials files.
    pub profile: Option<String>,
    /// Role to assume for this target (cross-account reads).
    pub role_arn: Option<String>,
    /// External id for the role, where its trust policy demands one.
    pub external_id: Option<String>,
    /// Endpoint override (an emulator, a private endpoint).
    pub endpoint_url: Option<String>,
    /// Describe calls in flight per region at most.
    pub concurrency: usize,
    /// Attempts per call (adaptive retry with backoff on throttling).
    pub max_attempts: u32,
    /// Items per page for calls that page (MaxResults).
    pub page_size: i32,
    /// Resource types to read; empty: every supported type.
    pub types: Vec<String>,
    /// Longest wait for one HTTP attempt of a call (an endpoint that accepts and never
    /// answers is abandoned after it, and the call retried).
    pub attempt_timeout: Duration,
    /// Longest time for one call, every retry included.
    pub operation_timeout: Duration,
}

impl Default for AwsSettings {
    fn default() -> Self {
        AwsSettings {
            target: String::new(),
            regions: Vec::new(),
            all_regions: false,
            profile: None,
            role_arn: None,
            external_id: None,
            endpoint_url: None,
            concurrency: 4,
            max_attempts: 8,
            page_size: 1000,
            types: Vec::new(),
            attempt_timeout: Duration::from_secs(30),
            operation_timeout: Duration::from_secs(120),
        }
    }
}

/// How to reach and read one Kubernetes cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct KubeSettings {
    /// The target's name, for the metrics its read-only guard counts requests under.
    pub target: String,
    /// Context in the kubeconfig; `None`: its current context.
    pub context: Option<String>,
    /// Kubeconfig file; `None`: `$KUBECONFIG` or `~/.kube/config`. Without both this and
    /// `context`, the in-cluster service account is used.
    pub kubeconfig: Option<PathBuf>,
    /// Timeout for one request (connect and read).
    pub timeout: Duration,
    /// Requests per second at most.
    pub qps: u32,
    /// Objects per list page.
    pub page_size: u32,
    /// How many times a 5xx or timed-out request is retried (with backoff).
    pub retries: u32,
    /// Kinds listed for unmanaged detection besides the kinds git declares, as `Kind` or
    /// `Kind.group`.
    pub unmanaged_kinds: Vec<String>,
    /// Namespaces searched for unmanaged objects besides those git declares objects in.
    pub unmanaged_namespaces: Vec<String>,
    /// `unmanaged: {kinds: all}`: every kind the cluster serves with list and watch, less the
    /// built-in exclusions ([`ALL_KINDS_EXCLUDED`]) and `exclude_kinds`.
    pub unmanaged_all: bool,
    /// Kinds left out of `kinds: all` besides the built-in exclusions (`Kind` or `Kind.group`).
    pub unmanaged_exclude_kinds: Vec<String>,
}

impl Default for KubeSettings {
    fn default() -> Self {
        KubeSettings {
            target: String::new(),
            context: None,
            kubeconfig: None,
            timeout: Duration::from_secs(30),
            qps: 50,
            page_size: 500,
            retries: 3,
            unmanaged_kinds: Vec::new(),
            unmanaged_namespaces: Vec::new(),
            unmanaged_all: false,
            unmanaged_exclude_kinds: Vec::new(),
        }
    }
}

impl KubeSettings {
    /// Whether the in-cluster service account is used (no kubeconfig and no context named).
    pub fn in_cluster(&self) -> bool {
        self.context.is_none() && self.kubeconfig.is_none()
    }
}

impl Checker {
    pub(super) fn target(&mut self, node: &Node) -> Option<Target> {
        let fields = self.fields(node, "a target")?;
        let schedule = self.target_schedule(&fields);
        let audit = fields.get("audit").and_then(|n| {
            let f = self.fields(n, "target.audit")?;
            Some(self.selection(&f, "target.audit"))
        });
        let name = self.required(&fields, "name", "target");
        if let Some(name) = &name
            && name.contains(',')
        {
            self.error(
                node,
                format!(
                    "target name `{name}` must not contain `,` (the history lists targets with it)"
                ),
            );
        }
        let given: Vec<&str> = ["snapshot", "kubernetes", "aws"]
            .into_iter()
            .filter(|k| fields.present(k).is_some())
            .collect();
        let live = match given.as_slice() {
            ["snapshot"] => fields
                .get("snapshot")
                .and_then(|n| self.path(n, "target.snapshot"))
                .map(LiveSettings::Snapshot),
            ["kubernetes"] => fields
                .present("kubernetes")
                .and_then(|n| self.kubernetes(n))
                .map(LiveSettings::Kubernetes),
            ["aws"] => fields
                .get("aws")
                .and_then(|n| self.aws(n))
                .map(LiveSettings::Aws),
            [] => {
                self.error(
                    node,
                    "target needs a live state: `snapshot` (a folder of exported objects), `kubernetes` (a cluster) or `aws` (an account)",
                );
                None
            }
            _ => {
                self.error(
                    node,
                    format!(
                        "a target takes one of `snapshot`, `kubernetes`, `aws`, not {}",
                        given.join(" and ")
                    ),
                );
                None
            }
        };
        let name = name?;
        let mut live = live?;
        match &mut live {
            LiveSettings::Kubernetes(settings) => settings.target = name.clone(),
            LiveSettings::Aws(settings) => settings.target = name.clone(),
            LiveSettings::Snapshot(_) => {}
        }
        Some(Target {
            name,
            live,
            audit,
            schedule,
            line: node.line,
        })
    }

    pub(super) fn aws(&mut self, node: &Node) -> Option<AwsSettings> {
        let mut settings = AwsSettings::default();
        let fields = self.fields(node, "target.aws")?;
        match fields.get("regions") {
            Some(Node {
                kind: NodeKind::Str(all),
                ..
            }) if all == "all" => settings.all_regions = true,
            Some(regions) => settings.regions = self.string_list(regions, "target.aws.regions"),
            None => self.missing(node, "target.aws needs `regions` (a list, or `all`)"),
        }
        settings.profile = self.optional(&fields, "profile", "target.aws");
        settings.role_arn = self.optional(&fields, "role_arn", "target.aws");
        if let Some(arn) = &settings.role_arn
            && !arn.starts_with("arn:")
        {
            let at = fields.get("role_arn").unwrap_or(node);
            self.error(
                at,
                "target.aws.role_arn must be a role ARN (arn:aws:iam::…:role/…)",
            );
        }
        settings.external_id = self.optional(&fields, "external_id", "target.aws");
        settings.endpoint_url = self.optional(&fields, "endpoint_url", "target.aws");
        for (key, max) in [
            ("concurrency", 64i64),
            ("max_attempts", 20),
            ("page_size", 1000),
        ] {
            if let Some(n) = fields.get(key) {
                match n.kind {
                    NodeKind::Int(v) if (1..=max).contains(&v) => match key {
                        "concurrency" => settings.concurrency = v as usize,
                        "max_attempts" => settings.max_attempts = v as u32,
                        _ => settings.page_size = v as i32,
                    },
                    _ => self.error(
                        n,
                        format!("target.aws.{key} must be a whole number from 1 to {max}"),
                    ),
                }
            }
        }
        for (key, slot, max) in [
            (
                "attempt_timeout",
                &mut settings.attempt_timeout,
                Duration::from_secs(600),
            ),
            (
                "operation_timeout",
                &mut settings.operation_timeout,
                Duration::from_secs(3600),
            ),
        ] {
            if let Some(n) = fields.get(key)
                && let Some(d) = self.bounded_duration(n, &format!("target.aws.{key}"), max)
            {
                *slot = d;
            }
        }
        if settings.operation_timeout < settings.attempt_timeout
            && let Some(n) = fields.get("operation_timeout")
        {
            self.error(
                n,
                "target.aws.operation_timeout must be at least target.aws.attempt_timeout",
            );
        }
        if let Some(types) = fields.get("types") {
            for t in self.string_list(types, "target.aws.types") {
                if !self.known.aws_types.contains(&t.as_str()) {
                    let supported = self.known.aws_types.join(", ");
                    self.error(
                        types,
                        format!("target.aws.types: `{t}` is not a supported type ({supported})"),
                    );
                } else {
                    settings.types.push(t);
                }
            }
        }
        Some(settings)
    }

    pub(super) fn kubernetes(&mut self, node: &Node) -> Option<KubeSettings> {
        let mut settings = KubeSettings::default();
        // `kubernetes: {}` (or an empty value) means in-cluster configuration.
        if node.kind == NodeKind::Null {
            return Some(settings);
        }
        let fields = self.fields(node, "target.kubernetes")?;
        settings.context = self.optional(&fields, "context", "target.kubernetes");
        settings.kubeconfig = fields
            .get("kubeconfig")
            .and_then(|n| self.path(n, "target.kubernetes.kubeconfig"));
        if let Some(t) = fields.get("timeout")
            && let Some(d) =
                self.bounded_duration(t, "target.kubernetes.timeout", Duration::from_secs(600))
        {
            settings.timeout = d;
        }
        for (key, slot, max) in [
            ("qps", &mut settings.qps, 10_000),
            ("page_size", &mut settings.page_size, 10_000),
            ("retries", &mut settings.retries, 20),
        ] {
            if let Some(n) = fields.get(key) {
                match n.kind {
                    NodeKind::Int(v) if (0..=max).contains(&v) => *slot = v as u32,
                    _ => self.error(
                        n,
                        format!("target.kubernetes.{key} must be a whole number up to {max}"),
                    ),
                }
            }
        }
        if settings.qps == 0 || settings.page_size == 0 {
            self.error(
                node,
                "target.kubernetes.qps and page_size must be at least 1",
            );
        }
        if let Some(unmanaged) = fields.get("unmanaged")
            && let Some(u) = self.fields(unmanaged, "target.kubernetes.unmanaged")
        {
            match u.get("kinds") {
                Some(Node {
                    kind: NodeKind::Str(s),
                    ..
                }) if s == "all" => settings.unmanaged_all = true,
                Some(n) => {
                    settings.unmanaged_kinds =
                        self.string_list(n, "target.kubernetes.unmanaged.kinds (or `all`)")
                }
                None => {}
            }
            settings.unmanaged_exclude_kinds = u
                .get("exclude_kinds")
                .map(|n| self.string_list(n, "target.kubernetes.unmanaged.exclude_kinds"))
                .unwrap_or_default();
            settings.unmanaged_namespaces = u
                .get("namespaces")
                .map(|n| self.string_list(n, "target.kubernetes.unmanaged.namespaces"))
                .unwrap_or_default();
        }
        Some(settings)
    }
}
