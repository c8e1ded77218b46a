//! Gatekeeper policies, unchanged: the Gatekeeper library's own suites (gator's format) run
//! through the built binary — each case's objects committed to git and in a live snapshot, the
//! template and constraint loaded through `audit.gatekeeper.paths` — and gitdrift agrees with
//! every assertion on both sides.

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::{Repo, gitdrift};

/// Cases gitdrift cannot judge as gator does, with why (listed in the README too).
const SKIPPED: &[(&str, &str)] = &[
    (
        "automount-serviceaccount-token/automount-serviceaccount-token/update",
        UPDATE,
    ),
    (
        "ephemeralstoragelimit/ephemeral-storage-limit/ephemeral-storage-limit-update",
        UPDATE,
    ),
    ("requiredprobes/required-probes/update", UPDATE),
];

/// Why the cases whose object is an admission request are skipped.
const UPDATE: &str = "the object is an AdmissionReview of an UPDATE, which the template exempts; gitdrift judges objects in git and live as Gatekeeper's audit does, as if created, and an admission request is neither";

fn library() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/conformance/gatekeeper-library/library/general")
}

fn yaml(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_multiple::<Value>(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

/// One assertion: how many violations (`None`: at least one), of those whose message matches.
struct Assertion {
    violations: Option<usize>,
    at_least_one: bool,
    message: Option<regex::Regex>,
}

fn assertion(a: &Value) -> Assertion {
    let (violations, at_least_one) = match &a["violations"] {
        Value::String(s) if s == "yes" => (None, true),
        Value::String(s) if s == "no" => (Some(0), false),
        Value::Bool(true) => (None, true),
        Value::Bool(false) => (Some(0), false),
        Value::Number(n) => (Some(n.as_u64().unwrap() as usize), false),
        Value::Null => (None, true),
        other => panic!("assertion {other}"),
    };
    Assertion {
        violations,
        at_least_one,
        message: a["message"].as_str().map(|m| regex::Regex::new(m).unwrap()),
    }
}

#[test]
fn every_gatekeeper_library_suite_agrees() {
    let root = library();
    let mut suites: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("suite.yaml").is_file())
        .collect();
    suites.sort();
    assert_eq!(suites.len(), 30, "every policy of the general category");
    let mut wrong = Vec::new();
    let mut checked = 0;
    let mut skipped = Vec::new();
    for dir in &suites {
        let suite = &yaml(&dir.join("suite.yaml"))[0];
        let suite_name = dir.file_name().unwrap().to_string_lossy().to_string();
        for test in suite["tests"].as_array().unwrap() {
            let test_name = test["name"].as_str().unwrap();
            let template = dir.join(test["template"].as_str().unwrap());
            let constraint_file = dir.join(test["constraint"].as_str().unwrap());
            let constraint = &yaml(&constraint_file)[0];
            let rule = format!(
                "{}.{}",
                constraint["kind"].as_str().unwrap(),
                constraint["metadata"]["name"].as_str().unwrap()
            );
            // One repository and one scan per test; each case is a source and a target.
            let repo = Repo::new();
            let mut config = format!(
                "audit:\n  builtin: false\n  gatekeeper:\n    paths: [{:?}, {:?}]\nsources:\n",
                template.display().to_string(),
                constraint_file.display().to_string()
            );
            let mut targets = String::from("targets:\n");
            let mut cases = Vec::new();
            for (n, case) in test["cases"].as_array().unwrap().iter().enumerate() {
                let case_name = case["name"].as_str().unwrap().to_string();
                let shown = format!("{suite_name}/{test_name}/{case_name}");
                if let Some((_, why)) = SKIPPED.iter().find(|(c, _)| *c == shown) {
                    skipped.push(format!("{shown}: {why}"));
                    continue;
                }
                let object_file = dir.join(case["object"].as_str().unwrap());
                let object = yaml(&object_file).remove(0);
                let mut files = vec![object_file];
                for inv in case["inventory"].as_array().into_iter().flatten() {
                    files.push(dir.join(inv.as_str().unwrap()));
                }
                for (i, file) in files.iter().enumerate() {
                    let text = std::fs::read_to_string(file).unwrap();
                    repo.write(&format!("cases/c{n}/f{i}.yaml"), &text);
                    repo.write(&format!("live/c{n}/f{i}.yaml"), &text);
                }
                config.push_str(&format!(
                    "  - name: c{n}\n    repo: .\n    paths: [\"cases/c{n}/**\"]\n    target: c{n}\n"
                ));
                targets.push_str(&format!("  - name: c{n}\n    snapshot: ./live/c{n}\n"));
                cases.push((n, shown, object, case["assertions"].clone()));
            }
            if cases.is_empty() {
                continue;
            }
            repo.write("gitdrift.yaml", &format!("{config}{targets}"));
            repo.commit("cases");
            let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
            let report = run.json();
            let problems: Vec<&Value> = report["problems"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["severity"] == "error")
                .collect();
            if !problems.is_empty() {
                wrong.push(format!("{suite_name}/{test_name}: problems {problems:#?}"));
            }
            for (n, shown, object, assertions) in cases {
                let target = format!("c{n}");
                let name = object["metadata"]["name"].as_str().unwrap_or_default();
                let namespace = object["metadata"]["namespace"].as_str();
                // A case that found nothing must have judged the object: else "no" is vacuous.
                let judged = report["resources"].as_array().unwrap().iter().any(|r| {
                    r["target"] == target.as_str()
                        && r["kind"] == object["kind"]
                        && r["name"] == name
                        && r["namespace"].as_str() == namespace
                });
                if !judged {
                    wrong.push(format!("{shown}: the object was not judged"));
                }
                for side in ["desired", "live"] {
                    let messages: Vec<String> = report["findings"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|f| {
                            f["rule"] == rule.as_str()
                                && f["side"] == side
                                && f["resource"]["target"] == target.as_str()
                                && f["resource"]["kind"] == object["kind"]
                                && f["resource"]["name"] == name
                                && f["resource"]["namespace"].as_str() == namespace
                        })
                        .map(|f| f["message"].as_str().unwrap_or_default().to_string())
                        .collect();
                    for a in assertions.as_array().unwrap() {
                        checked += 1;
                        let a = assertion(a);
                        let count = messages
                            .iter()
                            .filter(|m| a.message.as_ref().is_none_or(|r| r.is_match(m)))
                            .count();
                        let agrees = match a.violations {
                            Some(expected) => count == expected,
                            None => !a.at_least_one || count > 0,
                        };
                        if !agrees {
                            wrong.push(format!(
                                "{shown} ({side}): expected {} violations{}, got {messages:?}",
                                a.violations.map_or("some".to_string(), |v| v.to_string()),
                                a.message
                                    .as_ref()
                                    .map(|r| format!(" matching `{r}`"))
                                    .unwrap_or_default(),
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 150, "{checked} assertions checked");
    assert_eq!(
        skipped.len(),
        SKIPPED.len(),
        "every skip is a case of the library"
    );
    assert!(
        wrong.is_empty(),
        "{} disagreements:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

const OWNER_TEMPLATE: &str = r#"apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: teamrequiredowner
  annotations:
    metadata.gatekeeper.sh/title: "Owner label"
    description: Workloads name the team that owns them.
spec:
  crd:
    spec:
      names:
        kind: TeamRequiredOwner
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package teamrequiredowner

        import data.lib.owners.allowed

        violation[{"msg": msg}] {
          owner := object.get(input.review.object.metadata, ["labels", input.parameters.label], "")
          not allowed(owner, input.parameters.teams)
          msg := sprintf("%v %v: owner %v is not one of %v", [input.review.kind.kind, input.review.name, owner, input.parameters.teams])
        }
      libs:
        - |
          package lib.owners

          allowed(owner, teams) {
            owner == teams[_]
          }
"#;

const OWNER_CONSTRAINT: &str = r#"apiVersion: constraints.gatekeeper.sh/v1beta1
kind: TeamRequiredOwner
metadata:
  name: shop-owned
spec:
  enforcementAction: warn
  match:
    kinds:
      - apiGroups: ["apps"]
        kinds: ["Deployment"]
    namespaces: ["shop"]
  parameters:
    label: owner
    teams: [payments, storefront]
"#;

const CEL_TEMPLATE: &str = r#"apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: celonly
spec:
  crd:
    spec:
      names:
        kind: CelOnly
  targets:
    - target: admission.k8s.gatekeeper.sh
      code:
        - engine: K8sNativeValidation
          source:
            validations:
              - expression: "true"
"#;

fn deployment(name: &str, namespace: &str, owner: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: {namespace}\n  labels:\n    owner: {owner}\nspec:\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n        - name: app\n          image: registry.example.com/{name}:1.0\n"
    )
}

/// A team's own template (with a library) and constraint, kept in the git source beside its
/// workloads, judge both sides of that source's target, with the file and line of what git
/// declares; a CEL-only template is skipped with a warning naming it; `rules list` shows
/// Constraints read from `audit.gatekeeper.paths` with their files.
#[test]
fn a_teams_own_template_and_constraint_in_git_judge_both_sides() {
    let repo = Repo::new();
    repo.write("shop/policies/owner-template.yaml", OWNER_TEMPLATE);
    repo.write(
        "shop/policies/constraints.yaml",
        &format!("{OWNER_CONSTRAINT}---\n{CEL_TEMPLATE}---\napiVersion: constraints.gatekeeper.sh/v1beta1\nkind: CelOnly\nmetadata:\n  name: never\n"),
    );
    repo.write(
        "shop/apps/web.yaml",
        &deployment("web", "shop", "storefront"),
    );
    repo.write("shop/apps/api.yaml", &deployment("api", "shop", "nobody"));
    // Out of the constraint's namespaces: never judged.
    repo.write("shop/apps/tool.yaml", &deployment("tool", "ops", "nobody"));
    // Live: web's owner was changed by hand; api as declared.
    repo.write("live/web.yaml", &deployment("web", "shop", "someone"));
    repo.write("live/api.yaml", &deployment("api", "shop", "nobody"));
    repo.write("live/tool.yaml", &deployment("tool", "ops", "nobody"));
    repo.write(
        "gitdrift.yaml",
        "audit:\n  builtin: false\n  gatekeeper:\n    from_sources: true\nsources:\n  - name: shop\n    repo: .\n    paths: [\"shop/**\"]\n    target: prod\n  - name: other\n    repo: .\n    paths: [\"nothing/**\"]\n    target: staging\ntargets:\n  - name: prod\n    snapshot: ./live\n  - name: staging\n    snapshot: ./live\n",
    );
    repo.commit("shop");
    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    let report = run.json();
    let findings: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "TeamRequiredOwner.shop-owned")
        .collect();
    let of = |side: &str, name: &str| {
        findings
            .iter()
            .copied()
            .filter(|f| f["side"] == side && f["resource"]["name"] == name)
            .collect::<Vec<_>>()
    };
    let api = of("desired", "api");
    assert_eq!(api.len(), 1, "{findings:#?}");
    assert_eq!(
        api[0]["message"],
        "Deployment api: owner nobody is not one of [\"payments\", \"storefront\"]"
    );
    assert_eq!(api[0]["severity"], "medium", "enforcementAction warn");
    assert_eq!(api[0]["source"]["file"], "shop/apps/api.yaml");
    assert_eq!(api[0]["source"]["line"], 1);
    assert_eq!(api[0]["resource"]["target"], "prod");
    assert_eq!(of("live", "api").len(), 1, "{findings:#?}");
    assert!(of("desired", "web").is_empty(), "{findings:#?}");
    let web = of("live", "web");
    assert_eq!(web.len(), 1, "{findings:#?}");
    assert_eq!(web[0]["live_only"], true, "weakened by hand");
    assert!(of("desired", "tool").is_empty() && of("live", "tool").is_empty());
    // Only the source's own target runs its constraints.
    assert!(
        findings.iter().all(|f| f["resource"]["target"] == "prod"),
        "{findings:#?}"
    );
    let problems = report["problems"].as_array().unwrap();
    let cel: Vec<&Value> = problems
        .iter()
        .filter(|p| p["code"] == "audit.gatekeeper")
        .collect();
    assert_eq!(cel.len(), 1, "{problems:#?}");
    assert_eq!(cel[0]["severity"], "warning");
    assert!(
        cel[0]["message"].as_str().unwrap().contains("celonly"),
        "{cel:?}"
    );
    assert_eq!(cel[0]["file"], "shop/policies/constraints.yaml");
    assert!(
        problems.iter().all(|p| p["severity"] != "error"),
        "{problems:#?}"
    );

    // The same policies from a folder on disk: listed with their files.
    repo.write(
        "gitdrift.yaml",
        "audit:\n  builtin: false\n  gatekeeper:\n    paths: [./shop/policies]\nsources: []\ntargets: []\n",
    );
    let list = gitdrift(repo.path(), &["rules", "list"], &[]);
    let line = list
        .stdout
        .lines()
        .find(|l| l.starts_with("TeamRequiredOwner.shop-owned"))
        .unwrap_or_else(|| panic!("{}\n{}", list.stdout, list.stderr));
    assert!(
        line.contains("medium") && line.contains("gatekeeper"),
        "{line}"
    );
    assert!(
        line.contains("shop/policies/constraints.yaml:1")
            && line.contains("shop/policies/owner-template.yaml:1"),
        "{line}"
    );
    assert!(list.stderr.contains("celonly"), "{}", list.stderr);
}
