//! What the hosting providers share: a JSON client for one repository's API (authentication,
//! errors that never show the token), the words of their comments, and the one flow that
//! brings a branch and its request in line with a plan ([`apply`], over each provider's
//! [`Host`]).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::local::Outcome;
use super::{FileChange, RemediateError};
use crate::model::redact;

/// Percent-encodes everything but unreserved characters (a path segment or a query value).
pub(crate) fn percent_encode(s: &str) -> String {
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

/// Marks gitdrift's comment on a branch it will not rewrite (posted once).
pub const LEFT_ALONE: &str = "<!-- gitdrift:left-alone -->";

/// The comment that says a branch someone else committed to will not be rewritten.
pub fn left_alone_comment(branch: &str, request: &str) -> Value {
    json!({"body": format!("{LEFT_ALONE}\nSomeone else has committed to `{branch}`, so gitdrift will not force-push it. Newer drift is not added here; merge or close this {request}, and delete the branch, for gitdrift to propose again.")})
}

/// The comment that closes a request whose drift is gone.
pub fn closing_comment(request: &str) -> Value {
    json!({"body": format!("The drift this {request} adopted is gone (the live state and git agree again): closing it.")})
}

/// Whether a list of comments already holds gitdrift's left-alone comment.
pub fn said_left_alone(comments: &Value) -> bool {
    comments.as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["body"].as_str().is_some_and(|b| b.contains(LEFT_ALONE)))
    })
}

/// A JSON API rooted at one repository (`…/repos/o/r`, `…/projects/o%2Fr`).
pub struct Api {
    name: &'static str,
    base: String,
    auth: (&'static str, String),
    headers: &'static [(&'static str, &'static str)],
    client: reqwest::Client,
}

impl Api {
    /// A client; `auth` is the header carrying the token.
    pub fn new(
        name: &'static str,
        base: String,
        auth: (&'static str, String),
        headers: &'static [(&'static str, &'static str)],
    ) -> Result<Api, RemediateError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("gitdrift/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(30))
            // A redirect must not carry the token elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| RemediateError::Unreachable(e.to_string()))?;
        Ok(Api {
            name,
            base,
            auth,
            headers,
            client,
        })
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header(self.auth.0, &self.auth.1);
        for (k, v) in self.headers {
            request = request.header(*k, *v);
        }
        request
    }

    /// A call; 404 is an answer (`Null`), other failures an error naming `what`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        what: &str,
    ) -> Result<(StatusCode, Value), RemediateError> {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(serde_json::to_vec(&body).unwrap_or_default());
        }
        let response = request.send().await.map_err(|e| {
            RemediateError::Unreachable(redact::scrub(&format!("{} {what}: {e}", self.name)))
        })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if status.is_success() || status == StatusCode::NOT_FOUND {
            return Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)));
        }
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| {
                v["message"]
                    .as_str()
                    .or_else(|| v["error"].as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| text.chars().take(200).collect());
        Err(RemediateError::Refused(redact::scrub(&format!(
            "{} {what}: {status}: {message}",
            self.name
        ))))
    }

    /// A call that must succeed.
    pub async fn ok(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        what: &str,
    ) -> Result<Value, RemediateError> {
        match self.call(method, path, body, what).await? {
            (StatusCode::NOT_FOUND, _) => Err(RemediateError::Refused(format!(
                "{} {what}: 404 Not Found",
                self.name
            ))),
            (_, value) => Ok(value),
        }
    }

    /// A raw text GET; `None` when it is not there.
    pub async fn text(&self, path: &str, what: &str) -> Result<Option<String>, RemediateError> {
        let response = self.request(Method::GET, path).send().await.map_err(|e| {
            RemediateError::Unreachable(redact::scrub(&format!("{} {what}: {e}", self.name)))
        })?;
        if !response.status().is_success() {
            return Ok(None);
        }
        Ok(Some(response.text().await.unwrap_or_default()))
    }
}

/// A pull or merge request, as the shared flow needs it.
pub struct Request {
    /// Its number (GitHub, Gitea) or iid (GitLab).
    pub id: u64,
    /// Where people read it.
    pub url: Option<String>,
    /// Its title.
    pub title: String,
    /// Its description.
    pub body: String,
}

/// The tip of gitdrift's branch.
pub struct Tip {
    /// The commit.
    pub sha: String,
    /// Whose work it is, when not gitdrift's alone (then the branch is never rewritten).
    pub foreign: Option<String>,
    /// Its first parent, where the host says.
    pub parent: Option<String>,
    /// Its tree, where the host says.
    pub tree: Option<String>,
}

/// What one hosting API does for the shared flow ([`apply`]); each provider implements it.
pub(crate) trait Host {
    /// `pull request` or `merge request`.
    fn noun(&self) -> &'static str;
    /// The repository's default branch.
    async fn default_branch(&self) -> Result<String, RemediateError>;
    /// The open (or closed) request from `branch`.
    async fn request(&self, branch: &str, open: bool) -> Result<Option<Request>, RemediateError>;
    /// The branch's tip, if the branch exists.
    async fn tip(
        &self,
        branch: &str,
        base: &str,
        open: Option<&Request>,
    ) -> Result<Option<Tip>, RemediateError>;
    /// The request's comments.
    async fn comments(&self, id: u64) -> Result<Value, RemediateError>;
    /// Comments on the request.
    async fn comment(&self, id: u64, body: Value) -> Result<(), RemediateError>;
    /// Closes the request.
    async fn close(&self, id: u64) -> Result<(), RemediateError>;
    /// Deletes the branch.
    async fn delete_branch(&self, branch: &str) -> Result<(), RemediateError>;
    /// Makes the branch hold exactly `changes` on the scanned commit; the new commit, or `None`
    /// when it already does.
    async fn commit(
        &self,
        branch: &str,
        base: &str,
        tip: Option<&Tip>,
        changes: &[&FileChange],
        message: &str,
        open: Option<&Request>,
    ) -> Result<Option<String>, RemediateError>;
    /// The description as this host keeps it (with markers of its own).
    fn describe(&self, body: &str, _changes: &[&FileChange], _commit: &str) -> String {
        body.to_string()
    }
    /// Opens the request; its URL.
    async fn open(
        &self,
        branch: &str,
        into: &str,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> Result<Option<String>, RemediateError>;
    /// Changes the request's title and description.
    async fn update(&self, id: u64, title: &str, body: &str) -> Result<(), RemediateError>;
}

/// What is proposed for one source and target.
pub struct Proposal<'a> {
    /// gitdrift's branch.
    pub branch: &'a str,
    /// The scanned commit.
    pub base: &'a str,
    /// The branch the request goes into (`None`: the default branch).
    pub into: Option<&'a str>,
    /// The plan's files.
    pub changes: &'a [&'a FileChange],
    /// Title (and commit message).
    pub title: &'a str,
    /// Description.
    pub body: &'a str,
    /// Labels.
    pub labels: &'a [String],
    /// Close the request once its drift is gone.
    pub close_when_gone: bool,
}

/// Brings a source's branch and request in line with its plan, the same way on every host:
/// never the target branch itself, never someone else's work (said once in a comment), never a
/// request closed by hand again; nothing written for the same plan; closed with a comment once
/// the drift is gone.
pub(crate) async fn apply<H: Host>(
    host: &H,
    p: &Proposal<'_>,
) -> Result<(Outcome, Option<String>), RemediateError> {
    let (branch, noun) = (p.branch, host.noun());
    let default_branch = host.default_branch().await?;
    let into = p.into.unwrap_or(&default_branch).to_string();
    if branch == default_branch || branch == into {
        return Err(RemediateError::NotAllowed(format!(
            "refusing to write to the branch {branch} itself"
        )));
    }
    let open = host.request(branch, true).await?;
    let url = open.as_ref().and_then(|r| r.url.clone());
    let tip = host.tip(branch, p.base, open.as_ref()).await?;
    if let Some(Tip {
        foreign: Some(who), ..
    }) = &tip
    {
        if let Some(r) = &open
            && !said_left_alone(&host.comments(r.id).await?)
        {
            host.comment(r.id, left_alone_comment(branch, noun)).await?;
        }
        let reason =
            format!("{branch} has a commit by {who} on top of gitdrift's: it is not rewritten");
        return Ok((Outcome::LeftAlone { reason }, url));
    }
    if tip.is_some() && open.is_none() && host.request(branch, false).await?.is_some() {
        let reason = format!(
            "the {noun} from {branch} was closed by hand: delete the branch for gitdrift to propose again"
        );
        return Ok((Outcome::LeftAlone { reason }, None));
    }
    if p.changes.is_empty() {
        if tip.is_none() {
            return Ok((Outcome::Nothing, None));
        }
        if !p.close_when_gone {
            return Ok((Outcome::Nothing, url));
        }
        if let Some(r) = &open {
            host.comment(r.id, closing_comment(noun)).await?;
            host.close(r.id).await?;
        }
        host.delete_branch(branch).await?;
        return Ok((Outcome::Closed, url));
    }
    let committed = host
        .commit(
            branch,
            p.base,
            tip.as_ref(),
            p.changes,
            p.title,
            open.as_ref(),
        )
        .await?;
    let outcome = match (committed, &tip) {
        (None, tip) => Outcome::Unchanged {
            commit: tip.as_ref().map(|t| t.sha.clone()).unwrap_or_default(),
        },
        (Some(commit), None) => Outcome::Opened { commit },
        (Some(commit), Some(_)) => Outcome::Updated { commit },
    };
    let commit = match &outcome {
        Outcome::Opened { commit }
        | Outcome::Updated { commit }
        | Outcome::Unchanged { commit } => commit.as_str(),
        _ => "",
    };
    let body = host.describe(p.body, p.changes, commit);
    let url = match open {
        None => host.open(branch, &into, p.title, &body, p.labels).await?,
        Some(r) => {
            if r.title != p.title || !super::same_description(&r.body, &body) {
                host.update(r.id, p.title, &body).await?;
            }
            r.url
        }
    };
    Ok((outcome, url))
}
