//! Everything gitdrift knows about each AWS resource type, one file per type behind
//! [`AwsType`]: how it is read (its collector and the EC2 operations it calls), how a
//! snapshot holds it, how Terraform declares it, which of its resources AWS creates on its own,
//! and what compliance rules need to see beside it. The supported types, the guard's
//! allow-list, the snapshot shapes and the Terraform mapping are all derived from [`ALL`].
//!
//! Adding a type: one file here (its `reads!`, its descriptor), one line in [`ALL`], one seed in
//! the moto tests.

mod ebs_encryption;
mod eip;
mod flow_log;
mod instance;
mod internet_gateway;
mod key_pair;
mod launch_template;
mod nat_gateway;
mod network_acl;
mod route_table;
mod security_group;
mod subnet;
mod volume;
mod vpc;
mod vpc_endpoint;

use std::collections::{BTreeSet, HashMap};

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use futures::future::BoxFuture;
use serde_json::{Map, Value};

use super::client::ReadOnlyEc2;
use crate::model::{Code, Object};

/// Every supported type, in the order reports and snapshots list them.
pub static ALL: &[&dyn AwsType] = &[
    &instance::Instances,
    &security_group::SecurityGroups,
    &vpc::Vpcs,
    &subnet::Subnets,
    &route_table::RouteTables,
    &internet_gateway::InternetGateways,
    &nat_gateway::NatGateways,
    &eip::Addresses,
    &volume::Volumes,
    &network_acl::NetworkAcls,
    &launch_template::LaunchTemplates,
    &key_pair::KeyPairs,
    &flow_log::FlowLogs,
    &ebs_encryption::EbsEncryptionByDefault,
    &vpc_endpoint::VpcEndpoints,
];

/// One live resource: its id and its description.
#[derive(Clone, Debug)]
pub struct Item {
    /// The resource id (`i-…`, `sg-…`; the region for account settings).
    pub id: String,
    /// The resource as `aws ec2 describe-*` prints it.
    pub value: Value,
}

impl Item {
    /// The items of an SDK list: each element gives its id and description, or is skipped.
    pub fn each<T>(list: &[T], convert: impl Fn(&T) -> Option<(&str, Value)>) -> Vec<Item> {
        list.iter()
            .filter_map(|element| {
                let (id, value) = convert(element)?;
                Some(Item {
                    id: id.to_string(),
                    value,
                })
            })
            .collect()
    }
}

/// How `aws ec2 describe-*` output holds a type: what snapshot folders contain and `gitdrift
/// snapshot` writes.
#[derive(Clone, Copy, Debug)]
pub struct Snapshot {
    /// The output's top-level key (`Vpcs`).
    pub key: &'static str,
    /// The fields that hold an item's id, the first present wins.
    pub id: &'static [&'static str],
    /// The file `gitdrift snapshot` writes in a region's folder.
    pub file: &'static str,
    /// How the items sit under the key.
    pub shape: Shape,
}

/// Where a describe output keeps its items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A list under the key (`{"Vpcs": […]}`).
    List,
    /// Instances inside reservations (`{"Reservations": [{"Instances": […]}]}`); terminated
    /// ones are gone.
    Reservations,
    /// The whole output is one per-region setting, identified by its region.
    Setting,
}

/// Everything about one resource type.
pub trait AwsType: Send + Sync {
    /// The AWS Config name (`AWS::EC2::VPC`).
    fn name(&self) -> &'static str;

    /// The EC2 operations its collector calls (the read-only guard allows exactly these).
    fn operations(&self) -> &'static [&'static str];

    /// How a snapshot holds it.
    fn snapshot(&self) -> Snapshot;

    /// Every resource of the type in the client's region (every page).
    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, AwsError>>;

    /// The Terraform resource types that declare it.
    fn terraform_types(&self) -> &'static [&'static str] {
        &[]
    }

    /// The id a Terraform resource's attributes give it.
    fn terraform_id<'a>(&self, attributes: &'a Map<String, Value>) -> Option<&'a str> {
        super::json::text(attributes, "id")
    }

    /// Its declared properties, in the shape the EC2 API describes, from a Terraform resource
    /// of one of [`AwsType::terraform_types`].
    fn terraform_properties(&self, _id: &str, _attributes: &Map<String, Value>) -> Value {
        Value::Object(Map::new())
    }

    /// Terraform resource types that add to a resource of this type rather than declare one
    /// (security-group rules declared on their own).
    fn terraform_parts(&self) -> &'static [&'static str] {
        &[]
    }

    /// What a part adds: the id of the resource it belongs to, the list it joins, the element.
    fn terraform_part(
        &self,
        _terraform_type: &str,
        _attributes: &Map<String, Value>,
    ) -> Option<(String, &'static str, Value)> {
        None
    }

    /// Whether a live resource is one AWS creates on its own (never unmanaged unless declared).
    /// `defaults` are the ids of the region's resources that are AWS's own by themselves (the
    /// default VPC), for types whose defaults follow from another's.
    fn is_aws_default(&self, _value: &Value, _defaults: &BTreeSet<String>) -> bool {
        false
    }

    /// What compliance rules need beside a live resource of this type (a VPC's flow logs, an
    /// instance's subnet), found among the target's live AWS resources.
    fn related(&self, _object: &Object, _estate: &Estate<'_>) -> Option<Value> {
        None
    }
}

/// The type with this name.
pub fn named(name: &str) -> Option<&'static dyn AwsType> {
    ALL.iter().copied().find(|t| t.name() == name)
}

/// The name of every supported type.
pub fn names() -> Vec<&'static str> {
    ALL.iter().map(|t| t.name()).collect()
}

/// A target's live AWS resources by type and region, where descriptors find a resource's
/// relatives. Each type's resources are parsed once, when first asked for.
pub struct Estate<'a> {
    by_type: HashMap<&'a str, HashMap<&'a str, Group<'a>>>,
}

/// The resources of one type in one region.
struct Group<'a> {
    objects: Vec<&'a Object>,
    values: std::cell::OnceCell<Vec<Value>>,
}

impl<'a> Estate<'a> {
    /// Indexes the AWS objects among `objects`.
    pub fn new(objects: &'a [Object]) -> Estate<'a> {
        let mut by_type: HashMap<&str, HashMap<&str, Group<'_>>> = HashMap::new();
        for object in objects
            .iter()
            .filter(|o| crate::model::aws::is_aws(&o.group))
        {
            let region = object.namespace.as_deref().unwrap_or_default();
            by_type
                .entry(object.kind.as_str())
                .or_default()
                .entry(region)
                .or_insert_with(|| Group {
                    objects: Vec::new(),
                    values: std::cell::OnceCell::new(),
                })
                .objects
                .push(object);
        }
        Estate { by_type }
    }

    /// The resources of a type in a region, with their descriptions.
    pub fn of_type(&self, name: &str, region: &str) -> impl Iterator<Item = (&'a Object, &Value)> {
        let group = self.by_type.get(name).and_then(|r| r.get(region));
        group.into_iter().flat_map(|group| {
            let values = group.values.get_or_init(|| {
                group
                    .objects
                    .iter()
                    .map(|o| o.value().into_owned())
                    .collect()
            });
            group.objects.iter().copied().zip(values)
        })
    }

    /// One resource's description, by type, region and id.
    pub fn get(&self, name: &str, region: &str, id: &str) -> Option<&Value> {
        self.of_type(name, region)
            .find(|(o, _)| o.name == id)
            .map(|(_, v)| v)
    }
}

/// Every item of a paginated call, page after page.
pub async fn pages<T, E, R>(
    stream: aws_smithy_async::future::pagination_stream::PaginationStream<
        Result<T, aws_smithy_runtime_api::client::result::SdkError<E, R>>,
    >,
) -> Result<Vec<T>, AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    stream
        .collect::<Result<Vec<T>, _>>()
        .await
        .map_err(|e| error(&e))
}

/// Why an AWS read failed.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// AWS answered with an error: its own code and message (`RequestLimitExceeded: Request
    /// limit exceeded.` after the retries gave up, `UnauthorizedOperation: …`).
    #[error("{code}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Service {
        /// AWS's error code.
        code: String,
        /// AWS's message.
        message: Option<String>,
    },
    /// No answer: the error and its causes (timeouts, connection refused, credentials).
    #[error("{0}")]
    Transport(String),
}

impl AwsError {
    /// The problem code.
    pub fn code(&self) -> Code {
        match self {
            AwsError::Service { code, .. }
                if code.starts_with("UnauthorizedOperation")
                    || code.starts_with("AccessDenied") =>
            {
                Code::AwsForbidden
            }
            AwsError::Service { code, .. }
                if code.starts_with("RequestLimitExceeded") || code.starts_with("Throttling") =>
            {
                Code::AwsThrottled
            }
            AwsError::Service { .. } => Code::AwsError,
            AwsError::Transport(_) => Code::AwsUnreachable,
        }
    }
}

/// An SDK error as gitdrift reports it.
pub fn error<E, R>(err: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    if let SdkError::ServiceError(service) = err {
        let e = service.err();
        if let Some(code) = e.code() {
            return AwsError::Service {
                code: code.to_string(),
                message: e.message().map(str::to_string),
            };
        }
    }
    AwsError::Transport(crate::model::redact::error_chain(err))
}

/// Declares the EC2 reads a type's collector calls: each becomes a method of
/// [`ReadOnlyEc2`] (the only way to name it) and an entry of the file's `OPERATIONS`, which the
/// read-only guard allows.
macro_rules! reads {
    ($($method:ident: $builder:ident => $operation:literal;)*) => {
        impl $crate::live::aws::client::ReadOnlyEc2 {
            $(
                #[doc = concat!("`", $operation, "`.")]
                pub fn $method(&self) -> aws_sdk_ec2::operation::$method::builders::$builder {
                    self.sdk().$method()
                }
            )*
        }

        /// The EC2 operations this type is read with.
        const OPERATIONS: &[&str] = &[$($operation),*];
    };
}
pub(crate) use reads;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_named_once_and_read_only_by_reads() {
        let names = names();
        let unique: BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), names.len(), "a type is registered twice");
        let files: BTreeSet<&str> = ALL.iter().map(|t| t.snapshot().file).collect();
        assert_eq!(files.len(), names.len(), "two types share a snapshot file");
        for t in ALL {
            assert!(t.name().starts_with("AWS::EC2::"), "{}", t.name());
            assert!(!t.operations().is_empty(), "{} reads nothing", t.name());
            for op in t.operations() {
                assert!(
                    op.starts_with("Describe") || op.starts_with("Get"),
                    "{} calls {op}",
                    t.name()
                );
            }
        }
        let terraform: Vec<&str> = ALL
            .iter()
            .flat_map(|t| t.terraform_types())
            .copied()
            .collect();
        let unique: BTreeSet<&str> = terraform.iter().copied().collect();
        assert_eq!(unique.len(), terraform.len(), "a Terraform type maps twice");
    }

    #[test]
    fn aws_defaults_are_recognised() {
        use serde_json::json;
        let vpcs: BTreeSet<String> = ["vpc-default".to_string()].into();
        let default = |name: &str, value: Value| named(name).unwrap().is_aws_default(&value, &vpcs);
        assert!(default("AWS::EC2::VPC", json!({"IsDefault": true})));
        assert!(default(
            "AWS::EC2::SecurityGroup",
            json!({"GroupName": "default"})
        ));
        assert!(default(
            "AWS::EC2::RouteTable",
            json!({"Associations": [{"Main": true}]})
        ));
        assert!(default(
            "AWS::EC2::InternetGateway",
            json!({"Attachments": [{"VpcId": "vpc-default"}]})
        ));
        assert!(!default("AWS::EC2::Instance", json!({})));
        assert!(!default("AWS::EC2::VPC", json!({"IsDefault": false})));
    }
}
