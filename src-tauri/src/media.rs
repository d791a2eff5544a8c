//! The `satchel:` scheme: the webview loads images by attachment hash, never by path.
//!
//! `satchel://localhost/<size>/<sha256>` (on Windows `http://satchel.localhost/…`), where
//! size is `thumb` (≤ 256 px), `chat` (≤ 1024 px), `screen` (≤ 2560 px, the sender's
//! screen level of a large photo) or `original` (the verified original bytes). A hash is served only if a message in this profile carries it, and only to
//! the app's own windows. Missing previews and originals are downloaded on demand.

use satchel_client::transfer::PreviewSize;
use tauri::http::{header, Request, Response, StatusCode};
use tauri::{Manager, Runtime, UriSchemeContext, UriSchemeResponder};

use crate::shell::Shell;

/// Windows allowed to load media.
const WINDOWS: [&str; 2] = ["main", "viewer"];

pub fn handle<R: Runtime>(
    ctx: UriSchemeContext<'_, R>,
    request: Request<Vec<u8>>,
    responder: UriSchemeResponder,
) {
    let app = ctx.app_handle().clone();
    let allowed = WINDOWS.contains(&ctx.webview_label());
    // The UI builds URLs with `convertFileSrc`, which percent-encodes the slash.
    let path = request.uri().path().replace("%2F", "/").replace("%2f", "/");
    tauri::async_runtime::spawn(async move {
        let response = if allowed {
            serve(&app.state::<Shell>(), &path).await
        } else {
            status(StatusCode::FORBIDDEN)
        };
        responder.respond(response);
    });
}

async fn serve(shell: &Shell, path: &str) -> Response<Vec<u8>> {
    let mut parts = path.trim_start_matches('/').split('/');
    let (Some(size), Some(sha256), None) = (parts.next(), parts.next(), parts.next()) else {
        return status(StatusCode::NOT_FOUND);
    };
    let size = match size {
        "thumb" => Some(PreviewSize::Thumb),
        "chat" => Some(PreviewSize::Chat),
        "screen" => Some(PreviewSize::Screen),
        "original" => None,
        _ => return status(StatusCode::NOT_FOUND),
    };
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return status(StatusCode::BAD_REQUEST);
    }
    let attachment = match shell.engine.attachment(sha256).await {
        Ok(Some(a)) => a,
        Ok(None) => return status(StatusCode::NOT_FOUND),
        Err(e) => {
            tracing::warn!(error = ?e, "looking up an attachment failed");
            return status(StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    let file = match size {
        Some(size) => shell.engine.preview(sha256, size).await,
        None => shell.engine.fetch_file(sha256).await,
    };
    let path = match file {
        Ok(path) => path,
        Err(e) => {
            tracing::warn!(error = %e, sha256, "media not available");
            return status(StatusCode::NOT_FOUND);
        }
    };
    let mime = if size.is_some() {
        "image/jpeg".to_owned()
    } else {
        attachment.mime
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, mime)
            // Content-addressed: the bytes behind a URL never change.
            .header(
                header::CACHE_CONTROL,
                "private, max-age=31536000, immutable",
            )
            .header("X-Content-Type-Options", "nosniff")
            // The viewer reads pixels back (the colour picker), which a cross-origin image
            // allows only with CORS. Only the app's own windows are served at all.
            .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")
            .body(bytes)
            .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR)),
        Err(e) => {
            tracing::warn!(error = %e, "reading cached media failed");
            status(StatusCode::NOT_FOUND)
        }
    }
}

fn status(code: StatusCode) -> Response<Vec<u8>> {
    let mut response = Response::new(Vec::new());
    *response.status_mut() = code;
    response
}
