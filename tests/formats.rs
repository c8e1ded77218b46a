//! Every report format from one scan: Markdown, HTML (and headless Chromium rendering it),
//! SARIF against the SARIF 2.1.0 schema, JUnit parsed as XML, CSV columns; values from the
//! scanned objects are escaped in each.

mod support;

use std::process::Command;

use serde_json::Value;
use support::{Repo, config_map, gitdrift, project_root};

/// The demo's manifests and snapshot, plus a ConfigMap whose live value is hostile markup.
fn repo() -> Repo {
    let repo = Repo::new();
    repo.copy_dir(&project_root().join("examples/demo/gitops"), "gitops");
    repo.write(
        "gitops/hostile.yaml",
        &config_map("hostile", "shop", &[("note", "plain")]),
    );
    repo.commit("manifests");
    repo.copy_dir(&project_root().join("examples/demo/live"), "live");
    repo.write(
        "live/hostile.yaml",
        &config_map(
            "hostile",
            "shop",
            &[(
                "note",
                "<script>alert(1)</script> | a \\\"quote\\\", & more",
            )],
        ),
    );
    repo.write(
        "gitdrift.yaml",
        "sources:\n  - name: shop\n    repo: .\n    paths: [\"gitops/**\"]\n    target: demo\n    namespace: shop\ntargets:\n  - name: demo\n    snapshot: ./live\n",
    );
    repo
}

fn render(repo: &Repo, format: &str) -> String {
    let out = repo.path().join(format!("report.{format}"));
    let run = gitdrift(
        repo.path(),
        &[
            "scan",
            "--format",
            format,
            "--output",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(run.code, 1, "{format}: {}", run.stderr);
    std::fs::read_to_string(out).unwrap()
}

fn json_report(repo: &Repo) -> Value {
    let run = gitdrift(repo.path(), &["scan", "--format", "json"], &[]);
    run.json()
}

#[test]
fn csv_has_one_row_per_drift_resource_and_finding() {
    let repo = repo();
    let report = json_report(&repo);
    let text = render(&repo, "csv");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(headers, gitdrift::report::csv::COLUMNS);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let resources = report["resources"].as_array().unwrap();
    let drift_rows: usize = resources
        .iter()
        .filter(|r| r["status"] != "in_sync")
        .map(|r| r["drifts"].as_array().unwrap().len().max(1))
        .sum();
    let findings = report["findings"].as_array().unwrap().len();
    assert_eq!(rows.len(), drift_rows + findings);
    let hostile = rows
        .iter()
        .find(|r| &r[5] == "hostile")
        .expect("the hostile ConfigMap's drift");
    assert_eq!(&hostile[0], "drift");
    assert_eq!(&hostile[7], "/data/note");
    assert!(hostile[9].contains("<script>"), "kept as data: {hostile:?}");
    assert!(
        rows.iter()
            .any(|r| &r[0] == "finding" && r[12].starts_with("pss-"))
    );
}

#[test]
fn junit_parses_and_counts_failures() {
    let repo = repo();
    let report = json_report(&repo);
    let text = render(&repo, "junit");
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut cases = 0;
    let mut failures = 0;
    let mut root = None;
    let mut names = Vec::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                match e.name().as_ref() {
                    "testsuites" => {
                        root = Some(
                            e.attributes()
                                .map(|a| {
                                    let a = a.unwrap();
                                    (
                                        a.key.as_ref().to_string(),
                                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                            .unwrap()
                                            .to_string(),
                                    )
                                })
                                .collect::<Vec<_>>(),
                        )
                    }
                    "testcase" => {
                        cases += 1;
                        for a in e.attributes() {
                            let a = a.unwrap();
                            if a.key.as_ref() == "name" {
                                names.push(
                                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                        .unwrap()
                                        .to_string(),
                                );
                            }
                        }
                    }
                    "failure" => failures += 1,
                    _ => {}
                }
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    let root = root.expect("<testsuites>");
    let attr = |k: &str| root.iter().find(|(a, _)| a == k).unwrap().1.clone();
    assert_eq!(attr("tests"), cases.to_string());
    assert_eq!(attr("failures"), failures.to_string());
    let resources = report["resources"].as_array().unwrap();
    let not_in_sync = resources
        .iter()
        .filter(|r| r["status"] != "in_sync")
        .count();
    assert!(failures >= not_in_sync, "a failure per drifted resource");
    assert!(names.iter().any(|n| n == "shop/hostile"));
    assert!(cases > resources.len(), "resources and compliance cases");
}

#[test]
fn sarif_validates_against_the_sarif_schema_and_points_at_git() {
    let repo = repo();
    let text = render(&repo, "sarif");
    let log: Value = serde_json::from_str(&text).unwrap();
    let file = repo.path().join("report.sarif");
    let schema = project_root().join("tests/schemas/sarif-2.1.0-rtm.5.json");
    let python = project_root().join(".venv-test/bin/python");
    assert!(
        python.exists(),
        "run scripts/test, which installs jsonschema into .venv-test"
    );
    let check = Command::new(&python)
        .arg("-c")
        .arg("import json, sys, jsonschema\nschema = json.load(open(sys.argv[1]))\ndoc = json.load(open(sys.argv[2]))\nerrors = sorted(jsonschema.Draft4Validator(schema).iter_errors(doc), key=str)\nfor e in errors[:5]: print(list(e.path), e.message)\nsys.exit(1 if errors else 0)\n")
        .arg(&schema)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "SARIF does not validate:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let run = &log["runs"][0];
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(run["tool"]["driver"]["name"], "gitdrift");
    let results = run["results"].as_array().unwrap();
    let replicas = results
        .iter()
        .find(|r| {
            let text = r["message"]["text"].as_str().unwrap();
            text.contains("Deployment shop/web ") && text.contains("/spec/replicas")
        })
        .expect("the scaled Deployment");
    assert_eq!(replicas["ruleId"], "gitdrift/drifted");
    let location = &replicas["locations"][0]["physicalLocation"];
    assert_eq!(
        location["artifactLocation"]["uri"],
        "gitops/apps/web/deployment.yaml"
    );
    assert_eq!(
        location["region"]["startLine"], 10,
        "the drifted field's line (`replicas:`), not the document's first"
    );
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for r in results {
        let index = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(
            rules[index]["id"], r["ruleId"],
            "ruleIndex points at its rule"
        );
    }
    assert!(
        results
            .iter()
            .any(|r| r["ruleId"] == "pss-restricted-run-as-non-root"
                && r["partialFingerprints"]["gitdrift/v1"].is_string()),
        "desired-side findings at their file and line"
    );
    assert!(
        !results.iter().any(|r| r["message"]["text"]
            .as_str()
            .unwrap()
            .contains("debug-shell")),
        "nothing in git to point at for unmanaged resources"
    );
}

#[test]
fn markdown_escapes_table_cells() {
    let repo = repo();
    let text = render(&repo, "markdown");
    assert!(text.contains("| drifted | demo | Deployment shop/web | `gitops/apps/web/deployment.yaml:10` | `/spec/replicas` | `2` | `5` | kubectl-scale |"), "{text}");
    let hostile = text
        .lines()
        .find(|l| l.contains("ConfigMap shop/hostile"))
        .unwrap();
    assert!(hostile.contains("\\|"), "{hostile}");
    assert_eq!(
        hostile.matches(" | ").count() + 2,
        9,
        "the value's pipe does not add a column: {hostile}"
    );
    assert!(text.contains("### Findings") && text.contains("### Controls"));
}

#[test]
fn html_holds_every_drifted_resource_escaped_and_chromium_renders_it() {
    let repo = repo();
    let report = json_report(&repo);
    let text = render(&repo, "html");
    assert!(text.starts_with("<!DOCTYPE html>"));
    assert!(!text.contains("<script>alert"), "values are escaped");
    assert!(text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!text.contains("<script"), "no scripts at all");
    assert!(
        !text.contains("http://") && !text.contains("https://"),
        "self-contained"
    );
    for r in report["resources"].as_array().unwrap() {
        if r["status"] != "in_sync" {
            let name = format!(
                "{}/{}",
                r["namespace"].as_str().unwrap(),
                r["name"].as_str().unwrap()
            );
            assert!(text.contains(&name), "{name} is in the HTML report");
        }
    }
    let bytes = support::screenshot(
        &repo.path().join("report.html"),
        &repo.path().join("report.png"),
        2000,
    );
    // Width and height from the IHDR chunk; a blank page compresses to almost nothing.
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 2000));
    assert!(
        bytes.len() > 40_000,
        "the page has content: {} bytes",
        bytes.len()
    );
}

#[test]
fn openreports_validate_against_the_crd_schemas_and_carry_drift_and_findings() {
    // The bundled demo, as the README runs it: Kubernetes and AWS targets.
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("report.yaml");
    let run = gitdrift(
        &project_root(),
        &[
            "scan",
            "--config",
            "examples/demo/gitdrift.yaml",
            "--format",
            "openreports",
            "--output",
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert!(run.code <= 1, "{}", run.stderr);
    let crds = project_root().join("tests/schemas/openreports-v1alpha1-crds.yaml");
    let python = project_root().join(".venv-test/bin/python");
    assert!(
        python.exists(),
        "run scripts/test, which installs jsonschema into .venv-test"
    );
    // Each document against its CRD's openAPIV3Schema; names and labels as the API server
    // would check them; the summary counts the results.
    let script = r#"
import json, re, sys, yaml, jsonschema
crds = {c["spec"]["names"]["kind"]: c for c in yaml.safe_load_all(open(sys.argv[1])) if c}
docs = [d for d in yaml.safe_load_all(open(sys.argv[2])) if d]
errors = []
for d in docs:
    crd = crds[d["kind"]]
    version = crd["spec"]["versions"][0]
    assert d["apiVersion"] == crd["spec"]["group"] + "/" + version["name"], d["apiVersion"]
    schema = version["schema"]["openAPIV3Schema"]
    for e in jsonschema.Draft7Validator(schema).iter_errors(d):
        errors.append(f'{d["kind"]} {d["metadata"]["name"]}: {list(e.path)} {e.message}')
    name = d["metadata"]["name"]
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", name) or len(name) > 253:
        errors.append(f"bad name {name}")
    if (crd["spec"]["scope"] == "Namespaced") != ("namespace" in d["metadata"]):
        errors.append(f"{d['kind']} {name}: namespace does not match the CRD's scope")
    counts = {}
    for r in d["results"]:
        counts[r["result"]] = counts.get(r["result"], 0) + 1
    for k, v in d["summary"].items():
        if counts.get(k, 0) != v:
            errors.append(f"{name}: summary {k}={v}, results {counts.get(k, 0)}")
for e in errors[:10]: print(e)
print(json.dumps(docs))
sys.exit(1 if errors else 0)
"#;
    let check = Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(&crds)
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "OpenReports output does not validate:\n{stdout}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let docs: Vec<Value> = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let kinds: Vec<(&str, Option<&str>)> = docs
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap(),
                d["metadata"]["namespace"].as_str(),
            )
        })
        .collect();
    assert!(kinds.contains(&("Report", Some("shop"))), "{kinds:?}");
    assert!(kinds.contains(&("ClusterReport", None)), "{kinds:?}");
    let results: Vec<&Value> = docs
        .iter()
        .flat_map(|d| d["results"].as_array().unwrap())
        .collect();
    let scaled = results
        .iter()
        .find(|r| {
            r["policy"] == "gitdrift-drift"
                && r["resources"][0]["kind"] == "Deployment"
                && r["resources"][0]["name"] == "web"
        })
        .expect("the scaled Deployment");
    assert_eq!(scaled["result"], "fail");
    assert_eq!(scaled["properties"]["paths"], "/spec/replicas");
    assert_eq!(scaled["properties"]["changedBy"], "kubectl-scale");
    let imds = results
        .iter()
        .find(|r| r["policy"] == "aws-ec2-imdsv2-required")
        .expect("an AWS finding");
    assert_eq!(imds["result"], "fail");
    assert_eq!(imds["severity"], "high");
    assert_eq!(imds["properties"]["controls.aws-fsbp"], "EC2.8");
    assert!(
        results
            .iter()
            .any(|r| r["policy"] == "gitdrift-drift" && r["result"] == "pass"),
        "in-sync resources pass"
    );
}

/// HTML and Markdown list each of the demo's failing rules on a resource once, with a mark for
/// git and one for live; the live-only rows (weakened by hand) are marked and come first, and
/// the counts say how many fail where. JSON keeps one record per side.
#[test]
fn html_and_markdown_list_each_finding_once_with_a_mark_per_side() {
    let repo = support::demo_repo("");
    let report = gitdrift(repo.path(), &["scan", "--format", "json"], &[]).json();
    let mut rows: std::collections::BTreeMap<(String, String, String), (bool, bool, bool)> =
        std::collections::BTreeMap::new();
    for f in report["findings"].as_array().unwrap() {
        let resource = format!(
            "{} {}/{} ({})",
            f["resource"]["kind"].as_str().unwrap(),
            f["resource"]["namespace"].as_str().unwrap_or_default(),
            f["resource"]["name"].as_str().unwrap(),
            f["resource"]["target"].as_str().unwrap()
        );
        let row = rows
            .entry((
                f["rule"].as_str().unwrap().to_string(),
                resource,
                f["message"].as_str().unwrap().to_string(),
            ))
            .or_default();
        match f["side"].as_str().unwrap() {
            "desired" => row.0 = true,
            _ => {
                row.1 = true;
                row.2 |= f["live_only"] == true;
            }
        }
    }
    let both = rows.values().filter(|(g, l, _)| *g && *l).count();
    let live_only = rows.values().filter(|(_, _, o)| *o).count();
    assert!(
        both > 5 && live_only > 0,
        "the demo has both kinds: {rows:#?}"
    );
    assert!(
        report["findings"].as_array().unwrap().len() > rows.len(),
        "JSON has a record per side"
    );
    let markdown = gitdrift(repo.path(), &["scan", "--format", "markdown"], &[]).stdout;
    let lines: Vec<&str> = markdown
        .lines()
        .filter(|l| l.starts_with("| ✗ |") || l.starts_with("| waived |"))
        .collect();
    assert_eq!(lines.len(), rows.len(), "one row each:\n{markdown}");
    for ((rule, resource, _), (git, live, only)) in &rows {
        let line = lines
            .iter()
            .find(|l| l.contains(&format!("`{rule}`")) && l.contains(resource.as_str()))
            .unwrap_or_else(|| panic!("no row for {rule} on {resource}:\n{markdown}"));
        let marks = match (git, live, only) {
            (true, true, _) => "| ✗ | ✗ |",
            (false, true, true) => "| — | **✗ live only** |",
            (true, false, _) => "| ✗ | — |",
            _ => "| — | ✗ |",
        };
        assert!(line.contains(marks), "{line}");
    }
    let first = lines.iter().position(|l| l.contains("live only")).unwrap();
    let severity_start = markdown[..markdown.find(lines[first]).unwrap()]
        .rfind("\n**")
        .unwrap();
    let first_in_severity = markdown[severity_start..]
        .lines()
        .find(|l| l.starts_with("| ✗ |"))
        .unwrap();
    assert!(
        first_in_severity.contains("live only"),
        "live-only rows first in their severity:\n{markdown}"
    );
    let counts = format!("{} findings: {both} in git and live", rows.len());
    assert!(markdown.contains(&counts), "{counts}:\n{markdown}");
    assert!(
        markdown.contains(&format!("{live_only} live only")),
        "{markdown}"
    );

    let html = render(&repo, "html");
    assert_eq!(
        html.matches("<tr class=\"weakened\">").count(),
        live_only,
        "live-only rows highlighted"
    );
    assert!(html.contains(&counts));
}
