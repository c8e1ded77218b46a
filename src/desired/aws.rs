//! gitdrift's own declarations of AWS resources: YAML documents beside the Kubernetes manifests,
//! in the same envelope, so the same parser reads both:
//!
//! ```yaml
//! apiVersion: gitdrift.dev/v1
//! kind: AWSResource
//! metadata: {name: web-sg}
//! spec:
//!   type: AWS::EC2::SecurityGroup
//!   region: eu-west-1            # default: the source's `region`
//!   match: {tags: {Name: web}}   # or {id: sg-0123…}
//!   exhaustiveTags: false        # true: live tags beyond the declared ones are drift
//!   properties:                  # as `aws ec2 describe-*` prints the resource
//!     GroupName: web
//!     IpPermissions: [{IpProtocol: tcp, FromPort: 443, ToPort: 443, IpRanges: [{CidrIp: 0.0.0.0/0}]}]
//! ```
//!
//! Each becomes a declared object of group `aws` (kind = type, namespace = region, name = id or
//! the declaration's name) whose body the AWS judgement reads.

use serde_json::Value;

use crate::diff::aws::Declaration;
use crate::live::aws::types;
use crate::manifest::FileProblem;
use crate::model::{Body, Code, Object};

/// The apiVersion of gitdrift's declarations.
pub const DECLARATION_API_VERSION: &str = "gitdrift.dev/v1";
/// The kind of gitdrift's AWS declarations.
pub const DECLARATION_KIND: &str = "AWSResource";

/// Whether a parsed object is an AWS declaration.
pub fn is_declaration(object: &Object) -> bool {
    object.group == "gitdrift.dev" && object.kind == DECLARATION_KIND
}

/// Turns an `AWSResource` document into a declared AWS object.
pub fn from_declaration(
    object: &Object,
    default_region: Option<&str>,
) -> Result<Object, FileProblem> {
    let value = object.value();
    let spec = value.get("spec").and_then(Value::as_object);
    let problem = |message: String| {
        FileProblem::at(
            Code::SourceInvalidDeclaration,
            object.origin.line,
            format!("AWSResource {}: {message}", object.name),
        )
    };
    let Some(spec) = spec else {
        return Err(problem("has no spec".into()));
    };
    let resource_type = spec
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| problem("spec.type is required (e.g. AWS::EC2::SecurityGroup)".into()))?;
    let Some(described) = types::named(resource_type) else {
        return Err(problem(format!(
            "spec.type `{resource_type}` is not supported ({})",
            types::names().join(", ")
        )));
    };
    let region = spec
        .get("region")
        .and_then(Value::as_str)
        .or(default_region)
        .ok_or_else(|| problem("spec.region is required (or the source's `region`)".into()))?;
    let matcher = spec.get("match");
    let mut id = matcher
        .and_then(|m| m.get("id"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let match_tags: std::collections::BTreeMap<String, String> =
        match matcher.and_then(|m| m.get("tags")) {
            None => Default::default(),
            Some(Value::Object(tags)) => tags
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    _ => Err(problem(format!("spec.match.tags.{k} must be a string"))),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(problem("spec.match.tags must be a mapping".into())),
        };
    if described.snapshot().shape == types::Shape::Setting && id.is_none() {
        // An account setting: one per region, identified by it.
        id = Some(region.to_string());
    }
    if id.is_none() && match_tags.is_empty() {
        return Err(problem(
            "spec.match needs `id` or `tags` to find the resource".into(),
        ));
    }
    let properties = match spec.get("properties") {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(Value::Object(map)) => Value::Object(map.clone()),
        Some(_) => return Err(problem("spec.properties must be a mapping".into())),
    };
    let exhaustive_tags = match spec.get("exhaustiveTags") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(problem("spec.exhaustiveTags must be true or false".into())),
    };
    let declaration = Declaration {
        id: id.clone(),
        match_tags,
        properties,
        exhaustive_tags,
    };
    Ok(Object {
        api_version: crate::model::aws::API_VERSION.to_string(),
        group: crate::model::aws::GROUP.to_string(),
        kind: resource_type.to_string(),
        namespace: Some(region.to_string()),
        name: id.unwrap_or_else(|| object.name.clone()),
        body: Body::Tree(declaration.to_value()),
        origin: object.origin.clone(),
        owned: false,
        applied: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Limits;
    use crate::manifest::{Syntax, parse};

    fn one(text: &str) -> Result<Object, FileProblem> {
        let parsed = parse(
            "aws.yaml",
            text.as_bytes(),
            Syntax::Yaml,
            &Limits::default(),
        );
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        from_declaration(&parsed.objects[0], Some("eu-west-1"))
    }

    #[test]
    fn declarations_become_aws_objects() {
        let object = one(
            "apiVersion: gitdrift.dev/v1\nkind: AWSResource\nmetadata: {name: web-sg}\nspec:\n  type: AWS::EC2::SecurityGroup\n  match: {tags: {Name: web}}\n  properties:\n    GroupName: web\n",
        )
        .unwrap();
        assert_eq!(object.kind, "AWS::EC2::SecurityGroup");
        assert_eq!(object.namespace.as_deref(), Some("eu-west-1"));
        assert_eq!(object.name, "web-sg");
        let declaration = Declaration::from_value(&object.value());
        assert_eq!(
            declaration.match_tags.get("Name").map(String::as_str),
            Some("web")
        );
        assert_eq!(declaration.properties["GroupName"], "web");
    }

    #[test]
    fn bad_declarations_name_the_problem() {
        let err = one("apiVersion: gitdrift.dev/v1\nkind: AWSResource\nmetadata: {name: x}\nspec:\n  type: AWS::S3::Bucket\n  match: {id: b}\n").unwrap_err();
        assert!(err.message.contains("not supported"), "{err:?}");
        assert_eq!(err.line, Some(1));
        let err = one("apiVersion: gitdrift.dev/v1\nkind: AWSResource\nmetadata: {name: x}\nspec:\n  type: AWS::EC2::VPC\n").unwrap_err();
        assert!(err.message.contains("needs `id` or `tags`"), "{err:?}");
    }
}
