//! How an AWS resource is identified among Kubernetes objects: group `aws`, kind = the resource
//! type as AWS Config names it (`AWS::EC2::Instance`), namespace = the region, name = the
//! resource id. The types themselves are described in `live::aws::types`, one file each.

/// The API group that marks an object as an AWS resource.
pub const GROUP: &str = "aws";
/// The `apiVersion` of AWS objects inside gitdrift.
pub const API_VERSION: &str = "aws/v1";

/// Whether a group marks an AWS resource.
pub fn is_aws(group: &str) -> bool {
    group == GROUP
}
