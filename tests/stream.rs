//! The WebSocket stream: protocol, cadence, slow and hostile clients, refusals, shutdown —
//! against the real binary and, for the slow-client case, an in-process hub on a real socket.

mod common;

use common::Service;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use swaggy_telemetry::catalog::values::WsTopic;
use swaggy_telemetry::stream::{StreamConfig, StreamHub, ws_route};
use swaggy_telemetry::telemetry::EnvSource;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

fn sqlite(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display())
}

fn start(env: &[(&str, &str)]) -> (Service, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir);
    let mut all = vec![("DATABASE_URL", db.as_str())];
    all.extend_from_slice(env);
    (Service::start(&["serve"], &all), dir)
}

fn ws_url(svc: &Service, query: &str) -> String {
    format!("{}/ws{query}", svc.base.replace("http://", "ws://"))
}

async fn connect(url: &str) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(url).await.expect("connect");
    ws
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// The next JSON text frame within `within` (pings and pongs are skipped).
async fn next_json(ws: &mut Ws, within: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next()).await.ok()??;
        match msg.ok()? {
            Message::Text(t) => return serde_json::from_str(t.as_str()).ok(),
            Message::Close(_) => return None,
            _ => continue,
        }
    }
}

/// Collects data frames of `topic` for `period`.
async fn data_frames(ws: &mut Ws, topic: &str, period: Duration) -> Vec<(Instant, Value)> {
    let deadline = Instant::now() + period;
    let mut out = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match next_json(ws, left).await {
            Some(v) if v["type"] == "data" && v["topic"] == topic => out.push((Instant::now(), v)),
            Some(_) => {}
            None => break,
        }
    }
    out
}

/// The close frame the server sends (skipping data).
async fn close_code(ws: &mut Ws, within: Duration) -> Option<CloseFrame> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => return frame,
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(_))) | Ok(None) | Err(_) => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_keep_their_own_cadence() {
    let (svc, _dir) = start(&[]);
    let url = ws_url(&svc, "");
    let mut fast = connect(&url).await;
    let mut slow = connect(&url).await;
    let welcome = next_json(&mut fast, Duration::from_secs(5)).await.unwrap();
    assert_eq!(welcome["type"], "welcome");
    assert_eq!(welcome["interval_ms"]["min"], 1000);
    send(&mut fast, json!({"type": "subscribe", "topic": "quotes", "interval_ms": 1000, "symbols": ["AAPL", "MSFT"]}))
        .await;
    send(&mut slow, json!({"type": "subscribe", "topic": "quotes", "interval_ms": 3000})).await;
    let (fast_frames, slow_frames) = tokio::join!(
        data_frames(&mut fast, "quotes", Duration::from_secs(4)),
        data_frames(&mut slow, "quotes", Duration::from_secs(4))
    );
    assert!(fast_frames.len() >= 3, "a 1 s subscription got {} frames in 4 s", fast_frames.len());
    assert!(fast_frames.len() <= 6, "{} frames in 4 s at 1 s", fast_frames.len());
    assert!((1..=2).contains(&slow_frames.len()), "a 3 s subscription got {} frames in 4 s", slow_frames.len());
    let seqs: Vec<u64> = fast_frames.iter().map(|(_, v)| v["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "consecutive seq: {seqs:?}");
    // Each frame is a new computation: never the same snapshot twice.
    let ts: Vec<i64> = fast_frames.iter().map(|(_, v)| v["ts"].as_i64().unwrap()).collect();
    assert!(ts.windows(2).all(|w| w[1] > w[0]), "a snapshot was sent twice: ts {ts:?}");
    let (_, first) = &fast_frames[0];
    let keys: Vec<&String> = first["data"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["AAPL", "MSFT"], "the symbols asked for, nothing else");
    assert!(first["data"]["AAPL"]["bid"].as_f64().unwrap() > 0.0);
    assert!(slow_frames[0].1["data"].as_object().unwrap().len() >= 20, "no symbols: the whole universe");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_topic_streams_and_bad_messages_get_error_frames() {
    let (svc, _dir) = start(&[]);
    let mut ws = connect(&ws_url(&svc, "")).await;
    let _welcome = next_json(&mut ws, Duration::from_secs(5)).await.unwrap();
    for bad in [
        json!({"type": "subscribe", "topic": "trading", "interval_ms": 999}),
        json!({"type": "subscribe", "topic": "trading", "interval_ms": 30001}),
    ] {
        send(&mut ws, bad).await;
        let e = next_json(&mut ws, Duration::from_secs(5)).await.unwrap();
        assert_eq!(e["type"], "error");
        assert_eq!(e["code"], "invalid_interval");
        assert!(e["message"].as_str().unwrap().contains("[1000, 30000]"), "{e}");
    }
    ws.send(Message::Text("this is not json".into())).await.unwrap();
    assert_eq!(next_json(&mut ws, Duration::from_secs(5)).await.unwrap()["code"], "invalid_message");
    send(&mut ws, json!({"type": "subscribe", "topic": "gossip"})).await;
    assert_eq!(next_json(&mut ws, Duration::from_secs(5)).await.unwrap()["code"], "unknown_topic");
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next_json(&mut ws, Duration::from_secs(5)).await.unwrap()["type"], "pong");
    // Symbols: the wrong shape, or ones the market does not have, are refused by name.
    for (symbols, says) in [
        (json!("AAPL"), "array of 1 to"),
        (json!(["ZZZZ", "AAPL"]), "unknown symbols: ZZZZ"),
        (json!(["x".repeat(5000)]), "array of 1 to"),
    ] {
        send(&mut ws, json!({"type": "subscribe", "topic": "quotes", "symbols": symbols})).await;
        let e = next_json(&mut ws, Duration::from_secs(5)).await.unwrap_or_else(|| panic!("no answer to {symbols}"));
        assert_eq!(e["code"], "invalid_symbols", "{e}");
        assert!(e["message"].as_str().unwrap().contains(says), "{e}");
    }
    // The refused subscriptions did not subscribe: nothing arrives for trading or quotes.
    assert!(data_frames(&mut ws, "trading", Duration::from_millis(1500)).await.is_empty());
    assert!(data_frames(&mut ws, "quotes", Duration::from_millis(100)).await.is_empty());

    for topic in ["system_health", "metrics_summary", "trading", "mcp", "quotes"] {
        send(&mut ws, json!({"type": "subscribe", "topic": topic, "interval_ms": 1000})).await;
    }
    let deadline = Instant::now() + Duration::from_secs(6);
    let mut seen = std::collections::BTreeMap::new();
    while seen.len() < 5 && Instant::now() < deadline {
        if let Some(v) = next_json(&mut ws, Duration::from_secs(2)).await
            && v["type"] == "data"
        {
            seen.insert(v["topic"].as_str().unwrap().to_string(), v["data"].clone());
        }
    }
    assert_eq!(seen.len(), 5, "topics seen: {:?}", seen.keys());
    assert!(seen["system_health"]["checks"].as_array().unwrap().len() >= 4);
    assert!(seen["metrics_summary"]["http"]["requests_per_s"].is_number());
    assert!(seen["trading"]["portfolio"]["cash"].as_f64().unwrap() > 0.0);
    assert!(seen["mcp"]["servers"].is_array());
    send(&mut ws, json!({"type": "unsubscribe", "topic": "quotes"})).await;
    send(&mut ws, json!({"type": "unsubscribe", "topic": "quotes"})).await;
    let mut codes = Vec::new();
    for _ in 0..20 {
        match next_json(&mut ws, Duration::from_secs(2)).await {
            Some(v) if v["type"] == "unsubscribed" || v["type"] == "error" => {
                codes.push(v["code"].as_str().unwrap_or("unsubscribed").to_string())
            }
            Some(_) => {}
            None => break,
        }
        if codes.len() == 2 {
            break;
        }
    }
    assert_eq!(codes, ["unsubscribed", "not_subscribed"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_frames_are_closed_with_the_right_codes() {
    let (svc, _dir) = start(&[]);
    let url = ws_url(&svc, "");
    // A 1 MiB frame: 1009.
    let mut ws = connect(&url).await;
    let _ = next_json(&mut ws, Duration::from_secs(5)).await;
    let _ = ws.send(Message::Text("x".repeat(1 << 20).into())).await;
    let frame = close_code(&mut ws, Duration::from_secs(5)).await.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1009, "{frame:?}");
    // A flood of junk: 1008.
    let mut ws = connect(&url).await;
    let _ = next_json(&mut ws, Duration::from_secs(5)).await;
    for i in 0..40 {
        if ws.send(Message::Text(format!("junk {i}").into())).await.is_err() {
            break;
        }
    }
    let frame = close_code(&mut ws, Duration::from_secs(5)).await.expect("a close frame");
    assert_eq!(u16::from(frame.code), 1008, "{frame:?}");
    // A client that keeps sending while it is being closed (a flood of valid pings past the
    // rate limit, 50/s), and reads only afterwards, still gets the close frame, not a reset.
    let mut ws = connect(&url).await;
    let _ = next_json(&mut ws, Duration::from_secs(5)).await;
    for _ in 0..500 {
        if ws.send(Message::Text(r#"{"type":"ping"}"#.into())).await.is_err() {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_tx, mut rx) = ws.split();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let closed = loop {
        match tokio::time::timeout_at(deadline, rx.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => break Ok(frame),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(e))) => break Err(format!("{e}")),
            Ok(None) => break Err("stream ended".into()),
            Err(_) => break Err("no close within 5 s".into()),
        }
    };
    let frame = closed.expect("a close frame while the client floods").expect("a close code");
    assert_eq!(u16::from(frame.code), 1008, "{frame:?}");
    // The service is fine afterwards.
    let mut ws = connect(&url).await;
    assert_eq!(next_json(&mut ws, Duration::from_secs(5)).await.unwrap()["type"], "welcome");
    let metrics = reqwest::get(svc.url("/metrics")).await.unwrap().text().await.unwrap();
    let s = common::Scrape::parse(&metrics);
    assert!(s.sum("swaggy_websocket_errors_total", &[("swaggy_websocket_reason", "message_too_big")]) >= 1.0);
    assert!(s.sum("swaggy_websocket_errors_total", &[("swaggy_websocket_reason", "policy_violation")]) >= 1.0);
}

async fn http_status_of_upgrade(url: &str, headers: &[(&str, &str)]) -> Result<Ws, (u16, String)> {
    let mut req = url.into_client_request().unwrap();
    for (k, v) in headers {
        let name = tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap();
        req.headers_mut().insert(name, v.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(WsError::Http(resp)) => {
            let body = resp.body().as_ref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
            Err((resp.status().as_u16(), body))
        }
        Err(e) => panic!("unexpected {e}"),
    }
}

fn refused(r: Result<Ws, (u16, String)>, what: &str) -> (u16, String) {
    match r {
        Ok(_) => panic!("expected a refusal: {what}"),
        Err(e) => e,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_clean_http_errors() {
    let (svc, _dir) = start(&[("WS_MAX_CONNECTIONS", "2"), ("WS_TOKEN", "let-me-in-please")]);
    let url = ws_url(&svc, "");
    let (status, body) = refused(http_status_of_upgrade(&url, &[]).await, "token required");
    assert_eq!(status, 401);
    assert!(body.contains("unauthorized"), "{body}");
    assert_eq!(http_status_of_upgrade(&url, &[("authorization", "Bearer wrong-token!")]).await.err().unwrap().0, 401);
    // The scheme name is case-insensitive.
    let a = http_status_of_upgrade(&url, &[("authorization", "bearer let-me-in-please")]).await.expect("bearer token");
    let b = connect(&ws_url(&svc, "?token=let-me-in-please")).await;
    let (status, body) =
        refused(http_status_of_upgrade(&ws_url(&svc, "?token=let-me-in-please"), &[]).await, "over capacity");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("capacity"), "{body}");
    drop((a, b));
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A slot is free again; a foreign origin is still refused.
    let foreign =
        http_status_of_upgrade(&ws_url(&svc, "?token=let-me-in-please"), &[("origin", "https://evil.example")]).await;
    assert_eq!(foreign.err().unwrap().0, 403);
    let host = svc.base.trim_start_matches("http://").to_string();
    let same =
        http_status_of_upgrade(&ws_url(&svc, "?token=let-me-in-please"), &[("origin", &format!("http://{host}"))])
            .await;
    assert!(same.is_ok(), "same origin is allowed");
    let plain = reqwest::get(svc.url("/ws")).await.unwrap();
    assert_eq!(plain.status().as_u16(), 400, "a plain GET is not an upgrade");
    assert!(plain.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_sends_every_client_a_close_frame() {
    let (mut svc, _dir) = start(&[]);
    let url = ws_url(&svc, "");
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut ws = connect(&url).await;
        let _ = next_json(&mut ws, Duration::from_secs(5)).await;
        send(&mut ws, json!({"type": "subscribe", "topic": "quotes", "interval_ms": 1000})).await;
        clients.push(ws);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = std::process::Command::new("kill").arg("-TERM").arg(svc.child.id().to_string()).status();
    for ws in clients.iter_mut() {
        let frame = close_code(ws, Duration::from_secs(5)).await.expect("a close frame on shutdown");
        assert_eq!(u16::from(frame.code), 1001, "{frame:?}");
    }
    let (status, took) = svc.terminate(Duration::from_secs(10));
    assert!(status.success());
    assert!(took < Duration::from_secs(6));
}

/// An in-process hub on a real socket, with a topic whose updates are large enough to fill the
/// kernel buffers of a client that stops reading.
async fn fat_hub(queue: usize) -> (StreamHub, String) {
    let _ = swaggy_telemetry::Telemetry::builder()
        .with_env(EnvSource::from_pairs(Vec::<(String, String)>::new()))
        .with_logging(false)
        .with_process_metrics(false)
        .install()
        .map(std::mem::forget);
    let big: Arc<str> = Arc::from("x".repeat(2 << 20));
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let config = StreamConfig { queue_capacity: queue, ..StreamConfig::default() };
    let hub = StreamHub::builder(config)
        .topic(
            WsTopic::Mcp,
            Duration::from_secs(1),
            Arc::new(move || {
                let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                json!({ "tick": n, "padding": &*big })
            }),
        )
        .keyed_topic(WsTopic::Quotes, Duration::from_secs(1), Arc::new(|| json!({ "AAPL": 1, "MSFT": 2 })))
        .build();
    let app = axum::Router::new().route("/ws", ws_route(hub.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (hub, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_client_costs_bounded_memory_and_delays_nobody() {
    let (hub, url) = fat_hub(2).await;
    let mut reader = connect(&url).await;
    // The slow client has a tiny receive buffer, so its socket backs up quickly.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream =
        socket.connect(url.trim_start_matches("ws://").trim_end_matches("/ws").parse().unwrap()).await.unwrap();
    let (mut slow, _) = tokio_tungstenite::client_async_with_config(url.as_str(), MaybeTlsStream::Plain(stream), None)
        .await
        .expect("slow client connects");
    for ws in [&mut reader, &mut slow] {
        let _ = next_json(ws, Duration::from_secs(5)).await;
        send(ws, json!({"type": "subscribe", "topic": "mcp", "interval_ms": 1000})).await;
    }
    // The slow client stops reading; the reader keeps its 1 s cadence meanwhile.
    let stall_started = Instant::now();
    let frames = data_frames(&mut reader, "mcp", Duration::from_secs(9)).await;
    let gaps: Vec<Duration> = frames.windows(2).map(|w| w[1].0 - w[0].0).collect();
    assert!(frames.len() >= 7, "the reading client got {} frames in 9 s", frames.len());
    assert!(gaps.iter().all(|g| *g < Duration::from_millis(1800)), "reader delayed: {gaps:?}");
    let stats = hub.connection_stats();
    assert_eq!(stats.len(), 2);
    let slow_stats = stats.iter().max_by_key(|s| s.skipped).unwrap();
    assert!(slow_stats.skipped >= 1, "the stalled client had updates skipped: {stats:?}");
    assert!(slow_stats.queued <= 2, "its queue stays within capacity: {stats:?}");
    // It resumes: stale frames from the socket buffers, then a gap notice, then the latest.
    let resumed = Instant::now();
    let mut saw_gap = None;
    let mut after_gap = None;
    let deadline = Instant::now() + Duration::from_secs(15);
    while after_gap.is_none() && Instant::now() < deadline {
        let Some(v) = next_json(&mut slow, Duration::from_secs(5)).await else { break };
        if v["type"] == "gap" {
            saw_gap = Some(v);
        } else if v["type"] == "data" && saw_gap.is_some() {
            after_gap = Some(v);
        }
    }
    let gap = saw_gap.expect("a gap notice after resuming");
    assert_eq!(gap["topic"], "mcp");
    assert!(gap["skipped"].as_u64().unwrap() >= 1);
    let latest = after_gap.expect("a data frame after the gap");
    assert_eq!(latest["seq"], gap["seq"], "the gap names the seq of the frame that follows");
    let age_ms = swaggy_telemetry::stream::now_ms() - latest["ts"].as_i64().unwrap();
    assert!(age_ms < 2500, "the frame after the gap is the latest snapshot ({age_ms} ms old)");
    eprintln!(
        "stalled {:?}, skipped {}, resumed after {:?}",
        resumed - stall_started,
        gap["skipped"],
        resumed.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_topic_is_computed_once_per_tick_whatever_the_subscribers() {
    let (hub, url) = fat_hub(8).await;
    let mut clients = Vec::new();
    for _ in 0..40 {
        let mut ws = connect(&url).await;
        let _ = next_json(&mut ws, Duration::from_secs(5)).await;
        send(&mut ws, json!({"type": "subscribe", "topic": "quotes", "interval_ms": 1000, "symbols": ["AAPL"]})).await;
        clients.push(ws);
    }
    let before = hub.computations(WsTopic::Quotes);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let computed = hub.computations(WsTopic::Quotes) - before;
    assert!((3..=6).contains(&computed), "40 subscribers at 1 s for 4 s: {computed} computations");
    let mut received = 0;
    for ws in clients.iter_mut() {
        received += data_frames(ws, "quotes", Duration::from_millis(50)).await.len();
    }
    assert!(received >= 40 * 3, "each subscriber got its frames ({received} buffered)");
}
