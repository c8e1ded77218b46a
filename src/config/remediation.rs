//! The `remediation:` block: which drift git should adopt from the live state (nothing unless
//! asked), and whether missing resources may be proposed for deletion from git and unmanaged
//! ones for import.
//!
//! ```yaml
//! remediation:
//!   adopt:                          # the live state wins for these (a selector, as ignore rules)
//!     - target: prod
//!       group: apps
//!       kind: Deployment
//!       namespace: shop
//!       name: web
//!       source: shop                # only resources declared by this source
//!       paths: ["/spec/replicas"]   # only these fields (and below); default: every drifted field
//!   delete_missing: false           # propose deleting declarations of missing resources
//!   import_unmanaged: false         # propose unmanaged resources as new manifests
//!   provider: local                 # where `remediate --open` proposes: a branch per source
//!   # provider: github                # or a pull request through GitHub's REST API:
//!   # github:
//!   #   api_url: https://api.github.com   # GitHub Enterprise: https://HOST/api/v3
//!   #   repository: org/shop              # default: from the source's URL
//!   #   token_env: GITDRIFT_GITHUB_TOKEN  # or token_file; contents and pull-request scope
//!   #   labels: [gitdrift]
//!   # provider: gitlab                # or a merge request through GitLab's API:
//!   # gitlab: {api_url: https://gitlab.example.com/api/v4, repository: group/shop, token_env: GITLAB_TOKEN}
//!   # provider: gitea                 # or Gitea / Forgejo:
//!   # gitea: {api_url: https://gitea.example.com/api/v1, repository: org/shop, token_env: GITEA_TOKEN}
//!   close_when_gone: true           # close the pull request (with a comment) once drift is gone
//!   in_service: false               # `serve` proposes after each scan of a target
//!   max_per_hour: 10                # …at most this many opened, updated or closed an hour
//! ```

use super::checker::Checker;
use super::node::Node;
use crate::model::Selector;
use crate::model::pointer::parse as parse_pointer;

/// Remediation settings.
#[derive(Clone, Debug)]
pub struct RemediationSettings {
    /// Drift to adopt from the live state.
    pub adopt: Vec<AdoptRule>,
    /// Propose deleting the declarations of missing resources.
    pub delete_missing: bool,
    /// Propose unmanaged resources as new manifests.
    pub import_unmanaged: bool,
    /// Where `remediate --open` proposes the change.
    pub provider: Option<Provider>,
    /// Close the pull request once its drift is gone.
    pub close_when_gone: bool,
    /// `serve` proposes after each scan of a target.
    pub in_service: bool,
    /// `serve` makes at most this many proposals (opened, updated or closed) an hour.
    pub max_per_hour: usize,
}

/// Where remediation proposes its changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Provider {
    /// A commit on a branch of the source's local repository.
    Local,
    /// A pull request through GitHub's REST API.
    GitHub(Hosting),
    /// A merge request through GitLab's REST API.
    GitLab(Hosting),
    /// A pull request through Gitea's or Forgejo's REST API.
    Gitea(Hosting),
}

/// A git hosting API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hosting {
    /// The API's base URL.
    pub api_url: String,
    /// `owner/name`; `None`: from each source's URL.
    pub repository: Option<String>,
    /// The token.
    pub token: super::SecretRef,
    /// Labels put on pull requests.
    pub labels: Vec<String>,
}

impl Default for RemediationSettings {
    fn default() -> Self {
        RemediationSettings {
            adopt: Vec::new(),
            delete_missing: false,
            import_unmanaged: false,
            provider: None,
            close_when_gone: true,
            in_service: false,
            max_per_hour: 10,
        }
    }
}

/// Resources (and fields) whose live state git should adopt.
#[derive(Clone, Debug)]
pub struct AdoptRule {
    /// Which resources.
    pub selector: Selector,
    /// Only resources declared by this source.
    pub source: Option<String>,
    /// Only these fields (JSON Pointer segments, prefixes); empty: every drifted field.
    pub paths: Vec<Vec<String>>,
    /// Line in the configuration file.
    pub line: u64,
}

impl AdoptRule {
    /// Whether the rule covers a drifted field of a resource.
    pub fn covers(&self, source: Option<&str>, path: &[String]) -> bool {
        self.source.as_deref().is_none_or(|s| Some(s) == source)
            && (self.paths.is_empty() || self.paths.iter().any(|p| path.starts_with(p)))
    }
}

/// Whether a hosting API URL may receive the token: `https://` to any host, or `http://` to
/// this machine only (tests, a local proxy), with the host compared exactly once parsed (so
/// `http://localhost.example.com` and `http://localhost@example.com` are refused), and no
/// credentials in the URL itself.
pub fn check_api_url(raw: &str) -> Result<(), &'static str> {
    let url = url::Url::parse(raw).map_err(|_| "is not a URL")?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials (use token_env or token_file)");
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(host)) => host.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err("has no host"),
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err("must be https:// (the token travels with every request)"),
    }
}

impl Checker {
    pub(super) fn remediation(&mut self, node: &Node) -> RemediationSettings {
        let mut settings = RemediationSettings::default();
        let Some(fields) = self.fields(node, "remediation") else {
            return settings;
        };
        if let Some(list) = fields.get("adopt") {
            for item in self.seq(list, "remediation.adopt") {
                let Some(f) = self.fields(item, "an adopt rule") else {
                    continue;
                };
                let selector = self.selector(&f);
                let source = self.optional(&f, "source", "adopt");
                let mut paths = Vec::new();
                if let Some(p) = f.get("paths") {
                    for pointer in self.string_list(p, "adopt.paths") {
                        match parse_pointer(&pointer) {
                            Ok(segments) => paths.push(segments),
                            Err(message) => self.error(p, format!("adopt.paths: {message}")),
                        }
                    }
                }
                settings.adopt.push(AdoptRule {
                    selector,
                    source,
                    paths,
                    line: item.line,
                });
            }
        }
        // Every hosting block is a key of the section, whichever provider is chosen.
        let (github, gitlab, gitea) = (
            fields.get("github"),
            fields.get("gitlab"),
            fields.get("gitea"),
        );
        if let Some(n) = fields.get("provider") {
            match self.string(n, "remediation.provider").as_deref() {
                Some("local") => settings.provider = Some(Provider::Local),
                Some("github") => match github {
                    Some(h) => {
                        settings.provider = self
                            .hosting(h, "remediation.github", "https://api.github.com")
                            .map(Provider::GitHub)
                    }
                    None => self.missing(
                        n,
                        "provider github needs a `github:` block (token_env or token_file)",
                    ),
                },
                Some("gitlab") => match gitlab {
                    Some(h) => {
                        settings.provider = self
                            .hosting(h, "remediation.gitlab", "https://gitlab.com/api/v4")
                            .map(Provider::GitLab)
                    }
                    None => self.missing(
                        n,
                        "provider gitlab needs a `gitlab:` block (token_env or token_file)",
                    ),
                },
                Some("gitea") => match gitea {
                    Some(h) => {
                        settings.provider = self
                            .hosting(h, "remediation.gitea", "https://gitea.com/api/v1")
                            .map(Provider::Gitea)
                    }
                    None => self.missing(
                        n,
                        "provider gitea needs a `gitea:` block (api_url, token_env or token_file)",
                    ),
                },
                Some(other) => self.error(
                    n,
                    format!(
                        "unknown remediation.provider `{other}`; known: local, github, gitlab, gitea"
                    ),
                ),
                None => {}
            }
        }
        for (key, slot) in [
            ("delete_missing", &mut settings.delete_missing),
            ("import_unmanaged", &mut settings.import_unmanaged),
            ("close_when_gone", &mut settings.close_when_gone),
            ("in_service", &mut settings.in_service),
        ] {
            if let Some(n) = fields.get(key) {
                match n.kind {
                    super::node::NodeKind::Bool(b) => *slot = b,
                    _ => self.error(n, format!("remediation.{key} must be true or false")),
                }
            }
        }
        if let Some(n) = fields.get("max_per_hour") {
            match n.kind {
                super::node::NodeKind::Int(i) if i >= 1 => settings.max_per_hour = i as usize,
                _ => self.error(
                    n,
                    "remediation.max_per_hour must be a whole number of at least 1",
                ),
            }
        }
        if settings.in_service && settings.provider.is_none() {
            self.missing(node, "remediation.in_service needs a `provider`");
        }
        settings
    }

    fn hosting(&mut self, node: &Node, what: &str, default_api: &str) -> Option<Hosting> {
        let fields = self.fields(node, what)?;
        let api_url = self
            .optional(&fields, "api_url", what)
            .unwrap_or_else(|| default_api.to_string());
        if let Err(why) = check_api_url(&api_url) {
            self.error(node, format!("{what}.api_url {why}"));
        }
        let repository = self.optional(&fields, "repository", what);
        if let Some(r) = &repository
            && r.split('/').filter(|p| !p.is_empty()).count() < 2
        {
            self.error(node, format!("{what}.repository must be `owner/name`"));
        }
        let token_env = self.optional(&fields, "token_env", what);
        let token_file = fields
            .get("token_file")
            .and_then(|n| self.path(n, &format!("{what}.token_file")));
        let labels = fields
            .get("labels")
            .map(|n| self.string_list(n, &format!("{what}.labels")))
            .unwrap_or_default();
        let token = match (token_env, token_file) {
            (Some(env), None) => super::SecretRef::Env(env),
            (None, Some(file)) => super::SecretRef::File(file),
            _ => {
                self.missing(
                    node,
                    format!("{what} needs one of `token_env` or `token_file`"),
                );
                return None;
            }
        };
        Some(Hosting {
            api_url: api_url.trim_end_matches('/').to_string(),
            repository,
            token,
            labels,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::check_api_url;

    #[test]
    fn api_urls_are_parsed_and_the_host_compared_exactly() {
        for good in [
            "https://api.github.com",
            "https://git.example.com/api/v4",
            "http://127.0.0.1:3000/api/v1",
            "http://localhost:8080",
            "http://[::1]:9000",
        ] {
            assert_eq!(check_api_url(good), Ok(()), "{good}");
        }
        for bad in [
            "http://localhost.evil.tld",
            "http://localhost@evil.tld",
            "http://127.0.0.1.evil.tld/api",
            "http://[::1].evil.tld",
            "https://user:pass@api.github.com",
            "http://api.github.com",
            "ftp://localhost",
            "localhost:3000",
        ] {
            assert!(check_api_url(bad).is_err(), "{bad}");
        }
    }
}
