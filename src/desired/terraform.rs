//! Terraform state (format version 4 JSON) as declared AWS state: each managed resource of a
//! supported type becomes a declared object with its id, region and the properties Terraform
//! recorded, in the shape the EC2 API describes them (each type's file in `live::aws::types` says
//! which Terraform types declare it and how). Parts declared as their own resources
//! (security-group rules) join the resource they belong to. Attributes Terraform records as
//! empty are left out.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::diff::aws::Declaration;
use crate::live::aws::json::text;
use crate::live::aws::types;
use crate::manifest::FileProblem;
use crate::model::{Body, Code, Object, Origin};

/// Whether a path names a Terraform state file.
pub fn is_state_file(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.ends_with(".tfstate") || lower.ends_with(".tfstate.json")
}

/// What a state file yielded.
#[derive(Debug, Default)]
pub struct StateRead {
    /// Declared AWS objects.
    pub objects: Vec<Object>,
    /// Problems with the file.
    pub errors: Vec<FileProblem>,
    /// Resources of types gitdrift does not map, counted per type.
    pub skipped: BTreeMap<String, usize>,
}

/// Reads a state file.
pub fn parse(file: &str, bytes: &[u8], default_region: Option<&str>) -> StateRead {
    let mut out = StateRead::default();
    let state: Value = match serde_json::from_slice(bytes) {
        Ok(state) => state,
        Err(err) => {
            out.errors.push(FileProblem::at(
                Code::SourceTerraformInvalid,
                Some(err.line() as u64),
                format!(
                    "invalid Terraform state: {}",
                    err.to_string().split(" at line").next().unwrap_or("")
                ),
            ));
            return out;
        }
    };
    match state.get("version").and_then(Value::as_u64) {
        Some(4) => {}
        other => {
            out.errors.push(FileProblem::at(
                Code::SourceTerraformInvalid,
                None,
                format!(
                    "Terraform state format version {} is not supported (version 4 is)",
                    other.map_or("missing".to_string(), |v| v.to_string())
                ),
            ));
            return out;
        }
    }
    let resources = state
        .get("resources")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let managed = || {
        resources
            .iter()
            .filter(|r| r.get("mode").and_then(Value::as_str) == Some("managed"))
    };
    // Parts declared as their own resources (security-group rules), by the resource they join.
    type Parts = Vec<(&'static str, Value)>;
    let mut parts: BTreeMap<(&'static str, String), Parts> = BTreeMap::new();
    for resource in managed() {
        let kind = resource.get("type").and_then(Value::as_str).unwrap_or("");
        let Some(t) = types::ALL
            .iter()
            .find(|t| t.terraform_parts().contains(&kind))
        else {
            continue;
        };
        for attrs in instances(resource) {
            if let Some((id, list, element)) = t.terraform_part(kind, attrs) {
                parts
                    .entry((t.name(), id))
                    .or_default()
                    .push((list, element));
            }
        }
    }
    for resource in managed() {
        let kind = resource.get("type").and_then(Value::as_str).unwrap_or("");
        let name = resource.get("name").and_then(Value::as_str).unwrap_or("");
        let Some(t) = types::ALL
            .iter()
            .find(|t| t.terraform_types().contains(&kind))
        else {
            // Rules of other resources are parts of them, not resources.
            if kind.starts_with("aws_") && !kind.ends_with("_rule") {
                *out.skipped.entry(kind.to_string()).or_default() += 1;
            }
            continue;
        };
        for attrs in instances(resource) {
            let Some(id) = t.terraform_id(attrs).map(str::to_string) else {
                out.errors.push(FileProblem::at(
                    Code::SourceTerraformIncomplete,
                    None,
                    format!("{kind}.{name} has no id"),
                ));
                continue;
            };
            let mut properties = t.terraform_properties(&id, attrs);
            for (list, element) in parts.get(&(t.name(), id.clone())).into_iter().flatten() {
                extend(&mut properties, list, element);
            }
            let Some(region) = region(attrs).or(default_region.map(str::to_string)) else {
                out.errors.push(FileProblem::at(
                    Code::SourceTerraformIncomplete,
                    None,
                    format!(
                        "{kind}.{name}: no region in its attributes; set the source's `region`"
                    ),
                ));
                continue;
            };
            let declaration = Declaration {
                id: Some(id.clone()),
                match_tags: BTreeMap::new(),
                properties,
                // Terraform owns every tag: the next apply removes the ones added by hand.
                exhaustive_tags: true,
            };
            out.objects.push(Object {
                api_version: crate::model::aws::API_VERSION.to_string(),
                group: crate::model::aws::GROUP.to_string(),
                kind: t.name().to_string(),
                namespace: Some(region),
                name: id,
                body: Body::Tree(declaration.to_value()),
                origin: Origin {
                    file: file.to_string(),
                    line: None,
                    rendered: None,
                },
                owned: false,
                applied: None,
            });
        }
    }
    out
}

fn instances(resource: &Value) -> impl Iterator<Item = &Map<String, Value>> {
    resource
        .get("instances")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|i| i.get("attributes").and_then(Value::as_object))
}

/// The region, from an ARN (`arn:aws:ec2:REGION:…`) or an availability zone.
fn region(attrs: &Map<String, Value>) -> Option<String> {
    if let Some(arn) = text(attrs, "arn") {
        let parts: Vec<&str> = arn.split(':').collect();
        if parts.len() > 3 && !parts[3].is_empty() {
            return Some(parts[3].to_string());
        }
    }
    text(attrs, "availability_zone").map(|az| {
        az.trim_end_matches(|c: char| c.is_ascii_lowercase())
            .to_string()
    })
}

/// Adds an element to one of a resource's lists, unless it is there already.
fn extend(properties: &mut Value, key: &str, element: &Value) {
    let list = properties.as_object_mut().map(|p| {
        p.entry(key.to_string())
            .or_insert_with(|| Value::Array(Vec::new()))
    });
    if let Some(Value::Array(list)) = list
        && !list.contains(element)
    {
        list.push(element.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATE: &str = r#"{
      "version": 4, "terraform_version": "1.9.8", "serial": 12, "lineage": "x",
      "resources": [
        {"mode": "managed", "type": "aws_security_group", "name": "web", "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
         "instances": [{"schema_version": 1, "attributes": {
            "arn": "arn:aws:ec2:eu-west-1:123456789012:security-group/sg-0a1", "id": "sg-0a1", "name": "web",
            "description": "web tier", "vpc_id": "vpc-1",
            "ingress": [{"from_port": 443, "to_port": 443, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"],
                         "ipv6_cidr_blocks": [], "prefix_list_ids": [], "security_groups": [], "self": false, "description": ""}],
            "egress": [{"from_port": 0, "to_port": 0, "protocol": "-1", "cidr_blocks": ["0.0.0.0/0"],
                        "ipv6_cidr_blocks": [], "prefix_list_ids": [], "security_groups": [], "self": false, "description": ""}],
            "tags": {"Name": "web"}}}]},
        {"mode": "managed", "type": "aws_vpc_security_group_ingress_rule", "name": "ssh",
         "instances": [{"attributes": {"id": "sgr-1", "security_group_id": "sg-0a1", "ip_protocol": "tcp",
            "from_port": 22, "to_port": 22, "cidr_ipv4": "10.0.0.0/8"}}]},
        {"mode": "managed", "type": "aws_instance", "name": "app",
         "instances": [{"attributes": {"id": "i-0b2", "ami": "ami-1", "instance_type": "t3.micro",
            "availability_zone": "eu-west-1a", "vpc_security_group_ids": ["sg-0a1"], "key_name": "",
            "tags": {"Name": "app"}, "monitoring": false}}]},
        {"mode": "data", "type": "aws_ami", "name": "ubuntu", "instances": [{"attributes": {"id": "ami-1"}}]},
        {"mode": "managed", "type": "aws_s3_bucket", "name": "logs", "instances": [{"attributes": {"id": "logs"}}]}
      ]}"#;

    #[test]
    fn state_resources_become_declared_aws_objects() {
        let read = parse("infra/terraform.tfstate", STATE.as_bytes(), None);
        assert!(read.errors.is_empty(), "{:?}", read.errors);
        assert_eq!(read.objects.len(), 2);
        let sg = &read.objects[0];
        assert_eq!(sg.kind, "AWS::EC2::SecurityGroup");
        assert_eq!(sg.namespace.as_deref(), Some("eu-west-1"));
        let d = Declaration::from_value(&sg.value());
        assert_eq!(d.id.as_deref(), Some("sg-0a1"));
        let ingress = d.properties["IpPermissions"].as_array().unwrap();
        assert_eq!(ingress.len(), 2, "the separate rule joined its group");
        assert_eq!(ingress[1]["FromPort"], 22);
        let egress = &d.properties["IpPermissionsEgress"][0];
        assert_eq!(egress["IpProtocol"], "-1");
        assert!(
            egress.get("FromPort").is_none(),
            "all-protocol rules have no ports"
        );
        let instance = Declaration::from_value(&read.objects[1].value());
        assert_eq!(read.objects[1].namespace.as_deref(), Some("eu-west-1"));
        assert_eq!(instance.properties["InstanceType"], "t3.micro");
        assert!(
            instance.properties.get("KeyName").is_none(),
            "empty attributes are left out"
        );
        assert_eq!(instance.properties["Monitoring"]["State"], "disabled");
        assert_eq!(read.skipped.get("aws_s3_bucket"), Some(&1));
    }

    #[test]
    fn bad_states_are_errors() {
        assert!(!parse("x.tfstate", b"{", None).errors.is_empty());
        let read = parse("x.tfstate", br#"{"version": 3, "modules": []}"#, None);
        assert!(read.errors[0].message.contains("version 3"));
    }
}
