//! The Gitea and Forgejo provider: a remediation pull request through their REST API (v1).
//! Their API has no way to commit on an arbitrary parent, so gitdrift's branch is created at the
//! scanned commit, and each plan is committed on top through the contents API with the files as
//! the plan wants them (and files an earlier plan changed put back as they were at the scanned
//! commit): the branch's diff against the scanned commit is always exactly the current plan.
//! Same contract as the other providers otherwise: idempotent, closed once drift is gone, a
//! branch with someone else's commit left alone (said once). Token sent as `Authorization:
//! token …`.

use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::api::{self, Api, Host, Proposal, Request, Tip, percent_encode};
use super::local::{AUTHOR, Outcome};
use super::{FileChange, RemediateError};

/// Marks the files a plan changed, in the pull request's body.
pub const FILES: &str = "<!-- gitdrift:files ";

/// A Gitea or Forgejo repository, through the API.
pub struct Gitea {
    api: Api,
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
}

fn unb64(text: &str) -> Option<String> {
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
}

/// A path (or branch name) with each segment percent-encoded and its slashes kept.
fn path_encode(s: &str) -> String {
    s.split('/')
        .map(percent_encode)
        .collect::<Vec<_>>()
        .join("/")
}

impl Gitea {
    /// A client for `owner/name` at `api` (`https://gitea.example.com/api/v1`).
    pub fn new(api: &str, token: String, repo: &str) -> Result<Gitea, RemediateError> {
        Ok(Gitea {
            api: Api::new(
                "Gitea",
                format!("{}/repos/{repo}", api.trim_end_matches('/')),
                ("Authorization", format!("token {token}")),
                &[],
            )?,
        })
    }

    /// The pull request in `state` from `branch`, looked for page by page (Gitea has no head
    /// filter).
    async fn find_pull(
        &self,
        state: &str,
        branch: &str,
    ) -> Result<Option<serde_json::Value>, RemediateError> {
        const LIMIT: usize = 50;
        for page in 1..=40 {
            let pulls = self
                .api
                .ok(
                    Method::GET,
                    &format!("/pulls?state={state}&limit={LIMIT}&page={page}"),
                    None,
                    "list pull requests",
                )
                .await?;
            let Some(pulls) = pulls.as_array() else {
                return Ok(None);
            };
            if let Some(p) = pulls
                .iter()
                .find(|p| p["head"]["ref"].as_str() == Some(branch))
            {
                return Ok(Some(p.clone()));
            }
            if pulls.len() < LIMIT {
                break;
            }
        }
        Ok(None)
    }

    /// A file at a ref: its blob sha and text.
    async fn file(
        &self,
        path: &str,
        reference: &str,
    ) -> Result<Option<(String, String)>, RemediateError> {
        let (status, file) = self
            .api
            .call(
                Method::GET,
                &format!(
                    "/contents/{}?ref={}",
                    path_encode(path),
                    path_encode(reference)
                ),
                None,
                "read a file",
            )
            .await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let sha = file["sha"].as_str().unwrap_or_default().to_string();
        let text = file["content"].as_str().and_then(unb64).unwrap_or_default();
        Ok(Some((sha, text)))
    }

    /// Brings the branch and pull request of a source and target in line with its plan.
    pub async fn apply(
        &self,
        p: &Proposal<'_>,
    ) -> Result<(Outcome, Option<String>), RemediateError> {
        api::apply(self, p).await
    }
}

impl Host for Gitea {
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
        let state = if open { "open" } else { "closed" };
        Ok(self.find_pull(state, branch).await?.map(|p| Request {
            id: p["number"].as_u64().unwrap_or(0),
            url: p["html_url"].as_str().map(str::to_string),
            title: p["title"].as_str().unwrap_or_default().to_string(),
            body: p["body"].as_str().unwrap_or_default().to_string(),
        }))
    }

    async fn tip(
        &self,
        branch: &str,
        base: &str,
        _open: Option<&Request>,
    ) -> Result<Option<Tip>, RemediateError> {
        let path = format!("/branches/{}", path_encode(branch));
        let (status, found) = self
            .api
            .call(Method::GET, &path, None, "read the branch")
            .await?;
        let Some(sha) = (status != StatusCode::NOT_FOUND)
            .then(|| found["commit"]["id"].as_str().map(str::to_string))
            .flatten()
        else {
            return Ok(None);
        };
        let commit = self
            .api
            .ok(
                Method::GET,
                &format!("/git/commits/{sha}"),
                None,
                "read the branch's commit",
            )
            .await?;
        // A branch still at the scanned commit is gitdrift's own (its first commit failed);
        // an amended or rebased commit keeps its author but not its committer.
        let foreign = sha != base
            && (commit["commit"]["author"]["email"].as_str() != Some(AUTHOR.1)
                || commit["commit"]["committer"]["email"]
                    .as_str()
                    .is_some_and(|e| e != AUTHOR.1));
        Ok(Some(Tip {
            foreign: foreign.then(|| {
                commit["commit"]["author"]["name"]
                    .as_str()
                    .unwrap_or("someone else")
                    .to_string()
            }),
            parent: commit["parents"][0]["sha"].as_str().map(str::to_string),
            tree: None,
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
        let path = format!("/pulls/{id}");
        let change = json!({"state": "closed"});
        self.api
            .ok(Method::PATCH, &path, Some(change), "close the pull request")
            .await?;
        Ok(())
    }

    async fn delete_branch(&self, branch: &str) -> Result<(), RemediateError> {
        let path = format!("/branches/{}", path_encode(branch));
        self.api
            .call(Method::DELETE, &path, None, "delete the branch")
            .await?;
        Ok(())
    }

    /// The branch starts at the scanned commit; each plan is committed on top with every file
    /// as the plan wants it, and files an earlier plan changed (listed in the open request's
    /// description) put back as they are at the scanned commit, or deleted if it lacks them.
    async fn commit(
        &self,
        branch: &str,
        base: &str,
        tip: Option<&Tip>,
        changes: &[&FileChange],
        message: &str,
        open: Option<&Request>,
    ) -> Result<Option<String>, RemediateError> {
        if tip.is_none() {
            let create = json!({"new_branch_name": branch, "old_ref_name": base});
            self.api
                .ok(Method::POST, "/branches", Some(create), "create the branch")
                .await?;
        }
        let mut wanted: Vec<(String, String)> = changes
            .iter()
            .map(|c| (c.file.clone(), c.after.clone()))
            .collect();
        let earlier: Vec<String> = open
            .and_then(|p| p.body.split(FILES).nth(1))
            .and_then(|rest| rest.split(" -->").next())
            .map(|list| list.split(',').map(str::to_string).collect())
            .unwrap_or_default();
        let mut operations = Vec::new();
        for file in earlier {
            if file.is_empty() || wanted.iter().any(|(f, _)| *f == file) {
                continue;
            }
            match self.file(&file, base).await? {
                Some((_, text)) => wanted.push((file, text)),
                // A file an earlier plan created (an import): it goes.
                None => {
                    if let Some((sha, _)) = self.file(&file, branch).await? {
                        operations.push(json!({"operation": "delete", "path": file, "sha": sha}));
                    }
                }
            }
        }
        for (file, text) in &wanted {
            match self.file(file, branch).await? {
                Some((_, current)) if current == *text => {}
                Some((sha, _)) => operations.push(json!({
                    "operation": "update", "path": file, "content": b64(text), "sha": sha,
                })),
                None => operations.push(json!({
                    "operation": "create", "path": file, "content": b64(text),
                })),
            }
        }
        if operations.is_empty() {
            return Ok(None);
        }
        let commit = json!({
            "branch": branch,
            "message": message,
            "author": {"name": AUTHOR.0, "email": AUTHOR.1},
            "committer": {"name": AUTHOR.0, "email": AUTHOR.1},
            "files": operations,
        });
        let commit = self
            .api
            .ok(Method::POST, "/contents", Some(commit), "commit the files")
            .await?;
        Ok(Some(
            commit["commit"]["sha"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ))
    }

    /// The description lists the plan's files, so a later plan can put them back.
    fn describe(&self, body: &str, changes: &[&FileChange], _commit: &str) -> String {
        let files: Vec<&str> = changes.iter().map(|c| c.file.as_str()).collect();
        format!("{body}\n{FILES}{} -->\n", files.join(","))
    }

    async fn open(
        &self,
        branch: &str,
        into: &str,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> Result<Option<String>, RemediateError> {
        // Labels go by id.
        let known = self
            .api
            .ok(Method::GET, "/labels", None, "list labels")
            .await?;
        let ids: Vec<u64> = known
            .as_array()
            .map(|l| {
                l.iter()
                    .filter(|l| labels.iter().any(|n| l["name"].as_str() == Some(n)))
                    .filter_map(|l| l["id"].as_u64())
                    .collect()
            })
            .unwrap_or_default();
        let pull =
            json!({"head": branch, "base": into, "title": title, "body": body, "labels": ids});
        let created = self
            .api
            .ok(Method::POST, "/pulls", Some(pull), "open the pull request")
            .await?;
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
