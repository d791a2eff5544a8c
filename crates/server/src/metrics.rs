//! What a running server counts, for Prometheus at `GET /metrics`.
//!
//! Each [`App`](crate::App) has its own registry, so servers sharing a process (tests,
//! the desktop app's host mode) never mix their numbers. The endpoint answers peers on
//! the loopback interface, or anyone presenting the configured metrics token; it lists
//! counts only, never names or contents.

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus::{Encoder, Histogram, HistogramOpts, IntCounter, IntGauge, Opts, Registry};

use crate::AppState;

/// The server's counters, gauges and histograms.
pub struct Metrics {
    registry: Registry,
    /// Open WebSocket connections.
    pub connections: IntGauge,
    /// Messages committed (each durable send once; replays are not counted).
    pub messages: IntCounter,
    /// From queueing a write to its durable answer.
    pub send_ack_seconds: Histogram,
    /// File bytes accepted into uploads.
    pub upload_bytes: IntCounter,
    /// File bytes served to downloads.
    pub download_bytes: IntCounter,
    /// Transactions the store failed to commit.
    pub store_errors: IntCounter,
    /// HTTP answers with a 5xx status.
    pub http_server_errors: IntCounter,
}

impl Metrics {
    /// A fresh registry with every metric at zero.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new_custom(Some("satchel".into()), None)?;
        let connections = IntGauge::new("websocket_connections", "Open WebSocket connections")?;
        let messages = IntCounter::new(
            "messages_committed_total",
            "Messages committed durably (replayed sends are not counted)",
        )?;
        let send_ack_seconds = Histogram::with_opts(
            HistogramOpts::from(Opts::new(
                "send_ack_seconds",
                "Time from queueing a write to its durable answer",
            ))
            .buckets(vec![
                0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
            ]),
        )?;
        let upload_bytes =
            IntCounter::new("upload_bytes_total", "File bytes accepted into uploads")?;
        let download_bytes =
            IntCounter::new("download_bytes_total", "File bytes served to downloads")?;
        let store_errors = IntCounter::new(
            "store_errors_total",
            "Transactions the store failed to commit",
        )?;
        let http_server_errors =
            IntCounter::new("http_server_errors_total", "HTTP answers with a 5xx status")?;
        registry.register(Box::new(connections.clone()))?;
        registry.register(Box::new(messages.clone()))?;
        registry.register(Box::new(send_ack_seconds.clone()))?;
        registry.register(Box::new(upload_bytes.clone()))?;
        registry.register(Box::new(download_bytes.clone()))?;
        registry.register(Box::new(store_errors.clone()))?;
        registry.register(Box::new(http_server_errors.clone()))?;
        Ok(Metrics {
            registry,
            connections,
            messages,
            send_ack_seconds,
            upload_bytes,
            download_bytes,
            store_errors,
            http_server_errors,
        })
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut out = Vec::new();
        prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

/// Counts one open connection while alive.
pub struct ConnectionGuard(IntGauge);

impl ConnectionGuard {
    /// Counts one more on `gauge` now and one less when dropped, however the
    /// connection ends.
    pub fn new(gauge: &IntGauge) -> ConnectionGuard {
        gauge.inc();
        ConnectionGuard(gauge.clone())
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// `GET /metrics`.
pub async fn serve(State(state): State<AppState>, request: Request) -> Response {
    let peer_is_local = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .is_some_and(|ConnectInfo(addr)| addr.ip().is_loopback());
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !may_scrape(
        peer_is_local,
        state.metrics_token.get().map(String::as_str),
        presented,
    ) {
        return (
            StatusCode::FORBIDDEN,
            "metrics are served to the loopback interface or with the metrics token\n",
        )
            .into_response();
    }
    match state.metrics.render() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "rendering metrics failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Loopback peers may always scrape; others only with the configured token.
fn may_scrape(peer_is_local: bool, configured: Option<&str>, presented: Option<&str>) -> bool {
    match (configured, presented) {
        // Compared as hashes: equal-length inputs, so timing tells nothing of the token.
        (Some(token), Some(presented)) if !peer_is_local => {
            crate::auth::token_hash(token) == crate::auth::token_hash(presented)
        }
        _ => peer_is_local,
    }
}

/// Middleware counting 5xx answers.
pub async fn count_server_errors(
    State(state): State<AppState>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    if response.status().is_server_error() {
        state.metrics.http_server_errors.inc();
    }
    response
}

#[cfg(test)]
mod tests {
    use super::may_scrape;

    #[test]
    fn loopback_may_scrape_others_need_the_token() {
        assert!(may_scrape(true, None, None));
        assert!(may_scrape(true, Some("s3cret"), None));
        assert!(!may_scrape(false, None, None));
        assert!(!may_scrape(false, None, Some("anything")));
        assert!(!may_scrape(false, Some("s3cret"), None));
        assert!(!may_scrape(false, Some("s3cret"), Some("guess")));
        assert!(may_scrape(false, Some("s3cret"), Some("s3cret")));
    }
}
