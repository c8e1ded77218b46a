//! Compliance rules: the built-in Pod Security Standards packs against every upstream
//! conformance fixture of Kubernetes' pod-security-admission (tests/conformance/, v1.37).

use std::path::Path;
use std::time::Duration;

use gitdrift::audit::engine::RuleSet;
use gitdrift::audit::packs;
use serde_json::{Value, json};

/// The PSS check a rule reports, lowercased (`baseline/hostNamespaces` → `hostnamespaces`).
fn checks(rule: &gitdrift::audit::Rule) -> Vec<String> {
    rule.controls
        .get("pss")
        .into_iter()
        .flatten()
        .map(|c| c.rsplit('/').next().unwrap_or(c).to_ascii_lowercase())
        .collect()
}

#[test]
fn pod_security_standards_agree_with_every_upstream_fixture() {
    let set = RuleSet::load(&packs::builtin(), Duration::from_secs(5), false);
    assert!(set.problems.is_empty(), "{:#?}", set.problems);
    let root =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/pod-security-standards");
    let mut evaluator = set.evaluator();
    let mut seen = 0;
    let mut wrong = Vec::new();
    for level in ["baseline", "restricted"] {
        let rules: Vec<&gitdrift::audit::Rule> = set
            .rules
            .iter()
            .filter(|r| {
                r.pack == "pod-security-baseline"
                    || (level == "restricted" && r.pack == "pod-security-restricted")
            })
            .collect();
        assert!(rules.len() >= 12, "{level}: {} rules", rules.len());
        for verdict in ["pass", "fail"] {
            let dir = root.join(level).join("v1.37").join(verdict);
            let mut files: Vec<_> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .map(|e| e.unwrap().path())
                .collect();
            files.sort();
            for file in files {
                seen += 1;
                let name = file.file_name().unwrap().to_string_lossy().to_string();
                let check = name
                    .trim_end_matches(".yaml")
                    .trim_end_matches(|c: char| c.is_ascii_digit())
                    .to_string();
                let pod: Value =
                    serde_saphyr::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
                let input = json!({"resource": pod, "gitdrift": {"side": "desired"}});
                let outcomes = evaluator.evaluate(input, &rules);
                let mut fired = Vec::new();
                for (rule, outcome) in rules.iter().zip(outcomes) {
                    match outcome {
                        Ok(messages) if !messages.is_empty() => {
                            fired.push((checks(rule), messages));
                        }
                        Ok(_) => {}
                        Err(err) => wrong.push(format!(
                            "{level}/{verdict}/{name}: {} failed: {err}",
                            rule.id
                        )),
                    }
                }
                let shown = format!("{level}/{verdict}/{name}");
                if verdict == "pass" && !fired.is_empty() {
                    wrong.push(format!("{shown} must pass, got {fired:?}"));
                }
                if verdict == "fail" && !fired.iter().any(|(c, _)| c.contains(&check)) {
                    wrong.push(format!("{shown} must fail {check}, got {fired:?}"));
                }
            }
        }
    }
    assert_eq!(seen, 148, "every upstream fixture");
    assert!(
        wrong.is_empty(),
        "{} of 148 disagree:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn every_builtin_rule_has_a_unique_kebab_case_id_and_a_test() {
    let files = packs::builtin();
    let set = RuleSet::load(&files, Duration::from_secs(5), false);
    let mut ids: Vec<&str> = set.rules.iter().map(|r| r.id.as_str()).collect();
    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count, "ids are unique");
    for rule in &set.rules {
        assert!(
            gitdrift::audit::metadata::is_kebab_case(&rule.id),
            "{}",
            rule.id
        );
        let test = rule.file.replace(".rego", "_test.rego");
        assert!(
            files.iter().any(|f| f.path == test),
            "{} ({}) has no {test}",
            rule.id,
            rule.file
        );
        assert!(!rule.controls.is_empty(), "{} maps to no control", rule.id);
        assert!(!rule.description.is_empty() && rule.remediation.is_some());
    }
}
