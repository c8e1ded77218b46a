//! The read-only guarantee, enforced in the HTTP stack: every request the Kubernetes client makes
//! passes through [`ReadOnlyLayer`], which refuses anything but `GET` before it is sent. List,
//! get, watch and discovery are GETs; create, update, patch, delete and every subresource write
//! are not, whatever code asks for them. A GET is sent only to the paths gitdrift builds
//! (discovery, the OpenAPI v3 schemas of a group version, a resource's list, one object): never
//! a subresource, never a proxy, so a name or namespace that slipped past validation still
//! cannot point it elsewhere. Every request sent is counted in `gitdrift_api_requests_total` with its read verb (get, list, watch, discovery) and response
//! code; every refusal in `gitdrift_write_refusals_total`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Method, Request};
use tower::{BoxError, Layer, Service};

use crate::live::Recorder;

/// A GET to a path gitdrift never builds.
#[derive(Debug, thiserror::Error)]
#[error("gitdrift reads only discovery, OpenAPI schemas, lists and objects: refused GET {path}")]
pub struct PathRefused {
    /// The request path.
    pub path: String,
}

/// Whether a GET path is one gitdrift builds: the version, discovery (`/api`, `/apis`,
/// `/api/v1`, `/apis/GROUP[/VERSION]`), the OpenAPI v3 schemas of a group version (for the
/// defaults: `/openapi/v3`, `/openapi/v3/api/v1`, `/openapi/v3/apis/GROUP/VERSION`), a
/// resource's list (cluster-wide or in a namespace) or one object. Never a subresource (`…/NAME/proxy`, `…/NAME/log`), never a path segment that is
/// empty, `.` or `..`, or holds an escape.
pub fn allowed_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    let segments: Vec<&str> = rest.split('/').collect();
    if segments
        .iter()
        .any(|s| s.is_empty() || *s == "." || *s == ".." || s.contains('%') || s.contains('\\'))
    {
        return false;
    }
    let resources = match segments.as_slice() {
        ["version"] | ["api"] | ["apis"] | ["api", _] | ["apis", _] | ["apis", _, _] => {
            return true;
        }
        ["openapi", "v3"] | ["openapi", "v3", "api", "v1"] | ["openapi", "v3", "apis", _, _] => {
            return true;
        }
        ["api", _version, rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        _ => return false,
    };
    match resources {
        // A list, or one object.
        [_resource] | [_resource, _] => true,
        // The same in a namespace (whose name is a DNS label).
        ["namespaces", namespace, _resource] | ["namespaces", namespace, _resource, _] => {
            crate::model::names::is_dns_label(namespace)
        }
        _ => false,
    }
}

/// A refused request: what it was and where it would have gone.
#[derive(Debug, thiserror::Error)]
#[error("gitdrift is read-only: refused {method} {path} before sending it")]
pub struct WriteRefused {
    /// The HTTP method.
    pub method: Method,
    /// The request path.
    pub path: String,
}

/// Wraps a client stack so that only `GET` requests leave the process.
#[derive(Clone, Debug)]
pub struct ReadOnlyLayer {
    target: Arc<str>,
    recorder: Arc<dyn Recorder>,
}

impl ReadOnlyLayer {
    /// The guard of a target's clients (the name labels its request metrics in `recorder`).
    pub fn for_target(target: &str, recorder: Arc<dyn Recorder>) -> ReadOnlyLayer {
        ReadOnlyLayer {
            target: Arc::from(target),
            recorder,
        }
    }
}

impl<S> Layer<S> for ReadOnlyLayer {
    type Service = ReadOnly<S>;

    fn layer(&self, inner: S) -> ReadOnly<S> {
        ReadOnly {
            inner,
            target: Arc::clone(&self.target),
            recorder: Arc::clone(&self.recorder),
        }
    }
}

/// The service [`ReadOnlyLayer`] builds.
#[derive(Clone, Debug)]
pub struct ReadOnly<S> {
    inner: S,
    target: Arc<str>,
    recorder: Arc<dyn Recorder>,
}

/// The read verb of a GET: `watch`, `list` or `get` by the shape of the path, `discovery` for
/// the API's own description.
pub fn verb(path: &str, query: Option<&str>) -> &'static str {
    if query.is_some_and(|q| {
        q.split('&')
            .any(|pair| pair == "watch=true" || pair == "watch=1")
    }) {
        return "watch";
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let rest = match segments.as_slice() {
        ["api", _version, rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        _ => return "discovery",
    };
    match rest.len() {
        0 => "discovery",
        // resources | namespaces/NS/resources
        n if n % 2 == 1 => "list",
        _ => "get",
    }
}

impl<S, B, RB> Service<Request<B>> for ReadOnly<S>
where
    S: Service<Request<B>, Response = http::Response<RB>>,
    RB: Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if request.method() != Method::GET {
            let refused = WriteRefused {
                method: request.method().clone(),
                path: request.uri().path().to_string(),
            };
            tracing::error!(message = "write refused", %refused);
            self.recorder.refused(&self.target, "kubernetes");
            return Box::pin(std::future::ready(Err(refused.into())));
        }
        if !allowed_path(request.uri().path()) {
            let refused = PathRefused {
                path: request.uri().path().to_string(),
            };
            tracing::error!(message = "request refused", %refused);
            self.recorder.refused(&self.target, "kubernetes");
            return Box::pin(std::future::ready(Err(refused.into())));
        }
        let verb = verb(request.uri().path(), request.uri().query());
        let target = Arc::clone(&self.target);
        let recorder = Arc::clone(&self.recorder);
        let future = self.inner.call(request);
        Box::pin(async move {
            let result = future.await.map_err(Into::into);
            let code = match &result {
                Ok(response) => response.status().as_u16().to_string(),
                Err(_) => "error".to_string(),
            };
            recorder.request(&target, "kubernetes", verb, &code);
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A stand-in for the network: records what reaches it.
    #[derive(Clone, Default)]
    struct Wire(Arc<Mutex<Vec<String>>>);

    impl Service<Request<()>> for Wire {
        type Response = http::Response<&'static str>;
        type Error = BoxError;
        type Future = std::future::Ready<Result<http::Response<&'static str>, BoxError>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, request: Request<()>) -> Self::Future {
            self.0
                .lock()
                .unwrap()
                .push(format!("{} {}", request.method(), request.uri()));
            std::future::ready(Ok(http::Response::new("sent")))
        }
    }

    #[tokio::test]
    async fn only_gets_reach_the_wire() {
        use tower::ServiceExt;
        let wire = Wire::default();
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let service = ReadOnlyLayer::for_target("guard-test", metrics.clone()).layer(wire.clone());
        let get = Request::get("/api/v1/namespaces/shop/configmaps")
            .body(())
            .unwrap();
        assert_eq!(
            service.clone().oneshot(get).await.unwrap().into_body(),
            "sent"
        );
        for method in [
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::HEAD,
            Method::OPTIONS,
        ] {
            let request = Request::builder()
                .method(method.clone())
                .uri("/api/v1/namespaces/shop/configmaps/x")
                .body(())
                .unwrap();
            let err = service.clone().oneshot(request).await.unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "gitdrift is read-only: refused {method} /api/v1/namespaces/shop/configmaps/x before sending it"
                )
            );
        }
        assert_eq!(
            *wire.0.lock().unwrap(),
            vec!["GET /api/v1/namespaces/shop/configmaps"]
        );
        let metrics = metrics.encode();
        assert!(metrics.contains(
            r#"gitdrift_api_requests_total{code="200",provider="kubernetes",target="guard-test",verb="list"} 1"#
        ));
        assert!(metrics.contains(
            r#"gitdrift_write_refusals_total{provider="kubernetes",target="guard-test"} 6"#
        ));
    }

    #[test]
    fn only_the_paths_gitdrift_builds_are_read() {
        for path in [
            "/version",
            "/api",
            "/apis",
            "/api/v1",
            "/apis/apps/v1",
            "/api/v1/configmaps",
            "/api/v1/namespaces",
            "/api/v1/namespaces/shop",
            "/api/v1/namespaces/shop/configmaps",
            "/api/v1/namespaces/shop/configmaps/web-config",
            "/apis/apps/v1/namespaces/shop/deployments/web",
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:controller:job",
            "/openapi/v3",
            "/openapi/v3/api/v1",
            "/openapi/v3/apis/apps/v1",
        ] {
            assert!(allowed_path(path), "{path}");
        }
        for path in [
            "/",
            "/api/v1/namespaces/shop/services/web/proxy",
            "/api/v1/namespaces/shop/services/web/proxy/admin",
            "/api/v1/nodes/node-1/proxy",
            "/api/v1/namespaces/shop/pods/web-0/log",
            "/api/v1/namespaces/../secrets",
            "/api/v1/namespaces/Shop%2Fx/configmaps",
            "/api/v1/namespaces/shop//configmaps",
            "/apis/apps/v1/namespaces/shop/deployments/web/scale",
            "/metrics",
            "/logs/kube-apiserver.log",
            "/openapi/v2",
            "/openapi/v3/apis/apps",
            "/openapi/v3/apis/apps/v1/extra",
        ] {
            assert!(!allowed_path(path), "{path}");
        }
    }

    #[tokio::test]
    async fn a_get_elsewhere_never_reaches_the_wire() {
        use tower::ServiceExt;
        let wire = Wire::default();
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let service = ReadOnlyLayer::for_target("guard-path", metrics.clone()).layer(wire.clone());
        let proxy = Request::get("/api/v1/namespaces/shop/services/web/proxy/admin")
            .body(())
            .unwrap();
        let err = service.oneshot(proxy).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "gitdrift reads only discovery, OpenAPI schemas, lists and objects: refused GET /api/v1/namespaces/shop/services/web/proxy/admin"
        );
        assert!(wire.0.lock().unwrap().is_empty());
        assert!(metrics.encode().contains(
            r#"gitdrift_write_refusals_total{provider="kubernetes",target="guard-path"} 1"#
        ));
    }

    #[test]
    fn verbs_follow_the_path() {
        for (path, query, expected) in [
            ("/api", None, "discovery"),
            ("/apis/apps/v1", None, "discovery"),
            ("/version", None, "discovery"),
            ("/api/v1/namespaces", None, "list"),
            ("/api/v1/namespaces/shop", None, "get"),
            ("/api/v1/namespaces/shop/configmaps", None, "list"),
            ("/api/v1/namespaces/shop/configmaps/x", None, "get"),
            ("/apis/apps/v1/deployments", Some("limit=500"), "list"),
            ("/apis/apps/v1/namespaces/shop/deployments/web", None, "get"),
            (
                "/apis/apps/v1/namespaces/shop/deployments",
                Some("watch=true&resourceVersion=5"),
                "watch",
            ),
        ] {
            assert_eq!(verb(path, query), expected, "{path}");
        }
    }
}
