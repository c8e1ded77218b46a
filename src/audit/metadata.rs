//! OPA `# METADATA` blocks, read from a rule file's comments (regorus parses Rego but does not
//! expose annotations): the block right above `package` describes the rule the package holds.
//!
//! ```rego
//! # METADATA
//! # title: Host namespaces
//! # description: Pods must not share the host's network, PID or IPC namespace.
//! # custom:
//! #   id: pss-baseline-host-namespaces
//! #   severity: high
//! #   controls: {pss: [baseline/hostNamespaces]}
//! #   remediation: Remove hostNetwork, hostPID and hostIPC.
//! #   kinds: [Pod, Deployment.apps]
//! package gitdrift.pss.baseline.host_namespaces
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::model::RuleSeverity;

/// What a rule file says about the rule in its package.
#[derive(Clone, Debug, PartialEq)]
pub struct PackageMetadata {
    /// The package name (`gitdrift.pss.baseline.host_namespaces`).
    pub package: String,
    /// 1-based line of the `package` statement.
    pub package_line: u64,
    /// The rule's description, when the file has a METADATA block above `package`.
    pub rule: Option<RuleMetadata>,
}

/// The fields gitdrift reads from a METADATA block.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleMetadata {
    /// Stable, kebab-case, unique id.
    pub id: String,
    /// Short title.
    pub title: String,
    /// What the rule checks and why.
    pub description: String,
    /// How bad a violation is.
    pub severity: RuleSeverity,
    /// Framework → control ids.
    pub controls: BTreeMap<String, Vec<String>>,
    /// How to fix a violation.
    pub remediation: Option<String>,
    /// Resource kinds the rule applies to: `Kind` (core group), `Kind.group`, or an AWS type
    /// (`AWS::EC2::SecurityGroup`).
    pub kinds: Vec<String>,
    /// The sides it judges (`desired`, `live`); both unless it needs what only the live state
    /// has.
    pub sides: Vec<crate::model::Side>,
    /// What the rule reads of its input (`custom.reads`, see [`super::reads`]); `None` when it
    /// does not say.
    pub reads: Option<Vec<String>>,
    /// 1-based line of the `# METADATA` comment.
    pub line: u64,
}

/// A problem with a rule file's metadata, at a line.
#[derive(Clone, Debug, PartialEq)]
pub struct MetadataError {
    /// 1-based line.
    pub line: u64,
    /// What is wrong.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Block {
    title: Option<String>,
    description: Option<String>,
    custom: Option<Custom>,
    scope: Option<String>,
    // Other OPA annotation fields, accepted and unused.
    #[allow(dead_code)]
    authors: Option<serde_json::Value>,
    #[allow(dead_code)]
    organizations: Option<serde_json::Value>,
    #[allow(dead_code)]
    related_resources: Option<serde_json::Value>,
    #[allow(dead_code)]
    schemas: Option<serde_json::Value>,
    #[allow(dead_code)]
    entrypoint: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Custom {
    id: Option<String>,
    severity: Option<String>,
    #[serde(default)]
    controls: BTreeMap<String, Vec<String>>,
    remediation: Option<String>,
    #[serde(default)]
    kinds: Vec<String>,
    #[serde(default)]
    sides: Vec<String>,
    reads: Option<Vec<String>>,
}

/// Whether an id is kebab-case: lowercase letters and digits in groups joined by single `-`.
pub fn is_kebab_case(id: &str) -> bool {
    !id.is_empty()
        && id.split('-').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

/// Reads the package and its METADATA block from a rule file.
pub fn read(source: &str) -> Result<PackageMetadata, MetadataError> {
    let lines: Vec<&str> = source.lines().collect();
    let Some(package_index) = lines
        .iter()
        .position(|l| l.trim_start().starts_with("package ") && !l.trim_start().starts_with('#'))
    else {
        return Err(MetadataError {
            line: 1,
            message: "no `package` statement".into(),
        });
    };
    let package = lines[package_index]
        .trim()
        .trim_start_matches("package")
        .trim()
        .to_string();
    // The comment block right above `package`.
    let mut start = package_index;
    while start > 0 && lines[start - 1].trim_start().starts_with('#') {
        start -= 1;
    }
    let block = &lines[start..package_index];
    let Some(marker) = block.iter().position(|l| uncomment(l).trim() == "METADATA") else {
        return Ok(PackageMetadata {
            package,
            package_line: package_index as u64 + 1,
            rule: None,
        });
    };
    let metadata_line = (start + marker) as u64 + 1;
    let yaml: String = block[marker + 1..]
        .iter()
        .map(|l| format!("{}\n", uncomment(l)))
        .collect();
    let fail = |message: String| MetadataError {
        line: metadata_line,
        message,
    };
    let parsed: Block = serde_saphyr::from_str(&yaml).map_err(|e| {
        let text = e.to_string();
        let text = first_line(&text);
        // "error: line 3 column 7: …": point at the file's line rather than the block's.
        let at = text
            .split("line ")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse::<u64>().ok());
        let message = text.rsplit(": ").next().unwrap_or(text).to_string();
        MetadataError {
            line: at.map_or(metadata_line, |n| metadata_line + n),
            message: format!("METADATA is not valid YAML: {message}"),
        }
    })?;
    if let Some(scope) = &parsed.scope
        && scope != "package"
    {
        return Err(fail(format!(
            "METADATA above `package` must have scope `package`, not `{scope}`"
        )));
    }
    let custom = parsed
        .custom
        .ok_or_else(|| fail("METADATA needs `custom` with `id`, `severity` and `kinds`".into()))?;
    let id = custom
        .id
        .ok_or_else(|| fail("METADATA needs `custom.id`".into()))?;
    if !is_kebab_case(&id) {
        return Err(fail(format!(
            "rule id `{id}` must be kebab-case (lowercase letters, digits and single dashes)"
        )));
    }
    let severity = custom
        .severity
        .as_deref()
        .ok_or_else(|| fail(format!("rule {id}: METADATA needs `custom.severity`")))?;
    let severity = severity.parse::<RuleSeverity>().map_err(|_| {
        fail(format!(
            "rule {id}: severity `{severity}` is not one of critical, high, medium, low, info"
        ))
    })?;
    if custom.kinds.is_empty() {
        return Err(fail(format!(
            "rule {id}: METADATA needs `custom.kinds`, the resource kinds it applies to"
        )));
    }
    let mut sides = Vec::new();
    for side in &custom.sides {
        match side.as_str() {
            "desired" => sides.push(crate::model::Side::Desired),
            "live" => sides.push(crate::model::Side::Live),
            other => {
                return Err(fail(format!(
                    "rule {id}: side `{other}` is not `desired` or `live`"
                )));
            }
        }
    }
    if sides.is_empty() {
        sides = vec![crate::model::Side::Desired, crate::model::Side::Live];
    }
    for path in custom.reads.iter().flatten() {
        super::reads::check(path).map_err(|message| fail(format!("rule {id}: {message}")))?;
    }
    Ok(PackageMetadata {
        package,
        package_line: package_index as u64 + 1,
        rule: Some(RuleMetadata {
            sides,
            title: parsed.title.unwrap_or_else(|| id.clone()),
            description: parsed.description.unwrap_or_default().trim().to_string(),
            id,
            severity,
            controls: custom.controls,
            remediation: custom.remediation.map(|r| r.trim().to_string()),
            kinds: custom.kinds,
            reads: custom.reads,
            line: metadata_line,
        }),
    })
}

/// A comment line without its `#` and the one space after it.
fn uncomment(line: &str) -> &str {
    let text = line.trim_start().trim_start_matches('#');
    text.strip_prefix(' ').unwrap_or(text)
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: &str = "# A comment that is not metadata.\n\n# METADATA\n# title: Host namespaces\n# description: |\n#   Pods must not share\n#   host namespaces.\n# custom:\n#   id: pss-baseline-host-namespaces\n#   severity: high\n#   controls:\n#     pss: [baseline/hostNamespaces]\n#   kinds: [Pod, Deployment.apps]\npackage gitdrift.pss.host_namespaces\n\ndeny contains \"x\" if { input.resource.spec.hostPID }\n";

    #[test]
    fn metadata_above_package_is_read() {
        let meta = read(RULE).unwrap();
        assert_eq!(meta.package, "gitdrift.pss.host_namespaces");
        assert_eq!(meta.package_line, 14);
        let rule = meta.rule.unwrap();
        assert_eq!(rule.id, "pss-baseline-host-namespaces");
        assert_eq!(rule.severity, RuleSeverity::High);
        assert_eq!(rule.description, "Pods must not share\nhost namespaces.");
        assert_eq!(rule.controls["pss"], vec!["baseline/hostNamespaces"]);
        assert_eq!(rule.kinds, vec!["Pod", "Deployment.apps"]);
        assert_eq!(rule.line, 3);
    }

    #[test]
    fn bad_metadata_names_its_line() {
        let err =
            read(&RULE.replace("id: pss-baseline-host-namespaces", "id: Host_NS")).unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.message.contains("kebab-case"), "{err:?}");
        let err = read(&RULE.replace("severity: high", "severity: urgent")).unwrap_err();
        assert!(err.message.contains("not one of"), "{err:?}");
        let err = read(&RULE.replace("#   kinds: [Pod, Deployment.apps]\n", "")).unwrap_err();
        assert!(err.message.contains("custom.kinds"), "{err:?}");
        let err = read(&RULE.replace("# title:", "# titel:")).unwrap_err();
        assert!(err.message.contains("not valid"), "{err:?}");
        let err =
            read(&RULE.replace("#   severity: high", "#   severity: high: very")).unwrap_err();
        assert_eq!(err.line, 10, "{err:?}");
        assert!(err.message.contains("not valid YAML"), "{err:?}");
        assert!(read("deny := true\n").is_err());
    }

    #[test]
    fn helper_packages_have_no_rule() {
        let meta =
            read("package gitdrift.lib.kubernetes\n\npod_spec := input.resource.spec\n").unwrap();
        assert_eq!(meta.rule, None);
        assert!(is_kebab_case("aws-ec2-imdsv2-required"));
        assert!(!is_kebab_case("aws--ec2") && !is_kebab_case("-x") && !is_kebab_case(""));
    }
}
