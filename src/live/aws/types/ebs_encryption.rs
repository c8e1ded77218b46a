//! `AWS::EC2::EBSEncryptionByDefault`: the account's per-region setting that compliance rules ask
//! about (GetEbsEncryptionByDefault, GetEbsDefaultKmsKeyId). Its id is the region; it is AWS's
//! own (it always exists), so never unmanaged.

use std::collections::BTreeSet;

use futures::future::BoxFuture;
use serde_json::Value;

use super::{AwsError, AwsType, Item, Shape, Snapshot, error, reads};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::J;

reads! {
    get_ebs_encryption_by_default: GetEbsEncryptionByDefaultFluentBuilder => "GetEbsEncryptionByDefault";
    get_ebs_default_kms_key_id: GetEbsDefaultKmsKeyIdFluentBuilder => "GetEbsDefaultKmsKeyId";
}

pub struct EbsEncryptionByDefault;

impl AwsType for EbsEncryptionByDefault {
    fn name(&self) -> &'static str {
        "AWS::EC2::EBSEncryptionByDefault"
    }

    fn operations(&self) -> &'static [&'static str] {
        OPERATIONS
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            key: "EbsEncryptionByDefault",
            id: &[],
            file: "ebs-encryption-by-default.json",
            shape: Shape::Setting,
        }
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, AwsError>> {
        Box::pin(async move {
            let enabled = ec2
                .get_ebs_encryption_by_default()
                .send()
                .await
                .map_err(|e| error(&e))?;
            let key = ec2
                .get_ebs_default_kms_key_id()
                .send()
                .await
                .map_err(|e| error(&e))?;
            let value = J::new()
                .b(
                    "EbsEncryptionByDefault",
                    enabled.ebs_encryption_by_default(),
                )
                .s("KmsKeyId", key.kms_key_id())
                .build();
            Ok(vec![Item {
                id: ec2.region().to_string(),
                value,
            }])
        })
    }

    fn is_aws_default(&self, _value: &Value, _defaults: &BTreeSet<String>) -> bool {
        true
    }
}
