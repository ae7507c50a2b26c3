//! Opens many `/ws` clients against a running service and counts what they receive; some may be
//! "slow" (tiny receive buffer, never read). Prints one JSON line.
//!
//! `cargo run --release --example ws_fanout -- ws://127.0.0.1:8080/ws 2000 100 20`
//! (url, clients, of which slow, seconds)

use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::Message;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let url = args.first().cloned().unwrap_or_else(|| "ws://127.0.0.1:8080/ws".into());
    let clients: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let slow: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(0);
    let seconds: u64 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(20);
    let frames = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let addr: std::net::SocketAddr = url.trim_start_matches("ws://").split('/').next().unwrap().parse().unwrap();
    let subscribe = [
        r#"{"type":"subscribe","topic":"quotes","interval_ms":1000,"symbols":["AAPL","MSFT","NVDA","TSLA","JPM"]}"#,
        r#"{"type":"subscribe","topic":"trading","interval_ms":1000}"#,
    ];
    let mut tasks = Vec::new();
    for i in 0..clients {
        let is_slow = i < slow;
        let (url, frames, failed) = (url.clone(), frames.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            if is_slow {
                let _ = socket.set_recv_buffer_size(4096);
            }
            let Ok(stream) = socket.connect(addr).await else {
                failed.fetch_add(1, Ordering::Relaxed);
                return;
            };
            let Ok((mut ws, _)) =
                tokio_tungstenite::client_async_with_config(url.as_str(), MaybeTlsStream::Plain(stream), None).await
            else {
                failed.fetch_add(1, Ordering::Relaxed);
                return;
            };
            for s in subscribe {
                if ws.send(Message::Text(s.into())).await.is_err() {
                    failed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
            if is_slow {
                // Never read: hold the connection open.
                tokio::time::sleep(Duration::from_secs(seconds + 30)).await;
                drop(ws);
                return;
            }
            while let Some(Ok(m)) = ws.next().await {
                if let Message::Text(t) = m
                    && t.as_str().starts_with("{\"type\":\"data\"")
                {
                    frames.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Report what arrived during the measured window only.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let start = frames.load(Ordering::Relaxed);
    println!(
        "{{\"phase\":\"connected\",\"clients\":{clients},\"slow\":{slow},\"failed\":{}}}",
        failed.load(Ordering::Relaxed)
    );
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let got = frames.load(Ordering::Relaxed) - start;
    let expected = (clients - slow) as u64 * 2 * seconds;
    println!(
        "{{\"phase\":\"done\",\"clients\":{clients},\"slow\":{slow},\"seconds\":{seconds},\"frames\":{got},\"expected_frames\":{expected},\"failed\":{}}}",
        failed.load(Ordering::Relaxed)
    );
    std::process::exit(0);
}
