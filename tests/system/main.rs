#![allow(clippy::unwrap_used, clippy::expect_used)]
//! System tests: real servers on ephemeral loopback ports, real engines each with its
//! own SQLite file, real processes where a test kills one.
//!
//! Each module is one part of the specification:
//! - `blobs`: the blob store's contract — staging, trimming, assembling, ranges, hostile
//!   names — one suite run on the local folder and on a real S3-compatible server.
//! - `cluster`: two server processes over one PostgreSQL and NATS: clients on either
//!   node converse; a node killed mid-stream loses and duplicates nothing.
//! - `conversations`: several clients agree on one ordered history; history survives
//!   restarts; an offline client catches up.
//! - `evidence`: every history is a hash chain each client checks; an altered history
//!   raises an alarm; an exported record verifies offline and names any change.
//! - `exactly_once`: connection resets, server SIGKILLs and client kills lose and
//!   duplicate nothing.
//! - `previews`: image previews, upright and bounded.
//! - `receipts`: read only when the reader's client says so.
//! - `attention`: who read what when, deadlines, "remind now", and their privacy.
//! - `authorization`: nobody sees or touches what is not theirs.
//! - `engine_files`: files through the engine, offline, interrupted, in order.
//! - `files`: resumable, verified uploads and authorised, byte-exact downloads.
//! - `operations`: a backup taken under write load restores to a workspace that passes
//!   the same invariants; a damaged or misplaced backup restores nothing; `/metrics`
//!   counts what happened.
//! - `orders`: an order from inquiry to receipt — cards with revisions, stage gates,
//!   progress, shipping — and nobody else's customer touching it.
//! - `review`: annotations on photos travel exactly, gather replies and resolutions;
//!   the album lists an order's photos in order by stage and round.
//! - `invites`: invite codes create exactly the account they were made for, once.
//! - `search`: Chinese, English and mixed queries over 100,000 messages find exactly
//!   what a plain scan finds, with every filter.
//! - `store`: the store's contract — gapless `seq` and idempotent sends under two
//!   concurrent nodes, isolation, paging, receipts, uploads, annotations, invites —
//!   one suite run on SQLite and on PostgreSQL.
//! - `tls`: HTTPS with a given certificate.
//! - `watched`: watched folders send each new file once, in order.
//! - `bad_input`: every kind of malformed input gets its documented error, and nothing
//!   is lost.

mod attention;
mod authorization;
mod bad_input;
mod blobs;
mod cluster;
mod conversations;
mod engine_files;
mod evidence;
mod exactly_once;
mod files;
mod invites;
mod operations;
mod orders;
mod previews;
mod receipts;
mod review;
mod search;
mod store;
mod support;
mod tls;
mod watched;
