//! A typed HTTP client for the server's `/api/v1` routes (see `docs/protocol.md`).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use satchel_protocol::api::*;
use satchel_protocol::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{EngineError, ServerError};

/// HTTP access to one server, optionally with a session token.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl ApiClient {
    /// A client for `server_url` (`http://host:port` or `https://…`).
    pub fn new(server_url: &str) -> Result<ApiClient, EngineError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(EngineError::Network)?;
        Ok(ApiClient {
            http,
            base: server_url.trim_end_matches('/').to_owned(),
            token: None,
        })
    }

    /// The same client, authenticated with `token`.
    pub fn with_token(&self, token: impl Into<String>) -> ApiClient {
        ApiClient {
            token: Some(token.into()),
            ..self.clone()
        }
    }

    /// The server URL this client talks to.
    pub fn server_url(&self) -> &str {
        &self.base
    }

    /// The WebSocket URL of the live connection.
    pub fn ws_url(&self) -> String {
        let base = if let Some(rest) = self.base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = self.base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            self.base.clone()
        };
        format!("{base}/api/v1/ws")
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, EngineError> {
        let mut request = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(EngineError::Network)?;
        Self::decode(response).await
    }

    /// Reads a JSON answer, or the protocol error it carries.
    async fn decode<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, EngineError> {
        let status = response.status();
        let bytes = response.bytes().await.map_err(EngineError::Network)?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| EngineError::Decode(e.to_string()));
        }
        let body = serde_json::from_slice::<ErrorBody>(&bytes).unwrap_or_else(|_| {
            // Not our server's error format (a proxy's error page, say): classify by
            // status so the outbox still reacts sensibly.
            let code = match status {
                StatusCode::UNAUTHORIZED => ErrorCode::Unauthenticated,
                StatusCode::NOT_FOUND => ErrorCode::NotFound,
                StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
                s if s.is_server_error() => ErrorCode::Unavailable,
                _ => ErrorCode::MalformedRequest,
            };
            ErrorBody::new(code, format!("HTTP {status}"))
        });
        Err(EngineError::Server(ServerError {
            status: Some(status.as_u16()),
            body,
        }))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, EngineError> {
        self.call::<(), T>(Method::GET, path, None).await
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, EngineError> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn login(&self, request: &LoginRequest) -> Result<LoginResponse, EngineError> {
        self.post("/login", request).await
    }

    pub async fn logout(&self) -> Result<(), EngineError> {
        self.post::<_, serde_json::Value>("/logout", &serde_json::json!({}))
            .await
            .map(|_| ())
    }

    pub async fn me(&self) -> Result<MeResponse, EngineError> {
        self.get("/me").await
    }

    pub async fn create_org(&self, name: &str) -> Result<Organisation, EngineError> {
        self.post(
            "/orgs",
            &CreateOrgRequest {
                name: name.to_owned(),
            },
        )
        .await
    }

    pub async fn create_invite(
        &self,
        request: &CreateInviteRequest,
    ) -> Result<Invite, EngineError> {
        self.post("/invites", request).await
    }

    pub async fn redeem_invite(
        &self,
        request: &RedeemInviteRequest,
    ) -> Result<LoginResponse, EngineError> {
        self.post("/invites/redeem", request).await
    }

    pub async fn orgs(&self) -> Result<Vec<Organisation>, EngineError> {
        self.get("/orgs").await
    }

    pub async fn create_member(
        &self,
        request: &CreateMemberRequest,
    ) -> Result<Member, EngineError> {
        self.post("/members", request).await
    }

    pub async fn members(&self) -> Result<Vec<Member>, EngineError> {
        self.get("/members").await
    }

    pub async fn create_conversation(
        &self,
        request: &CreateConversationRequest,
    ) -> Result<Conversation, EngineError> {
        self.post("/conversations", request).await
    }

    pub async fn add_members(
        &self,
        id: ConversationId,
        members: Vec<MemberId>,
    ) -> Result<Conversation, EngineError> {
        self.post(
            &format!("/conversations/{id}/members"),
            &AddMembersRequest {
                member_ids: members,
            },
        )
        .await
    }

    pub async fn conversations(&self) -> Result<Vec<Conversation>, EngineError> {
        self.get("/conversations").await
    }

    pub async fn conversation(&self, id: ConversationId) -> Result<Conversation, EngineError> {
        self.get(&format!("/conversations/{id}")).await
    }

    /// A page of history; see the route's documentation for `before`/`after`.
    pub async fn history(
        &self,
        id: ConversationId,
        before: Option<Seq>,
        after: Option<Seq>,
        limit: u32,
    ) -> Result<HistoryPage, EngineError> {
        let mut query = format!("?limit={limit}");
        if let Some(b) = before {
            query.push_str(&format!("&before={b}"));
        }
        if let Some(a) = after {
            query.push_str(&format!("&after={a}"));
        }
        self.get(&format!("/conversations/{id}/messages{query}"))
            .await
    }

    pub async fn send(
        &self,
        id: ConversationId,
        request: &SendMessageRequest,
    ) -> Result<SendAck, EngineError> {
        self.post(&format!("/conversations/{id}/messages"), request)
            .await
    }

    pub async fn receipts(&self, id: ConversationId) -> Result<ReceiptList, EngineError> {
        self.get(&format!("/conversations/{id}/receipts")).await
    }

    pub async fn post_receipt(
        &self,
        id: ConversationId,
        request: &ReceiptRequest,
    ) -> Result<Receipt, EngineError> {
        self.post(&format!("/conversations/{id}/receipts"), request)
            .await
    }

    /// "Remind now" about one of the caller's messages.
    pub async fn remind(
        &self,
        id: ConversationId,
        message_id: MessageId,
    ) -> Result<Reminder, EngineError> {
        self.post(
            &format!("/conversations/{id}/messages/{message_id}/remind"),
            &serde_json::json!({}),
        )
        .await
    }

    /// Announces a file (`POST /uploads`).
    pub async fn create_upload(
        &self,
        sha256: &str,
        size: u64,
    ) -> Result<UploadStatus, EngineError> {
        self.post(
            "/uploads",
            &CreateUploadRequest {
                sha256: sha256.to_owned(),
                size,
            },
        )
        .await
    }

    /// Where an upload stands (`GET /uploads/{id}`).
    pub async fn upload_status(&self, id: &str) -> Result<UploadStatus, EngineError> {
        self.get(&format!("/uploads/{id}")).await
    }

    /// Appends one chunk at `offset` (`PATCH /uploads/{id}`), with its checksum.
    pub async fn upload_chunk(
        &self,
        id: &str,
        offset: u64,
        chunk: bytes::Bytes,
    ) -> Result<UploadStatus, EngineError> {
        let checksum = format!("{:08x}", crc32fast::hash(&chunk));
        let mut request = self
            .http
            .patch(format!("{}/api/v1/uploads/{id}", self.base))
            .header("Upload-Offset", offset.to_string())
            .header("Upload-Checksum", format!("crc32 {checksum}"))
            .header("Content-Type", "application/offset+octet-stream")
            .body(chunk);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(EngineError::Network)?;
        Self::decode(response).await
    }

    /// Starts downloading a blob from byte `from` (`GET /blobs/{sha256}` with `Range`).
    /// The response streams; the caller verifies the hash of the whole file. Where the
    /// server cannot serve from `from` (the kept part is as long as the file, or longer:
    /// a crash before it was verified, a damaged disk) the whole file comes instead, with
    /// `200 OK`, so a bad partial file costs one download and never blocks the file.
    pub async fn download(
        &self,
        sha256: &str,
        from: u64,
    ) -> Result<reqwest::Response, EngineError> {
        let response = self.download_from(sha256, from).await?;
        if from > 0 && response.status() == reqwest::StatusCode::RANGE_NOT_SATISFIABLE {
            return self.download_from(sha256, 0).await;
        }
        Ok(response)
    }

    async fn download_from(
        &self,
        sha256: &str,
        from: u64,
    ) -> Result<reqwest::Response, EngineError> {
        let mut request = self
            .http
            .get(format!("{}/api/v1/blobs/{sha256}", self.base))
            .timeout(Duration::from_secs(24 * 3600));
        if from > 0 {
            request = request.header("Range", format!("bytes={from}-"));
        }
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(EngineError::Network)?;
        if response.status().is_success()
            || response.status() == reqwest::StatusCode::RANGE_NOT_SATISFIABLE
        {
            Ok(response)
        } else {
            Err(Self::decode::<serde_json::Value>(response)
                .await
                .err()
                .unwrap_or(EngineError::Decode("unexpected success".into())))
        }
    }

    pub async fn events(&self, after: StreamPos, limit: u32) -> Result<EventPage, EngineError> {
        self.get(&format!("/events?after={after}&limit={limit}"))
            .await
    }
}
