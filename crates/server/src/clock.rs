//! Wall-clock time in the protocol's unit.

use satchel_protocol::UnixMillis;

/// Milliseconds since the Unix epoch. A clock before 1970 reads as 0.
pub fn now_millis() -> UnixMillis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
