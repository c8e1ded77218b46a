//! Imports: unmanaged resources the configuration asks git to adopt, read again from their
//! target and written as new manifests, cleaned of what the server adds.

use std::path::Path;

use serde_json::Value;

use super::{FieldChange, FileChange, Plan, Suggestion, key_of, label, read_at};
use crate::config::{Config, RepoLocation};
use crate::diff::Status;
use crate::model::ResourceKey;
use crate::report::ScanReport;

/// Unmanaged resources the configuration imports: a key per target.
pub fn import_candidates(config: &Config, report: &ScanReport) -> Vec<(String, ResourceKey)> {
    if !config.remediation.import_unmanaged {
        return Vec::new();
    }
    report
        .resources
        .iter()
        .filter(|r| r.status == Status::Unmanaged)
        .filter(|r| {
            let key = key_of(r);
            config
                .remediation
                .adopt
                .iter()
                .any(|rule| rule.selector.matches(&r.target, &key) && rule.source.is_none())
        })
        .map(|r| (r.target.clone(), key_of(r)))
        .collect()
}

/// Reads the live objects of import candidates again from their targets (the guards count the
/// requests in `recorder`).
pub async fn read_unmanaged(
    config: &Config,
    candidates: &[(String, ResourceKey)],
    recorder: &std::sync::Arc<dyn crate::live::Recorder>,
) -> Vec<(String, ResourceKey, Value)> {
    let mut out = Vec::new();
    let targets: std::collections::BTreeSet<&String> = candidates.iter().map(|(t, _)| t).collect();
    for target_name in targets {
        let Some(target) = config.target(target_name) else {
            continue;
        };
        let keys: Vec<&ResourceKey> = candidates
            .iter()
            .filter(|(t, _)| t == target_name)
            .map(|(_, k)| k)
            .collect();
        let mut request = crate::live::LiveRequest::default();
        for k in &keys {
            request.kinds.insert(k.group_kind());
            if let Some(ns) = &k.namespace {
                request.namespaces.insert(ns.clone());
            }
        }
        let provider = crate::live::LiveProvider::for_target(target, recorder);
        let read = provider.read(target_name, &request, &config.limits).await;
        for object in read.objects {
            let key = ResourceKey {
                group: object.group.clone(),
                kind: object.kind.clone(),
                namespace: object.namespace.clone(),
                name: object.name.clone(),
            };
            if keys.contains(&&key) {
                out.push((target_name.clone(), key, object.body.value().into_owned()));
            }
        }
    }
    out
}

/// Adds the imports of unmanaged resources to a plan: each live object, cleaned of what the
/// server adds, as a new manifest in the first plain source of its target
/// (`<that source's folder>/gitdrift-imported/<kind>-<namespace>-<name>.yaml`). Secrets are never
/// imported. AWS resources become `AWSResource` declarations there, or, where the source reads
/// Terraform state, Terraform import blocks in `gitdrift-imported.tf` beside the state file.
pub fn add_imports(
    config: &Config,
    report: &ScanReport,
    live: &[(String, ResourceKey, Value)],
    plan: &mut Plan,
    cache_dir: &Path,
) {
    // (source, .tf file) → target, commit, each resource's import and resource blocks.
    type Blocks = (String, String, Vec<(String, String)>);
    let mut terraform: std::collections::BTreeMap<(String, String), Blocks> = Default::default();
    for (target, key, object) in live {
        let resource = label(&key.kind, &key.namespace, &key.name);
        let source = config.sources.iter().find(|s| {
            s.target == *target
                && matches!(s.render, crate::config::Render::Plain)
                && !matches!(s.repo, RepoLocation::StateFile(_))
        });
        let suggest = |reason: &str, source: &str| Suggestion {
            resource: resource.clone(),
            source: source.to_string(),
            file: String::new(),
            reason: reason.to_string(),
            fields: Vec::new(),
        };
        let Some(source) = source else {
            plan.suggestions.push(suggest(
                "no plain source declares this target: nowhere to import it",
                "",
            ));
            continue;
        };
        if key.kind == "Secret" && key.group.is_empty() {
            plan.suggestions.push(suggest(
                "a Secret: secret values are never imported into git",
                &source.name,
            ));
            continue;
        }
        let aws = key.group == crate::model::aws::GROUP;
        let Some(commit) = report.commit_of(&source.name) else {
            continue;
        };
        // A source that reads Terraform state gets Terraform code, beside the state file.
        let state_file = report
            .resources
            .iter()
            .filter_map(|r| r.source.as_ref())
            .find(|s| s.name == source.name && s.file.ends_with(".tfstate"))
            .map(|s| s.file.clone());
        if aws && let Some(state_file) = state_file {
            let region = key.namespace.as_deref().unwrap_or_default();
            match super::codify::terraform(&key.kind, &key.name, object) {
                Ok(block) => {
                    let dir = state_file
                        .rsplit_once('/')
                        .map(|(d, _)| format!("{d}/"))
                        .unwrap_or_default();
                    terraform
                        .entry((source.name.clone(), format!("{dir}gitdrift-imported.tf")))
                        .or_insert_with(|| (target.clone(), commit.clone(), Vec::new()))
                        .2
                        .push((format!("{resource} ({region})"), block));
                }
                Err(reason) => plan.suggestions.push(suggest(&reason, &source.name)),
            }
            continue;
        }
        let folder = source
            .paths
            .first()
            .map(|p| {
                let end = p.find(['*', '?', '[', '{']).unwrap_or(p.len());
                let dir = &p[..end];
                dir.rsplit_once('/')
                    .map(|(d, _)| format!("{d}/"))
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        let name = |s: &str| -> String {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect()
        };
        // `<kind>[.<group>]_<namespace>_<name>.yaml`: `_` never occurs in a Kubernetes name, so
        // no two resources share a file.
        let stem = if aws {
            // `<type>_<region>_<id>.yaml`: `ec2-instance_eu-west-1_i-0abc.yaml`.
            format!(
                "{}_{}_{}",
                name(&key.kind.trim_start_matches("AWS::").replace("::", "-")),
                key.namespace.as_deref().map(name).unwrap_or_default(),
                name(&key.name)
            )
        } else {
            format!(
                "{}{}_{}_{}",
                name(&key.kind),
                if key.group.is_empty() {
                    String::new()
                } else {
                    format!(".{}", name(&key.group))
                },
                key.namespace.as_deref().map(name).unwrap_or_default(),
                name(&key.name)
            )
        };
        // Somewhere the source reads: under its first glob's folder, else beside a file it
        // already declares.
        let filter = crate::desired::git::FileFilter::new(&source.paths, &source.exclude).ok();
        let reads = |path: &str| filter.as_ref().is_some_and(|f| f.selects(path));
        let beside = report
            .resources
            .iter()
            .filter_map(|r| r.source.as_ref())
            .find(|s| s.name == source.name && s.rendered.is_none())
            .map(|s| {
                s.file
                    .rsplit_once('/')
                    .map(|(d, _)| format!("{d}/"))
                    .unwrap_or_default()
            });
        let Some(file) = [Some(folder), beside]
            .into_iter()
            .flatten()
            .flat_map(|dir| {
                [
                    format!("{dir}gitdrift-imported/{stem}.yaml"),
                    format!("{dir}{stem}.yaml"),
                ]
            })
            .find(|f| reads(f))
        else {
            plan.suggestions.push(suggest(
                "no file name the source reads was found for it: add the manifest by hand",
                &source.name,
            ));
            continue;
        };
        if let Ok(existing) = read_at(&source.repo, cache_dir, &commit, &file)
            && !existing.is_empty()
        {
            plan.suggestions.push(suggest(
                &format!("{file} already exists in git: import it by hand"),
                &source.name,
            ));
            continue;
        }
        let written = match aws {
            true => super::codify::declaration(
                target,
                &key.kind,
                key.namespace.as_deref().unwrap_or_default(),
                &key.name,
                object,
            ),
            false => serde_saphyr::to_string(&clean(object.clone()))
                .map(|yaml| {
                    format!("# Imported by gitdrift from the live state of {target}.\n{yaml}")
                })
                .map_err(|e| e.to_string()),
        };
        let text = match written {
            Ok(text) => text,
            Err(err) => {
                plan.suggestions.push(suggest(
                    &format!("cannot write it as YAML: {err}"),
                    &source.name,
                ));
                continue;
            }
        };
        plan.changes.push(FileChange {
            source: source.name.clone(),
            target: target.clone(),
            commit,
            file,
            before: String::new(),
            after: text,
            fields: vec![FieldChange {
                resource,
                path: String::new(),
                git_path: None,
                git: Value::Null,
                live: Value::String("(the whole resource, imported)".into()),
                changed_by: None,
                changed_at: None,
                line: None,
                note: None,
            }],
            new_file: true,
        });
    }
    for ((source_name, file), (target, commit, blocks)) in terraform {
        let Some(source) = config.sources.iter().find(|s| s.name == source_name) else {
            continue;
        };
        if let Ok(existing) = read_at(&source.repo, cache_dir, &commit, &file)
            && !existing.is_empty()
        {
            for (resource, _) in blocks {
                plan.suggestions.push(Suggestion {
                    resource,
                    source: source_name.clone(),
                    file: file.clone(),
                    reason: format!("{file} already exists in git: import it by hand"),
                    fields: Vec::new(),
                });
            }
            continue;
        }
        let mut text = format!(
            "# Imported by gitdrift from the live state of {target}: Terraform 1.5+ imports these\n# resources on the next apply; `terraform plan` shows what the skeletons lack.\n"
        );
        let mut fields = Vec::new();
        for (resource, block) in blocks {
            text.push('\n');
            text.push_str(&block);
            fields.push(FieldChange {
                resource,
                path: String::new(),
                git_path: None,
                git: Value::Null,
                live: Value::String("(the whole resource, imported)".into()),
                changed_by: None,
                changed_at: None,
                line: None,
                note: Some("a Terraform import block and resource skeleton".into()),
            });
        }
        plan.changes.push(FileChange {
            source: source_name,
            target,
            commit,
            file,
            before: String::new(),
            after: text,
            fields,
            new_file: true,
        });
    }
}

/// A live object without what the API server adds: status, server metadata (the fields the
/// judgement treats as bookkeeping), finalizers, last-applied and binding annotations, allocated
/// cluster IPs, node ports and volume names.
pub fn clean(mut object: Value) -> Value {
    crate::model::drop_last_applied(&mut object);
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
        if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            for key in crate::diff::rules::BOOKKEEPING_METADATA {
                meta.remove(*key);
            }
            meta.remove("finalizers");
            if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
                annotations.retain(|k, _| {
                    k != "deployment.kubernetes.io/revision" && !k.starts_with("pv.kubernetes.io/")
                });
                if annotations.is_empty() {
                    meta.remove("annotations");
                }
            }
        }
        if let Some(spec) = map.get_mut("spec").and_then(Value::as_object_mut) {
            for key in ["clusterIP", "clusterIPs", "volumeName"] {
                spec.remove(key);
            }
            // Allocated node ports.
            if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
                for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                    port.remove("nodePort");
                }
            }
        }
    }
    // `creationTimestamp: null` in pod templates (as kubectl prints them) says nothing.
    fn drop_null_timestamps(value: &mut Value) {
        match value {
            Value::Object(map) => {
                if map.get("creationTimestamp") == Some(&Value::Null) {
                    map.remove("creationTimestamp");
                }
                map.values_mut().for_each(drop_null_timestamps);
            }
            Value::Array(items) => items.iter_mut().for_each(drop_null_timestamps),
            _ => {}
        }
    }
    drop_null_timestamps(&mut object);
    object
}
