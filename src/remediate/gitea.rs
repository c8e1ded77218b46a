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
use serde_json::json;

use super::FileChange;
use super::api::{Api, closing_comment, left_alone_comment, said_left_alone};
use super::local::{AUTHOR, Outcome};

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

fn path_encode(s: &str) -> String {
    s.split('/')
        .map(|seg| {
            seg.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("/")
}

impl Gitea {
    /// A client for `owner/name` at `api` (`https://gitea.example.com/api/v1`).
    pub fn new(api: &str, token: String, repo: &str) -> Result<Gitea, String> {
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
    ) -> Result<Option<serde_json::Value>, String> {
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
    async fn file(&self, path: &str, reference: &str) -> Result<Option<(String, String)>, String> {
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
        let encoded = path_encode(branch);
        let (status, found) = self
            .api
            .call(
                Method::GET,
                &format!("/branches/{encoded}"),
                None,
                "read the branch",
            )
            .await?;
        let tip = (status != StatusCode::NOT_FOUND)
            .then(|| found["commit"]["id"].as_str().map(str::to_string))
            .flatten();
        let pull = self.find_pull("open", branch).await?;
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
            // A branch still at the scanned commit is gitdrift's own (its first commit failed).
            let foreign = tip != base
                && commit["commit"]["author"]["email"].as_str() != Some(AUTHOR.1)
                || commit["commit"]["committer"]["email"]
                    .as_str()
                    .is_some_and(|e| e != AUTHOR.1);
            if foreign {
                if let Some(p) = &pull {
                    let number = p["number"].as_u64().unwrap_or(0);
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
                }
                return Ok((
                    Outcome::LeftAlone {
                        reason: format!(
                            "{branch} has a commit by {} on top of gitdrift's: it is not rewritten",
                            commit["commit"]["author"]["name"]
                                .as_str()
                                .unwrap_or("someone else")
                        ),
                    },
                    url,
                ));
            }
        }
        if tip.is_some() && pull.is_none() {
            let closed = self
                .api
                .ok(
                    Method::GET,
                    "/pulls?state=closed",
                    None,
                    "list closed pull requests",
                )
                .await?;
            let by_hand = closed
                .as_array()
                .is_some_and(|c| c.iter().any(|p| p["head"]["ref"].as_str() == Some(branch)));
            if by_hand {
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
                    &format!("/branches/{encoded}"),
                    None,
                    "delete the branch",
                )
                .await?;
            return Ok((Outcome::Closed, url));
        }
        if tip.is_none() {
            self.api
                .ok(
                    Method::POST,
                    "/branches",
                    Some(json!({"new_branch_name": branch, "old_ref_name": base})),
                    "create the branch",
                )
                .await?;
        }
        // What every file must be on the branch: the plan's, and files an earlier plan changed
        // as they are at the scanned commit.
        let mut wanted: Vec<(String, String)> = changes
            .iter()
            .map(|c| (c.file.clone(), c.after.clone()))
            .collect();
        let earlier: Vec<String> = pull
            .as_ref()
            .and_then(|p| p["body"].as_str())
            .and_then(|b| b.split(FILES).nth(1))
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
        let outcome = if operations.is_empty() {
            Outcome::Unchanged {
                commit: tip.clone().unwrap_or_default(),
            }
        } else {
            let commit = self
                .api
                .ok(
                    Method::POST,
                    "/contents",
                    Some(json!({
                        "branch": branch,
                        "message": title,
                        "author": {"name": AUTHOR.0, "email": AUTHOR.1},
                        "committer": {"name": AUTHOR.0, "email": AUTHOR.1},
                        "files": operations,
                    })),
                    "commit the files",
                )
                .await?;
            let sha = commit["commit"]["sha"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if tip.is_some() {
                Outcome::Updated { commit: sha }
            } else {
                Outcome::Opened { commit: sha }
            }
        };
        let files: Vec<&str> = changes.iter().map(|c| c.file.as_str()).collect();
        let body = format!("{body}\n{FILES}{} -->\n", files.join(","));
        let url = match pull {
            None => {
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
                let created = self
                    .api
                    .ok(
                        Method::POST,
                        "/pulls",
                        Some(json!({"head": branch, "base": into, "title": title, "body": body, "labels": ids})),
                        "open the pull request",
                    )
                    .await?;
                created["html_url"].as_str().map(str::to_string)
            }
            Some(p) => {
                if p["title"].as_str() != Some(title)
                    || !super::same_description(p["body"].as_str().unwrap_or(""), &body)
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
}
