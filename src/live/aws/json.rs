//! SDK values into the JSON shape `aws ec2 describe-*` prints (PascalCase names), which is what
//! declarations are written in and what snapshots hold. Empty values are left out.

use aws_sdk_ec2::types::Tag;
use serde_json::{Map, Value};

/// An object under construction.
#[derive(Default)]
pub struct J(Map<String, Value>);

impl J {
    /// An empty object.
    pub fn new() -> J {
        J::default()
    }

    /// A string, if present.
    pub fn s(mut self, key: &str, value: Option<&str>) -> J {
        if let Some(v) = value {
            self.0.insert(key.to_string(), Value::String(v.to_string()));
        }
        self
    }

    /// A boolean, if present.
    pub fn b(mut self, key: &str, value: Option<bool>) -> J {
        if let Some(v) = value {
            self.0.insert(key.to_string(), Value::Bool(v));
        }
        self
    }

    /// A number, if present.
    pub fn n(mut self, key: &str, value: Option<impl Into<i64>>) -> J {
        if let Some(v) = value {
            self.0.insert(key.to_string(), Value::from(v.into()));
        }
        self
    }

    /// Any value, unless null or an empty list or object.
    pub fn v(mut self, key: &str, value: Value) -> J {
        let empty = match &value {
            Value::Null => true,
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            _ => false,
        };
        if !empty {
            self.0.insert(key.to_string(), value);
        }
        self
    }

    /// A list, each element converted.
    pub fn list<T>(self, key: &str, items: &[T], convert: impl Fn(&T) -> Value) -> J {
        let values: Vec<Value> = items.iter().map(convert).collect();
        self.v(key, Value::Array(values))
    }

    /// `Tags` as the API returns them: `[{Key, Value}]`, ordered by key.
    pub fn tags(self, tags: &[Tag]) -> J {
        let mut pairs: Vec<(&str, &str)> = tags
            .iter()
            .map(|t| (t.key().unwrap_or(""), t.value().unwrap_or("")))
            .collect();
        pairs.sort();
        let list = pairs
            .into_iter()
            .map(|(k, v)| serde_json::json!({"Key": k, "Value": v}))
            .collect();
        self.v("Tags", Value::Array(list))
    }

    /// The object.
    pub fn build(self) -> Value {
        Value::Object(self.0)
    }
}
