//! Who may read what `serve` shows. What gitdrift serves is, by construction, a list of an
//! organisation's weaknesses, so the API and the overview page need a bearer token (when tokens
//! are configured); `/healthz`, `/readyz` and the signed webhook stay open, and `/metrics` is
//! open unless `serve.auth.protect_metrics` says otherwise. Tokens are compared as SHA-256
//! digests in constant time, never logged; each API call is logged with the token's name.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ring::digest::{SHA256, digest};
use subtle::ConstantTimeEq;

use super::Service;
use crate::config::service::AuthSettings;
use crate::model::redact;

/// Tokens shorter than this are refused: a guessable token protects nothing.
pub const MIN_TOKEN_LENGTH: usize = 16;

/// The API tokens in force, by name, as digests.
#[derive(Debug, Default)]
pub struct ApiTokens {
    tokens: Vec<(String, [u8; 32])>,
    protect_metrics: bool,
}

impl ApiTokens {
    /// Reads the configured tokens (a file of `name: token` lines, and/or one from an
    /// environment variable, named after it). Every problem names the file and line.
    pub fn load(auth: &AuthSettings) -> Result<ApiTokens, String> {
        let mut tokens = Vec::new();
        if let Some(path) = &auth.tokens_file {
            tokens.extend(read_tokens_file(path)?);
        }
        if let Some(name) = &auth.token_env {
            let value = std::env::var(name).map_err(|_| {
                format!("serve.auth.token_env: the environment variable {name} is not set")
            })?;
            tokens.push((name.clone(), check_token(value.trim(), name)?));
        }
        Ok(ApiTokens {
            tokens,
            protect_metrics: auth.protect_metrics,
        })
    }

    /// Whether any token is configured (without one, everything is open).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The name of the token presented, if it is one of them. Every token is compared, each in
    /// constant time, so the time taken says nothing about which matched or how closely.
    pub fn name_of(&self, presented: &str) -> Option<&str> {
        let presented = digest(&SHA256, presented.as_bytes());
        let mut found = None;
        for (name, expected) in &self.tokens {
            if bool::from(presented.as_ref().ct_eq(expected)) {
                found = Some(name.as_str());
            }
        }
        found
    }
}

/// A token, registered with the redactor so that no output can carry it, as its digest.
fn check_token(value: &str, what: &str) -> Result<[u8; 32], String> {
    if value.len() < MIN_TOKEN_LENGTH {
        return Err(format!(
            "{what}: an API token must be at least {MIN_TOKEN_LENGTH} characters"
        ));
    }
    redact::register(value);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, value.as_bytes()).as_ref());
    Ok(out)
}

fn read_tokens_file(path: &Path) -> Result<Vec<(String, [u8; 32])>, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("serve.auth.tokens_file {shown}: {e}"))?;
    let mut tokens: Vec<(String, [u8; 32])> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = format!("{shown}:{}", i + 1);
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("{at}: expected `name: token`"));
        };
        let name = name.trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(format!(
                "{at}: a token's name is letters, digits, `-`, `_` and `.`"
            ));
        }
        if tokens.iter().any(|(n, _)| n == name) {
            return Err(format!("{at}: token `{name}` is defined twice"));
        }
        tokens.push((name.to_string(), check_token(value.trim(), &at)?));
    }
    if tokens.is_empty() {
        return Err(format!("serve.auth.tokens_file {shown} holds no token"));
    }
    Ok(tokens)
}

/// Paths anyone may reach: the orchestrator's probes, and the webhook (signed by its own
/// secret).
fn open_path(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/api/v1/webhooks/git")
}

/// The middleware in front of every route.
pub async fn guard(State(service): State<Arc<Service>>, request: Request, next: Next) -> Response {
    let tokens = service.tokens();
    let path = request.uri().path().to_string();
    let needs_token =
        !tokens.is_empty() && !open_path(&path) && (path != "/metrics" || tokens.protect_metrics);
    if !needs_token {
        return next.run(request).await;
    }
    let method = request.method().clone();
    let started = Instant::now();
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let Some(name) = presented
        .and_then(|t| tokens.name_of(t))
        .map(str::to_string)
    else {
        tracing::info!(message = "api request", %method, %path, token = %"-", status = 401u16);
        let mut response = (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"error\":\"a valid API token is required (Authorization: Bearer …)\"}\n",
        )
            .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"gitdrift\""),
        );
        return response;
    };
    let response = next.run(request).await;
    tracing::info!(
        message = "api request",
        %method,
        %path,
        token = %name,
        status = response.status().as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_read_checked_and_matched_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        std::fs::write(
            &file,
            "# who may read\nci: ci-token-0123456789abcdef\nops: ops-token-0123456789abcdef\n",
        )
        .unwrap();
        let auth = AuthSettings {
            tokens_file: Some(file.clone()),
            ..AuthSettings::default()
        };
        let tokens = ApiTokens::load(&auth).unwrap();
        assert_eq!(tokens.name_of("ops-token-0123456789abcdef"), Some("ops"));
        assert_eq!(tokens.name_of("ops-token-0123456789abcdeX"), None);
        assert_eq!(tokens.name_of(""), None);
        assert_eq!(
            redact::scrub("ci-token-0123456789abcdef"),
            "***",
            "a token never reaches an output"
        );
        std::fs::write(&file, "ci: short\n").unwrap();
        let err = ApiTokens::load(&auth).unwrap_err();
        assert!(
            err.ends_with(":1: an API token must be at least 16 characters"),
            "{err}"
        );
        std::fs::write(&file, "ci-token-0123456789abcdef\n").unwrap();
        assert!(
            ApiTokens::load(&auth)
                .unwrap_err()
                .contains(":1: expected `name: token`")
        );
    }
}
