//! `AWS::EC2::KeyPair`: DescribeKeyPairs (one call; the API does not page it); Terraform
//! `aws_key_pair` (its id is the key pair id where the state records one).

use futures::future::BoxFuture;
use serde_json::{Map, Value};

use super::{AwsError, AwsType, Item, Shape, Snapshot, error, reads};
use crate::live::aws::client::ReadOnlyEc2;
use crate::live::aws::json::{J, text};

reads! {
    describe_key_pairs: DescribeKeyPairsFluentBuilder => "DescribeKeyPairs";
}

pub struct KeyPairs;

impl AwsType for KeyPairs {
    fn name(&self) -> &'static str {
        "AWS::EC2::KeyPair"
    }

    fn operations(&self) -> &'static [&'static str] {
        OPERATIONS
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            key: "KeyPairs",
            id: &["KeyPairId", "KeyName"],
            file: "key-pairs.json",
            shape: Shape::List,
        }
    }

    fn collect<'a>(&'a self, ec2: &'a ReadOnlyEc2) -> BoxFuture<'a, Result<Vec<Item>, AwsError>> {
        Box::pin(async move {
            let output = ec2
                .describe_key_pairs()
                .send()
                .await
                .map_err(|e| error(&e))?;
            Ok(Item::each(output.key_pairs(), |k| {
                let id = k.key_pair_id().or(k.key_name())?;
                let value = J::new()
                    .s("KeyPairId", k.key_pair_id())
                    .s("KeyName", k.key_name())
                    .s("KeyFingerprint", k.key_fingerprint())
                    .s("KeyType", k.key_type().map(|t| t.as_str()))
                    .tags(k.tags())
                    .build();
                Some((id, value))
            }))
        })
    }

    fn terraform_types(&self) -> &'static [&'static str] {
        &["aws_key_pair"]
    }

    fn terraform_id<'a>(&self, a: &'a Map<String, Value>) -> Option<&'a str> {
        text(a, "key_pair_id").or(text(a, "id"))
    }

    fn terraform_properties(&self, id: &str, a: &Map<String, Value>) -> Value {
        J::new()
            .v("KeyPairId", Value::String(id.to_string()))
            .text("KeyName", a, "key_name")
            .text("KeyType", a, "key_type")
            .tf_tags(a)
            .build()
    }
}
