//! The health verdicts over objects as a 1.3x API server (or the EC2 API) returns them: each file in
//! `tests/health-cases/` holds cases of one kind family, each an object and its exact health
//! and reason.

use std::path::Path;

use serde_json::Value;

fn run_file(name: &str) -> usize {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/health-cases")
        .join(format!("{name}.yaml"));
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let cases: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let cases = cases["cases"].as_array().expect("a `cases` list");
    for case in cases {
        let label = case["name"].as_str().unwrap_or("?");
        let object = &case["object"];
        let api_version = object["apiVersion"].as_str().unwrap_or("");
        let (group, _) = crate::model::split_api_version(api_version);
        let kind = object["kind"].as_str().unwrap_or("");
        let health = super::of(group, kind, object);
        assert_eq!(
            health.status.as_str(),
            case["status"].as_str().unwrap_or(""),
            "{name}/{label}: status; reason {:?}",
            health.reason
        );
        assert_eq!(
            health.reason,
            case["reason"].as_str().unwrap_or(""),
            "{name}/{label}: reason"
        );
    }
    cases.len()
}

macro_rules! families {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run_file(stringify!($name));
            }
        )*

        #[test]
        fn every_family_file_is_registered_and_the_corpus_is_large_enough() {
            let registered: std::collections::BTreeSet<String> =
                [$(stringify!($name).to_string()),*].into();
            let on_disk = crate::files::yaml_stems("tests/health-cases");
            assert_eq!(registered, on_disk, "register every file in src/health/cases.rs");
            let total: usize = [$(stringify!($name)),*].iter().map(|n| run_file(n)).sum();
            assert!(total >= 45, "the issue asks for at least 45 health cases; {total}");
        }
    };
}

families! {
    aws,
    batch,
    custom_resources,
    network_and_storage,
    pods,
    workloads,
}
