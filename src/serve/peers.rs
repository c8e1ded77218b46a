//! One view across shards. With `--shard-count N` each replica scans its own share of the
//! targets and keeps its own history, yet any of them answers the target, source, scan and
//! scheduled-report lists and the overview page for all of them: it asks its peers, over the
//! shard peer URLs, for their own part (`?scope=local`), with the caller's bearer token, all at
//! once and within a short deadline. A peer that does not answer becomes an entry naming it
//! ("shard 2 unreachable"), never a wait. `/metrics` stays per replica: Prometheus scrapes each.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Service;

/// How long a peer has to answer a listing, connection included: the merged answer comes
/// within this, whatever the peers do.
pub const PEER_DEADLINE: Duration = Duration::from_millis(1000);
/// How long a peer has to connect.
const PEER_CONNECT: Duration = Duration::from_millis(500);
/// How long a peer has to send a whole report asked through this replica.
const PEER_REPORT_DEADLINE: Duration = Duration::from_secs(60);
/// Largest listing read from a peer.
const PEER_LISTING_LIMIT: usize = 32 * 1024 * 1024;

/// Which part a request asks for: `local` is this replica's own (what peers ask each other
/// for); without it a sharded replica answers for every shard.
#[derive(Debug, Default, Deserialize)]
pub struct Scope {
    scope: Option<String>,
    /// A scan or report stored by another shard (`/api/v1/scans/{id}?shard=2`).
    pub shard: Option<usize>,
}

impl Scope {
    /// Whether only this replica's own part is asked for.
    pub fn local(&self) -> bool {
        self.scope.as_deref() == Some("local")
    }
}

/// How one shard answered, listed beside a merged answer.
#[derive(Clone, Debug, Serialize)]
pub struct ShardState {
    /// The shard's number.
    pub shard: usize,
    /// `ok`, `unreachable` (no connection or no answer in time) or `error` (it answered with
    /// an error, its status named).
    pub state: &'static str,
    /// What went wrong, if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// This replica.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub this: bool,
}

/// A list merged across shards: every entry names its shard.
pub struct Merged {
    /// The entries.
    pub items: Vec<Value>,
    /// How each shard answered, in shard order.
    pub shards: Vec<ShardState>,
}

/// Whether a request is answered for every shard: the replica is one of several and the
/// caller did not ask for its own part only.
pub fn asks_peers(service: &Service, scope: &Scope) -> bool {
    !scope.local() && service.shard().is_some_and(|s| s.count > 1)
}

/// The list under `key` from every shard: this replica's own `local` entries and each peer's
/// answer to `path?scope=local` (with the caller's token), each entry tagged with its shard.
/// `Err(local)`, untouched, when the replica is not sharded or only its own part was asked
/// for (see [`asks_peers`]).
pub async fn merge(
    service: &Service,
    scope: &Scope,
    headers: &HeaderMap,
    path_and_query: &str,
    key: &str,
    local: Vec<Value>,
) -> Result<Merged, Vec<Value>> {
    let Some(own) = service.shard().filter(|_| asks_peers(service, scope)) else {
        return Err(local);
    };
    let separator = if path_and_query.contains('?') {
        '&'
    } else {
        '?'
    };
    let asked = format!("{path_and_query}{separator}scope=local");
    let authorization = headers.get(header::AUTHORIZATION);
    let peers = (0..own.count).filter(|i| *i != own.index).map(|index| {
        let url = service.peer_url(index);
        let asked = asked.as_str();
        async move {
            let answer = match url {
                None => Err((
                    "unreachable",
                    "no --shard-peer-url says how to reach it".to_string(),
                )),
                Some(base) => listing(&base, asked, authorization, key).await,
            };
            (index, answer)
        }
    });
    let answers = futures::future::join_all(peers).await;
    let mut items: Vec<Value> = local.into_iter().map(|v| tag(v, own.index)).collect();
    let mut shards = vec![ShardState {
        shard: own.index,
        state: "ok",
        error: None,
        this: true,
    }];
    for (index, answer) in answers {
        match answer {
            Ok(list) => {
                items.extend(list.into_iter().map(|v| tag(v, index)));
                shards.push(ShardState {
                    shard: index,
                    state: "ok",
                    error: None,
                    this: false,
                });
            }
            Err((state, why)) => {
                tracing::warn!(message = "shard did not answer", shard = index, error = %why);
                shards.push(ShardState {
                    shard: index,
                    state,
                    error: Some(format!("shard {index} {state}: {why}")),
                    this: false,
                });
            }
        }
    }
    shards.sort_by_key(|s| s.shard);
    Ok(Merged { items, shards })
}

fn tag(mut value: Value, shard: usize) -> Value {
    if let Value::Object(map) = &mut value {
        map.insert("shard".into(), shard.into());
    }
    value
}

fn client(deadline: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(PEER_CONNECT)
        .timeout(deadline)
        // The caller's token goes to the peer URL only: never on to wherever it redirects, nor
        // through a proxy set for git and AWS (HTTPS_PROXY, ALL_PROXY).
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .map_err(|e| crate::model::redact::error_chain(&e))
}

/// A peer's list under `key`; `Err((state, why))` when it cannot be had in time.
async fn listing(
    base: &str,
    path_and_query: &str,
    authorization: Option<&HeaderValue>,
    key: &str,
) -> Result<Vec<Value>, (&'static str, String)> {
    let url = format!("{}{path_and_query}", base.trim_end_matches('/'));
    let client = client(PEER_DEADLINE).map_err(|e| ("unreachable", e))?;
    let mut request = client.get(&url);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value.clone());
    }
    let unreachable = |e: reqwest::Error| {
        let why = if e.is_timeout() {
            format!("no answer from {url} within {PEER_DEADLINE:?}")
        } else {
            format!("{url}: {}", crate::model::redact::error_chain(&e))
        };
        ("unreachable", why)
    };
    let mut answer = request.send().await.map_err(unreachable)?;
    let status = answer.status();
    let mut body = Vec::new();
    while let Some(chunk) = answer.chunk().await.map_err(unreachable)? {
        if body.len() + chunk.len() > PEER_LISTING_LIMIT {
            return Err((
                "error",
                format!("{url} answered more than {PEER_LISTING_LIMIT} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    if !status.is_success() {
        let said: Value = serde_json::from_slice(&body).unwrap_or_default();
        let said = said["error"].as_str().unwrap_or("").to_string();
        return Err(("error", format!("{url} answered {status} {said}")));
    }
    let mut parsed: Value = serde_json::from_slice(&body)
        .map_err(|e| ("error", format!("{url} answered something not JSON: {e}")))?;
    match parsed.get_mut(key).map(Value::take) {
        Some(Value::Array(items)) => Ok(items),
        _ => Err(("error", format!("{url} answered without a `{key}` list"))),
    }
}

/// What a peer answered to a request passed on to it whole (a stored scan or report of its
/// own): status, content type and body; `Err` when it cannot be reached.
pub async fn pass_on(
    service: &Service,
    shard: usize,
    headers: &HeaderMap,
    path_and_query: &str,
) -> Result<(u16, String, Vec<u8>), (u16, String)> {
    let count = service.shard().map(|s| s.count).unwrap_or(1);
    if shard >= count {
        return Err((400, format!("there is no shard {shard} (shards: {count})")));
    }
    let base = service.peer_url(shard).ok_or_else(|| {
        (
            502,
            format!("shard {shard}: no --shard-peer-url says how to reach it"),
        )
    })?;
    let url = format!("{}{path_and_query}", base.trim_end_matches('/'));
    let client = client(PEER_REPORT_DEADLINE).map_err(|e| (502, e))?;
    let mut request = client.get(&url);
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        request = request.header(header::AUTHORIZATION, value.clone());
    }
    let unreachable = |e: reqwest::Error| {
        (
            502,
            format!(
                "shard {shard} unreachable: {url}: {}",
                crate::model::redact::error_chain(&e)
            ),
        )
    };
    let answer = request.send().await.map_err(unreachable)?;
    let status = answer.status().as_u16();
    let kind = answer
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let body = answer.bytes().await.map_err(unreachable)?;
    Ok((status, kind, body.to_vec()))
}
