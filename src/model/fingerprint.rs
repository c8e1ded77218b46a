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

use super::{Body, Object, Rendered, SourceRef};

/// Where git declares a resource, borrowed: source name, file, line and renderer.
pub type SourceParts<'a> = (&'a str, &'a str, Option<u64>, Option<&'a Rendered>);

/// The length of xxh3's secret.
const SECRET_SIZE: usize = 192;

/// This process's key.
fn secret() -> &'static [u8; SECRET_SIZE] {
    static SECRET: OnceLock<[u8; SECRET_SIZE]> = OnceLock::new();
    SECRET.get_or_init(|| {
        let mut secret = [0u8; SECRET_SIZE];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut secret)
            .expect("the operating system's random source");
        secret
    })
}

/// How many bytes a fingerprint gathers before it streams them into the hash: most inputs (an
/// object's names, its body's own fingerprint, where it was read) fit, and are hashed in one
/// call, which is several times cheaper than a streaming hash fed field by field.
const INLINE: usize = 256;

/// A 128-bit fingerprint being built from the inputs written into it. The same bytes give the
/// same fingerprint however they were written (xxh3's streaming and one-shot forms agree).
#[derive(Clone)]
pub struct Fingerprint {
    inline: [u8; INLINE],
    len: usize,
    /// Where the bytes go once there are more than fit inline.
    stream: Option<Box<Xxh3>>,
}

impl Default for Fingerprint {
    fn default() -> Self {
        Fingerprint::new()
    }
}

impl Fingerprint {
    /// An empty fingerprint, keyed with this process's secret.
    pub fn new() -> Fingerprint {
        Fingerprint {
            inline: [0; INLINE],
            len: 0,
            stream: None,
        }
    }

    /// Writes raw bytes.
    fn write(&mut self, bytes: &[u8]) {
        if self.len + bytes.len() <= INLINE {
            self.inline[self.len..self.len + bytes.len()].copy_from_slice(bytes);
            self.len += bytes.len();
            return;
        }
        let stream = self
            .stream
            .get_or_insert_with(|| Box::new(Xxh3::with_secret(*secret())));
        stream.update(&self.inline[..self.len]);
        self.len = 0;
        if bytes.len() <= INLINE {
            self.inline[..bytes.len()].copy_from_slice(bytes);
            self.len = bytes.len();
        } else {
            stream.update(bytes);
        }
    }

    /// Writes bytes, length first.
    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.write(&(bytes.len() as u64).to_le_bytes());
        self.write(bytes);
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
        self.write(&n.to_le_bytes());
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
        self.source_parts(source.map(|s| (&*s.name, &*s.file, s.line, s.rendered.as_ref())))
    }

    /// Writes where git declares a resource, from its parts ([`Fingerprint::source`]'s bytes).
    pub fn source_parts(&mut self, source: Option<SourceParts<'_>>) -> &mut Self {
        match source {
            None => self.number(0),
            Some((name, file, line, rendered)) => self
                .number(1)
                .str(name)
                .str(file)
                .number(line.map_or(0, |l| l + 1))
                .opt(rendered.map(|r| &*r.tool))
                .opt(rendered.map(|r| r.path.as_str())),
        }
    }

    /// The fingerprint of what was written.
    pub fn finish(&self) -> u128 {
        match &self.stream {
            None => xxhash_rust::xxh3::xxh3_128_with_secret(&self.inline[..self.len], secret()),
            Some(stream) => {
                let mut stream = Xxh3::clone(stream);
                stream.update(&self.inline[..self.len]);
                stream.digest128()
            }
        }
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

    /// Short inputs are hashed in one call, long ones streamed: both are xxh3 of the same bytes
    /// under the same key, whatever the writes that made them.
    #[test]
    fn the_same_bytes_give_the_same_fingerprint_however_written() {
        for count in [1, 31, 32, 33, 100, 1000] {
            let mut print = Fingerprint::new();
            let mut bytes = Vec::new();
            for n in 0..count as u64 {
                print.number(n);
                bytes.extend(n.to_le_bytes());
            }
            let big = vec![7u8; 300 * (count % 3)];
            print.bytes(&big);
            bytes.extend((big.len() as u64).to_le_bytes());
            bytes.extend(&big);
            let expected = xxhash_rust::xxh3::xxh3_128_with_secret(&bytes, secret());
            assert_eq!(
                print.finish(),
                expected,
                "{count} numbers, {} bytes",
                big.len()
            );
            // Finishing does not end it: more can be written.
            assert_eq!(print.clone().number(1).finish(), print.number(1).finish());
        }
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
