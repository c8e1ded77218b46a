//! `gitdrift rules test`: runs every `test_*` rule of the packs' `*_test.rego` files, like
//! `opa test`: a test passes when it evaluates to `true`.

use std::time::{Duration, Instant};

use super::engine::{LoadProblem, RuleSet};
use super::metadata;
use super::packs::RuleFile;

/// How one test ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TestStatus {
    /// Evaluated to `true`.
    Pass,
    /// Evaluated to anything else (undefined, `false`).
    Fail,
    /// Could not be evaluated.
    Error(String),
}

/// One test's result.
#[derive(Clone, Debug)]
pub struct TestResult {
    /// The test file.
    pub file: String,
    /// The test rule's name.
    pub name: String,
    /// How it ended.
    pub status: TestStatus,
    /// How long it took.
    pub elapsed: Duration,
}

/// Everything a test run found.
#[derive(Clone, Debug, Default)]
pub struct TestRun {
    /// Each test, in file order.
    pub results: Vec<TestResult>,
    /// Files that could not be loaded.
    pub problems: Vec<LoadProblem>,
}

impl TestRun {
    /// Whether every test passed and every file loaded.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
            && !self.results.is_empty()
            && self.results.iter().all(|r| r.status == TestStatus::Pass)
    }
}

/// The names of a file's test rules (`test_…` at the start of a line).
fn test_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .lines()
        .filter_map(|line| {
            let name: String = line
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            (name.starts_with("test_") && name.len() < line.len()).then_some(name)
        })
        .collect();
    names.dedup();
    names
}

/// Runs the tests among `files` against every rule file among them.
pub fn run(files: &[RuleFile], timeout: Duration) -> TestRun {
    let set = RuleSet::load(files, timeout, true);
    let mut out = TestRun {
        results: Vec::new(),
        problems: set.problems.clone(),
    };
    let mut evaluator = set.evaluator();
    evaluator.set_input(serde_json::Value::Object(Default::default()));
    for file in files.iter().filter(|f| f.test) {
        if out.problems.iter().any(|p| p.file == file.path) {
            continue;
        }
        let Ok(meta) = metadata::read(&file.text) else {
            continue;
        };
        for name in test_names(&file.text) {
            let started = Instant::now();
            let status = match evaluator.eval(&format!("data.{}.{name}", meta.package)) {
                Ok(regorus::Value::Bool(true)) => TestStatus::Pass,
                Ok(_) => TestStatus::Fail,
                Err(message) => TestStatus::Error(message),
            };
            out.results.push(TestResult {
                file: file.path.clone(),
                name,
                status,
                elapsed: started.elapsed(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, text: &str) -> RuleFile {
        RuleFile::inline("p", path, text)
    }

    #[test]
    fn tests_pass_fail_and_error() {
        let rule = "# METADATA\n# custom:\n#   id: no-host-pid\n#   severity: high\n#   kinds: [Pod]\npackage t.host_pid\n\ndeny contains \"hostPID\" if input.resource.spec.hostPID\n";
        let tests = "package t.host_pid_test\n\nimport data.t.host_pid\n\ntest_denied if {\n  host_pid.deny == {\"hostPID\"} with input as {\"resource\": {\"spec\": {\"hostPID\": true}}}\n}\n\ntest_wrong if {\n  count(host_pid.deny) == 1 with input as {\"resource\": {\"spec\": {}}}\n}\n\ntest_broken if {\n  1 / 0 == 1\n}\n";
        let run = run(
            &[file("r.rego", rule), file("r_test.rego", tests)],
            Duration::from_secs(1),
        );
        assert!(run.problems.is_empty(), "{:?}", run.problems);
        let statuses: Vec<(&str, &TestStatus)> = run
            .results
            .iter()
            .map(|r| (r.name.as_str(), &r.status))
            .collect();
        assert_eq!(statuses[0], ("test_denied", &TestStatus::Pass));
        assert_eq!(statuses[1], ("test_wrong", &TestStatus::Fail));
        assert_eq!(statuses[2].0, "test_broken");
        assert_ne!(statuses[2].1, &TestStatus::Pass);
        assert!(!run.ok());
    }

    #[test]
    fn the_builtin_packs_pass_their_own_tests() {
        let run = run(&super::super::packs::builtin(), Duration::from_secs(5));
        assert!(run.problems.is_empty(), "{:#?}", run.problems);
        let failed: Vec<String> = run
            .results
            .iter()
            .filter(|r| r.status != TestStatus::Pass)
            .map(|r| format!("{} {}: {:?}", r.file, r.name, r.status))
            .collect();
        assert!(failed.is_empty(), "{failed:#?}");
        assert!(run.results.len() > 40, "{} tests", run.results.len());
    }
}
