//! The HTTP server's connections, bounded (`serve.http`): at most `max_connections` at once
//! (more are closed at once), TLS handshakes and request headers within `header_timeout`, idle
//! keep-alive connections closed after the same time, and on shutdown in-flight requests
//! finished while no new connection is taken. axum's routes run inside.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::config::service::{HttpLimits, TlsSettings};

/// Builds the TLS acceptor from PEM files.
pub fn tls_acceptor(tls: &TlsSettings) -> Result<TlsAcceptor, String> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.cert_file)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| format!("serve.tls.cert_file {}: {e}", tls.cert_file.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "serve.tls.cert_file {}: no certificate",
            tls.cert_file.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&tls.key_file)
        .map_err(|e| format!("serve.tls.key_file {}: {e}", tls.key_file.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("serve.tls: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves `app` on `listener` until `stop` turns true. `tls` gives the acceptor in force for
/// each new connection (`None`: plain HTTP), so a reload takes effect for the next connection.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    tls: impl Fn() -> Option<TlsAcceptor> + Send + 'static,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let header_timeout = limits.header_timeout;
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, say: wait a little rather than spin.
                    tracing::warn!(message = "accept failed", error = %err);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = async { stop.wait_for(|s| *s).await.is_ok() } => break,
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            tracing::warn!(message = "too many connections; closing a new one", peer = %peer);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let watcher = graceful.watcher();
        let tls = tls();
        tokio::spawn(async move {
            let _permit = permit;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(Some(header_timeout))
                .keep_alive(true);
            let result = match tls {
                None => {
                    let connection = builder.serve_connection(TokioIo::new(tcp), service);
                    watcher.watch(connection).await
                }
                Some(acceptor) => {
                    let stream = match tokio::time::timeout(header_timeout, acceptor.accept(tcp))
                        .await
                    {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(err)) => {
                            tracing::debug!(message = "TLS handshake failed", peer = %peer, error = %err);
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(message = "TLS handshake timed out", peer = %peer);
                            return;
                        }
                    };
                    let connection = builder.serve_connection(TokioIo::new(stream), service);
                    watcher.watch(connection).await
                }
            };
            if let Err(err) = result {
                tracing::debug!(message = "connection ended", peer = %peer, error = %err);
            }
        });
    }
    drop(listener);
    // Requests in flight are answered; idle connections close now.
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
}
