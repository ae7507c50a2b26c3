//! The hub: topics computed once per tick and shared by every subscriber, the connection
//! registry, and the stream metrics.

use super::protocol::{MAX_INTERVAL_MS, MIN_INTERVAL_MS};
use crate::catalog::instruments::{
    WS_CONNECTION_LIMIT, WS_CONNECTIONS, WS_ERRORS, WS_GAPS, WS_MESSAGES_SENT, WS_REFUSALS,
};
use crate::catalog::values::{WsReason, WsTopic};
use crate::catalog::{Counter, UpDownCounter};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{Notify, watch};

/// Computes a topic's data: runs once per tick, whatever the number of subscribers. Must only
/// read in-memory state (snapshots, atomics): never a database or network call.
pub type Source = Arc<dyn Fn() -> Value + Send + Sync>;

/// Settings of the stream.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// Connections at most (`WS_MAX_CONNECTIONS`); more are refused with HTTP 503.
    pub max_connections: usize,
    /// Bearer token required at upgrade (`WS_TOKEN`): `Authorization: Bearer …` or `?token=`.
    pub token: Option<String>,
    /// Origins allowed besides the server's own (`WS_ALLOWED_ORIGINS`, comma-separated; `*` for
    /// any). Requests without `Origin` (non-browser clients) are allowed.
    pub allowed_origins: Vec<String>,
    /// Outgoing frames queued per connection at most; beyond it updates are skipped and the
    /// client gets a gap notice.
    pub queue_capacity: usize,
    /// A client that sends nothing (not even a pong) for this long is closed.
    pub idle_timeout: Duration,
    /// How often the server pings.
    pub ping_interval: Duration,
    /// A write blocked this long (the client stopped reading) closes the connection.
    pub stall_timeout: Duration,
    /// Invalid messages tolerated per 10 s before the connection is closed with 1008.
    pub junk_limit: u32,
    /// Messages per second tolerated before the connection is closed with 1008.
    pub rate_limit: u32,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            max_connections: 1024,
            token: None,
            allowed_origins: Vec::new(),
            queue_capacity: 8,
            idle_timeout: Duration::from_secs(90),
            ping_interval: Duration::from_secs(20),
            stall_timeout: Duration::from_secs(30),
            junk_limit: 20,
            rate_limit: 50,
        }
    }
}

/// One computed update of a topic.
#[derive(Debug)]
pub struct Snapshot {
    /// When it was computed (epoch ms).
    pub ts_ms: i64,
    /// The data, serialized once.
    pub json: Arc<str>,
    /// For keyed topics (quotes): each entry serialized once, so a subscriber's selection is a
    /// concatenation, not a computation.
    pub entries: Option<HashMap<String, Arc<str>>>,
}

impl Snapshot {
    /// The data for a subscriber: everything, or the selected keys of a keyed topic.
    pub fn select(&self, keys: Option<&[String]>) -> String {
        match (keys, &self.entries) {
            (Some(keys), Some(entries)) => {
                let mut s = String::from("{");
                let mut first = true;
                for k in keys {
                    if let Some(v) = entries.get(k) {
                        if !first {
                            s.push(',');
                        }
                        first = false;
                        s.push_str(&serde_json::Value::String(k.clone()).to_string());
                        s.push(':');
                        s.push_str(v);
                    }
                }
                s.push('}');
                s
            }
            _ => self.json.to_string(),
        }
    }
}

pub(crate) struct Topic {
    pub(crate) topic: WsTopic,
    pub(crate) default_interval: Duration,
    source: Source,
    keyed: bool,
    pub(crate) latest: watch::Sender<Option<Arc<Snapshot>>>,
    subscribers: Mutex<BTreeMap<u64, Duration>>,
    wake: Notify,
    computations: AtomicU64,
}

impl Topic {
    /// Of `keys`, those a keyed topic's data does not have (at most 5 named), or `None` when
    /// all are known. A keyed topic nobody subscribed to yet computes its first snapshot here
    /// (once in its life; every later subscriber shares it).
    pub(crate) fn unknown_keys(&self, keys: &[String]) -> Option<Vec<String>> {
        if !self.keyed {
            return None;
        }
        // (The borrow ends before `compute` writes the watch: holding it would deadlock.)
        let latest = self.latest.borrow().clone();
        let snap = latest.unwrap_or_else(|| self.compute());
        let entries = snap.entries.as_ref()?;
        let unknown: Vec<String> = keys.iter().filter(|k| !entries.contains_key(*k)).take(5).cloned().collect();
        (!unknown.is_empty()).then_some(unknown)
    }

    fn min_interval(&self) -> Option<Duration> {
        self.subscribers.lock().ok()?.values().min().copied()
    }

    fn compute(&self) -> Arc<Snapshot> {
        self.computations.fetch_add(1, Ordering::Relaxed);
        let value = (self.source)();
        let entries = if self.keyed {
            value.as_object().map(|o| o.iter().map(|(k, v)| (k.clone(), Arc::from(v.to_string()))).collect())
        } else {
            None
        };
        let snap = Arc::new(Snapshot { ts_ms: now_ms(), json: Arc::from(value.to_string()), entries });
        self.latest.send_replace(Some(snap.clone()));
        snap
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

pub(crate) struct StreamMetrics {
    pub(crate) connections: UpDownCounter<()>,
    pub(crate) sent: Counter<(WsTopic,)>,
    pub(crate) gaps: Counter<(WsTopic,)>,
    pub(crate) errors: Counter<(WsReason,)>,
    pub(crate) refusals: Counter<(WsReason,)>,
}

pub(crate) struct HubInner {
    pub(crate) topics: Vec<Topic>,
    pub(crate) config: StreamConfig,
    pub(crate) open: AtomicUsize,
    next_id: AtomicU64,
    pub(crate) shutdown: watch::Sender<bool>,
    pub(crate) metrics: StreamMetrics,
    connections: Mutex<HashMap<u64, Arc<super::connection::ConnectionStats>>>,
}

/// The stream: build it once, serve [`super::ws_route`], call [`StreamHub::shutdown`] on exit.
#[derive(Clone)]
pub struct StreamHub {
    pub(crate) inner: Arc<HubInner>,
}

impl std::fmt::Debug for StreamHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamHub").field("open", &self.inner.open.load(Ordering::Relaxed)).finish()
    }
}

/// Builder of a [`StreamHub`].
pub struct StreamHubBuilder {
    config: StreamConfig,
    topics: Vec<(WsTopic, Duration, Source, bool)>,
}

impl std::fmt::Debug for StreamHubBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamHubBuilder").field("config", &self.config).finish()
    }
}

fn clamp_interval(d: Duration) -> Duration {
    d.clamp(Duration::from_millis(MIN_INTERVAL_MS), Duration::from_millis(MAX_INTERVAL_MS))
}

impl StreamHubBuilder {
    /// A topic with its default interval (clamped to 1–30 s) and its data source.
    pub fn topic(mut self, topic: WsTopic, default_interval: Duration, source: Source) -> Self {
        self.topics.push((topic, clamp_interval(default_interval), source, false));
        self
    }

    /// A keyed topic: the source returns an object and subscribers select keys (`symbols`).
    pub fn keyed_topic(mut self, topic: WsTopic, default_interval: Duration, source: Source) -> Self {
        self.topics.push((topic, clamp_interval(default_interval), source, true));
        self
    }

    /// Builds the hub, registers the stream metrics and starts one task per topic.
    pub fn build(self) -> StreamHub {
        let meter = crate::telemetry::meter();
        let metrics = StreamMetrics {
            connections: WS_CONNECTIONS.build(&meter),
            sent: WS_MESSAGES_SENT.build(&meter),
            gaps: WS_GAPS.build(&meter),
            errors: WS_ERRORS.build(&meter),
            refusals: WS_REFUSALS.build(&meter),
        };
        let limit = self.config.max_connections as i64;
        WS_CONNECTION_LIMIT.register(&meter, move |o| o.observe(limit, ()));
        let (shutdown, _) = watch::channel(false);
        let topics = self
            .topics
            .into_iter()
            .map(|(topic, default_interval, source, keyed)| Topic {
                topic,
                default_interval,
                source,
                keyed,
                latest: watch::channel(None).0,
                subscribers: Mutex::new(BTreeMap::new()),
                wake: Notify::new(),
                computations: AtomicU64::new(0),
            })
            .collect();
        let hub = StreamHub {
            inner: Arc::new(HubInner {
                topics,
                config: self.config,
                open: AtomicUsize::new(0),
                next_id: AtomicU64::new(1),
                shutdown,
                metrics,
                connections: Mutex::new(HashMap::new()),
            }),
        };
        for i in 0..hub.inner.topics.len() {
            tokio::spawn(run_topic(hub.inner.clone(), i));
        }
        hub
    }
}

/// Computes topic `i` at the smallest interval any subscriber asked for; idle without
/// subscribers.
async fn run_topic(hub: Arc<HubInner>, i: usize) {
    let mut stop = hub.shutdown.subscribe();
    loop {
        let topic = &hub.topics[i];
        let Some(interval) = topic.min_interval() else {
            tokio::select! {
                _ = topic.wake.notified() => continue,
                _ = stop.changed() => return,
            }
        };
        topic.compute();
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = topic.wake.notified() => {}
            _ = stop.changed() => return,
        }
    }
}

/// What one connection has queued, skipped and sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionReport {
    /// Connection id.
    pub id: u64,
    /// Frames waiting in its send queue (at most the queue capacity).
    pub queued: usize,
    /// Updates skipped because it read too slowly.
    pub skipped: u64,
    /// Frames written to its socket.
    pub sent: u64,
}

/// A reserved connection slot; released on drop.
pub(crate) struct Slot {
    hub: Arc<HubInner>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.hub.open.fetch_sub(1, Ordering::AcqRel);
        self.hub.metrics.connections.add(-1, ());
    }
}

impl StreamHub {
    /// A builder with `config`.
    pub fn builder(config: StreamConfig) -> StreamHubBuilder {
        StreamHubBuilder { config, topics: Vec::new() }
    }

    /// The settings.
    pub fn config(&self) -> &StreamConfig {
        &self.inner.config
    }

    /// Open connections.
    pub fn open_connections(&self) -> usize {
        self.inner.open.load(Ordering::Acquire)
    }

    /// How many times `topic` was computed (tests and benchmarks: one per tick, not per client).
    pub fn computations(&self, topic: WsTopic) -> u64 {
        self.inner.topics.iter().find(|t| t.topic == topic).map_or(0, |t| t.computations.load(Ordering::Relaxed))
    }

    /// Sends every client a close frame (1001) and stops the topic tasks.
    pub fn shutdown(&self) {
        let _ = self.inner.shutdown.send(true);
    }

    pub(crate) fn try_reserve(&self) -> Option<Slot> {
        let max = self.inner.config.max_connections;
        let prev = self.inner.open.fetch_add(1, Ordering::AcqRel);
        if prev >= max {
            self.inner.open.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        self.inner.metrics.connections.add(1, ());
        Some(Slot { hub: self.inner.clone() })
    }

    pub(crate) fn topic(&self, t: WsTopic) -> Option<&Topic> {
        self.inner.topics.iter().find(|x| x.topic == t)
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.inner.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn subscribe(&self, t: WsTopic, id: u64, interval: Duration) {
        if let Some(topic) = self.topic(t) {
            let smaller = topic.min_interval().is_none_or(|m| interval < m);
            if let Ok(mut s) = topic.subscribers.lock() {
                s.insert(id, interval);
            }
            // A first subscriber, or one faster than the others: compute now.
            if smaller || topic.latest.borrow().is_none() {
                topic.wake.notify_one();
            }
        }
    }

    pub(crate) fn unsubscribe(&self, t: WsTopic, id: u64) {
        if let Some(topic) = self.topic(t)
            && let Ok(mut s) = topic.subscribers.lock()
        {
            s.remove(&id);
        }
    }

    pub(crate) fn register(&self, id: u64, stats: Arc<super::connection::ConnectionStats>) {
        if let Ok(mut c) = self.inner.connections.lock() {
            c.insert(id, stats);
        }
    }

    pub(crate) fn deregister(&self, id: u64) {
        if let Ok(mut c) = self.inner.connections.lock() {
            c.remove(&id);
        }
    }

    /// Per open connection: frames queued now, updates skipped so far, frames sent.
    pub fn connection_stats(&self) -> Vec<ConnectionReport> {
        self.inner
            .connections
            .lock()
            .map(|c| {
                c.iter()
                    .map(|(id, s)| ConnectionReport {
                        id: *id,
                        queued: s.queued.load(Ordering::Relaxed),
                        skipped: s.skipped.load(Ordering::Relaxed),
                        sent: s.sent.load(Ordering::Relaxed),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The topics and their default intervals.
    pub fn defaults(&self) -> Vec<(WsTopic, u64)> {
        self.inner.topics.iter().map(|t| (t.topic, t.default_interval.as_millis() as u64)).collect()
    }
}
