//! The GitHub provider: a remediation pull request made entirely through GitHub's REST API
//! (blobs, a tree on the scanned commit's tree, a commit, a branch ref, the pull request), so no
//! git push and no clone with write access is needed: only a token with contents and
//! pull-request scope. One branch and pull request per source and target; idempotent: the same
//! plan changes nothing, a changed plan replaces gitdrift's commit and the description, no plan
//! closes the pull request with a comment. A branch someone else has committed to is never
//! force-pushed: gitdrift says so in a comment instead. The base URL is configurable (GitHub
//! Enterprise: `https://HOST/api/v3`). The token is never logged.

use reqwest::{Method, StatusCode};

use serde_json::{Value, json};

use super::api::{self, Api, Host, Proposal, Request, Tip};

use super::local::{AUTHOR, Outcome};
use super::{FileChange, RemediateError};

/// A GitHub repository, through the API.
pub struct GitHub {
    api: Api,
    repo: String,
}

impl GitHub {
    /// A client for `owner/name` at `api` (no trailing slash).
    pub fn new(api: &str, token: String, repo: &str) -> Result<GitHub, RemediateError> {
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

    /// Brings the branch and pull request of a source and target in line with its plan.
    pub async fn apply(
        &self,
        p: &Proposal<'_>,
    ) -> Result<(Outcome, Option<String>), RemediateError> {
        api::apply(self, p).await
    }

    async fn read_commit(&self, sha: &str, what: &str) -> Result<Value, RemediateError> {
        self.api
            .ok(Method::GET, &format!("/git/commits/{sha}"), None, what)
            .await
    }
}

fn request(p: &Value) -> Request {
    Request {
        id: p["number"].as_u64().unwrap_or(0),
        url: p["html_url"].as_str().map(str::to_string),
        title: p["title"].as_str().unwrap_or_default().to_string(),
        body: p["body"].as_str().unwrap_or_default().to_string(),
    }
}

impl Host for GitHub {
    fn noun(&self) -> &'static str {
        "pull request"
    }

    async fn default_branch(&self) -> Result<String, RemediateError> {
        let repo = self
            .api
            .ok(Method::GET, "", None, "read the repository")
            .await?;
        Ok(repo["default_branch"]
            .as_str()
            .unwrap_or("main")
            .to_string())
    }

    async fn request(&self, branch: &str, open: bool) -> Result<Option<Request>, RemediateError> {
        let owner = self.repo.split('/').next().unwrap_or("");
        let state = if open { "open" } else { "closed" };
        let pulls = self
            .api
            .ok(
                Method::GET,
                &format!("/pulls?state={state}&head={owner}:{branch}"),
                None,
                "list pull requests",
            )
            .await?;
        Ok(pulls.as_array().and_then(|p| p.first()).map(request))
    }

    async fn tip(
        &self,
        branch: &str,
        _base: &str,
        _open: Option<&Request>,
    ) -> Result<Option<Tip>, RemediateError> {
        let (status, found) = self
            .api
            .call(
                Method::GET,
                &format!("/git/ref/heads/{branch}"),
                None,
                "read the branch",
            )
            .await?;
        let Some(sha) = (status != StatusCode::NOT_FOUND)
            .then(|| found["object"]["sha"].as_str().map(str::to_string))
            .flatten()
        else {
            return Ok(None);
        };
        let commit = self.read_commit(&sha, "read the branch's commit").await?;
        // An amended or rebased commit keeps its author but not its committer.
        let foreign = commit["author"]["email"].as_str() != Some(AUTHOR.1)
            || commit["committer"]["email"]
                .as_str()
                .is_some_and(|e| e != AUTHOR.1);
        Ok(Some(Tip {
            foreign: foreign.then(|| {
                commit["author"]["name"]
                    .as_str()
                    .unwrap_or("someone else")
                    .to_string()
            }),
            parent: commit["parents"][0]["sha"].as_str().map(str::to_string),
            tree: commit["tree"]["sha"].as_str().map(str::to_string),
            sha,
        }))
    }

    async fn comments(&self, id: u64) -> Result<Value, RemediateError> {
        let path = format!("/issues/{id}/comments");
        self.api.ok(Method::GET, &path, None, "list comments").await
    }

    async fn comment(&self, id: u64, body: Value) -> Result<(), RemediateError> {
        let path = format!("/issues/{id}/comments");
        self.api
            .ok(Method::POST, &path, Some(body), "comment")
            .await?;
        Ok(())
    }

    async fn close(&self, id: u64) -> Result<(), RemediateError> {
        let body = json!({"state": "closed"});
        let path = format!("/pulls/{id}");
        self.api
            .ok(Method::PATCH, &path, Some(body), "close the pull request")
            .await?;
        Ok(())
    }

    async fn delete_branch(&self, branch: &str) -> Result<(), RemediateError> {
        let path = format!("/git/refs/heads/{branch}");
        self.api
            .call(Method::DELETE, &path, None, "delete the branch")
            .await?;
        Ok(())
    }

    /// A tree on the scanned commit's tree with the edited files, a commit on the scanned
    /// commit, and the branch pointing at it (gitdrift's own earlier commit replaced).
    async fn commit(
        &self,
        branch: &str,
        base: &str,
        tip: Option<&Tip>,
        changes: &[&FileChange],
        message: &str,
        _open: Option<&Request>,
    ) -> Result<Option<String>, RemediateError> {
        let base_commit = self.read_commit(base, "read the scanned commit").await?;
        let base_tree = base_commit["tree"]["sha"]
            .as_str()
            .ok_or_else(|| RemediateError::Refused("the scanned commit has no tree".to_string()))?
            .to_string();
        let mut entries = Vec::new();
        for change in changes {
            let content = json!({"content": change.after, "encoding": "utf-8"});
            let blob = self
                .api
                .ok(Method::POST, "/git/blobs", Some(content), "create a blob")
                .await?;
            entries.push(json!({
                "path": change.file,
                "mode": "100644",
                "type": "blob",
                "sha": blob["sha"],
            }));
        }
        let tree = json!({"base_tree": base_tree, "tree": entries});
        let tree = self
            .api
            .ok(Method::POST, "/git/trees", Some(tree), "create a tree")
            .await?;
        let tree = tree["sha"]
            .as_str()
            .ok_or_else(|| RemediateError::Refused("no tree sha".to_string()))?
            .to_string();
        if let Some(tip) = tip
            && tip.tree.as_deref() == Some(tree.as_str())
            && tip.parent.as_deref() == Some(base)
        {
            return Ok(None);
        }
        let date = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let commit = json!({
            "message": message,
            "tree": tree,
            "parents": [base],
            "author": {"name": AUTHOR.0, "email": AUTHOR.1, "date": date},
        });
        let commit = self
            .api
            .ok(
                Method::POST,
                "/git/commits",
                Some(commit),
                "create a commit",
            )
            .await?;
        let sha = commit["sha"]
            .as_str()
            .ok_or_else(|| RemediateError::Refused("no commit sha".to_string()))?
            .to_string();
        match tip {
            None => {
                let reference = json!({"ref": format!("refs/heads/{branch}"), "sha": sha});
                self.api
                    .ok(
                        Method::POST,
                        "/git/refs",
                        Some(reference),
                        "create the branch",
                    )
                    .await?;
            }
            Some(_) => {
                let reference = json!({"sha": sha, "force": true});
                let path = format!("/git/refs/heads/{branch}");
                self.api
                    .ok(Method::PATCH, &path, Some(reference), "update the branch")
                    .await?;
            }
        }
        Ok(Some(sha))
    }

    async fn open(
        &self,
        branch: &str,
        into: &str,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> Result<Option<String>, RemediateError> {
        let pull = json!({"title": title, "head": branch, "base": into, "body": body});
        let created = self
            .api
            .ok(Method::POST, "/pulls", Some(pull), "open the pull request")
            .await?;
        if !labels.is_empty()
            && let Some(number) = created["number"].as_u64()
        {
            let path = format!("/issues/{number}/labels");
            let labels = json!({"labels": labels});
            self.api
                .ok(Method::POST, &path, Some(labels), "label the pull request")
                .await?;
        }
        Ok(created["html_url"].as_str().map(str::to_string))
    }

    async fn update(&self, id: u64, title: &str, body: &str) -> Result<(), RemediateError> {
        let path = format!("/pulls/{id}");
        let change = json!({"title": title, "body": body});
        self.api
            .ok(
                Method::PATCH,
                &path,
                Some(change),
                "update the pull request",
            )
            .await?;
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
