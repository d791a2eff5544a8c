//! Several server nodes over one PostgreSQL store, woken through NATS.
//!
//! The database is the truth; the bus only wakes. After each commit a node publishes
//! the new head position on [`SUBJECT`]. Every node runs a *tail*: woken by its own
//! commits, by the bus, or every [`RESYNC`] regardless, it reads the log after the last
//! position it forwarded and hands those events, in position order, to its WebSocket
//! connections. A node that missed bus traffic (restart, slow consumer, NATS down)
//! therefore loses nothing: the next wake or resync reads from where it stopped.
//!
//! On one node (no bus) the committer hands its batches to connections directly, as
//! before: they are the whole log, already in order.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use satchel_protocol::StreamPos;
use tokio::sync::{broadcast, watch, Notify};

use crate::committer::EventBatch;
use crate::store::Store;

/// The NATS subject commits are announced on.
pub const SUBJECT: &str = "satchel.committed";

/// How often a tail reads the log even when nothing woke it.
pub const RESYNC: Duration = Duration::from_secs(1);

/// Most events a tail forwards in one batch.
const TAIL_PAGE: u32 = 512;

/// Why joining the bus failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("connecting to NATS at {url} failed")]
    Connect {
        url: String,
        #[source]
        source: async_nats::ConnectError,
    },
    #[error("subscribing to {SUBJECT} failed")]
    Subscribe(#[from] async_nats::SubscribeError),
}

/// This node's connection to the bus.
pub struct Bus {
    client: async_nats::Client,
    wakes: async_nats::Subscriber,
}

impl Bus {
    /// Connects to NATS (`nats://host:4222`) and subscribes to commit announcements.
    pub async fn connect(url: &str) -> Result<Bus, ClusterError> {
        let client = async_nats::ConnectOptions::new()
            .name("satchel-server")
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(|source| ClusterError::Connect {
                url: url.to_owned(),
                source,
            })?;
        let wakes = client.subscribe(SUBJECT).await?;
        Ok(Bus { client, wakes })
    }
}

/// What the committer does with a committed batch.
#[derive(Clone)]
pub enum Fanout {
    /// The only node: the batch goes to connections as it is.
    Local(broadcast::Sender<EventBatch>),
    /// One of several nodes: wake this node's tail and announce the commit to the
    /// others; the tails read the events from the store.
    Cluster {
        tail: Arc<Notify>,
        client: async_nats::Client,
    },
}

impl Fanout {
    /// Passes on a committed, non-empty batch.
    pub async fn committed(&self, batch: EventBatch) {
        match self {
            Fanout::Local(events) => {
                // No receivers is fine: nobody is connected.
                let _ = events.send(batch);
            }
            Fanout::Cluster { tail, client } => {
                tail.notify_one();
                let head = batch.last().map_or(0, |e| e.event.pos.0);
                if let Err(error) = client.publish(SUBJECT, head.to_string().into()).await {
                    // The other nodes' resync picks the commit up within `RESYNC`.
                    tracing::warn!(%error, "announcing a commit on NATS failed");
                }
            }
        }
    }
}

/// Starts this node's tail and returns how its committer fans out.
pub fn start(
    bus: Bus,
    store: Arc<dyn Store>,
    events: broadcast::Sender<EventBatch>,
    shutdown: watch::Receiver<bool>,
) -> Fanout {
    let tail = Arc::new(Notify::new());
    tokio::spawn(run_tail(store, events, tail.clone(), bus.wakes, shutdown));
    Fanout::Cluster {
        tail,
        client: bus.client,
    }
}

async fn run_tail(
    store: Arc<dyn Store>,
    events: broadcast::Sender<EventBatch>,
    tail: Arc<Notify>,
    mut wakes: async_nats::Subscriber,
    mut shutdown: watch::Receiver<bool>,
) {
    // Connections replay from the store what happened before they subscribed; the tail
    // forwards only what is committed from now on.
    let mut last = loop {
        match store.head().await {
            Ok(head) => break head,
            Err(error) => {
                tracing::warn!(%error, "reading the log's head failed; retrying");
                tokio::time::sleep(RESYNC).await;
            }
        }
    };
    let mut resync = tokio::time::interval(RESYNC);
    let mut bus_open = true;
    loop {
        tokio::select! {
            _ = tail.notified() => {}
            wake = wakes.next(), if bus_open => bus_open = wake.is_some(),
            _ = resync.tick() => {}
            _ = shutdown.changed() => return,
        }
        last = forward_after(&*store, &events, last).await;
    }
}

/// Forwards everything committed after `last`, in order; returns the new last position.
async fn forward_after(
    store: &dyn Store,
    events: &broadcast::Sender<EventBatch>,
    mut last: StreamPos,
) -> StreamPos {
    loop {
        match store.events_since(last, TAIL_PAGE).await {
            Ok(page) => {
                let Some(newest) = page.last().map(|e| e.event.pos) else {
                    return last;
                };
                let full = page.len() == TAIL_PAGE as usize;
                last = newest;
                let _ = events.send(Arc::new(page));
                if !full {
                    return last;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "reading the log failed; the next wake retries");
                return last;
            }
        }
    }
}
