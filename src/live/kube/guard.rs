//! The read-only guarantee, enforced in the HTTP stack: every request the Kubernetes client makes
//! passes through [`ReadOnlyLayer`], which refuses anything but `GET` before it is sent. List,
//! get, watch and discovery are GETs; create, update, patch, delete and every subresource write
//! are not, whatever code asks for them.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Method, Request};
use tower::{BoxError, Layer, Service};

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
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadOnlyLayer;

impl<S> Layer<S> for ReadOnlyLayer {
    type Service = ReadOnly<S>;

    fn layer(&self, inner: S) -> ReadOnly<S> {
        ReadOnly { inner }
    }
}

/// The service [`ReadOnlyLayer`] builds.
#[derive(Clone, Debug)]
pub struct ReadOnly<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for ReadOnly<S>
where
    S: Service<Request<B>>,
    S::Response: Send + 'static,
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
            return Box::pin(std::future::ready(Err(refused.into())));
        }
        let future = self.inner.call(request);
        Box::pin(async move { future.await.map_err(Into::into) })
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
        type Response = &'static str;
        type Error = BoxError;
        type Future = std::future::Ready<Result<&'static str, BoxError>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, request: Request<()>) -> Self::Future {
            self.0
                .lock()
                .unwrap()
                .push(format!("{} {}", request.method(), request.uri()));
            std::future::ready(Ok("sent"))
        }
    }

    #[tokio::test]
    async fn only_gets_reach_the_wire() {
        use tower::ServiceExt;
        let wire = Wire::default();
        let service = ReadOnlyLayer.layer(wire.clone());
        let get = Request::get("/api/v1/namespaces/shop/configmaps")
            .body(())
            .unwrap();
        assert_eq!(service.clone().oneshot(get).await.unwrap(), "sent");
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
    }
}
