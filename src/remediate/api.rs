//! What the hosting providers share: a JSON client for one repository's API (authentication,
//! errors that never show the token), and the words of their comments.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

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
    ) -> Result<Api, String> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("gitdrift/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(30))
            // A redirect must not carry the token elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
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
    ) -> Result<(StatusCode, Value), String> {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(serde_json::to_vec(&body).unwrap_or_default());
        }
        let response = request
            .send()
            .await
            .map_err(|e| crate::redact::scrub(&format!("{} {what}: {e}", self.name)))?;
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
        Err(crate::redact::scrub(&format!(
            "{} {what}: {status}: {message}",
            self.name
        )))
    }

    /// A call that must succeed.
    pub async fn ok(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        what: &str,
    ) -> Result<Value, String> {
        match self.call(method, path, body, what).await? {
            (StatusCode::NOT_FOUND, _) => Err(format!("{} {what}: 404 Not Found", self.name)),
            (_, value) => Ok(value),
        }
    }

    /// A raw text GET; `None` when it is not there.
    pub async fn text(&self, path: &str, what: &str) -> Result<Option<String>, String> {
        let response = self
            .request(Method::GET, path)
            .send()
            .await
            .map_err(|e| crate::redact::scrub(&format!("{} {what}: {e}", self.name)))?;
        if !response.status().is_success() {
            return Ok(None);
        }
        Ok(Some(response.text().await.unwrap_or_default()))
    }
}
