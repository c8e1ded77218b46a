//! Paths into an object while comparing, rendered as JSON Pointers (RFC 6901) into the live
//! object.

use std::fmt::Write;

/// One step of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    /// A mapping key.
    Key(String),
    /// An index into a list (of the live list).
    Index(usize),
    /// A declared list element that the live list lacks (`-`, as in JSON Patch).
    Missing,
}

impl Seg {
    /// The key, if this step is a mapping key.
    pub fn key(&self) -> Option<&str> {
        match self {
            Seg::Key(k) => Some(k),
            _ => None,
        }
    }

    /// The segment as it appears in a pointer, unescaped.
    pub fn text(&self) -> String {
        match self {
            Seg::Key(k) => k.clone(),
            Seg::Index(i) => i.to_string(),
            Seg::Missing => "-".to_string(),
        }
    }
}

/// Renders a path as a JSON Pointer.
pub fn pointer(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        out.push('/');
        match seg {
            Seg::Key(k) => out.push_str(&k.replace('~', "~0").replace('/', "~1")),
            Seg::Index(i) => {
                let _ = write!(out, "{i}");
            }
            Seg::Missing => out.push('-'),
        }
    }
    out
}

/// Whether `path` (keys only, as strings) is `[a, b, ...]`.
pub fn is(path: &[Seg], keys: &[&str]) -> bool {
    path.len() == keys.len()
        && path
            .iter()
            .zip(keys)
            .all(|(seg, key)| seg.key() == Some(key))
}

/// The last mapping key on the path, if the path ends in one.
pub fn last_key(path: &[Seg]) -> Option<&str> {
    path.last().and_then(Seg::key)
}

/// The mapping key before the last step, if any.
pub fn parent_key(path: &[Seg]) -> Option<&str> {
    path.len()
        .checked_sub(2)
        .and_then(|i| path.get(i))
        .and_then(Seg::key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_escape_slash_and_tilde() {
        let path = vec![
            Seg::Key("metadata".into()),
            Seg::Key("annotations".into()),
            Seg::Key("example.com/a~b".into()),
        ];
        assert_eq!(pointer(&path), "/metadata/annotations/example.com~1a~0b");
        assert_eq!(
            pointer(&[Seg::Key("env".into()), Seg::Index(2), Seg::Missing]),
            "/env/2/-"
        );
        assert_eq!(pointer(&[]), "");
    }
}
