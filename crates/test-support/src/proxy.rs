//! A TCP proxy that injects faults at the byte level: it can reset every open
//! connection, reset each connection after a random number of bytes, or refuse new
//! connections while "down".

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A running proxy. Dropping it stops accepting; open connections end with it.
pub struct ChaosProxy {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

struct State {
    target: Mutex<SocketAddr>,
    down: AtomicBool,
    /// Cut each connection after a random byte count in this range (0 = never).
    cut_min: AtomicU64,
    cut_max: AtomicU64,
    /// Bumped to reset every open connection.
    generation: watch::Sender<u64>,
    resets: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
}

impl ChaosProxy {
    /// Starts a proxy on `127.0.0.1:0` forwarding to `target`.
    pub async fn start(target: SocketAddr) -> std::io::Result<ChaosProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (generation, _) = watch::channel(0);
        let state = Arc::new(State {
            target: Mutex::new(target),
            down: AtomicBool::new(false),
            cut_min: AtomicU64::new(0),
            cut_max: AtomicU64::new(0),
            generation,
            resets: AtomicU64::new(0),
            bytes_up: AtomicU64::new(0),
            bytes_down: AtomicU64::new(0),
        });
        let task = tokio::spawn(accept_loop(listener, state.clone()));
        Ok(ChaosProxy { addr, state, task })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Resets every open connection now.
    pub fn reset_all(&self) {
        self.state.generation.send_modify(|g| *g += 1);
    }

    /// Resets each connection (open or new) after a random number of bytes in
    /// `min..=max`, counted over both directions. `0, 0` turns this off.
    pub fn cut_after_random_bytes(&self, min: u64, max: u64) {
        self.state.cut_min.store(min, Ordering::SeqCst);
        self.state.cut_max.store(max.max(min), Ordering::SeqCst);
    }

    /// While down, new connections are reset at once and open ones are reset.
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
        if down {
            self.reset_all();
        }
    }

    /// Points the proxy at another address (a restarted server on a new port).
    pub fn set_target(&self, target: SocketAddr) {
        *self.state.target.lock().unwrap_or_else(|p| p.into_inner()) = target;
    }

    /// Bytes forwarded from clients to the server so far.
    pub fn bytes_up(&self) -> u64 {
        self.state.bytes_up.load(Ordering::SeqCst)
    }

    /// Bytes forwarded from the server to clients so far.
    pub fn bytes_down(&self) -> u64 {
        self.state.bytes_down.load(Ordering::SeqCst)
    }

    /// How many connections the proxy has reset so far.
    pub fn resets(&self) -> u64 {
        self.state.resets.load(Ordering::SeqCst)
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.reset_all();
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    while let Ok((client, _)) = listener.accept().await {
        let state = state.clone();
        tokio::spawn(async move {
            if state.down.load(Ordering::SeqCst) {
                reset(client);
                state.resets.fetch_add(1, Ordering::SeqCst);
                return;
            }
            let target = *state.target.lock().unwrap_or_else(|p| p.into_inner());
            let Ok(upstream) = TcpStream::connect(target).await else {
                reset(client);
                return;
            };
            pipe(client, upstream, state).await;
        });
    }
}

fn reset(stream: TcpStream) {
    // Linger 0 makes close send RST instead of FIN: an abrupt network failure.
    #[allow(deprecated)]
    let _ = stream.set_linger(Some(std::time::Duration::ZERO));
    drop(stream);
}

async fn pipe(client: TcpStream, upstream: TcpStream, state: Arc<State>) {
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (min, max) = (
        state.cut_min.load(Ordering::SeqCst),
        state.cut_max.load(Ordering::SeqCst),
    );
    let mut budget = if max == 0 {
        u64::MAX
    } else {
        rand::thread_rng().gen_range(min..=max)
    };
    let mut generation = state.generation.subscribe();
    let (mut cr, mut cw) = client.into_split();
    let (mut ur, mut uw) = upstream.into_split();
    let mut up = vec![0u8; 64 * 1024];
    let mut down = vec![0u8; 64 * 1024];
    let cut = loop {
        tokio::select! {
            n = cr.read(&mut up) => match n {
                Ok(0) | Err(_) => break false,
                Ok(n) => {
                    let n = n.min(usize::try_from(budget).unwrap_or(usize::MAX)).max(1);
                    if uw.write_all(&up[..n]).await.is_err() { break false; }
                    state.bytes_up.fetch_add(n as u64, Ordering::SeqCst);
                    budget = budget.saturating_sub(n as u64);
                }
            },
            n = ur.read(&mut down) => match n {
                Ok(0) | Err(_) => break false,
                Ok(n) => {
                    let n = n.min(usize::try_from(budget).unwrap_or(usize::MAX)).max(1);
                    if cw.write_all(&down[..n]).await.is_err() { break false; }
                    state.bytes_down.fetch_add(n as u64, Ordering::SeqCst);
                    budget = budget.saturating_sub(n as u64);
                }
            },
            _ = generation.changed() => break true,
        }
        if budget == 0 {
            break true;
        }
    };
    if cut {
        state.resets.fetch_add(1, Ordering::SeqCst);
        if let (Ok(client), Ok(upstream)) = (cr.reunite(cw), ur.reunite(uw)) {
            reset(client);
            reset(upstream);
        }
    }
}
