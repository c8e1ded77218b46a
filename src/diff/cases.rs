//! The drift judgement over realistic objects: each case in `tests/drift-cases/` holds what git
//! declares, what a 1.3x API server returns (defaults, managedFields, status), and the exact drifts
//! expected — none for "in sync despite defaults", precise ones for "real drift found".

use std::path::Path;

use serde_json::Value;

use super::{compare, ignore};
use crate::config::Config;
use crate::model::{ResourceKey, split_api_version};

fn run_case(name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/drift-cases");
    let file = dir.join(format!("{name}.yaml"));
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let options = crate::manifest::yaml_options(&Default::default());
    let case: Value =
        serde_saphyr::from_str_with_options::<crate::manifest::Strict>(&text, options)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
            .0;
    let desired = &case["desired"];
    let live = &case["live"];
    assert!(
        desired.is_object() && live.is_object(),
        "{name}: needs desired and live"
    );
    let drift_yaml = case.get("drift").and_then(Value::as_str).unwrap_or("");
    let config_text = format!(
        "sources: [{{name: s, repo: ., target: t}}]\ntargets: [{{name: t, snapshot: .}}]\n{}",
        if drift_yaml.is_empty() {
            String::new()
        } else {
            format!(
                "drift:\n{}",
                drift_yaml
                    .lines()
                    .map(|l| format!("  {l}\n"))
                    .collect::<String>()
            )
        }
    );
    let config = Config::from_str(
        &config_text,
        &file,
        Path::new("."),
        &crate::config::Known::default(),
    )
    .unwrap_or_else(|e| panic!("{name}: drift settings: {e}"));
    let api_version = desired["apiVersion"].as_str().unwrap_or("");
    let (group, _) = split_api_version(api_version);
    let kind = desired["kind"].as_str().unwrap_or("");
    let key = ResourceKey {
        group: group.to_string(),
        kind: kind.to_string(),
        namespace: desired
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_string),
        name: desired
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    };
    // As a live reader keeps it: the annotation's shape only.
    let applied = compare::applied_shape(live);
    let mut schemas = super::defaults::Schemas::builtin();
    for crd in case["crds"].as_array().into_iter().flatten() {
        schemas.add_crd(crd);
    }
    let verdict = compare(
        group,
        kind,
        desired,
        live,
        applied.as_deref(),
        &config.drift,
        &schemas,
    );
    let registry = ignore::Registry::new(&config.drift.ignore);
    let verdict = registry.apply("t", &key, desired, live, verdict);
    let drifts = verdict.drifts.clone();

    let expected = case["expect"]
        .as_array()
        .unwrap_or_else(|| panic!("{name}: `expect` must be a list (empty for in sync)"));
    let mut actual: Vec<&super::Drift> = drifts.iter().collect();
    actual.sort_by_key(|d| (d.path.clone(), d.desired.to_string()));
    let mut expected: Vec<&Value> = expected.iter().collect();
    expected.sort_by_key(|e| {
        (
            e["path"].as_str().unwrap_or("").to_string(),
            e.get("desired").map(Value::to_string).unwrap_or_default(),
        )
    });
    let shown = serde_json::to_string_pretty(&drifts).unwrap_or_default();
    assert_eq!(
        actual.iter().map(|d| d.path.as_str()).collect::<Vec<_>>(),
        expected
            .iter()
            .map(|e| e["path"].as_str().unwrap_or(""))
            .collect::<Vec<_>>(),
        "{name}: drift paths differ; got {shown}"
    );
    for (got, want) in actual.iter().zip(&expected) {
        for field in ["desired", "live"] {
            if let Some(value) = want.get(field) {
                let have = if field == "desired" {
                    &got.desired
                } else {
                    &got.live
                };
                assert_eq!(
                    have, value,
                    "{name}: {field} at {} differs; got {shown}",
                    got.path
                );
            }
        }
        if let Some(value) = want.get("reason") {
            assert_eq!(
                got.reason.as_str(),
                value.as_str().unwrap_or_default(),
                "{name}: reason at {} differs; got {shown}",
                got.path
            );
        }
        for field in ["changed_by", "changed_at"] {
            if let Some(value) = want.get(field) {
                let have = if field == "changed_by" {
                    got.changed_by.clone()
                } else {
                    got.changed_at.clone()
                };
                assert_eq!(
                    have.map(Value::String).unwrap_or(Value::Null),
                    *value,
                    "{name}: {field} at {} differs; got {shown}",
                    got.path
                );
            }
        }
    }
    if let Some(stale) = case.get("stale_ignore_rules").and_then(Value::as_u64) {
        assert_eq!(
            registry.stale().count() as u64,
            stale,
            "{name}: stale ignore rules"
        );
    }
    // `discounted`, where the case states it: exactly these paths, with these reasons (and
    // details, where given).
    if let Some(expected) = case.get("discounted").and_then(Value::as_array) {
        let shown = serde_json::to_string_pretty(&verdict.discounted).unwrap_or_default();
        let mut got: Vec<(&str, &str)> = verdict
            .discounted
            .iter()
            .map(|d| (d.path.as_str(), d.reason.as_str()))
            .collect();
        got.sort();
        let mut want: Vec<(&str, &str)> = expected
            .iter()
            .map(|e| {
                (
                    e["path"].as_str().unwrap_or(""),
                    e["reason"].as_str().unwrap_or(""),
                )
            })
            .collect();
        want.sort();
        assert_eq!(got, want, "{name}: discounted differs; got {shown}");
        for e in expected {
            if let Some(detail) = e.get("detail").and_then(Value::as_str) {
                let found = verdict
                    .discounted
                    .iter()
                    .find(|d| Some(d.path.as_str()) == e["path"].as_str());
                assert_eq!(
                    found.map(|d| d.detail.as_str()),
                    Some(detail),
                    "{name}: discount detail at {} differs; got {shown}",
                    e["path"]
                );
            }
        }
    }
    // No secret value may survive into a drift, or a discount, of a Secret.
    if kind == "Secret" {
        let text = format!(
            "{}{}",
            serde_json::to_string(&drifts).unwrap_or_default(),
            serde_json::to_string(&verdict.discounted).unwrap_or_default()
        );
        for source in [desired, live] {
            for section in ["data", "stringData"] {
                if let Some(map) = source.get(section).and_then(Value::as_object) {
                    for value in map.values().filter_map(Value::as_str) {
                        assert!(
                            value.len() < 3 || !text.contains(value),
                            "{name}: a secret value leaked into the drifts: {text}"
                        );
                    }
                }
            }
        }
    }
}

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run_case(stringify!($name));
            }
        )*

        #[test]
        fn every_case_file_is_registered() {
            let registered: std::collections::BTreeSet<String> =
                [$(stringify!($name).to_string()),*].into();
            let on_disk = crate::files::yaml_stems("tests/drift-cases");
            assert_eq!(registered, on_disk, "register every case file in src/diff/cases.rs");
            assert!(registered.len() >= 40, "the issue asks for at least 40 drift cases");
        }
    };
}

cases! {
    certificate_dns_names_reordered_with_stale_ignore_rule,
    deployment_injected_sidecar_and_reloader_env_are_not_drift,
    deployment_injections_are_drift_when_the_builtin_list_is_off,
    deployment_ignore_rule_selects_list_elements_by_key,
    role_verbs_and_resources_reordered_by_hand_in_sync,
    certificate_in_sync_with_status_and_defaults,
    clusterrole_aggregated_rules_filled_by_controller_in_sync,
    configmap_aws_auth_map_roles_ignored_by_path,
    configmap_empty_data_and_wrapped_binary_data_in_sync,
    configmap_empty_values_in_sync_with_absent_keys,
    configmap_key_added_by_patch,
    configmap_key_edited_by_hand,
    configmap_keys_removed_live,
    configmap_reasons_changed_added_removed_and_missing,
    cronjob_schedule_changed_by_kubectl_edit,
    cronjob_suspended_by_kubectl_patch,
    daemonset_image_changed_by_kubectl_set_image_and_labelled_by_hand,
    daemonset_in_sync_with_update_strategy_defaults,
    daemonset_node_selector_added_by_kubectl_edit,
    deployment_annotation_removed_from_git_owned_by_server_side_apply,
    deployment_argocd_marks_stay_out_and_a_removed_annotation_is_drift,
    deployment_container_port_changed_by_kubectl_edit,
    deployment_env_entry_removed_from_git_listed_in_last_applied,
    deployment_env_entry_removed_from_git_owned_by_server_side_apply,
    deployment_env_vars_changed_by_kubectl_set_env,
    deployment_fields_removed_from_git_at_the_server_default_are_not_drift,
    deployment_hpa_replicas_ignored_by_manager_rule,
    deployment_in_sync_despite_controller_labels_and_restart_annotation,
    deployment_in_sync_all_differences_explained,
    deployment_in_sync_despite_server_defaults,
    deployment_in_sync_with_controller_label_never_applied,
    deployment_in_sync_with_probe_port_as_string,
    deployment_in_sync_with_resources_in_other_units,
    deployment_node_selector_and_replicas_removed_from_git_listed_in_last_applied,
    deployment_port_removed_from_git_listed_in_last_applied,
    deployment_resources_changed_by_kubectl_set_resources,
    deployment_scaled_and_image_changed_by_hand,
    deployment_sidecar_container_added_by_kubectl_patch,
    deployment_volume_and_mount_removed_from_git_listed_in_last_applied,
    deployment_without_managed_fields_drifts_without_attribution,
    ingress_extra_path_added_by_kubectl_patch,
    ingress_host_changed_by_kubectl_edit,
    job_in_sync_with_generated_selector_and_labels,
    namespace_in_sync_with_server_finalizer_and_name_label,
    namespace_label_added_by_kubectl_label,
    namespace_label_removed_from_git_listed_in_last_applied,
    networkpolicy_in_sync_with_protocol_and_policy_types_defaulted,
    nodepool_fields_removed_from_git_at_their_crd_default_are_not_drift,
    networkpolicy_ingress_rule_removed_by_kubectl_edit,
    persistentvolumeclaim_in_sync_after_binding,
    persistentvolumeclaim_storage_class_name_declared_differently,
    persistentvolumeclaim_storage_expanded_by_kubectl_patch,
    role_rule_added_live,
    role_verbs_changed_by_hand,
    rolebinding_subject_changed,
    secret_empty_value_in_git_in_sync_with_null_live,
    secret_in_sync_explained_without_a_value_in_sight,
    secret_key_removed_from_git_listed_in_last_applied_stays_redacted,
    secret_string_data_in_sync_with_base64_live,
    secret_tls_data_ignored_by_cert_manager_owner,
    secret_value_changed_and_key_added_by_hand,
    service_in_sync_with_all_defaults,
    service_nodeport_in_sync_with_allocated_node_ports,
    service_port_changed_by_kubectl_edit,
    service_port_removed_from_git_listed_in_last_applied,
    service_target_port_string_in_git_number_live_in_sync,
    statefulset_claim_template_resize_and_args_reorder_rejected,
    statefulset_in_sync_with_server_filled_claim_templates,
    statefulset_in_sync_with_zero_values_dropped_by_server,
}
