//! Digests (pure computation, shared by the snapshot writer, the judgement and the reports):
//! fingerprints that track a finding across scans, and Secret values in snapshots, decoded from
//! the API's base64 first. `gitdrift snapshot` never writes a Secret's value. Each value in
//! `data` is replaced by a digest marker,
//!
//! ```text
//! gitdrift-digest:sha256:<salt, 32 hex digits>:<SHA-256 of salt ‖ value bytes, 64 hex digits>
//! ```
//!
//! with a fresh random salt per value. The judgement compares a declared value with a marker by
//! hashing the declared bytes with the marker's salt, so a snapshot still tells whether a secret
//! changed, and nothing more. (A weak secret could still be guessed by trying candidates against
//! its marker: treat snapshots as sensitive all the same.)

use std::fmt::Write as _;

use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};

const PREFIX: &str = "gitdrift-digest:sha256:";

/// Decodes base64 as the API server accepts it (standard alphabet; line breaks ignored).
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
}

/// A stable identifier of a tuple of strings: the first 128 bits of the SHA-256 of the parts,
/// each followed by a NUL, in hex. For fingerprints that track a finding across scans.
pub fn fingerprint(parts: &[&str]) -> String {
    let mut context = ring::digest::Context::new(&SHA256);
    for part in parts {
        context.update(part.as_bytes());
        context.update(&[0]);
    }
    let digest = context.finish();
    let mut hex = String::with_capacity(32);
    for b in &digest.as_ref()[..16] {
        // Into the one string, not a string per byte.
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// The marker for a value's bytes.
pub fn marker(value: &[u8]) -> String {
    let mut salt = [0u8; 16];
    // The system's CSPRNG does not fail on Linux; a zero salt would still hide the value.
    let _ = SystemRandom::new().fill(&mut salt);
    format!("{PREFIX}{}:{}", hex(&salt), hex(&salted(&salt, value)))
}

/// Whether a text is a digest marker.
pub fn is_marker(text: &str) -> bool {
    text.starts_with(PREFIX)
}

/// Whether `value` is the value a marker stands for; `None` if `text` is not a well-formed marker.
pub fn matches(text: &str, value: &[u8]) -> Option<bool> {
    let rest = text.strip_prefix(PREFIX)?;
    let (salt, hash) = rest.split_once(':')?;
    let salt = unhex(salt)?;
    if hash.len() != 64 {
        return None;
    }
    Some(hex(&salted(&salt, value)) == hash.to_ascii_lowercase())
}

fn salted(salt: &[u8], value: &[u8]) -> Vec<u8> {
    let mut input = Vec::with_capacity(salt.len() + value.len());
    input.extend_from_slice(salt);
    input.extend_from_slice(value);
    digest(&SHA256, &input).as_ref().to_vec()
}

/// Lowercase hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes from hexadecimal (either case); `None` if it is not.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_match_their_value_only_and_hide_it() {
        let a = marker(b"hunter2");
        let b = marker(b"hunter2");
        assert!(is_marker(&a));
        assert_ne!(a, b, "a fresh salt every time");
        assert_eq!(matches(&a, b"hunter2"), Some(true));
        assert_eq!(matches(&b, b"hunter2"), Some(true));
        assert_eq!(matches(&a, b"hunter3"), Some(false));
        assert!(!a.contains("hunter2"));
        assert_eq!(matches("gitdrift-digest:sha256:zz:00", b"x"), None);
        assert_eq!(matches("plain", b"x"), None);
    }
}
