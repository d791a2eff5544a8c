//! The one error type commands return. It serialises to `{ code, message }`: `code` is
//! stable and the UI translates it; `message` is English detail for logs and tooltips.

use satchel_client::EngineError;
use serde::Serialize;
use ts_rs::TS;

/// An error as the UI receives it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct UiError {
    /// `not_signed_in`, `network`, `server:<code>`, `invalid`, `file`, `not_found`,
    /// `order_rule`, `export`, `profile_locked`, `profile_belongs_to_another`, `not_focused`, `host`, `internal`.
    pub code: String,
    pub message: String,
    /// For `order_rule`: which rule, with what it names, so the UI can say it in the
    /// user's language.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_rule: Option<satchel_protocol::order::OrderRuleError>,
}

impl UiError {
    pub fn new(code: &str, message: impl Into<String>) -> UiError {
        UiError {
            code: code.to_owned(),
            message: message.into(),
            order_rule: None,
        }
    }
}

impl From<EngineError> for UiError {
    fn from(error: EngineError) -> UiError {
        let code = match &error {
            EngineError::NotSignedIn => "not_signed_in".to_owned(),
            EngineError::Network(_) | EngineError::Connection(_) => "network".to_owned(),
            EngineError::Server(e) => format!(
                "server:{}",
                serde_json::to_value(e.body.code)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "unknown".into())
            ),
            EngineError::Invalid(_) => "invalid".to_owned(),
            EngineError::OrderRule(_) => "order_rule".to_owned(),
            EngineError::File(_) => "file".to_owned(),
            EngineError::Export(_) => "export".to_owned(),
            EngineError::NotFound(_) => "not_found".to_owned(),
            EngineError::ProfileLocked(_) => "profile_locked".to_owned(),
            EngineError::ProfileBelongsToAnother { .. } => "profile_belongs_to_another".to_owned(),
            _ => "internal".to_owned(),
        };
        if code == "internal" {
            tracing::error!(error = ?error, "engine call failed");
        }
        let order_rule = match &error {
            EngineError::OrderRule(rule) => Some(rule.clone()),
            _ => None,
        };
        UiError {
            code,
            message: error.to_string(),
            order_rule,
        }
    }
}

impl From<crate::host::HostError> for UiError {
    fn from(error: crate::host::HostError) -> UiError {
        tracing::error!(error = ?error, "hosting failed");
        UiError::new("host", error.to_string())
    }
}

/// What every command returns.
pub type UiResult<T> = Result<T, UiError>;
