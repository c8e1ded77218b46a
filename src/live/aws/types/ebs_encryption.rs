//! `AWS::EC2::EBSEncryptionByDefault`: the account's per-region setting that compliance rules ask
//! about (GetEbsEncryptionByDefault, GetEbsDefaultKmsKeyId). Its id is the region.

use futures::future::BoxFuture;

use super::{Collector, Item, error};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::J;

pub struct EbsEncryptionByDefault;

impl Collector for EbsEncryptionByDefault {
    fn resource_type(&self) -> &'static str {
        "AWS::EC2::EBSEncryptionByDefault"
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, String>> {
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
}
