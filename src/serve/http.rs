//! The service's one HTTP port: `/metrics` for Prometheus, `/healthz` and `/readyz` for the
//! orchestrator, the read-only JSON API under `/api/v1`, the git webhook, and `/`, an HTML
//! overview that needs no JavaScript. Only the webhook accepts a POST; it changes nothing but
//! when a source is fetched.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Service;
use super::peers::{self, Scope};
use super::webhook::{self, Verdict};
use crate::model::Format;
use crate::report::{self, TextOptions};

/// Largest webhook body accepted (GitHub caps its payloads at 25 MB).
const WEBHOOK_BODY_LIMIT: usize = 25 * 1024 * 1024;
/// How long a webhook delivery may take, from its headers to its answer (the hosts themselves
/// give up after 10 s).
const WEBHOOK_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);
/// Webhook deliveries read at once; one more is refused at once (503), never queued behind
/// slow uploads.
const WEBHOOK_SLOTS: usize = 16;

/// The routes.
pub fn router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/", get(overview))
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/targets/{name}", get(target_page))
        .route("/api/v1/targets", get(targets))
        .route("/api/v1/targets/{name}/resources", get(target_resources))
        .route("/api/v1/sources", get(sources))
        .route("/api/v1/scans", get(scans))
        .route("/api/v1/revisions", get(revisions))
        .route("/api/v1/scans/{id}", get(scan))
        .route("/api/v1/scans/{id}/report", get(scan_report))
        .route("/api/v1/reports", get(scheduled_reports))
        .route("/api/v1/remediation", get(remediation))
        .route(
            "/api/v1/webhooks/git",
            post(git_webhook)
                .layer::<_, std::convert::Infallible>(DefaultBodyLimit::max(WEBHOOK_BODY_LIMIT))
                // Bodies are read before they can be verified: a bounded number at a time, each
                // within a deadline; past the bound a delivery is refused at once rather than
                // queued, so slow uploads can neither hold the others nor grow memory.
                .layer::<_, std::convert::Infallible>(
                    tower::ServiceBuilder::new()
                        .layer(axum::error_handling::HandleErrorLayer::new(
                            |err: tower::BoxError| async move {
                                if err.is::<tower::load_shed::error::Overloaded>() {
                                    (
                                        StatusCode::SERVICE_UNAVAILABLE,
                                        [(header::RETRY_AFTER, "5")],
                                        "too many webhook deliveries at once; try again\n",
                                    )
                                        .into_response()
                                } else {
                                    (
                                        StatusCode::REQUEST_TIMEOUT,
                                        "the webhook took too long to send\n",
                                    )
                                        .into_response()
                                }
                            },
                        ))
                        .layer(tower::load_shed::LoadShedLayer::new())
                        .layer(tower::limit::ConcurrencyLimitLayer::new(WEBHOOK_SLOTS))
                        .layer(tower::timeout::TimeoutLayer::new(WEBHOOK_DEADLINE)),
                ),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        // Nothing but the webhook takes a body.
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&service),
            super::auth::guard,
        ))
        .with_state(service)
}

async fn metrics_text(State(service): State<Arc<Service>>) -> Response {
    let body = tokio::task::spawn_blocking(move || service.metrics.encode())
        .await
        .unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

async fn readyz(State(service): State<Arc<Service>>) -> Response {
    if service.is_stopping() {
        (StatusCode::SERVICE_UNAVAILABLE, "stopping\n".to_string()).into_response()
    } else if service.is_ready() {
        (StatusCode::OK, "ready\n".to_string()).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "waiting for a first scan of: {}\n",
                service.waiting_for().join(", ")
            ),
        )
            .into_response()
    }
}

fn json_response(value: &impl serde::Serialize) -> Response {
    match serde_json::to_vec_pretty(value) {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
        Err(err) => error(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()),
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json!({ "error": crate::model::redact::scrub(message) }).to_string(),
    )
        .into_response()
}

/// A list answered for every shard when sharded (each entry naming its shard, and how each
/// shard answered under `shards`), else this replica's own.
async fn listed(
    service: &Service,
    scope: &Scope,
    headers: &HeaderMap,
    path_and_query: &str,
    key: &str,
    local: Vec<Value>,
    order: impl FnOnce(&mut Vec<Value>),
) -> Response {
    match peers::merge(service, scope, headers, path_and_query, key, local).await {
        Ok(mut merged) => {
            order(&mut merged.items);
            json_response(&json!({ key: merged.items, "shards": merged.shards }))
        }
        Err(local) => json_response(&json!({ key: local })),
    }
}

fn values<T: serde::Serialize>(items: &[T]) -> Vec<Value> {
    items
        .iter()
        .filter_map(|i| serde_json::to_value(i).ok())
        .collect()
}

/// A list of named entries (targets, sources, reports), in name order, for every shard.
async fn named(
    service: &Service,
    scope: &Scope,
    headers: &HeaderMap,
    path: &str,
    key: &str,
    local: Vec<Value>,
) -> Response {
    listed(service, scope, headers, path, key, local, |i| by_name(i)).await
}

/// Entries in name order (then shard).
fn by_name(items: &mut [Value]) {
    items.sort_by(|a, b| {
        (a["name"].as_str(), a["shard"].as_u64()).cmp(&(b["name"].as_str(), b["shard"].as_u64()))
    });
}

async fn targets(
    State(service): State<Arc<Service>>,
    Query(scope): Query<Scope>,
    headers: HeaderMap,
) -> Response {
    let local = values(&service.target_statuses());
    named(
        &service,
        &scope,
        &headers,
        "/api/v1/targets",
        "targets",
        local,
    )
    .await
}

async fn sources(
    State(service): State<Arc<Service>>,
    Query(scope): Query<Scope>,
    headers: HeaderMap,
) -> Response {
    let local = values(&service.source_statuses());
    named(
        &service,
        &scope,
        &headers,
        "/api/v1/sources",
        "sources",
        local,
    )
    .await
}

#[derive(Debug, Deserialize)]
struct ScansQuery {
    limit: Option<usize>,
    target: Option<String>,
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string())),
        Err(err) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string())),
    }
}

async fn scans(
    State(service): State<Arc<Service>>,
    Query(query): Query<ScansQuery>,
    Query(scope): Query<Scope>,
    headers: HeaderMap,
) -> Response {
    let limit = query.limit.unwrap_or(50).clamp(1, 1000);
    let mut path = format!("/api/v1/scans?limit={limit}");
    if let Some(target) = &query.target {
        path.push_str("&target=");
        path.push_str(&url_encode(target));
    }
    let local = match stored_scans(&service, query.target, limit).await {
        Ok(scans) => values(&scans),
        Err(response) => return response,
    };
    listed(&service, &scope, &headers, &path, "scans", local, |items| {
        newest_first(items);
        items.truncate(limit);
    })
    .await
}

async fn stored_scans(
    service: &Service,
    target: Option<String>,
    limit: usize,
) -> Result<Vec<crate::store::StoredScan>, Response> {
    let store = Arc::clone(&service.store);
    blocking(move || match &target {
        Some(target) => store.list_target(target, limit),
        None => store.list(limit),
    })
    .await
}

#[derive(Debug, Deserialize)]
struct RevisionsQuery {
    limit: Option<usize>,
    source: Option<String>,
}

/// Each source's revisions and their convergence, from the history (of every shard), the
/// newest first.
async fn revisions(
    State(service): State<Arc<Service>>,
    Query(query): Query<RevisionsQuery>,
    Query(scope): Query<Scope>,
    headers: HeaderMap,
) -> Response {
    let limit = query.limit.unwrap_or(50).clamp(1, 1000);
    let mut path = format!("/api/v1/revisions?limit={limit}");
    if let Some(source) = &query.source {
        path.push_str("&source=");
        path.push_str(&url_encode(source));
    }
    let store = Arc::clone(&service.store);
    let source = query.source.clone();
    let local = match blocking(move || store.revisions(source.as_deref(), None, limit)).await {
        Ok(revisions) => values(&revisions),
        Err(response) => return response,
    };
    listed(
        &service,
        &scope,
        &headers,
        &path,
        "revisions",
        local,
        |items| {
            by_time_newest_first(items, "first_seen_at");
            items.truncate(limit);
        },
    )
    .await
}

/// Scans of every shard, the newest first.
fn newest_first(items: &mut [Value]) {
    by_time_newest_first(items, "started_at");
}

fn by_time_newest_first(items: &mut [Value], field: &str) {
    let at = |v: &Value| {
        v[field]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    };
    items.sort_by_key(|v| std::cmp::Reverse(at(v)));
}

/// A query value, percent-encoded.
fn url_encode(raw: &str) -> String {
    url::form_urlencoded::byte_serialize(raw.as_bytes()).collect()
}

fn parse_id(raw: &str) -> Result<i64, Box<Response>> {
    raw.parse::<i64>().map_err(|_| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            "a scan id is a whole number",
        ))
    })
}

/// A turn to read a whole report, within `serve.http.render_wait`; a 503 past it.
async fn render_turn(service: &Service) -> Result<tokio::sync::SemaphorePermit<'_>, Response> {
    let wait = service.config().serve.http.render_wait;
    match tokio::time::timeout(wait, service.renders.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => {
            let mut response = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many reports are being rendered; try again shortly",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            Err(response)
        }
    }
}

/// Another shard's stored scan or report, asked through this replica: passed on whole.
async fn elsewhere(
    service: &Service,
    scope: &Scope,
    headers: &HeaderMap,
    uri: &Uri,
) -> Option<Response> {
    let shard = scope.shard?;
    if service.shard().is_none_or(|own| own.index == shard) {
        return None;
    }
    let asked = uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or(uri.path());
    Some(match peers::pass_on(service, shard, headers, asked).await {
        Ok((status, kind, body)) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            [(header::CONTENT_TYPE, kind)],
            body,
        )
            .into_response(),
        Err((status, why)) => error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            &why,
        ),
    })
}

async fn scan(
    State(service): State<Arc<Service>>,
    Path(id): Path<String>,
    Query(scope): Query<Scope>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    if let Some(answer) = elsewhere(&service, &scope, &headers, &uri).await {
        return answer;
    }
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(response) => return *response,
    };
    let _turn = match render_turn(&service).await {
        Ok(turn) => turn,
        Err(response) => return response,
    };
    let store = Arc::clone(&service.store);
    match blocking(move || store.get(id)).await {
        Ok(Some((scan, report))) => json_response(&json!({
            "scan": scan,
            "sources": report.scan.sources,
            "targets": report.scan.targets,
            "compliance": {
                "failing": report.compliance.failing,
                "waived": report.compliance.waived,
            },
            // Scan ids are each shard's own: a link names the shard that stored the scan.
            "links": Format::ALL
                .iter()
                .map(|f| {
                    let shard = service.shard().filter(|s| s.count > 1).map(|s| s.index);
                    (f.name(), report_link(id, f.name(), shard))
                })
                .collect::<std::collections::BTreeMap<_, _>>(),
        })),
        Ok(None) => error(StatusCode::NOT_FOUND, &format!("no scan {id}")),
        Err(response) => response,
    }
}

#[derive(Debug, Deserialize)]
struct ReportQuery {
    format: Option<String>,
}

async fn scan_report(
    State(service): State<Arc<Service>>,
    Path(id): Path<String>,
    Query(query): Query<ReportQuery>,
    Query(scope): Query<Scope>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    if let Some(answer) = elsewhere(&service, &scope, &headers, &uri).await {
        return answer;
    }
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(response) => return *response,
    };
    let raw = query.format.as_deref().unwrap_or("json");
    let Some(format) = Format::named(raw) else {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("unknown format `{raw}`; known: {}", Format::names()),
        );
    };
    let _turn = match render_turn(&service).await {
        Ok(turn) => turn,
        Err(response) => return response,
    };
    let store = Arc::clone(&service.store);
    if format == Format::Json {
        // The stored canonical JSON, byte for byte: its SHA-256 is the one in the chain.
        return match blocking(move || store.get_raw(id)).await {
            Ok(Some((_, bytes))) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(format.media_type()),
                )],
                bytes,
            )
                .into_response(),
            Ok(None) => error(StatusCode::NOT_FOUND, &format!("no scan {id}")),
            Err(response) => response,
        };
    }
    let rendered = blocking(move || {
        Ok(store
            .get(id)?
            .map(|(_, report)| report::render_plain(&report, format, TextOptions::default())))
    })
    .await;
    match rendered {
        Ok(Some(body)) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.media_type()),
            )],
            body,
        )
            .into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, &format!("no scan {id}")),
        Err(response) => response,
    }
}

async fn remediation(State(service): State<Arc<Service>>) -> Response {
    json_response(&json!({ "remediation": service.remediation_statuses() }))
}

fn report_runs(service: &Service) -> Vec<super::reports::ReportRun> {
    service
        .report_runs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .cloned()
        .collect()
}

async fn scheduled_reports(
    State(service): State<Arc<Service>>,
    Query(scope): Query<Scope>,
    headers: HeaderMap,
) -> Response {
    let local = values(&report_runs(&service));
    named(
        &service,
        &scope,
        &headers,
        "/api/v1/reports",
        "reports",
        local,
    )
    .await
}

async fn git_webhook(
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let config = service.config();
    let Some(secret_ref) = &config.serve.webhook_secret else {
        service.metrics.webhook("disabled");
        return error(
            StatusCode::NOT_FOUND,
            "webhooks are off: set serve.webhook_secret_env or serve.webhook_secret_file",
        );
    };
    let secret = match secret_ref.read() {
        Ok(secret) => secret,
        Err(err) => {
            tracing::error!(message = "webhook secret unreadable", error = %err);
            service.metrics.webhook("disabled");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("the webhook secret cannot be read: {err}"),
            );
        }
    };
    let verdict = webhook::judge(&config, &secret, &headers, &body);
    // A signed delivery is taken once: the same delivery again (a replay) is refused.
    if matches!(verdict, Verdict::Push(_))
        && let Some(id) = webhook::delivery_id(&headers)
        && !service.first_delivery(id)
    {
        service.metrics.webhook("replayed");
        tracing::warn!(message = "webhook refused: a delivery seen before", delivery = %id);
        return error(
            StatusCode::CONFLICT,
            "this delivery was received before; a replay is not taken",
        );
    }
    match verdict {
        Verdict::Push(sources) => {
            // Sharded: a source belongs to the shard that owns its target; pass the request on
            // (it is verified again there), unless it was passed on already.
            let forwarded = headers.contains_key(FORWARDED);
            let (mine, theirs): (Vec<String>, Vec<String>) = sources.into_iter().partition(|s| {
                config
                    .sources
                    .iter()
                    .find(|c| &c.name == s)
                    .is_some_and(|c| service.owns(&c.target))
            });
            let mut passed = Vec::new();
            let mut not_mine = Vec::new();
            if let Some(shard) = service.shard()
                && !theirs.is_empty()
            {
                let mut by_owner: std::collections::BTreeMap<usize, Vec<String>> =
                    Default::default();
                for name in theirs {
                    let target = config
                        .sources
                        .iter()
                        .find(|c| c.name == name)
                        .map(|c| c.target.clone())
                        .unwrap_or_default();
                    by_owner
                        .entry(super::shard::owner(&target, shard.count))
                        .or_default()
                        .push(name);
                }
                for (owner, names) in by_owner {
                    match (&service.peer_url(owner), forwarded) {
                        (Some(url), false) => {
                            let status = forward(url, &headers, body.clone()).await;
                            passed
                                .push(json!({"shard": owner, "sources": names, "status": status}));
                        }
                        _ => not_mine.push(json!({"shard": owner, "sources": names})),
                    }
                }
            }
            if mine.is_empty() && passed.is_empty() {
                service.metrics.webhook("ignored");
                return json_response(&json!({
                    "ignored": "the sources are another shard's",
                    "other_shards": not_mine,
                }));
            }
            service.metrics.webhook("accepted");
            tracing::info!(message = "webhook: fetching", sources = %mine.join(","), forwarded = passed.len());
            service.fetch(&mine);
            (
                StatusCode::ACCEPTED,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                json!({ "fetching": mine, "forwarded": passed, "other_shards": not_mine })
                    .to_string(),
            )
                .into_response()
        }
        Verdict::Ignored(why) => {
            service.metrics.webhook("ignored");
            json_response(&json!({ "ignored": why }))
        }
        Verdict::Unauthorized(why) => {
            service.metrics.webhook("unauthorized");
            tracing::warn!(message = "webhook refused", reason = %why);
            error(StatusCode::UNAUTHORIZED, &why)
        }
        Verdict::BadRequest(why) => {
            service.metrics.webhook("bad_request");
            error(StatusCode::BAD_REQUEST, &why)
        }
    }
}

/// Marks a webhook request one shard passed on to another.
const FORWARDED: &str = "x-gitdrift-forwarded";

/// Passes a verified webhook on to the shard at `base`; returns its status (0: unreachable).
async fn forward(base: &str, headers: &HeaderMap, body: Bytes) -> u16 {
    let url = format!("{}/api/v1/webhooks/git", base.trim_end_matches('/'));
    let client = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        // The signature (GitLab's token itself) must not follow a redirect elsewhere, nor go
        // through a proxy set for git and AWS.
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
    {
        Ok(client) => client,
        Err(_) => return 0,
    };
    let mut request = client.post(&url).header(FORWARDED, "1").body(body);
    for name in [
        "content-type",
        "x-hub-signature-256",
        "x-github-event",
        "x-gitea-signature",
        "x-gitea-event",
        "x-gitlab-token",
        "x-gitlab-event",
        "x-github-delivery",
        "x-gitea-delivery",
        "x-gitlab-event-uuid",
    ] {
        if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(answer) => answer.status().as_u16(),
        Err(err) => {
            tracing::warn!(message = "webhook not passed on to its shard", url = %url, error = %crate::model::redact::error_chain(&err));
            0
        }
    }
}

/// Entries of every shard (each with the shard it came from; `None` when not sharded), and how
/// each shard answered.
async fn everywhere<T: serde::Serialize + serde::de::DeserializeOwned>(
    service: &Service,
    scope: &Scope,
    headers: &HeaderMap,
    path: &str,
    key: &str,
    local: Vec<T>,
) -> (Vec<(Option<usize>, T)>, Option<Vec<peers::ShardState>>) {
    if !peers::asks_peers(service, scope) {
        return (local.into_iter().map(|t| (None, t)).collect(), None);
    }
    match peers::merge(service, scope, headers, path, key, values(&local)).await {
        Err(_) => (local.into_iter().map(|t| (None, t)).collect(), None),
        Ok(merged) => {
            let items = merged
                .items
                .into_iter()
                .filter_map(|v| {
                    let shard = v["shard"].as_u64().map(|s| s as usize);
                    serde_json::from_value(v).ok().map(|t| (shard, t))
                })
                .collect();
            (items, Some(merged.shards))
        }
    }
}

/// What the overview page shows, gathered from every shard.
struct Overview {
    targets: Vec<(Option<usize>, super::TargetStatus)>,
    sources: Vec<(Option<usize>, super::SourceStatus)>,
    recent: Vec<(Option<usize>, crate::store::StoredScan)>,
    reports: Vec<(Option<usize>, super::reports::ReportRun)>,
    shards: Option<Vec<peers::ShardState>>,
    /// This replica's targets' trends, over their stored scans.
    trends: Vec<(String, Vec<report::chart::Point>)>,
}

/// How many stored scans a trend shows.
const TREND_SCANS: usize = 60;

/// A target's trend over its last stored scans (those of it alone, whose counts are its own),
/// oldest first.
async fn trend_of(service: &Service, target: &str) -> Vec<report::chart::Point> {
    let scans = stored_scans(service, Some(target.to_string()), TREND_SCANS)
        .await
        .unwrap_or_default();
    let mut points: Vec<report::chart::Point> = scans
        .iter()
        .filter(|s| s.targets.len() == 1)
        .map(crate::store::StoredScan::point)
        .collect();
    points.sort_by_key(|p| p.at);
    points
}

/// Which of a target's resources to list: by status, kind and namespace, a page at a time.
#[derive(Debug, Default, Deserialize)]
struct ResourceFilter {
    status: Option<String>,
    kind: Option<String>,
    namespace: Option<String>,
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

/// A target's last stored scan, read in a render turn (`serve.http.max_renders`, held as long as
/// the permit is): `Err` answers when the turn does not come, or the target or its scan is not
/// here.
async fn target_scan<'s>(
    service: &'s Service,
    name: &str,
) -> Result<
    (
        tokio::sync::SemaphorePermit<'s>,
        i64,
        crate::report::ScanReport,
    ),
    Response,
> {
    let turn = render_turn(service).await?;
    let Some(status) = service
        .target_statuses()
        .into_iter()
        .find(|t| t.name == name)
    else {
        return Err(error(
            StatusCode::NOT_FOUND,
            &format!("no target `{name}` on this replica"),
        ));
    };
    let Some(id) = status.last_scan_id else {
        return Err(error(
            StatusCode::NOT_FOUND,
            &format!("target `{name}` has no stored scan yet"),
        ));
    };
    let store = Arc::clone(&service.store);
    match blocking(move || store.get(id)).await? {
        Some((_, report)) => Ok((turn, id, report)),
        None => Err(error(StatusCode::NOT_FOUND, &format!("no scan {id}"))),
    }
}

/// One listed resource: its judgement and its failing findings.
struct Listed<'a> {
    resource: &'a crate::judge::ResourceReport,
    failing: usize,
}

fn resources_listed<'a>(
    report: &'a crate::report::ScanReport,
    name: &str,
    filter: &ResourceFilter,
) -> Vec<Listed<'a>> {
    use std::collections::HashMap;
    let mut failing: HashMap<(&str, Option<&str>, &str), usize> = HashMap::new();
    for f in &report.findings {
        if f.resource.target == name && f.status == crate::audit::findings::FindingStatus::Fail {
            *failing
                .entry((
                    f.resource.kind.as_str(),
                    f.resource.namespace.as_deref(),
                    f.resource.name.as_str(),
                ))
                .or_default() += 1;
        }
    }
    report
        .resources
        .iter()
        .filter(|r| r.target == name)
        .filter(|r| {
            filter
                .status
                .as_deref()
                .is_none_or(|s| s.is_empty() || r.status.as_str() == s)
        })
        .filter(|r| {
            filter
                .kind
                .as_deref()
                .is_none_or(|k| k.is_empty() || r.kind == k)
        })
        .filter(|r| {
            filter
                .namespace
                .as_deref()
                .is_none_or(|n| n.is_empty() || r.namespace.as_deref() == Some(n))
        })
        .map(|r| Listed {
            resource: r,
            failing: failing
                .get(&(r.kind.as_str(), r.namespace.as_deref(), r.name.as_str()))
                .copied()
                .unwrap_or(0),
        })
        .collect()
}

/// `/api/v1/targets/{name}/resources`: the target's resources in its last scan, filtered by
/// `status`, `kind` and `namespace`, a page at a time (`offset`, `limit` up to 1000).
async fn target_resources(
    State(service): State<Arc<Service>>,
    Path(name): Path<String>,
    Query(filter): Query<ResourceFilter>,
) -> Response {
    let (_turn, id, report) = match target_scan(&service, &name).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let limit = filter.limit.unwrap_or(100).clamp(1, 1000);
    let all = resources_listed(&report, &name, &filter);
    let items: Vec<Value> = all
        .iter()
        .skip(filter.offset)
        .take(limit)
        .map(|l| {
            let r = l.resource;
            json!({
                "apiVersion": r.api_version, "kind": r.kind, "namespace": r.namespace, "name": r.name,
                "status": r.status.as_str(), "drifts": r.drifts.len(), "failing_findings": l.failing,
                "health": r.health.as_ref().map(|h| h.status.as_str()),
                "report": format!("{}#{}", report_link(id, "html", None), report::anchor(r)),
            })
        })
        .collect();
    json_response(&json!({
        "target": name, "scan_id": id, "total": all.len(), "offset": filter.offset, "limit": limit,
        "items": items,
    }))
}

/// `/targets/{name}`: the target's trend and its resources in its last scan, filterable by
/// status, kind and namespace (a form, no scripts), each linking to its drift and findings in
/// the scan's HTML report.
async fn target_page(
    State(service): State<Arc<Service>>,
    Path(name): Path<String>,
    Query(filter): Query<ResourceFilter>,
) -> Response {
    let (_turn, id, report) = match target_scan(&service, &name).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let points = trend_of(&service, &name).await;
    let rows = resources_listed(&report, &name, &filter);
    let mut kinds: Vec<&str> = report
        .resources
        .iter()
        .filter(|r| r.target == name)
        .map(|r| r.kind.as_str())
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    let mut namespaces: Vec<&str> = report
        .resources
        .iter()
        .filter(|r| r.target == name)
        .filter_map(|r| r.namespace.as_deref())
        .collect();
    namespaces.sort_unstable();
    namespaces.dedup();
    let chosen = |value: &Option<String>, option: &str| value.as_deref() == Some(option);
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "gitdrift · " (name) }
                style { (maud::PreEscaped(STYLE)) }
            }
            body {
                p.muted { a href="/" { "gitdrift" } " · target" }
                h1 { (name) }
                p.muted {
                    "Scan " (id) " of " (report.scan.started_at.format("%Y-%m-%d %H:%M:%S UTC")) " · "
                    a href=(report_link(id, "html", None)) { "report" } " · "
                    a href=(format!("/api/v1/targets/{name}/resources")) { "JSON" }
                }
                (report::chart::trend(&name, &points))
                form method="get" {
                    label { "status " select name="status" {
                        option value="" { "any" }
                        @for s in ["in_sync", "drifted", "missing", "unmanaged"] {
                            option value=(s) selected[chosen(&filter.status, s)] { (s) }
                        }
                    } }
                    " "
                    label { "kind " select name="kind" {
                        option value="" { "any" }
                        @for k in &kinds { option value=(k) selected[chosen(&filter.kind, k)] { (k) } }
                    } }
                    " "
                    label { "namespace " select name="namespace" {
                        option value="" { "any" }
                        @for n in &namespaces { option value=(n) selected[chosen(&filter.namespace, n)] { (n) } }
                    } }
                    " " button type="submit" { "filter" }
                }
                p.muted { (rows.len()) " resources" }
                table {
                    thead { tr { th { "Status" } th { "Kind" } th { "Namespace" } th { "Name" } th { "Drifted fields" } th { "Failing findings" } th { "Health" } } }
                    tbody {
                        @for l in &rows {
                            @let r = l.resource;
                            tr {
                                td.(if r.status == crate::diff::Status::InSync { "" } else { "bad" }) { (r.status.as_str()) }
                                td { (r.kind) }
                                td { (r.namespace.as_deref().unwrap_or("—")) }
                                td { a href=(format!("{}#{}", report_link(id, "html", None), report::anchor(r))) { (r.name) } }
                                td.num { (r.drifts.len()) }
                                td.num.(if l.failing > 0 { "bad" } else { "" }) { (l.failing) }
                                td { (r.health.as_ref().map(|h| h.status.as_str()).unwrap_or("—")) }
                            }
                        }
                    }
                }
            }
        }
    };
    Response::builder()
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .body(Body::from(page.into_string()))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn overview(
    State(service): State<Arc<Service>>,
    Query(scope): Query<Scope>,
    headers: HeaderMap,
) -> Response {
    const RECENT: usize = 20;
    let recent = stored_scans(&service, None, RECENT)
        .await
        .unwrap_or_default();
    let recent_path = format!("/api/v1/scans?limit={RECENT}");
    let ((mut targets, shards), (mut sources, _), (mut recent, _), (mut reports, _)) = tokio::join!(
        everywhere(
            &service,
            &scope,
            &headers,
            "/api/v1/targets",
            "targets",
            service.target_statuses()
        ),
        everywhere(
            &service,
            &scope,
            &headers,
            "/api/v1/sources",
            "sources",
            service.source_statuses()
        ),
        everywhere(&service, &scope, &headers, &recent_path, "scans", recent),
        everywhere(
            &service,
            &scope,
            &headers,
            "/api/v1/reports",
            "reports",
            report_runs(&service)
        ),
    );
    targets.sort_by(|a, b| (&a.1.name, a.0).cmp(&(&b.1.name, b.0)));
    sources.sort_by(|a, b| (&a.1.name, a.0).cmp(&(&b.1.name, b.0)));
    reports.sort_by(|a, b| (&a.1.name, a.0).cmp(&(&b.1.name, b.0)));
    recent.sort_by_key(|s| std::cmp::Reverse(s.1.started_at));
    recent.truncate(RECENT);
    let mut trends = Vec::new();
    for (shard, t) in &targets {
        if shard.is_none() || service.target_statuses().iter().any(|l| l.name == t.name) {
            trends.push((t.name.clone(), trend_of(&service, &t.name).await));
        }
    }
    let view = Overview {
        targets,
        sources,
        recent,
        reports,
        shards,
        trends,
    };
    let page = overview_page(&service, &view);
    Response::builder()
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .body(Body::from(page.into_string()))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A stored scan's report, on the shard that stored it.
fn report_link(id: i64, format: &str, shard: Option<usize>) -> String {
    match shard {
        Some(shard) => format!("/api/v1/scans/{id}/report?format={format}&shard={shard}"),
        None => format!("/api/v1/scans/{id}/report?format={format}"),
    }
}

fn overview_page(service: &Service, view: &Overview) -> Markup {
    let time = |t: &Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_else(|| "—".to_string())
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="refresh" content="30";
                title { "gitdrift" }
                style { (maud::PreEscaped(STYLE)) }
            }
            body {
                h1 { "gitdrift" }
                p.muted {
                    "Version " (env!("CARGO_PKG_VERSION")) " · "
                    @if service.is_ready() { "ready" } @else { "waiting for first scans" }
                    " · " a href="/metrics" { "metrics" } " · " a href="/api/v1/targets" { "API" }
                }
                @if let Some(shards) = &view.shards {
                    p {
                        (shards.len()) " shards: "
                        @for (i, s) in shards.iter().enumerate() {
                            @if i > 0 { ", " }
                            @if let Some(why) = &s.error {
                                span.bad { (why) }
                            } @else {
                                "shard " (s.shard) " ok" @if s.this { " (this one)" }
                            }
                        }
                    }
                }
                h2 { "Targets" }
                table {
                    thead { tr {
                        th { "Target" } @if view.shards.is_some() { th { "Shard" } } th { "Provider" } th { "Mode" } th { "Resources" }
                        th { "Drifted" } th { "Missing" } th { "Unmanaged" } th { "Failing findings" }
                        th { "Errors" } th { "Last scan" } th { "Report" }
                    } }
                    tbody {
                        @for (shard, t) in &view.targets {
                            @let s = t.summary.clone().unwrap_or_default();
                            tr {
                                td { a href=(format!("/targets/{}", t.name)) { (t.name) } @if !t.stale_sources.is_empty() { " " span.bad { "stale source: " (t.stale_sources.join(", ")) } } }
                                @if let Some(shard) = shard { td.num { (shard) } }
                                td { (t.provider) }
                                td { (t.mode) }
                                td.num { (s.resources) }
                                td.num.(if s.drifted > 0 { "bad" } else { "" }) { (s.drifted) }
                                td.num.(if s.missing > 0 { "bad" } else { "" }) { (s.missing) }
                                td.num.(if s.unmanaged > 0 { "bad" } else { "" }) { (s.unmanaged) }
                                td.num.(if t.failing_findings > 0 { "bad" } else { "" }) { (t.failing_findings) }
                                td.num.(if s.errors > 0 { "bad" } else { "" }) { (s.errors) }
                                td { (time(&t.last_scan_at)) @if t.scanning { " (scanning)" } }
                                td {
                                    @if let Some(id) = t.last_scan_id {
                                        a href=(report_link(id, "html", *shard)) { "HTML" } " · "
                                        a href=(report_link(id, "json", *shard)) { "JSON" }
                                    } @else { "—" }
                                }
                            }
                        }
                    }
                }
                @if view.trends.iter().any(|(_, points)| !points.is_empty()) {
                    h2 { "Trends" }
                    p.muted { "Drifted, missing, unmanaged and degraded resources and failing findings over each target's stored scans." }
                    @for (name, points) in &view.trends {
                        @if !points.is_empty() {
                            h3 { a href=(format!("/targets/{name}")) { (name) } }
                            (report::chart::trend(name, points))
                        }
                    }
                }
                h2 { "Sources" }
                table {
                    thead { tr { th { "Source" } th { "Target" } th { "Revision" } th { "Last fetch" } th { "State" } th { "Convergence" } } }
                    tbody {
                        @for (_, s) in &view.sources {
                            tr {
                                td { (s.name) } td { (s.target) }
                                td { code { (s.revision.as_deref().map(|r| r.chars().take(12).collect::<String>()).unwrap_or_else(|| "—".to_string())) } }
                                td { (time(&s.last_fetch_at)) }
                                td { @if let Some(why) = &s.stale { span.bad { "stale: " (why) } } @else { "current" } }
                                td { @if let Some(r) = &s.convergence {
                                    @let outcome = crate::report::convergence::Row::of(r).outcome;
                                    @if r.converged_at.is_some() { (outcome) } @else { span.bad { (outcome) } }
                                } @else { "—" } }
                            }
                        }
                    }
                }
                @if !view.reports.is_empty() {
                    h2 { "Scheduled reports" }
                    table {
                        thead { tr { th { "Report" } th { "Schedule" } th { "Last run" } th { "Next run" } th { "Trend" } th { "Files" } } }
                        tbody {
                            @for (shard, r) in &view.reports {
                                tr {
                                    td { (r.name) } td { code { (r.schedule) } }
                                    td { (time(&r.last_run_at)) }
                                    td { (time(&r.next_run_at)) }
                                    td { @if let Some(t) = &r.trend { (t.new) " new, " (t.resolved) " resolved, " (t.open) " open" } @else { "—" } }
                                    td { @if let Some(id) = r.scan_id {
                                        @for f in &r.formats {
                                            a href=(report_link(id, f, *shard)) { (f) } " "
                                        }
                                    } @else { "—" } }
                                }
                            }
                        }
                    }
                }
                h2 { "Recent scans" }
                table {
                    thead { tr { th { "Id" } th { "Started" } th { "Targets" } th { "Drifted" } th { "Missing" } th { "Unmanaged" } th { "Failing findings" } th { "SHA-256" } } }
                    tbody {
                        @for (shard, s) in &view.recent {
                            tr {
                                td { a href=(report_link(s.id, "html", *shard)) { (s.id) @if let Some(shard) = shard { " (shard " (shard) ")" } } }
                                td { (s.started_at.format("%Y-%m-%d %H:%M:%S UTC")) }
                                td { (s.targets.join(", ")) }
                                td.num { (s.summary.drifted) } td.num { (s.summary.missing) } td.num { (s.summary.unmanaged) }
                                td.num { (s.failing_findings) }
                                td { code { (s.sha256.chars().take(16).collect::<String>()) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin-bottom:1.5em}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}\
th{background:#f3f3f3}td.num{text-align:right}.bad{color:#b00020;font-weight:600}.muted{color:#666}\
figure{margin:.25em 0 1em}figcaption{color:#666;font-size:12px}.legend{margin-right:1em}\
@media print{a{color:inherit;text-decoration:none}}";
