//! The GitHub provider: a remediation pull request made entirely through GitHub's REST API
//! (blobs, a tree on the scanned commit's tree, a commit, a branch ref, the pull request), so no
//! git push and no clone with write access is needed: only a token with contents and
//! pull-request scope. One branch and pull request per source and target; idempotent: the same
//! plan changes nothing, a changed plan replaces gitdrift's commit and the description, no plan
//! closes the pull request with a comment. A branch someone else has committed to is never
//! force-pushed: gitdrift says so in a comment instead. The base URL is configurable (GitHub
//! Enterprise: `https://HOST/api/v3`). The token is never logged.

use reqwest::{Method, StatusCode};

use super::api::{Api, closing_comment, left_alone_comment, said_left_alone};
use serde_json::{Value, json};

use super::FileChange;
use super::local::{AUTHOR, Outcome};

/// A GitHub repository, through the API.
pub struct GitHub {
    api: Api,
    repo: String,
}

impl GitHub {
    /// A client for `owner/name` at `api` (no trailing slash).
    pub fn new(api: &str, token: String, repo: &str) -> Result<GitHub, String> {
        Ok(GitHub {
            api: Api::new(
                "GitHub",
                format!("{}/repos/{repo}", api.trim_end_matches('/')),
                ("Authorization", format!("Bearer {token}")),
                &[
                    ("Accept", "application/vnd.github+json"),
                    ("X-GitHub-Api-Version", "2022-11-28"),
                ],
            )?,
            repo: repo.to_string(),
        })
    }

    /// The open pull request from `branch`, if any.
    async fn open_pull(&self, branch: &str) -> Result<Option<Value>, String> {
        let owner = self.repo.split('/').next().unwrap_or("");
        let pulls = self
            .api
            .ok(
                Method::GET,
                &format!("/pulls?state=open&head={owner}:{branch}"),
                None,
                "list pull requests",
            )
            .await?;
        Ok(pulls.as_array().and_then(|p| p.first()).cloned())
    }

    /// Brings the branch and pull request of a source and target in line with `changes`.
    #[allow(clippy::too_many_arguments)]
    pub async fn apply(
        &self,
        branch: &str,
        base: &str,
        into: Option<&str>,
        changes: &[&FileChange],
        title: &str,
        body: &str,
        labels: &[String],
        close_when_gone: bool,
    ) -> Result<(Outcome, Option<String>), String> {
        let repo = self
            .api
            .ok(Method::GET, "", None, "read the repository")
            .await?;
        let default_branch = repo["default_branch"]
            .as_str()
            .unwrap_or("main")
            .to_string();
        // The request goes into the branch the source is read from (or the default one).
        let into = into.unwrap_or(&default_branch).to_string();
        if branch == default_branch || branch == into {
            return Err(format!("refusing to write to the branch {branch} itself"));
        }
        let (status, tip) = self
            .api
            .call(
                Method::GET,
                &format!("/git/ref/heads/{branch}"),
                None,
                "read the branch",
            )
            .await?;
        let tip = (status != StatusCode::NOT_FOUND)
            .then(|| tip["object"]["sha"].as_str().map(str::to_string))
            .flatten();
        let pull = self.open_pull(branch).await?;
        let url = pull
            .as_ref()
            .and_then(|p| p["html_url"].as_str().map(str::to_string));
        if let Some(tip) = &tip {
            let commit = self
                .api
                .ok(
                    Method::GET,
                    &format!("/git/commits/{tip}"),
                    None,
                    "read the branch's commit",
                )
                .await?;
            // An amended or rebased commit keeps its author but not its committer.
            let foreign = commit["author"]["email"].as_str() != Some(AUTHOR.1)
                || commit["committer"]["email"]
                    .as_str()
                    .is_some_and(|e| e != AUTHOR.1);
            if foreign {
                if let Some(p) = &pull {
                    self.comment_once(p, branch).await?;
                }
                return Ok((
                    Outcome::LeftAlone {
                        reason: format!(
                            "{branch} has a commit by {} on top of gitdrift's: it is not force-pushed",
                            commit["author"]["name"].as_str().unwrap_or("someone else")
                        ),
                    },
                    url,
                ));
            }
        }
        if tip.is_some() && pull.is_none() {
            let owner = self.repo.split('/').next().unwrap_or("");
            let closed = self
                .api
                .ok(
                    Method::GET,
                    &format!("/pulls?state=closed&head={owner}:{branch}"),
                    None,
                    "list closed pull requests",
                )
                .await?;
            if closed.as_array().is_some_and(|c| !c.is_empty()) {
                return Ok((
                    Outcome::LeftAlone {
                        reason: format!(
                            "the pull request from {branch} was closed by hand: delete the branch for gitdrift to propose again"
                        ),
                    },
                    None,
                ));
            }
        }
        if changes.is_empty() {
            if tip.is_none() {
                return Ok((Outcome::Nothing, None));
            }
            if !close_when_gone {
                return Ok((Outcome::Nothing, url));
            }
            if let Some(p) = &pull {
                let number = p["number"].as_u64().unwrap_or(0);
                self.api
                    .ok(
                        Method::POST,
                        &format!("/issues/{number}/comments"),
                        Some(closing_comment("pull request")),
                        "comment",
                    )
                    .await?;
                self.api
                    .ok(
                        Method::PATCH,
                        &format!("/pulls/{number}"),
                        Some(json!({"state": "closed"})),
                        "close the pull request",
                    )
                    .await?;
            }
            self.api
                .call(
                    Method::DELETE,
                    &format!("/git/refs/heads/{branch}"),
                    None,
                    "delete the branch",
                )
                .await?;
            return Ok((Outcome::Closed, url));
        }
        // The new tree: the scanned commit's tree with the edited files.
        let base_commit = self
            .api
            .ok(
                Method::GET,
                &format!("/git/commits/{base}"),
                None,
                "read the scanned commit",
            )
            .await?;
        let base_tree = base_commit["tree"]["sha"]
            .as_str()
            .ok_or("the scanned commit has no tree")?
            .to_string();
        let mut entries = Vec::new();
        for change in changes {
            let blob = self
                .api
                .ok(
                    Method::POST,
                    "/git/blobs",
                    Some(json!({"content": change.after, "encoding": "utf-8"})),
                    "create a blob",
                )
                .await?;
            entries.push(json!({
                "path": change.file,
                "mode": "100644",
                "type": "blob",
                "sha": blob["sha"],
            }));
        }
        let tree = self
            .api
            .ok(
                Method::POST,
                "/git/trees",
                Some(json!({"base_tree": base_tree, "tree": entries})),
                "create a tree",
            )
            .await?;
        let tree = tree["sha"].as_str().ok_or("no tree sha")?.to_string();
        let unchanged = match &tip {
            Some(tip) => {
                let commit = self
                    .api
                    .ok(
                        Method::GET,
                        &format!("/git/commits/{tip}"),
                        None,
                        "read the branch's commit",
                    )
                    .await?;
                commit["tree"]["sha"].as_str() == Some(tree.as_str())
                    && commit["parents"][0]["sha"].as_str() == Some(base)
            }
            None => false,
        };
        let outcome = if unchanged {
            Outcome::Unchanged {
                commit: tip.clone().unwrap_or_default(),
            }
        } else {
            let commit = self.api
                .ok(
                    Method::POST,
                    "/git/commits",
                    Some(json!({
                        "message": title,
                        "tree": tree,
                        "parents": [base],
                        "author": {"name": AUTHOR.0, "email": AUTHOR.1, "date": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)},
                    })),
                    "create a commit",
                )
                .await?;
            let sha = commit["sha"].as_str().ok_or("no commit sha")?.to_string();
            match &tip {
                None => {
                    self.api
                        .ok(
                            Method::POST,
                            "/git/refs",
                            Some(json!({"ref": format!("refs/heads/{branch}"), "sha": sha})),
                            "create the branch",
                        )
                        .await?;
                    Outcome::Opened { commit: sha }
                }
                Some(_) => {
                    // gitdrift's own commit is replaced (checked above: nobody else's is).
                    self.api
                        .ok(
                            Method::PATCH,
                            &format!("/git/refs/heads/{branch}"),
                            Some(json!({"sha": sha, "force": true})),
                            "update the branch",
                        )
                        .await?;
                    Outcome::Updated { commit: sha }
                }
            }
        };
        let url = match pull {
            None => {
                let created = self
                    .api
                    .ok(
                        Method::POST,
                        "/pulls",
                        Some(json!({"title": title, "head": branch, "base": into, "body": body})),
                        "open the pull request",
                    )
                    .await?;
                if !labels.is_empty()
                    && let Some(number) = created["number"].as_u64()
                {
                    self.api
                        .ok(
                            Method::POST,
                            &format!("/issues/{number}/labels"),
                            Some(json!({"labels": labels})),
                            "label the pull request",
                        )
                        .await?;
                }
                created["html_url"].as_str().map(str::to_string)
            }
            Some(p) => {
                if p["title"].as_str() != Some(title)
                    || !super::same_description(p["body"].as_str().unwrap_or(""), body)
                {
                    let number = p["number"].as_u64().unwrap_or(0);
                    self.api
                        .ok(
                            Method::PATCH,
                            &format!("/pulls/{number}"),
                            Some(json!({"title": title, "body": body})),
                            "update the pull request",
                        )
                        .await?;
                }
                p["html_url"].as_str().map(str::to_string)
            }
        };
        Ok((outcome, url))
    }

    /// Says once, on the pull request, that its branch will not be rewritten.
    async fn comment_once(&self, pull: &Value, branch: &str) -> Result<(), String> {
        let number = pull["number"].as_u64().unwrap_or(0);
        let path = format!("/issues/{number}/comments");
        let comments = self
            .api
            .ok(Method::GET, &path, None, "list comments")
            .await?;
        if !said_left_alone(&comments) {
            let body = left_alone_comment(branch, "pull request");
            self.api
                .ok(Method::POST, &path, Some(body), "comment")
                .await?;
        }
        Ok(())
    }
}

/// `owner/name` from a repository URL (`https://host/owner/name.git`, `git@host:owner/name`).
pub fn repository_of(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split_once('@').map_or(rest, |(_, r)| r);
    let path = rest.split_once(['/', ':']).map(|(_, p)| p)?;
    let path = path.trim_end_matches('/').trim_end_matches(".git");
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    (parts.len() >= 2).then(|| parts[parts.len() - 2..].join("/"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn repositories_from_urls() {
        use super::repository_of;
        assert_eq!(
            repository_of("https://github.com/org/shop.git").as_deref(),
            Some("org/shop")
        );
        assert_eq!(
            repository_of("git@github.com:org/shop.git").as_deref(),
            Some("org/shop")
        );
        assert_eq!(
            repository_of("https://x-access-token:t@ghe.example.com/org/shop").as_deref(),
            Some("org/shop")
        );
        assert_eq!(repository_of("https://github.com/shop"), None);
    }
}
