//! One connection: the reader (client messages, subscriptions, heartbeats) and the writer (a
//! bounded queue drained to the socket). A slow client never holds up others: when its queue is
//! full its updates are skipped and counted, and it gets a gap notice before its next update.

use super::hub::{Slot, StreamHub, now_ms};
use super::protocol::{
    self, ClientMessage, MAX_INTERVAL_MS, ProtocolError, data_frame, error_frame, gap_frame, pong_frame,
    subscribed_frame, unsubscribed_frame, welcome_frame,
};
use crate::catalog::values::{WsReason, WsTopic};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, close_code};
use futures_util::{SinkExt, StreamExt};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::time::Instant as TokioInstant;

/// Live counters of one connection (for the hub's connection list).
#[derive(Debug, Default)]
pub struct ConnectionStats {
    /// Frames waiting in the send queue now.
    pub queued: AtomicUsize,
    /// Updates skipped because the client read too slowly.
    pub skipped: AtomicU64,
    /// Frames handed to the socket.
    pub sent: AtomicU64,
}

struct Subscription {
    interval: Duration,
    next_due: TokioInstant,
    seq: u64,
    skipped: u64,
    symbols: Option<Vec<String>>,
    /// `ts` of the snapshot last sent: the same snapshot is never sent twice.
    last_ts: i64,
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame { code, reason: Utf8Bytes::from_static(reason) }))
}

fn is_too_big(e: axum::Error) -> bool {
    let inner = e.into_inner();
    matches!(inner.downcast_ref::<tungstenite::Error>(), Some(tungstenite::Error::Capacity(_)))
}

/// Sliding-window counter (invalid messages, message rate).
struct Window {
    start: Instant,
    count: u32,
    span: Duration,
}

impl Window {
    fn new(span: Duration) -> Self {
        Window { start: Instant::now(), count: 0, span }
    }
    fn hit(&mut self) -> u32 {
        if self.start.elapsed() > self.span {
            self.start = Instant::now();
            self.count = 0;
        }
        self.count += 1;
        self.count
    }
}

/// Drains the queue to the socket. A write blocked past `stall` (the client stopped reading)
/// ends the connection; the close frame is attempted with a short bound.
async fn write_loop(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<Message>,
    stall: Duration,
    stats: Arc<ConnectionStats>,
    hub: StreamHub,
) {
    while let Some(msg) = rx.recv().await {
        stats.queued.fetch_sub(1, Ordering::Relaxed);
        let closing = matches!(msg, Message::Close(_));
        match tokio::time::timeout(stall, sink.send(msg)).await {
            Ok(Ok(())) => {
                stats.sent.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Err(_)) => {
                hub.inner.metrics.errors.add(1, (WsReason::Transport,));
                return;
            }
            Err(_) => {
                hub.inner.metrics.errors.add(1, (WsReason::Idle,));
                let _ = tokio::time::timeout(
                    Duration::from_secs(1),
                    sink.send(close(close_code::POLICY, "client stopped reading")),
                )
                .await;
                return;
            }
        }
        if closing {
            break;
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
}

/// Queues `msg`; `false` when the queue is full.
fn offer(tx: &mpsc::Sender<Message>, stats: &ConnectionStats, msg: String) -> bool {
    match tx.try_send(Message::Text(msg.into())) {
        Ok(()) => {
            stats.queued.fetch_add(1, Ordering::Relaxed);
            true
        }
        Err(_) => false,
    }
}

/// Queues a close frame, waiting briefly for room.
async fn send_close(tx: &mpsc::Sender<Message>, stats: &ConnectionStats, code: u16, reason: &'static str) {
    if tokio::time::timeout(Duration::from_millis(500), tx.send(close(code, reason))).await.is_ok_and(|r| r.is_ok()) {
        stats.queued.fetch_add(1, Ordering::Relaxed);
    }
}

/// Serves one upgraded connection until it ends.
pub(crate) async fn run(hub: StreamHub, socket: WebSocket, slot: Slot) {
    let config = hub.config().clone();
    let id = hub.next_id();
    let stats = Arc::new(ConnectionStats::default());
    hub.register(id, stats.clone());
    let (sink, mut stream) = socket.split();
    let (tx, rx) = mpsc::channel::<Message>(config.queue_capacity.max(2));
    let mut writer = tokio::spawn(write_loop(sink, rx, config.stall_timeout, stats.clone(), hub.clone()));
    let mut stop = hub.inner.shutdown.subscribe();
    let mut subs: BTreeMap<WsTopic, Subscription> = BTreeMap::new();
    let mut junk = Window::new(Duration::from_secs(10));
    let mut rate = Window::new(Duration::from_secs(1));
    let mut last_seen = Instant::now();
    let mut ping = tokio::time::interval(config.ping_interval);
    ping.tick().await;
    offer(&tx, &stats, welcome_frame(&hub.defaults()));
    let metrics = &hub.inner.metrics;
    // Whether the client's side is finished (it closed, or the transport failed): when it is
    // not, the closing handshake below waits for its answer.
    let mut peer_done = false;

    loop {
        let next_due = subs.values().map(|s| s.next_due).min();
        let due = async {
            match next_due {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = stop.changed() => {
                metrics.errors.add(1, (WsReason::Shutdown,));
                send_close(&tx, &stats, close_code::AWAY, "server shutting down").await;
                break;
            }
            _ = &mut writer => break,
            msg = stream.next() => {
                let msg = match msg {
                    None => {
                        peer_done = true;
                        break;
                    }
                    Some(Err(e)) => {
                        if is_too_big(e) {
                            metrics.errors.add(1, (WsReason::MessageTooBig,));
                            send_close(&tx, &stats, close_code::SIZE, "message too big").await;
                        } else {
                            metrics.errors.add(1, (WsReason::Transport,));
                            peer_done = true;
                        }
                        break;
                    }
                    Some(Ok(m)) => m,
                };
                last_seen = Instant::now();
                if rate.hit() > config.rate_limit {
                    metrics.errors.add(1, (WsReason::PolicyViolation,));
                    send_close(&tx, &stats, close_code::POLICY, "too many messages").await;
                    break;
                }
                let parsed = match msg {
                    Message::Text(t) => protocol::parse(t.as_str()),
                    Message::Binary(_) => Err(ProtocolError {
                        code: "invalid_message",
                        message: "binary frames are not part of the protocol".into(),
                    }),
                    Message::Close(_) => {
                        metrics.errors.add(1, (WsReason::ClientClosed,));
                        peer_done = true;
                        break;
                    }
                    Message::Ping(_) | Message::Pong(_) => continue,
                };
                match parsed {
                    Err(e) => {
                        let reason = match e.code {
                            "invalid_interval" => WsReason::InvalidInterval,
                            "unknown_topic" => WsReason::UnknownTopic,
                            _ => WsReason::InvalidMessage,
                        };
                        metrics.errors.add(1, (reason,));
                        if junk.hit() > config.junk_limit {
                            metrics.errors.add(1, (WsReason::PolicyViolation,));
                            send_close(&tx, &stats, close_code::POLICY, "too many invalid messages").await;
                            break;
                        }
                        offer(&tx, &stats, error_frame(&e));
                    }
                    Ok(ClientMessage::Ping) => {
                        offer(&tx, &stats, pong_frame(now_ms()));
                    }
                    Ok(ClientMessage::Subscribe { topic, interval_ms, symbols }) => {
                        let Some(t) = hub.topic(topic) else {
                            offer(&tx, &stats, error_frame(&ProtocolError {
                                code: "unknown_topic",
                                message: format!("{} is not served here", topic.as_str()),
                            }));
                            continue;
                        };
                        // Symbols must exist in the topic's data: an unknown one would stream `{}`.
                        if let Some(unknown) = symbols.as_deref().and_then(|s| t.unknown_keys(s)) {
                            offer(&tx, &stats, error_frame(&ProtocolError {
                                code: "invalid_symbols",
                                message: format!("unknown symbols: {}", unknown.join(", ")),
                            }));
                            continue;
                        }
                        let interval = interval_ms
                            .map(Duration::from_millis)
                            .unwrap_or(t.default_interval)
                            .min(Duration::from_millis(MAX_INTERVAL_MS));
                        hub.subscribe(topic, id, interval);
                        offer(&tx, &stats, subscribed_frame(topic, interval.as_millis() as u64));
                        let (seq, skipped) = subs.get(&topic).map_or((0, 0), |s| (s.seq, s.skipped));
                        // The first update goes out as soon as the topic has one.
                        subs.insert(topic, Subscription {
                            interval,
                            next_due: TokioInstant::now(),
                            seq,
                            skipped,
                            symbols,
                            last_ts: 0,
                        });
                    }
                    Ok(ClientMessage::Unsubscribe { topic }) => {
                        if subs.remove(&topic).is_some() {
                            hub.unsubscribe(topic, id);
                            offer(&tx, &stats, unsubscribed_frame(topic));
                        } else {
                            offer(&tx, &stats, error_frame(&ProtocolError {
                                code: "not_subscribed",
                                message: format!("not subscribed to {}", topic.as_str()),
                            }));
                        }
                    }
                }
            }
            _ = due => {
                let now = TokioInstant::now();
                for (topic, sub) in subs.iter_mut().filter(|(_, s)| s.next_due <= now) {
                    let snap = hub.topic(*topic).and_then(|t| t.latest.borrow().clone());
                    // No update yet, or none since the last one sent (this client's tick came
                    // just before the topic's): look again shortly instead of repeating it.
                    let Some(snap) = snap.filter(|s| s.ts_ms != sub.last_ts) else {
                        sub.next_due = now + Duration::from_millis(20);
                        continue;
                    };
                    sub.last_ts = snap.ts_ms;
                    let needed = 1 + usize::from(sub.skipped > 0);
                    if tx.capacity() >= needed {
                        if sub.skipped > 0 {
                            offer(&tx, &stats, gap_frame(*topic, sub.skipped, sub.seq + 1));
                            metrics.gaps.add(1, (*topic,));
                            sub.skipped = 0;
                        }
                        sub.seq += 1;
                        let data = snap.select(sub.symbols.as_deref());
                        if offer(&tx, &stats, data_frame(*topic, sub.seq, snap.ts_ms, &data)) {
                            metrics.sent.add(1, (*topic,));
                        }
                    } else {
                        sub.skipped += 1;
                        stats.skipped.fetch_add(1, Ordering::Relaxed);
                    }
                    sub.next_due += sub.interval;
                    if sub.next_due < now {
                        sub.next_due = now + sub.interval;
                    }
                }
            }
            _ = ping.tick() => {
                if last_seen.elapsed() > config.idle_timeout {
                    metrics.errors.add(1, (WsReason::Idle,));
                    send_close(&tx, &stats, close_code::AWAY, "idle").await;
                    break;
                }
                if tx.try_send(Message::Ping(Default::default())).is_ok() {
                    stats.queued.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    for topic in subs.keys() {
        hub.unsubscribe(*topic, id);
    }
    drop(tx);
    // Let the writer flush what is queued (a close frame, most likely), within its bound.
    let _ = tokio::time::timeout(config.stall_timeout + Duration::from_secs(1), &mut writer).await;
    writer.abort();
    // The closing handshake: read (and discard) until the client answers our close frame, for
    // a second at most. Dropping the socket with unread client data in it would send a TCP
    // reset, and a client that is still sending (a flood) would lose the close frame and its
    // reason with it.
    if !peer_done {
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while let Some(Ok(m)) = stream.next().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
    hub.deregister(id);
    drop(slot);
}
