//! What Kubernetes accepts as a namespace and as an object's name, checked before any of them
//! reaches a request path: a namespace taken from git is a DNS label, a name is one path
//! segment. Whoever can commit to git can then not make gitdrift ask its API server for anything
//! but the objects it reads.

/// A DNS-1123 label: 1 to 63 lowercase letters, digits and `-`, starting and ending with a
/// letter or digit (what a namespace is).
pub fn is_dns_label(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// A name the API server can hold in one path segment: not empty, at most 253 bytes, not `.`
/// or `..`, and without `/`, `%`, `?`, `#`, white space or control characters. (Kinds have
/// stricter rules of their own, which the API server enforces; this is what keeps a name from
/// changing the request it is part of.)
pub fn is_path_segment(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text != "."
        && text != ".."
        && !text.chars().any(|c| {
            matches!(c, '/' | '%' | '?' | '#' | '\\') || c.is_whitespace() || c.is_control()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_and_names_that_could_change_a_request_are_refused() {
        for good in ["shop", "kube-system", "a", "team-0042"] {
            assert!(is_dns_label(good), "{good}");
        }
        let long = "a".repeat(64);
        for bad in [
            "",
            "Shop",
            "-shop",
            "shop-",
            "shop/services",
            "a.b",
            "ns%2Fx",
            long.as_str(),
        ] {
            assert!(!is_dns_label(bad), "{bad}");
        }
        for good in ["web", "system:controller:job", "cert.example.com", "a_b"] {
            assert!(is_path_segment(good), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "web/proxy",
            "web%2Fproxy",
            "a b",
            "web?watch=1",
            "x#y",
        ] {
            assert!(!is_path_segment(bad), "{bad}");
        }
    }
}
