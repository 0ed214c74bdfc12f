//! Accepting connections with limits: a cap on open connections, a deadline
//! for reading a request's headers (which also closes idle keep-alive
//! connections) and for answering a request. `axum::serve` has none of
//! these, so a few thousand half-open connections could once exhaust the
//! server's file descriptors and stop `/healthz` answering.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// The limits of the HTTP edge.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at once. Beyond it, new connections wait in the
    /// kernel's queue (using no descriptor of ours) until one closes.
    pub max_connections: usize,
    /// Time a client has to send a request's headers, from when the server
    /// starts reading them: a slow client (slowloris) is closed, and so is a
    /// keep-alive connection left idle this long.
    pub header_read_timeout: Duration,
    /// Time a request may take, body and answer included (then 408).
    pub request_timeout: Duration,
    /// Behind a TLS proxy on the same host every request comes from
    /// loopback; with this set, a request from a loopback peer is taken to
    /// come from the last address its `X-Forwarded-For` names (the one the
    /// proxy added), so log-in back-off counts the real client.
    pub trust_forwarded_for: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 512,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(120),
            trust_forwarded_for: false,
        }
    }
}

/// The client a loopback proxy forwarded for: the last `X-Forwarded-For`
/// entry (earlier ones are the client's own say). Any other peer is itself.
fn forwarded_client(peer: &SocketAddr, headers: &axum::http::HeaderMap) -> SocketAddr {
    if !peer.ip().is_loopback() {
        return *peer;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|a| a.trim().parse::<std::net::IpAddr>().ok())
        .map_or(*peer, |ip| SocketAddr::new(ip, 0))
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes,
/// then lets open requests finish (for up to ten seconds).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let app = app
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        // The timeout's own 408 is plain; this makes it ours (JSON on the API).
        .layer(axum::middleware::from_fn(super::edge_errors));
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(64 * 1024);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a connection reset before it was
                    // accepted: keep serving the connections already open.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let app = app.clone();
        let trust = limits.trust_forwarded_for;
        let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
            let client = if trust { forwarded_client(&peer, req.headers()) } else { peer };
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(client));
            app.clone().oneshot(req.map(axum::body::Body::new))
        });
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // Closed by the client, a timeout or a protocol error: all
            // ordinary at the edge, and none says anything about a person.
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(10)) => {}
    }
    Ok(())
}
