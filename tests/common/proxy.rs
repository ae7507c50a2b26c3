//! A TCP proxy in front of a real server (Postgres), inside the test, to simulate network faults
//! without touching the server: pass, cut every connection, drop every reply (a blackhole that
//! still delivers the requests), or drop the replies of the one connection that sends a given
//! message (a lost `COMMIT` reply; a hang mid-transaction). Use `sslmode=disable` so the
//! messages are readable. Everything it starts stops by its own handle when it is dropped.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward both ways.
    Pass,
    /// Close every connection and refuse (accept and close) new ones.
    Cut,
    /// Forward requests, drop every reply, on every connection (new ones too).
    DropReplies,
}

/// A one-shot trigger: the first connection whose client sends `pattern` gets its replies
/// dropped from then on, after `pass` more reply reads go through.
struct Trigger {
    pattern: Vec<u8>,
    pass: usize,
}

struct Shared {
    upstream: SocketAddr,
    mode: Mutex<Mode>,
    trigger: Mutex<Option<Trigger>>,
    fired: AtomicUsize,
    cut: watch::Sender<u64>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    connections: AtomicU64,
}

/// The proxy; stops (its accept loop and every connection task) when dropped.
pub struct Proxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

impl Proxy {
    /// A proxy on 127.0.0.1 (port 0) to `upstream`, passing.
    pub async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let shared = Arc::new(Shared {
            upstream: upstream.parse().expect("upstream address"),
            mode: Mutex::new(Mode::Pass),
            trigger: Mutex::new(None),
            fired: AtomicUsize::new(0),
            cut: watch::channel(0).0,
            tasks: Mutex::new(Vec::new()),
            connections: AtomicU64::new(0),
        });
        let s = shared.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { continue };
                if s.mode() == Mode::Cut {
                    drop(client);
                    continue;
                }
                s.connections.fetch_add(1, Ordering::Relaxed);
                let task = tokio::spawn(relay(s.clone(), client));
                s.tasks.lock().unwrap().push(task);
            }
        });
        Proxy { addr, shared, accept }
    }

    /// `postgres://postgres@<proxy>/<db>?sslmode=disable`.
    pub fn pg_url(&self, db: &str) -> String {
        format!("postgres://postgres@{}/{db}?sslmode=disable", self.addr)
    }

    /// Switches the mode; `Cut` also closes every open connection.
    pub fn set(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
        if mode == Mode::Cut {
            self.shared.cut.send_modify(|g| *g += 1);
        }
    }

    /// Arms a one-shot trigger: the next connection that sends `pattern` (e.g. `COMMIT`) loses
    /// its replies after `pass` more reply reads (0: the reply to that very message is lost).
    /// The other connections are untouched.
    pub fn drop_replies_after(&self, pattern: &str, pass: usize) {
        *self.shared.trigger.lock().unwrap() = Some(Trigger { pattern: pattern.as_bytes().to_vec(), pass });
    }

    /// How many triggers fired.
    pub fn fired(&self) -> usize {
        self.shared.fired.load(Ordering::Acquire)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        for t in self.shared.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

impl Shared {
    fn mode(&self) -> Mode {
        *self.mode.lock().unwrap()
    }
}

async fn relay(s: Arc<Shared>, client: TcpStream) {
    let Ok(upstream) = TcpStream::connect(s.upstream).await else { return };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (mut cr, mut cw) = client.into_split();
    let (mut ur, mut uw) = upstream.into_split();
    // Replies still to pass before this connection's blackhole (usize::MAX: not armed).
    let budget = Arc::new(AtomicUsize::new(usize::MAX));
    let blackholed = Arc::new(AtomicBool::new(false));
    let mut cut1 = s.cut.subscribe();
    let mut cut2 = s.cut.subscribe();
    let up = {
        let (s, budget) = (s.clone(), budget.clone());
        async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = tokio::select! {
                    r = cr.read(&mut buf) => match r { Ok(0) | Err(_) => break, Ok(n) => n },
                    _ = cut1.changed() => return,
                };
                {
                    let mut t = s.trigger.lock().unwrap();
                    if t.as_ref().is_some_and(|t| contains(&buf[..n], &t.pattern)) {
                        let t = t.take().unwrap();
                        budget.store(t.pass, Ordering::Release);
                        s.fired.fetch_add(1, Ordering::AcqRel);
                    }
                }
                if uw.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
            // The client closed: pass the close on, as a real network would.
            let _ = uw.shutdown().await;
        }
    };
    let down = {
        let s = s.clone();
        async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = tokio::select! {
                    r = ur.read(&mut buf) => match r { Ok(0) | Err(_) => break, Ok(n) => n },
                    _ = cut2.changed() => return,
                };
                if s.mode() == Mode::DropReplies || blackholed.load(Ordering::Acquire) {
                    continue;
                }
                let left = budget.load(Ordering::Acquire);
                if left != usize::MAX {
                    if left == 0 {
                        blackholed.store(true, Ordering::Release);
                        continue;
                    }
                    budget.store(left - 1, Ordering::Release);
                }
                if cw.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
            let _ = cw.shutdown().await;
        }
    };
    // Both directions end on a cut; the halves of both sockets drop with them.
    tokio::join!(up, down);
}
