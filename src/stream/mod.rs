//! The live WebSocket stream (`GET /ws`).
//!
//! # Protocol (a contract)
//! Client → server (JSON text frames, at most 64 KiB):
//! * `{"type":"subscribe","topic":T,"interval_ms":N}` — `N` within [1000, 30000] (default per
//!   topic); `quotes` also takes `"symbols":["AAPL",…]`. Subscribing again changes the interval.
//! * `{"type":"unsubscribe","topic":T}`
//! * `{"type":"ping"}`
//!
//! Server → client:
//! * `{"type":"welcome","topics":{T:{"default_interval_ms":N}},"interval_ms":{"min":1000,"max":30000}}` on connect;
//! * `{"type":"subscribed","topic":T,"interval_ms":N}`, `{"type":"unsubscribed","topic":T}`;
//! * `{"type":"data","topic":T,"seq":n,"ts":ms,"data":{…}}` every interval — `seq` counts the
//!   updates delivered on this subscription;
//! * `{"type":"gap","topic":T,"skipped":k,"seq":n}` — `k` updates were skipped because the client
//!   read too slowly; the next data frame (`seq` `n`) is the latest snapshot;
//! * `{"type":"error","code":C,"message":M}` — `invalid_message`, `unknown_topic`,
//!   `invalid_interval`, `invalid_symbols`, `not_subscribed`; the connection stays open;
//! * `{"type":"pong","ts":ms}`.
//!
//! Close codes: 1009 for a frame over 64 KiB, 1008 for a flood of invalid messages (or too many
//! messages per second, or a client that stopped reading), 1001 on shutdown or when idle.
//! Upgrades are refused with HTTP 503 (capacity), 401 (token, when `WS_TOKEN` is set: header
//! `Authorization: Bearer …` or `?token=`) or 403 (an `Origin` that is neither the server's own
//! nor allow-listed).
//!
//! # Cost
//! Each topic is computed once per tick (the smallest interval any subscriber asked for) from
//! in-memory state and serialized once; subscribers only select and frame it. A connection is a
//! reader task and a writer task with a bounded queue: a slow client costs at most
//! `queue_capacity` frames of memory, and its skipped updates are counted
//! (`swaggy_websocket_gaps_total`).

mod connection;
mod hub;
pub mod protocol;
pub mod summary;
mod upgrade;

pub use connection::ConnectionStats;
pub use hub::{ConnectionReport, Snapshot, Source, StreamConfig, StreamHub, StreamHubBuilder, now_ms};
pub use upgrade::ws_route;
