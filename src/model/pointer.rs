//! JSON Pointers (RFC 6901), as ignore rules, adopt rules and drift paths write them. Parsed once
//! here, for the configuration (which checks them), the judgement and remediation.

/// Splits a JSON Pointer into unescaped segments; `*` stays a wildcard segment.
pub fn parse(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(format!(
            "`{pointer}` is not a JSON Pointer (it must start with /)"
        ));
    };
    Ok(rest
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect())
}

/// `[key=glob]`, a path segment that selects list elements (in ignore rules): its key and glob.
pub fn element_selector(segment: &str) -> Option<(&str, &str)> {
    segment
        .strip_prefix('[')?
        .strip_suffix(']')?
        .split_once('=')
        .filter(|(key, _)| !key.is_empty())
}

#[cfg(test)]
mod tests {
    #[test]
    fn pointers_unescape() {
        assert_eq!(
            super::parse("/metadata/annotations/example.com~1x~0y").unwrap(),
            vec!["metadata", "annotations", "example.com/x~y"]
        );
        assert!(super::parse("spec").is_err());
    }
}
