//! Property-based hostile input: generated text (a vocabulary of YAML and JSON syntax, numbers
//! at their limits, anchors and aliases, deep nesting, odd Unicode, mixed with mutations of
//! valid documents) thrown at every parser that reads input gitdrift does not control: the
//! manifest parser, the configuration, Terraform state, kubeconfig, webhook payloads and AWS
//! describe output. Each must return a result or a clear error: no panic, no hang, no quoted
//! secret. At least 10,000 cases each per run (`PROPTEST_CASES` raises it).

use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::Config as Runner;

/// Cases per property: 10,000 unless `PROPTEST_CASES` says more.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
        .max(10_000)
}

fn runner() -> Runner {
    Runner {
        cases: cases(),
        failure_persistence: None,
        ..Runner::default()
    }
}

/// Pieces of YAML and JSON syntax, hostile values among them.
const TOKENS: &[&str] = &[
    "\n",
    "\n  ",
    "\n    ",
    "\n- ",
    "- ",
    ": ",
    ":",
    "? ",
    ", ",
    "[",
    "]",
    "{",
    "}",
    "\"",
    "'",
    "#",
    "&a ",
    "*a",
    "&b ",
    "*b",
    "<<: *a",
    "!!binary ",
    "!!str ",
    "!custom ",
    "|\n  ",
    ">-\n  ",
    "---\n",
    "...\n",
    "%YAML 1.2\n",
    "%TAG ! tag:x:\n",
    "null",
    "~",
    "true",
    "no",
    "0x1F",
    "0o17",
    "0644",
    "1e309",
    "-1e309",
    ".nan",
    "-.inf",
    "18446744073709551616",
    "-9223372036854775809",
    "9999999999999999999999999999",
    "1.0e-400",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "é",
    "🦀",
    "\u{202e}",
    "\t",
    "\r\n",
    "\u{feff}",
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "namespace",
    "spec",
    "items",
    "List",
    "v1",
    "apps/v1",
    "ConfigMap",
    "Deployment",
    "data",
    "labels",
    "../..",
    "a/b",
    "..",
    "kube-system",
    "sources",
    "targets",
    "repo",
    "target",
    "paths",
    "snapshot",
    "kubernetes",
    "aws",
    "serve",
    "interval",
    "100000000d",
    "0s",
    "-5m",
    "resources",
    "type",
    "instances",
    "attributes",
    "mode",
    "managed",
    "provider",
    "version",
    "4",
    "serial",
    "lineage",
    "aws_security_group",
    "aws_instance",
    "ingress",
    "cidr_blocks",
    "0.0.0.0/0",
    "ref",
    "refs/heads/main",
    "after",
    "before",
    "repository",
    "clone_url",
    "html_url",
    "ssh_url",
    "url",
    "git_http_url",
    "object_kind",
    "push",
    "commits",
    "token",
    "password",
    "client-key-data",
    "users",
    "user",
    "clusters",
    "cluster",
    "server",
    "contexts",
    "context",
    "current-context",
    "exec",
    "command",
    "args",
    "env",
    "value",
    "Reservations",
    "Instances",
    "InstanceId",
    "SecurityGroups",
    "GroupId",
    "IpPermissions",
    "Tags",
    "Key",
    "Value",
    "Vpcs",
    "VpcId",
    "Subnets",
    "NextToken",
    "0",
    "1",
    "-1",
    "65535",
    "\"\"",
    "[]",
    "{}",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
];

/// Text made of syntax pieces.
fn tokens() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..120).prop_map(|t| t.concat())
}

/// Nesting far past any parser's depth limit, of either kind.
fn deep() -> impl Strategy<Value = String> {
    (1usize..400, any::<bool>(), tokens()).prop_map(|(depth, flow, tail)| {
        if flow {
            format!("{}{}{}", "[".repeat(depth), tail, "]".repeat(depth / 2))
        } else {
            let mut out = String::new();
            for level in 0..depth.min(200) {
                out.push_str(&format!("{}k{level}:\n", "  ".repeat(level)));
            }
            out + &tail
        }
    })
}

/// A valid document with bytes inserted, deleted or replaced.
fn mutated(seed: &'static str) -> impl Strategy<Value = String> {
    prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<char>()), 0..12).prop_map(
        move |edits| {
            let mut chars: Vec<char> = seed.chars().collect();
            for (at, op, c) in edits {
                if chars.is_empty() {
                    chars.push(c);
                    continue;
                }
                let i = at.index(chars.len());
                match op {
                    0 => chars.insert(i, c),
                    1 => {
                        chars.remove(i);
                    }
                    _ => chars[i] = c,
                }
            }
            chars.into_iter().collect()
        },
    )
}

/// Hostile text around a seed document.
fn hostile(seed: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => mutated(seed),
        3 => tokens(),
        1 => deep(),
        1 => (tokens(), mutated(seed)).prop_map(|(a, b)| b + &a),
        1 => prop::collection::vec(any::<u8>(), 0..300)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

const MANIFEST: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n  labels: {app: web}\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n        - name: web\n          image: registry.example.com/web:1.0\n---\napiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: c, namespace: shop}\n    data: {a: \"1\"}\n";

const CONFIG: &str = "sources:\n  - name: shop\n    repo: ./gitops\n    ref: main\n    paths: [\"apps/**\"]\n    target: lab\ntargets:\n  - name: lab\n    snapshot: ./live\n    interval: 5m\n  - name: prod\n    aws:\n      regions: [eu-west-1]\nserve:\n  interval: 1m\n  auth:\n    allow_unauthenticated: true\n";

const STATE: &str = r#"{"version": 4, "serial": 3, "lineage": "x", "resources": [{"mode": "managed", "type": "aws_security_group", "name": "web", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]", "instances": [{"attributes": {"id": "sg-1", "name": "web", "vpc_id": "vpc-1", "ingress": [{"from_port": 443, "to_port": 443, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"]}], "tags": {"Name": "web"}}}]}]}"#;

const KUBECONFIG: &str = "apiVersion: v1\nkind: Config\ncurrent-context: lab\nclusters:\n- name: lab\n  cluster:\n    server: https://127.0.0.1:6443\ncontexts:\n- name: lab\n  context: {cluster: lab, user: lab}\nusers:\n- name: lab\n  user:\n    token: hostileTokenValue7Qz2mVwX9pLr4t\n";

const PUSH: &str = r#"{"ref": "refs/heads/main", "before": "0000000000000000000000000000000000000000", "after": "1111111111111111111111111111111111111111", "repository": {"clone_url": "https://git.example.com/acme/shop.git", "html_url": "https://git.example.com/acme/shop", "ssh_url": "git@git.example.com:acme/shop.git"}, "commits": []}"#;

const DESCRIBE: &str = r#"{"Reservations": [{"Instances": [{"InstanceId": "i-1", "InstanceType": "t3.micro", "MetadataOptions": {"HttpTokens": "optional"}, "Tags": [{"Key": "Name", "Value": "web"}], "SecurityGroups": [{"GroupId": "sg-1"}]}]}], "SecurityGroups": [{"GroupId": "sg-1", "GroupName": "web", "VpcId": "vpc-1", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}]}"#;

#[test]
fn manifests() {
    let limits = gitdrift::config::Limits::default();
    proptest!(runner(), |(text in hostile(MANIFEST), json in any::<bool>())| {
        let syntax = if json { gitdrift::manifest::Syntax::Json } else { gitdrift::manifest::Syntax::Yaml };
        let parsed = gitdrift::manifest::parse("apps/web.yaml", text.as_bytes(), syntax, &limits);
        for problem in parsed.errors.iter().chain(&parsed.notes) {
            prop_assert!(!problem.message.trim().is_empty(), "an error says what is wrong");
            prop_assert!(problem.message.len() < 2000, "short: {}", problem.message);
        }
        for object in &parsed.objects {
            prop_assert!(!object.name.is_empty());
        }
        // Large snapshot files are read as a stream: the same input, through that reader.
        if json
            && let Ok(streamed) = gitdrift::manifest::parse_json_list(
                "live/all.json",
                text.as_bytes(),
                &limits,
                &mut |_| {},
            )
        {
            for problem in &streamed.errors {
                prop_assert!(!problem.message.trim().is_empty(), "an error says what is wrong");
                prop_assert!(problem.message.len() < 2000, "short: {}", problem.message);
            }
        }
    });
}

#[test]
fn configuration() {
    let known = gitdrift::live::known();
    proptest!(runner(), |(text in hostile(CONFIG))| {
        let loaded = gitdrift::config::Config::from_str(
            &text,
            Path::new("/etc/gitdrift/gitdrift.yaml"),
            Path::new("/etc/gitdrift"),
            &known,
        );
        if let Err(err) = loaded {
            let message = err.to_string();
            prop_assert!(
                message.contains("/etc/gitdrift/gitdrift.yaml"),
                "an error names the file: {message}"
            );
        }
    });
}

#[test]
fn terraform_state() {
    proptest!(runner(), |(text in hostile(STATE))| {
        let read = gitdrift::desired::terraform::parse("infra/terraform.tfstate", text.as_bytes(), Some("eu-west-1"));
        for problem in &read.errors {
            prop_assert!(!problem.message.trim().is_empty());
        }
    });
}

#[test]
fn kubeconfig() {
    let shown = Path::new("/home/ops/.kube/config");
    proptest!(runner(), |(text in hostile(KUBECONFIG))| {
        if let Err(message) = gitdrift::live::kube::kubeconfig_from_yaml(&text, shown) {
            prop_assert!(message.starts_with("/home/ops/.kube/config: "), "{message}");
            prop_assert!(!message.contains('\n'), "one line: {message}");
            prop_assert!(!message.contains("hostileTokenValue"), "the token leaked: {message}");
        }
    });
}

#[test]
fn webhook_payloads() {
    use gitdrift::serve::webhook::{Verdict, judge};
    let config = gitdrift::config::Config::from_str(
        "sources:\n  - name: shop\n    repo: https://git.example.com/acme/shop.git\n    target: lab\ntargets:\n  - name: lab\n    snapshot: ./live\n",
        Path::new("/etc/gitdrift/gitdrift.yaml"),
        Path::new("/etc/gitdrift"),
        &gitdrift::live::known(),
    )
    .unwrap();
    let secret = "hostile-webhook-secret";
    proptest!(runner(), |(body in hostile(PUSH), signed in any::<bool>(), host in 0u8..3)| {
        let mut headers = http::HeaderMap::new();
        let signature = {
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
            let tag = ring::hmac::sign(&key, body.as_bytes());
            tag.as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        match host {
            0 => {
                headers.insert("x-github-event", "push".parse().unwrap());
                let value = if signed { format!("sha256={signature}") } else { "sha256=00".to_string() };
                headers.insert("x-hub-signature-256", value.parse().unwrap());
            }
            1 => {
                headers.insert("x-gitlab-event", "Push Hook".parse().unwrap());
                let token = if signed { secret } else { "wrong" };
                headers.insert("x-gitlab-token", token.parse().unwrap());
            }
            _ => {
                headers.insert("x-gitea-event", "push".parse().unwrap());
                let value = if signed { signature.clone() } else { "00".to_string() };
                headers.insert("x-gitea-signature", value.parse().unwrap());
            }
        }
        match judge(&config, secret, &headers, body.as_bytes()) {
            Verdict::Unauthorized(why) => prop_assert!(!signed, "a signed delivery is refused: {why}"),
            Verdict::Push(sources) => prop_assert!(signed && sources.iter().all(|s| s == "shop")),
            Verdict::Ignored(why) | Verdict::BadRequest(why) => {
                prop_assert!(signed, "an unsigned delivery is read: {why}");
                prop_assert!(!why.contains(secret));
            }
        }
    });
}

#[test]
fn aws_describe_output() {
    proptest!(runner(), |(text in hostile(DESCRIBE))| {
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(&text)
            && gitdrift::live::aws::offline::is_describe_output(&value)
        {
            for object in gitdrift::live::aws::offline::objects(&value, "eu-west-1") {
                prop_assert!(!object.name.is_empty(), "every object is named");
            }
        }
    });
}
