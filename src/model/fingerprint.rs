//! Content fingerprints: a 128-bit hash of everything a judgement or a rule evaluation reads,
//! so that `serve`'s next scan can tell which pairs changed and reuse the rest. Every field is
//! written with its length first, and every list with its count, so that no two different
//! inputs write the same bytes.
//!
//! The hash is xxh3 (128 bits), keyed with a secret drawn at random when the process starts:
//! whoever can write live objects cannot compute fingerprints, so cannot look for a second
//! content that would pass for an unchanged one and hide a drift. (xxh3 is not a cryptographic
//! hash; unkeyed, collisions could be searched for offline.)

use std::sync::OnceLock;

use xxhash_rust::xxh3::Xxh3;

use super::{Body, Object, SourceRef};

/// The length of xxh3's secret.
const SECRET_SIZE: usize = 192;

/// This process's key.
fn secret() -> [u8; SECRET_SIZE] {
    static SECRET: OnceLock<[u8; SECRET_SIZE]> = OnceLock::new();
    *SECRET.get_or_init(|| {
        let mut secret = [0u8; SECRET_SIZE];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut secret)
            .expect("the operating system's random source");
        secret
    })
}

/// A 128-bit fingerprint being built from the inputs written into it.
#[derive(Clone)]
pub struct Fingerprint(Xxh3);

impl Default for Fingerprint {
    fn default() -> Self {
        Fingerprint::new()
    }
}

impl Fingerprint {
    /// An empty fingerprint, keyed with this process's secret.
    pub fn new() -> Fingerprint {
        Fingerprint(Xxh3::with_secret(secret()))
    }

    /// Writes bytes, length first.
    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update(&(bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    /// Writes a string.
    pub fn str(&mut self, text: &str) -> &mut Self {
        self.bytes(text.as_bytes())
    }

    /// Writes an optional string (absent and empty told apart).
    pub fn opt(&mut self, text: Option<&str>) -> &mut Self {
        match text {
            Some(text) => self.number(1).str(text),
            None => self.number(0),
        }
    }

    /// Writes a number.
    pub fn number(&mut self, n: u64) -> &mut Self {
        self.0.update(&n.to_le_bytes());
        self
    }

    /// Writes a JSON value, as compact text.
    pub fn json(&mut self, value: &serde_json::Value) -> &mut Self {
        self.bytes(serde_json::to_string(value).unwrap_or_default().as_bytes())
    }

    /// Writes everything an object holds: identity, content, where it was read, the evidence of
    /// the last `kubectl apply`.
    pub fn object(&mut self, object: &Object) -> &mut Self {
        self.str(&object.api_version)
            .str(&object.group)
            .str(&object.kind)
            .opt(object.namespace.as_deref())
            .str(&object.name);
        match &object.body {
            // The text's own fingerprint, taken when it was frozen.
            Body::Text(text) => self.number(0).bytes(&text.print().to_le_bytes()),
            Body::Tree(value) => self.number(1).json(value),
        };
        self.str(&object.origin.file)
            .number(object.origin.line.map_or(0, |l| l + 1))
            .opt(object.origin.rendered.as_ref().map(|r| &*r.tool))
            .opt(object.origin.rendered.as_ref().map(|r| r.path.as_str()))
            .number(u64::from(object.owned))
            .opt(object.applied.as_deref())
    }

    /// Writes where git declares a resource.
    pub fn source(&mut self, source: Option<&SourceRef>) -> &mut Self {
        match source {
            None => self.number(0),
            Some(s) => self
                .number(1)
                .str(&s.name)
                .str(&s.file)
                .number(s.line.map_or(0, |l| l + 1))
                .opt(s.rendered.as_ref().map(|r| &*r.tool))
                .opt(s.rendered.as_ref().map(|r| r.path.as_str())),
        }
    }

    /// The fingerprint of what was written.
    pub fn finish(&self) -> u128 {
        self.0.digest128()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_with_a_secret() {
        // Not the unkeyed hash of the same bytes.
        let mut plain = Xxh3::new();
        plain.update(&3u64.to_le_bytes());
        plain.update(b"abc");
        assert_ne!(Fingerprint::new().str("abc").finish(), plain.digest128());
    }

    #[test]
    fn fields_are_delimited() {
        let a = Fingerprint::new().str("ab").str("c").finish();
        let b = Fingerprint::new().str("a").str("bc").finish();
        assert_ne!(a, b);
        assert_ne!(
            Fingerprint::new().opt(None).finish(),
            Fingerprint::new().opt(Some("")).finish()
        );
        assert_eq!(
            Fingerprint::new().str("x").number(3).finish(),
            Fingerprint::new().str("x").number(3).finish()
        );
    }
}
