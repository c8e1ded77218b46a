//! `gitdrift rules`: list the rules a configuration loads, and run the packs' unit tests.

use super::*;

/// `gitdrift rules list` and `gitdrift rules test`.
pub(super) fn rules(args: RulesArgs) -> u8 {
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
                        let mut controls: Vec<String> = rule
                            .controls
                            .iter()
                            .map(|(f, c)| format!("{f} {}", c.join(", ")))
                            .collect();
                        // Gatekeeper rules say where their Constraint and template are.
                        if let Some(binding) = &rule.gatekeeper {
                            controls.push(format!(
                                "constraint {}:{}, template {}",
                                rule.file, rule.line, binding.template_file
                            ));
                        }
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
