//! `AWS::EC2::KeyPair`: DescribeKeyPairs (one call; the API does not page it).

use futures::future::BoxFuture;

use super::{Collector, Item, error};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::J;

pub struct KeyPairs;

impl Collector for KeyPairs {
    fn resource_type(&self) -> &'static str {
        "AWS::EC2::KeyPair"
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, String>> {
        Box::pin(async move {
            let output = ec2
                .describe_key_pairs()
                .send()
                .await
                .map_err(|e| error(&e))?;
            Ok(output
                .key_pairs()
                .iter()
                .filter_map(|k| {
                    let id = k.key_pair_id().or(k.key_name())?;
                    let value = J::new()
                        .s("KeyPairId", k.key_pair_id())
                        .s("KeyName", k.key_name())
                        .s("KeyFingerprint", k.key_fingerprint())
                        .s("KeyType", k.key_type().map(|t| t.as_str()))
                        .tags(k.tags())
                        .build();
                    Some(Item {
                        id: id.to_string(),
                        value,
                    })
                })
                .collect())
        })
    }
}
