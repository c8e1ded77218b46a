//! Git push webhooks: GitHub (`X-Hub-Signature-256`, an HMAC-SHA256 of the body), Gitea and
//! Forgejo (`X-Gitea-Signature`, the same HMAC without the `sha256=` prefix) and GitLab
//! (`X-Gitlab-Token`, the secret itself), all checked in constant time against the configured
//! secret. A push to a source's repository and ref makes that source fetch now (and its target
//! scan, when the revision changed). Nothing unsigned or wrongly signed gets past the check.

use axum::http::HeaderMap;
use serde_json::Value;
use subtle::ConstantTimeEq as _;

use crate::config::{Config, RepoLocation};

/// What a webhook request turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Signed, a push, matching these sources.
    Push(Vec<String>),
    /// Signed, but nothing to do (another event, another repository or ref).
    Ignored(String),
    /// Not signed, or signed wrongly.
    Unauthorized(String),
    /// Signed, but not a payload we can read.
    BadRequest(String),
}

/// The delivery's id, as each host names it, for refusing replays.
pub fn delivery_id(headers: &HeaderMap) -> Option<&str> {
    [
        "x-github-delivery",
        "x-gitea-delivery",
        "x-gitlab-event-uuid",
    ]
    .iter()
    .find_map(|name| headers.get(*name).and_then(|v| v.to_str().ok()))
    .map(str::trim)
    .filter(|id| !id.is_empty())
}

/// Checks a webhook request against the secret and finds the sources it concerns.
pub fn judge(config: &Config, secret: &str, headers: &HeaderMap, body: &[u8]) -> Verdict {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let hmac = |name: &str, hex: &str| -> Result<(), Verdict> {
        let Some(given) = crate::digest::unhex(hex) else {
            return Err(Verdict::Unauthorized(format!("{name} is not hexadecimal")));
        };
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
        ring::hmac::verify(&key, body, &given)
            .map_err(|_| Verdict::Unauthorized(format!("{name} does not match the body")))
    };
    let event = if let Some(signature) = header("x-hub-signature-256") {
        let Some(hex) = signature.strip_prefix("sha256=") else {
            return Verdict::Unauthorized("X-Hub-Signature-256 is not `sha256=…`".into());
        };
        if let Err(verdict) = hmac("X-Hub-Signature-256", hex) {
            return verdict;
        }
        header("x-github-event").unwrap_or("push").to_string()
    } else if let Some(hex) = header("x-gitea-signature") {
        if let Err(verdict) = hmac("X-Gitea-Signature", hex) {
            return verdict;
        }
        header("x-gitea-event").unwrap_or("push").to_string()
    } else if let Some(token) = header("x-gitlab-token") {
        // Digests of both, compared in constant time: not even the secret's length shows.
        let digest = |v: &str| ring::digest::digest(&ring::digest::SHA256, v.as_bytes());
        if !bool::from(digest(token).as_ref().ct_eq(digest(secret).as_ref())) {
            return Verdict::Unauthorized("X-Gitlab-Token does not match".into());
        }
        match header("x-gitlab-event") {
            Some("Push Hook") | Some("Tag Push Hook") | None => "push".to_string(),
            Some(other) => other.to_string(),
        }
    } else {
        return Verdict::Unauthorized(
            "no X-Hub-Signature-256 (GitHub), X-Gitea-Signature (Gitea, Forgejo) or X-Gitlab-Token (GitLab) header"
                .into(),
        );
    };
    if event != "push" {
        return Verdict::Ignored(format!("event `{event}` is not a push"));
    }
    let payload: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(err) => return Verdict::BadRequest(format!("the body is not JSON: {err}")),
    };
    let Some(git_ref) = payload.get("ref").and_then(Value::as_str) else {
        return Verdict::BadRequest("the push names no `ref`".into());
    };
    // GitHub: repository.{clone_url,ssh_url,git_url,html_url}; GitLab: project.{git_http_url,
    // git_ssh_url,web_url} (and the older repository.{git_http_url,git_ssh_url,homepage}).
    let mut urls = Vec::new();
    for object in ["repository", "project"] {
        for key in [
            "clone_url",
            "ssh_url",
            "git_url",
            "html_url",
            "url",
            "git_http_url",
            "git_ssh_url",
            "web_url",
            "homepage",
        ] {
            if let Some(url) = payload
                .get(object)
                .and_then(|o| o.get(key))
                .and_then(Value::as_str)
            {
                urls.push(normalize(url));
            }
        }
    }
    if urls.is_empty() {
        return Verdict::BadRequest("the push names no repository URL".into());
    }
    let sources: Vec<String> = config
        .sources
        .iter()
        .filter(|s| {
            let repo = match &s.repo {
                RepoLocation::Remote(url) => normalize(url),
                RepoLocation::Local(path) => normalize(&path.display().to_string()),
                RepoLocation::StateFile(_) => return false,
            };
            urls.contains(&repo) && ref_matches(s.git_ref.as_deref(), git_ref)
        })
        .map(|s| s.name.clone())
        .collect();
    if sources.is_empty() {
        Verdict::Ignored(format!("no source reads this repository at {git_ref}"))
    } else {
        Verdict::Push(sources)
    }
}

/// A source without a ref follows the default branch: any branch push may move it.
fn ref_matches(configured: Option<&str>, pushed: &str) -> bool {
    match configured {
        None => pushed.starts_with("refs/heads/"),
        Some(r) => {
            pushed == r
                || pushed.strip_prefix("refs/heads/") == Some(r)
                || pushed.strip_prefix("refs/tags/") == Some(r)
        }
    }
}

/// A repository address without scheme, credentials, `.git` or trailing slash, host in
/// lowercase: `git@host:org/repo.git` and `https://host/org/repo` are the same repository.
pub fn normalize(url: &str) -> String {
    let mut rest = url.trim();
    if let Some(i) = rest.find("://") {
        rest = &rest[i + 3..];
    }
    if let Some(at) = rest.find('@')
        && !rest[..at].contains('/')
    {
        rest = &rest[at + 1..];
    }
    let rest = rest.trim_end_matches('/');
    let rest = rest.strip_suffix(".git").unwrap_or(rest);
    // scp-like `host:org/repo`.
    let (host, path) = match rest.split_once(['/', ':']) {
        Some((host, path)) if !host.is_empty() => (host.to_ascii_lowercase(), path),
        _ => return rest.to_string(),
    };
    // A port of the HTTP form is kept; the scp form's `:` becomes `/`.
    let path = path.trim_start_matches('/');
    format!("{host}/{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_of_one_repository_agree() {
        let want = normalize("https://github.com/org/repo");
        for url in [
            "https://github.com/org/repo.git",
            "https://token@github.com/org/repo/",
            "git@github.com:org/repo.git",
            "ssh://git@GitHub.com/org/repo.git",
        ] {
            assert_eq!(normalize(url), want, "{url}");
        }
        assert_ne!(normalize("https://github.com/org/other"), want);
        assert_eq!(normalize("/srv/git/repo"), "/srv/git/repo");
    }

    fn config() -> Config {
        Config::from_str(
            "sources:\n  - name: shop\n    repo: https://git.example.test/org/shop.git\n    ref: main\n    target: t\ntargets:\n  - name: t\n    snapshot: ./live\n",
            std::path::Path::new("/etc/gitdrift.yaml"),
            std::path::Path::new("/etc"),
            &crate::live::known(),
        )
        .unwrap()
    }

    #[test]
    fn each_scheme_is_checked_and_pushes_find_their_sources() {
        let config = config();
        let body = br#"{"ref":"refs/heads/main","repository":{"clone_url":"https://git.example.test/org/shop"}}"#;
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"s3cret");
        let mac = crate::digest::hex(ring::hmac::sign(&key, body).as_ref());
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, v.parse().unwrap());
            }
            h
        };
        let push = Verdict::Push(vec!["shop".into()]);
        let github = format!("sha256={mac}");
        assert_eq!(
            judge(
                &config,
                "s3cret",
                &headers(&[("x-hub-signature-256", &github)]),
                body
            ),
            push
        );
        assert_eq!(
            judge(
                &config,
                "s3cret",
                &headers(&[("x-gitea-signature", &mac)]),
                body
            ),
            push
        );
        assert_eq!(
            judge(
                &config,
                "s3cret",
                &headers(&[("x-gitlab-token", "s3cret")]),
                body
            ),
            push
        );
        for bad in [
            headers(&[("x-hub-signature-256", &mac)]),
            headers(&[("x-gitea-signature", &github)]),
            headers(&[("x-gitlab-token", "s3cre")]),
            headers(&[]),
        ] {
            assert!(matches!(
                judge(&config, "s3cret", &bad, body),
                Verdict::Unauthorized(_)
            ));
        }
        // The signature is the body's: another body does not pass.
        assert!(matches!(
            judge(
                &config,
                "s3cret",
                &headers(&[("x-gitea-signature", &mac)]),
                b"{}"
            ),
            Verdict::Unauthorized(_)
        ));
        let other = br#"{"ref":"refs/heads/dev","repository":{"clone_url":"https://git.example.test/org/shop"}}"#;
        assert!(matches!(
            judge(
                &config,
                "s3cret",
                &headers(&[("x-gitlab-token", "s3cret")]),
                other
            ),
            Verdict::Ignored(_)
        ));
        assert!(matches!(
            judge(
                &config,
                "s3cret",
                &headers(&[("x-gitlab-token", "s3cret")]),
                b"not json"
            ),
            Verdict::BadRequest(_)
        ));
    }

    #[test]
    fn refs() {
        assert!(ref_matches(Some("main"), "refs/heads/main"));
        assert!(ref_matches(Some("refs/heads/main"), "refs/heads/main"));
        assert!(!ref_matches(Some("main"), "refs/heads/dev"));
        assert!(ref_matches(None, "refs/heads/dev"));
        assert!(!ref_matches(None, "refs/tags/v1"));
        assert!(ref_matches(Some("v1"), "refs/tags/v1"));
    }
}
