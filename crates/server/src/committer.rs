//! Group commit: the single writer of the event log.
//!
//! Every event-producing [`Write`] is queued here. The committer takes whatever has
//! queued up while the previous transaction was syncing (up to [`MAX_BATCH`]), applies it
//! in one transaction, waits for the fsync, and only then answers each caller and
//! publishes the batch's events. So an acknowledgement always means "on disk", while
//! fifty concurrent senders share one fsync instead of paying for fifty.
//!
//! Order: writes are applied in queue order, so a connection that queues its sends in
//! the order it read them gets them sequenced in that order.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::cluster::Fanout;

use crate::metrics::Metrics;
use crate::store::{LoggedEvent, Outcome, Store, StoreError, Write};

/// Most writes applied in one transaction.
pub const MAX_BATCH: usize = 512;

/// A batch of committed events, ascending by stream position.
pub type EventBatch = Arc<Vec<LoggedEvent>>;

struct Job {
    write: Write,
    queued: std::time::Instant,
    reply: oneshot::Sender<Result<Outcome, CommitError>>,
}

/// Why a queued write did not produce an outcome.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The write itself was refused (not a member, bad reference, …).
    #[error(transparent)]
    Refused(StoreError),
    /// The batch's transaction failed; nothing of it was written. Safe to retry.
    #[error("the transaction failed")]
    Failed,
    /// The committer has stopped (server shutting down).
    #[error("the server is shutting down")]
    Stopped,
}

/// A handle for queueing writes. Cheap to clone.
#[derive(Clone)]
pub struct Committer {
    queue: mpsc::Sender<Job>,
}

/// A write that has been queued; await it for the outcome.
pub struct Pending(oneshot::Receiver<Result<Outcome, CommitError>>);

impl Pending {
    /// Waits until the write is durable (or refused).
    pub async fn outcome(self) -> Result<Outcome, CommitError> {
        self.0.await.unwrap_or(Err(CommitError::Stopped))
    }
}

impl Committer {
    /// Starts the writer task. Committed events go to `fanout`; the task ends when
    /// every `Committer` handle is dropped.
    pub fn spawn(store: Arc<dyn Store>, fanout: Fanout, metrics: Arc<Metrics>) -> Committer {
        let (queue, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(store, rx, fanout, metrics));
        Committer { queue }
    }

    /// Queues a write. Writes queued from one task are applied in the order queued.
    pub async fn enqueue(&self, write: Write) -> Pending {
        let (reply, rx) = oneshot::channel();
        // If the committer is gone the reply sender is dropped with the job, and
        // `Pending::outcome` reports `Stopped`.
        let job = Job {
            write,
            queued: std::time::Instant::now(),
            reply,
        };
        let _ = self.queue.send(job).await;
        Pending(rx)
    }

    /// Queues a write and waits for its outcome.
    pub async fn commit(&self, write: Write) -> Result<Outcome, CommitError> {
        self.enqueue(write).await.outcome().await
    }
}

async fn run(
    store: Arc<dyn Store>,
    mut rx: mpsc::Receiver<Job>,
    fanout: Fanout,
    metrics: Arc<Metrics>,
) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        // Each reply keeps when its send was queued (`None` for other writes), for the
        // send→ack latency.
        let (writes, replies): (Vec<Write>, Vec<_>) = jobs
            .drain(..)
            .map(|j| {
                let send_queued = matches!(j.write, Write::Send { .. }).then_some(j.queued);
                (j.write, (j.reply, send_queued))
            })
            .unzip();
        let count = writes.len();
        match store.commit_batch(writes, crate::clock::now_millis()).await {
            Ok(result) => {
                if !result.events.is_empty() {
                    fanout.committed(Arc::new(result.events)).await;
                }
                for ((reply, send_queued), outcome) in replies.into_iter().zip(result.outcomes) {
                    if let Some(queued) = send_queued {
                        metrics
                            .send_ack_seconds
                            .observe(queued.elapsed().as_secs_f64());
                    }
                    if matches!(&outcome, Ok(Outcome::Sent(ack)) if !ack.duplicate) {
                        metrics.messages.inc();
                    }
                    let _ = reply.send(outcome.map_err(CommitError::Refused));
                }
            }
            Err(error) => {
                let cause = std::error::Error::source(&error)
                    .map(ToString::to_string)
                    .unwrap_or_default();
                metrics.store_errors.inc();
                tracing::error!(%error, %cause, batch = count, "commit failed; the batch will be retried by clients");
                for (reply, _) in replies {
                    let _ = reply.send(Err(CommitError::Failed));
                }
            }
        }
    }
}
