//! A Celery-compatible settlement queue in Redis: fills are enqueued on the `swaggy.settlement`
//! list; a worker takes them (BRPOP on its own connection), settles them, and keeps a heartbeat
//! key alive — the shape the task-queue health check and gauges read.

use crate::market::now_ms;
use rand::Rng;
use redis::AsyncCommands;
use std::time::Duration;
use swaggy_telemetry::catalog::instruments::{TASK_QUEUE_FAILURES, TASK_QUEUE_WAIT_TIME};
use swaggy_telemetry::catalog::values::{ErrorType, TaskQueue};
use swaggy_telemetry::catalog::{BoundedStr, Counter, Histogram};
use tokio::sync::watch;

/// The queue (a Redis list, as Celery's Redis broker keeps one per queue).
pub const QUEUE: &str = "swaggy.settlement";
/// Heartbeat keys of live workers.
pub const HEARTBEAT_PATTERN: &str = "swaggy:worker:*:heartbeat";

fn queue_label() -> TaskQueue {
    TaskQueue(BoundedStr::Static(QUEUE))
}

/// Enqueues a fill for settlement (best effort, bounded).
pub async fn enqueue<C: redis::aio::ConnectionLike + Send + Sync>(conn: &mut C, order_id: &str) {
    let message = serde_json::json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "task": "swaggy.settle_fill",
        "args": [order_id],
        "enqueued_at_ms": now_ms(),
    });
    let _ = tokio::time::timeout(Duration::from_millis(250), conn.lpush::<_, _, ()>(QUEUE, message.to_string())).await;
}

/// Runs one worker until `stop` flips. Reconnects with backoff while Redis is away.
pub async fn worker(client: redis::Client, mut stop: watch::Receiver<bool>) {
    let meter = swaggy_telemetry::telemetry::meter();
    let wait: Histogram<(TaskQueue,)> = TASK_QUEUE_WAIT_TIME.build(&meter);
    let failures: Counter<(TaskQueue, ErrorType)> = TASK_QUEUE_FAILURES.build(&meter);
    for kind in ["settlement_rejected", "malformed_message"] {
        failures.bind(&(queue_label(), ErrorType(BoundedStr::Static(kind))));
    }
    let name = format!("settlement-{}", std::process::id());
    let heartbeat = format!("swaggy:worker:{name}:heartbeat");
    let mut backoff = Duration::from_millis(500);
    loop {
        let conn = tokio::select! {
            c = client.get_multiplexed_async_connection() => c,
            _ = stop.changed() => return,
        };
        let Ok(mut conn) = conn else {
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stop.changed() => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
            continue;
        };
        backoff = Duration::from_millis(500);
        let mut last_beat = std::time::Instant::now() - Duration::from_secs(60);
        loop {
            if last_beat.elapsed() >= Duration::from_secs(5) {
                let beat = conn.set_ex::<_, _, ()>(&heartbeat, now_ms(), 15);
                if tokio::time::timeout(Duration::from_secs(1), beat).await.map_or(true, |r| r.is_err()) {
                    break;
                }
                last_beat = std::time::Instant::now();
            }
            let popped: redis::RedisResult<Option<(String, String)>> = tokio::select! {
                r = tokio::time::timeout(Duration::from_secs(3), conn.brpop(QUEUE, 1.0)) => match r {
                    Ok(r) => r,
                    Err(_) => break,
                },
                _ = stop.changed() => return,
            };
            match popped {
                Ok(Some((_, body))) => settle(&body, &wait, &failures).await,
                Ok(None) => {}
                Err(_) => break,
            }
        }
    }
}

async fn settle(body: &str, wait: &Histogram<(TaskQueue,)>, failures: &Counter<(TaskQueue, ErrorType)>) {
    let Ok(msg) = serde_json::from_str::<serde_json::Value>(body) else {
        failures.add(1, (queue_label(), ErrorType(BoundedStr::Static("malformed_message"))));
        return;
    };
    let enqueued = msg["enqueued_at_ms"].as_i64().unwrap_or_else(now_ms);
    wait.record(((now_ms() - enqueued).max(0) as f64) / 1000.0, (queue_label(),));
    let (work, fail) = {
        let mut rng = rand::rng();
        (Duration::from_micros(rng.random_range(500..3000)), rng.random_bool(0.01))
    };
    tokio::time::sleep(work).await;
    if fail {
        failures.add(1, (queue_label(), ErrorType(BoundedStr::Static("settlement_rejected"))));
    }
}
