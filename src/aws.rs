//! What gitdrift knows about AWS as a whole: the resource types it reads, named as AWS Config
//! names them, and how an AWS resource is identified among Kubernetes objects (group `aws`,
//! kind = the type, namespace = the region, name = the resource id).

/// The API group that marks an object as an AWS resource.
pub const GROUP: &str = "aws";
/// The `apiVersion` of AWS objects inside gitdrift.
pub const API_VERSION: &str = "aws/v1";

/// The EC2 resource types gitdrift reads and judges.
pub const TYPES: &[&str] = &[
    "AWS::EC2::Instance",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::VPC",
    "AWS::EC2::Subnet",
    "AWS::EC2::RouteTable",
    "AWS::EC2::InternetGateway",
    "AWS::EC2::NatGateway",
    "AWS::EC2::EIP",
    "AWS::EC2::Volume",
    "AWS::EC2::NetworkAcl",
    "AWS::EC2::LaunchTemplate",
    "AWS::EC2::KeyPair",
    "AWS::EC2::FlowLog",
    "AWS::EC2::EBSEncryptionByDefault",
];

/// Whether a group marks an AWS resource.
pub fn is_aws(group: &str) -> bool {
    group == GROUP
}
