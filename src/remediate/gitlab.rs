//! The GitLab provider: a remediation merge request through GitLab's REST API (v4). The commit
//! is made by the commits API on the scanned commit (`start_sha`, `force` for gitdrift's own
//! branch), so no git push is needed: only a token with `api` scope (sent as `PRIVATE-TOKEN`).
//! Same contract as the GitHub provider: one branch and merge request per source and target,
//! nothing written for the same plan, gitdrift's commit replaced for a changed one, the merge
//! request closed with a note once drift is gone, and a branch someone else has committed to
//! left alone (said once in a note). The base URL is configurable (self-hosted GitLab).

use reqwest::{Method, StatusCode};

use super::api::{self, Api, Host, Proposal, Request, Tip, percent_encode as encode};
use serde_json::{Value, json};

use super::local::{AUTHOR, Outcome};
use super::{FileChange, RemediateError};

/// Records gitdrift's commit in a merge request's description.
const HEAD: &str = "<!-- gitdrift:head ";

/// A GitLab project, through the API.
pub struct GitLab {
    api: Api,
}

impl GitLab {
    /// A client for the project `group/name` at `api` (`https://gitlab.example.com/api/v4`).
    pub fn new(api: &str, token: String, project: &str) -> Result<GitLab, RemediateError> {
        Ok(GitLab {
            api: Api::new(
                "GitLab",
                format!("{}/projects/{}", api.trim_end_matches('/'), encode(project)),
                ("PRIVATE-TOKEN", token),
                &[],
            )?,
        })
    }

    /// Brings the branch and merge request of a source and target in line with its plan.
    pub async fn apply(
        &self,
        p: &Proposal<'_>,
    ) -> Result<(Outcome, Option<String>), RemediateError> {
        api::apply(self, p).await
    }
}

fn request(m: &Value) -> Request {
    Request {
        id: m["iid"].as_u64().unwrap_or(0),
        url: m["web_url"].as_str().map(str::to_string),
        title: m["title"].as_str().unwrap_or_default().to_string(),
        body: m["description"].as_str().unwrap_or_default().to_string(),
    }
}

impl Host for GitLab {
    fn noun(&self) -> &'static str {
        "merge request"
    }

    async fn default_branch(&self) -> Result<String, RemediateError> {
        let project = self
            .api
            .ok(Method::GET, "", None, "read the project")
            .await?;
        Ok(project["default_branch"]
            .as_str()
            .unwrap_or("main")
            .to_string())
    }

    async fn request(&self, branch: &str, open: bool) -> Result<Option<Request>, RemediateError> {
        let state = if open { "opened" } else { "closed" };
        let path = format!(
            "/merge_requests?state={state}&source_branch={}",
            encode(branch)
        );
        let found = self
            .api
            .ok(Method::GET, &path, None, "list merge requests")
            .await?;
        Ok(found.as_array().and_then(|m| m.first()).map(request))
    }

    /// The commits API commits as the token's user: gitdrift's commit is the one the merge
    /// request's description records; any other tip is someone else's work.
    async fn tip(
        &self,
        branch: &str,
        _base: &str,
        open: Option<&Request>,
    ) -> Result<Option<Tip>, RemediateError> {
        let path = format!("/repository/branches/{}", encode(branch));
        let (status, found) = self
            .api
            .call(Method::GET, &path, None, "read the branch")
            .await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let commit = &found["commit"];
        let sha = commit["id"].as_str().unwrap_or_default().to_string();
        let recorded = open
            .and_then(|m| m.body.split(HEAD).nth(1))
            .and_then(|rest| rest.split(' ').next());
        let rewritten = recorded.is_some_and(|r| r != sha);
        let foreign = commit["author_email"].as_str() != Some(AUTHOR.1) || rewritten;
        Ok(Some(Tip {
            foreign: foreign.then(|| {
                commit["author_name"]
                    .as_str()
                    .unwrap_or("someone else")
                    .to_string()
            }),
            parent: commit["parent_ids"][0].as_str().map(str::to_string),
            tree: None,
            sha,
        }))
    }

    async fn comments(&self, id: u64) -> Result<Value, RemediateError> {
        let path = format!("/merge_requests/{id}/notes");
        self.api.ok(Method::GET, &path, None, "list notes").await
    }

    async fn comment(&self, id: u64, body: Value) -> Result<(), RemediateError> {
        let path = format!("/merge_requests/{id}/notes");
        self.api
            .ok(Method::POST, &path, Some(body), "add a note")
            .await?;
        Ok(())
    }

    async fn close(&self, id: u64) -> Result<(), RemediateError> {
        let path = format!("/merge_requests/{id}");
        let change = json!({"state_event": "close"});
        self.api
            .ok(Method::PUT, &path, Some(change), "close the merge request")
            .await?;
        Ok(())
    }

    async fn delete_branch(&self, branch: &str) -> Result<(), RemediateError> {
        let path = format!("/repository/branches/{}", encode(branch));
        self.api
            .call(Method::DELETE, &path, None, "delete the branch")
            .await?;
        Ok(())
    }

    /// Unchanged when gitdrift's commit sits on the scanned commit changing exactly these
    /// files to what the plan says; otherwise a new commit on the scanned commit (`force`
    /// replaces gitdrift's own).
    async fn commit(
        &self,
        branch: &str,
        base: &str,
        tip: Option<&Tip>,
        changes: &[&FileChange],
        message: &str,
        _open: Option<&Request>,
    ) -> Result<Option<String>, RemediateError> {
        if tip.is_some_and(|t| t.parent.as_deref() == Some(base)) {
            let path = format!("/repository/compare?from={base}&to={}", encode(branch));
            let compared = self
                .api
                .ok(Method::GET, &path, None, "compare the branch")
                .await?;
            let mut on_branch: Vec<&str> = compared["diffs"]
                .as_array()
                .map(|d| d.iter().filter_map(|d| d["new_path"].as_str()).collect())
                .unwrap_or_default();
            let mut planned: Vec<&str> = changes.iter().map(|c| c.file.as_str()).collect();
            on_branch.sort();
            planned.sort();
            let mut unchanged = on_branch == planned;
            for change in changes {
                if !unchanged {
                    break;
                }
                let path = format!(
                    "/repository/files/{}/raw?ref={}",
                    encode(&change.file),
                    encode(branch)
                );
                let text = self.api.text(&path, "read a file").await?;
                unchanged = text.as_deref() == Some(change.after.as_str());
            }
            if unchanged {
                return Ok(None);
            }
        }
        let actions: Vec<Value> = changes
            .iter()
            .map(|c| {
                let action = if c.new_file { "create" } else { "update" };
                json!({"action": action, "file_path": c.file, "content": c.after})
            })
            .collect();
        let commit = json!({
            "branch": branch,
            "start_sha": base,
            "force": true,
            "commit_message": message,
            "author_name": AUTHOR.0,
            "author_email": AUTHOR.1,
            "actions": actions,
        });
        let commit = self
            .api
            .ok(
                Method::POST,
                "/repository/commits",
                Some(commit),
                "create the commit",
            )
            .await?;
        Ok(Some(
            commit["id"]
                .as_str()
                .ok_or_else(|| RemediateError::Refused("no commit id".to_string()))?
                .to_string(),
        ))
    }

    /// The description records gitdrift's commit (see [`Host::tip`]).
    fn describe(&self, body: &str, _changes: &[&FileChange], commit: &str) -> String {
        format!("{body}\n{HEAD}{commit} -->\n")
    }

    async fn open(
        &self,
        branch: &str,
        into: &str,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> Result<Option<String>, RemediateError> {
        let request = json!({
            "source_branch": branch,
            "target_branch": into,
            "title": title,
            "description": body,
            "labels": labels.join(","),
            "remove_source_branch": true,
        });
        let created = self
            .api
            .ok(
                Method::POST,
                "/merge_requests",
                Some(request),
                "open the merge request",
            )
            .await?;
        Ok(created["web_url"].as_str().map(str::to_string))
    }

    async fn update(&self, id: u64, title: &str, body: &str) -> Result<(), RemediateError> {
        let path = format!("/merge_requests/{id}");
        let change = json!({"title": title, "description": body});
        self.api
            .ok(Method::PUT, &path, Some(change), "update the merge request")
            .await?;
        Ok(())
    }
}
