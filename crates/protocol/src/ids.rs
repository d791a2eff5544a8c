//! Typed identifiers. Numeric ids are assigned by the server; [`DeviceId`] and
//! [`TxnId`] are chosen by clients and checked by [`crate::validate`]. serde writes a
//! newtype as its bare inner value (`42`, `"abc"`), so ids look like plain numbers and
//! strings on the wire.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! numeric_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
        pub struct $name(#[cfg_attr(feature = "ts", ts(type = "number"))] pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

numeric_id!(
    /// A member of the workspace (staff or customer).
    MemberId
);
numeric_id!(
    /// A customer organisation (a brand, a wholesaler, a shop).
    OrgId
);
numeric_id!(
    /// A conversation: an order's, a direct one, or an internal group.
    ConversationId
);
numeric_id!(
    /// A message, unique across the workspace.
    MessageId
);
numeric_id!(
    /// A "remind now" a sender sent about one of their messages.
    ReminderId
);
numeric_id!(
    /// Position of a message inside its conversation. Starts at 1 and has no gaps.
    Seq
);
numeric_id!(
    /// Position in a member's event stream. A client stores the last position it has
    /// applied and resumes after it; positions increase but need not be contiguous for
    /// one member, since the stream interleaves all conversations of the workspace.
    StreamPos
);

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
        pub struct $name(pub String);

        impl $name {
            /// The id as sent on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

string_id!(
    /// One installation of a client (a profile on a machine). Chosen by the client
    /// once and kept; the server scopes idempotent sends to it.
    DeviceId
);
string_id!(
    /// A client-chosen id for one send. The server guarantees that a `(device, txn_id)`
    /// pair creates at most one message; a replay is answered with the original.
    TxnId
);
