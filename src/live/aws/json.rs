//! The JSON shape `aws ec2 describe-*` prints (PascalCase names), which is what declarations
//! are written in, what snapshots hold and what the judgement compares: one builder for both
//! ways in, SDK values (live) and Terraform attributes (declared). Empty values are left out.

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

    /// Any value, unless null, an empty string or an empty list or object.
    pub fn v(mut self, key: &str, value: Value) -> J {
        let empty = match &value {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
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

    /// A Terraform attribute's text, unless empty.
    pub fn text(self, key: &str, attributes: &Map<String, Value>, attribute: &str) -> J {
        let value = text(attributes, attribute).map_or(Value::Null, |s| Value::String(s.into()));
        self.v(key, value)
    }

    /// A Terraform attribute as it is, unless empty.
    pub fn raw(self, key: &str, attributes: &Map<String, Value>, attribute: &str) -> J {
        let value = attributes.get(attribute).cloned().unwrap_or(Value::Null);
        self.v(key, value)
    }

    /// Terraform's tags as a map: `tags_all` (the resource's tags with the provider's
    /// `default_tags`) where the state has it, else `tags`.
    pub fn tf_tags(self, attributes: &Map<String, Value>) -> J {
        let tags = attributes
            .get("tags_all")
            .and_then(Value::as_object)
            .or_else(|| attributes.get("tags").and_then(Value::as_object))
            .cloned()
            .unwrap_or_default();
        self.v("Tags", Value::Object(tags))
    }

    /// The object.
    pub fn build(self) -> Value {
        Value::Object(self.0)
    }
}

/// A Terraform attribute's text, unless absent or empty.
pub fn text<'a>(attributes: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    attributes
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// A Terraform attribute's list of texts, without the empty ones.
pub fn strings(attributes: &Map<String, Value>, key: &str) -> Vec<String> {
    attributes
        .get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}
