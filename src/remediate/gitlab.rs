//! The GitLab provider: a remediation merge request through GitLab's REST API (v4). The commit
//! is made by the commits API on the scanned commit (`start_sha`, `force` for gitdrift's own
//! branch), so no git push is needed: only a token with `api` scope (sent as `PRIVATE-TOKEN`).
//! Same contract as the GitHub provider: one branch and merge request per source and target,
//! nothing written for the same plan, gitdrift's commit replaced for a changed one, the merge
//! request closed with a note once drift is gone, and a branch someone else has committed to
//! left alone (said once in a note). The base URL is configurable (self-hosted GitLab).

use reqwest::{Method, StatusCode};

use super::api::{Api, closing_comment, left_alone_comment, said_left_alone};
use serde_json::{Value, json};

use super::FileChange;
use super::local::{AUTHOR, Outcome};

/// Records gitdrift's commit in a merge request's description.
const HEAD: &str = "<!-- gitdrift:head ";

/// A GitLab project, through the API.
pub struct GitLab {
    api: Api,
}

/// Percent-encodes everything but unreserved characters (project paths, branches, file paths
/// are path segments or query values).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl GitLab {
    /// A client for the project `group/name` at `api` (`https://gitlab.example.com/api/v4`).
    pub fn new(api: &str, token: String, project: &str) -> Result<GitLab, String> {
        Ok(GitLab {
            api: Api::new(
                "GitLab",
                format!("{}/projects/{}", api.trim_end_matches('/'), encode(project)),
                ("PRIVATE-TOKEN", token),
                &[],
            )?,
        })
    }

    /// Brings the branch and merge request of a source and target in line with `changes`.
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
        let project = self
            .api
            .ok(Method::GET, "", None, "read the project")
            .await?;
        let default_branch = project["default_branch"]
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
                &format!("/repository/branches/{}", encode(branch)),
                None,
                "read the branch",
            )
            .await?;
        let tip = (status != StatusCode::NOT_FOUND).then(|| tip["commit"].clone());
        let open = self
            .api
            .ok(
                Method::GET,
                &format!(
                    "/merge_requests?state=opened&source_branch={}",
                    encode(branch)
                ),
                None,
                "list merge requests",
            )
            .await?;
        let request = open.as_array().and_then(|m| m.first()).cloned();
        let url = request
            .as_ref()
            .and_then(|m| m["web_url"].as_str().map(str::to_string));
        // The commits API commits as the token's user: gitdrift's commit is the one the merge
        // request's description records; any other tip is someone else's work.
        let recorded = request
            .as_ref()
            .and_then(|m| m["description"].as_str())
            .and_then(|d| d.split(HEAD).nth(1))
            .and_then(|rest| rest.split(' ').next())
            .map(str::to_string);
        let rewritten = match (&tip, &recorded) {
            (Some(tip), Some(recorded)) => tip["id"].as_str() != Some(recorded.as_str()),
            _ => false,
        };
        if let Some(tip) = &tip
            && (tip["author_email"].as_str() != Some(AUTHOR.1) || rewritten)
        {
            if let Some(m) = &request {
                self.note_once(m, branch).await?;
            }
            return Ok((
                Outcome::LeftAlone {
                    reason: format!(
                        "{branch} has a commit by {} on top of gitdrift's: it is not force-pushed",
                        tip["author_name"].as_str().unwrap_or("someone else")
                    ),
                },
                url,
            ));
        }
        if tip.is_some() && request.is_none() {
            let closed = self
                .api
                .ok(
                    Method::GET,
                    &format!(
                        "/merge_requests?state=closed&source_branch={}",
                        encode(branch)
                    ),
                    None,
                    "list closed merge requests",
                )
                .await?;
            if closed.as_array().is_some_and(|c| !c.is_empty()) {
                return Ok((
                    Outcome::LeftAlone {
                        reason: format!(
                            "the merge request from {branch} was closed by hand: delete the branch for gitdrift to propose again"
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
            if let Some(m) = &request {
                let iid = m["iid"].as_u64().unwrap_or(0);
                self.api
                    .ok(
                        Method::POST,
                        &format!("/merge_requests/{iid}/notes"),
                        Some(closing_comment("merge request")),
                        "add a note",
                    )
                    .await?;
                self.api
                    .ok(
                        Method::PUT,
                        &format!("/merge_requests/{iid}"),
                        Some(json!({"state_event": "close"})),
                        "close the merge request",
                    )
                    .await?;
            }
            self.api
                .call(
                    Method::DELETE,
                    &format!("/repository/branches/{}", encode(branch)),
                    None,
                    "delete the branch",
                )
                .await?;
            return Ok((Outcome::Closed, url));
        }
        // Unchanged: gitdrift's commit on the scanned commit, changing exactly these files, to
        // what the plan says.
        let mut unchanged = false;
        if let Some(tip) = &tip
            && tip["parent_ids"][0].as_str() == Some(base)
        {
            let compared = self
                .api
                .ok(
                    Method::GET,
                    &format!("/repository/compare?from={base}&to={}", encode(branch)),
                    None,
                    "compare the branch",
                )
                .await?;
            let mut on_branch: Vec<&str> = compared["diffs"]
                .as_array()
                .map(|d| d.iter().filter_map(|d| d["new_path"].as_str()).collect())
                .unwrap_or_default();
            let mut planned: Vec<&str> = changes.iter().map(|c| c.file.as_str()).collect();
            on_branch.sort();
            planned.sort();
            unchanged = on_branch == planned;
            for change in changes {
                if !unchanged {
                    break;
                }
                let path = format!(
                    "/repository/files/{}/raw?ref={}",
                    encode(&change.file),
                    encode(branch)
                );
                if self.api.text(&path, "read a file").await?.as_deref()
                    != Some(change.after.as_str())
                {
                    unchanged = false;
                }
            }
        }
        let outcome = if unchanged {
            Outcome::Unchanged {
                commit: tip
                    .as_ref()
                    .and_then(|t| t["id"].as_str())
                    .unwrap_or_default()
                    .to_string(),
            }
        } else {
            let actions: Vec<Value> = changes
                .iter()
                .map(|c| {
                    let action = if c.new_file { "create" } else { "update" };
                    json!({"action": action, "file_path": c.file, "content": c.after})
                })
                .collect();
            let commit = self
                .api
                .ok(
                    Method::POST,
                    "/repository/commits",
                    Some(json!({
                        "branch": branch,
                        "start_sha": base,
                        "force": true,
                        "commit_message": title,
                        "author_name": AUTHOR.0,
                        "author_email": AUTHOR.1,
                        "actions": actions,
                    })),
                    "create the commit",
                )
                .await?;
            let id = commit["id"].as_str().ok_or("no commit id")?.to_string();
            if tip.is_some() {
                Outcome::Updated { commit: id }
            } else {
                Outcome::Opened { commit: id }
            }
        };
        let head = match &outcome {
            Outcome::Opened { commit }
            | Outcome::Updated { commit }
            | Outcome::Unchanged { commit } => commit.clone(),
            _ => String::new(),
        };
        let body = format!("{body}\n{HEAD}{head} -->\n");
        let body = body.as_str();
        let url = match request {
            None => {
                let created = self
                    .api
                    .ok(
                        Method::POST,
                        "/merge_requests",
                        Some(json!({
                            "source_branch": branch,
                            "target_branch": into,
                            "title": title,
                            "description": body,
                            "labels": labels.join(","),
                            "remove_source_branch": true,
                        })),
                        "open the merge request",
                    )
                    .await?;
                created["web_url"].as_str().map(str::to_string)
            }
            Some(m) => {
                if m["title"].as_str() != Some(title)
                    || !super::same_description(m["description"].as_str().unwrap_or(""), body)
                {
                    let iid = m["iid"].as_u64().unwrap_or(0);
                    self.api
                        .ok(
                            Method::PUT,
                            &format!("/merge_requests/{iid}"),
                            Some(json!({"title": title, "description": body})),
                            "update the merge request",
                        )
                        .await?;
                }
                m["web_url"].as_str().map(str::to_string)
            }
        };
        Ok((outcome, url))
    }

    async fn note_once(&self, request: &Value, branch: &str) -> Result<(), String> {
        let iid = request["iid"].as_u64().unwrap_or(0);
        let path = format!("/merge_requests/{iid}/notes");
        let notes = self.api.ok(Method::GET, &path, None, "list notes").await?;
        if !said_left_alone(&notes) {
            let body = left_alone_comment(branch, "merge request");
            self.api
                .ok(Method::POST, &path, Some(body), "add a note")
                .await?;
        }
        Ok(())
    }
}
