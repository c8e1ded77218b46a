//! JSON Pointers (RFC 6901), as ignore rules, adopt rules, waivers and drift paths write them.
//! Parsed once here, for the configuration (which checks them), the judgement, the audit and
//! remediation; the patterns of ignore rules and waivers (`*`, `[key=glob]`) are matched here too.

use serde_json::Value;

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

/// Whether a list element's `key` is a scalar matching `glob`.
pub fn selects(element: &Value, key: &str, glob: &str) -> bool {
    let text = match element.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => return false,
    };
    wildcard(glob, &text)
}

/// A glob of `*` (any run of characters) and `?` (any one character) over the whole text.
pub fn wildcard(glob: &str, text: &str) -> bool {
    let (g, t): (Vec<char>, Vec<char>) = (glob.chars().collect(), text.chars().collect());
    let (mut gi, mut ti) = (0, 0);
    // Where the last `*` was, and the text position it stands for up to now.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match g.get(gi) {
            Some('*') => {
                star = Some((gi, ti));
                gi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                gi += 1;
                ti += 1;
            }
            _ => match star {
                Some((s, at)) => {
                    gi = s + 1;
                    ti = at + 1;
                    star = Some((s, at + 1));
                }
                None => return false,
            },
        }
    }
    g[gi..].iter().all(|&c| c == '*')
}

/// Takes out of `value` what a pointer pattern names (segments, `*` for any one, `[key=glob]`
/// for the list elements it selects): fields and list elements alike. Whether anything was.
pub fn remove(value: &mut Value, pattern: &[String]) -> bool {
    let Some((first, rest)) = pattern.split_first() else {
        return false;
    };
    let selector = element_selector(first);
    match value {
        Value::Object(map) if rest.is_empty() => {
            if first == "*" {
                let had = !map.is_empty();
                map.clear();
                had
            } else {
                map.remove(first.as_str()).is_some()
            }
        }
        Value::Object(map) if first == "*" => {
            let mut any = false;
            for child in map.values_mut() {
                any |= remove(child, rest);
            }
            any
        }
        Value::Object(map) => map.get_mut(first.as_str()).is_some_and(|v| remove(v, rest)),
        Value::Array(items) => {
            let chosen = |i: usize, item: &Value| match selector {
                Some((key, glob)) => selects(item, key, glob),
                None => first == "*" || first.parse::<usize>().ok() == Some(i),
            };
            if rest.is_empty() {
                let before = items.len();
                let mut i = 0;
                items.retain(|item| {
                    let keep = !chosen(i, item);
                    i += 1;
                    keep
                });
                items.len() != before
            } else {
                let mut any = false;
                for (i, item) in items.iter_mut().enumerate() {
                    if chosen(i, item) {
                        any |= remove(item, rest);
                    }
                }
                any
            }
        }
        _ => false,
    }
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

    /// Fields and list elements are taken out by key, wildcard or `[key=glob]`.
    #[test]
    fn patterns_remove_fields_and_selected_elements() {
        let mut pod = serde_json::json!({"spec": {
            "initContainers": [{"name": "istio-init"}, {"name": "migrate"}],
            "containers": [{"name": "app", "securityContext": {"privileged": true}},
                           {"name": "istio-proxy", "securityContext": {}}]}});
        let pattern = |p: &str| super::parse(p).unwrap();
        assert!(super::remove(
            &mut pod,
            &pattern("/spec/initContainers/[name=istio-*]")
        ));
        assert_eq!(
            pod["spec"]["initContainers"],
            serde_json::json!([{"name": "migrate"}])
        );
        assert!(super::remove(
            &mut pod,
            &pattern("/spec/containers/*/securityContext")
        ));
        assert_eq!(
            pod["spec"]["containers"],
            serde_json::json!([{"name": "app"}, {"name": "istio-proxy"}])
        );
        assert!(!super::remove(&mut pod, &pattern("/spec/volumes")));
        assert!(super::wildcard(
            "STAKATER_*_CONFIGMAP",
            "STAKATER_WEB_CONFIGMAP"
        ));
        assert!(super::wildcard("DEBUG_?", "DEBUG_1") && !super::wildcard("DEBUG_?", "DEBUG_10"));
        assert!(!super::wildcard("a*b", "ab_c"));
    }
}
