//! The ledger under faults, against real Postgres: a lost `COMMIT` reply, a reply blackhole, a
//! hang mid-transaction, cut connections (through a TCP proxy inside the test), an admin
//! shutdown of the service's connections (57P01), and two instances on one database. After
//! each fault the stored ledger is consistent (cash = starting cash + the fills' cash flows;
//! positions = the fills per symbol), `/api/portfolio` agrees with it, a retry with the same
//! `client_order_id` never trades twice, and every submitted order has exactly one outcome in
//! the trade counters.

mod common;

use common::prom::scrape;
use common::proxy::{Mode, Proxy};
use common::{PgDb, Service, require};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const STARTING_CASH: f64 = 1_000_000.0;
/// The service's bound of one order (`ORDER_DEADLINE`), and the slack allowed on top of it.
const DEADLINE: Duration = Duration::from_secs(5);
const SLACK: Duration = Duration::from_millis(1500);

fn client() -> reqwest::Client {
    // Longer than any bound of the service: the service must answer, not the client give up.
    reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap()
}

async fn start(url: &str) -> Service {
    let svc = Service::start(&["serve"], &[("DATABASE_URL", url), ("HEALTH_INTERVAL", "1s"), ("HEALTH_TIMEOUT", "1s")]);
    svc.wait_ready(&client(), "/health/ready", Duration::from_secs(30)).await;
    svc
}

async fn post(c: &reqwest::Client, svc: &Service, body: &Value) -> (u16, Value, Duration) {
    let t = Instant::now();
    let r = c.post(svc.url("/api/orders")).json(body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null), t.elapsed())
}

fn buy(symbol: &str, quantity: i64) -> Value {
    json!({"symbol": symbol, "side": "buy", "quantity": quantity, "type": "market"})
}

fn with_id(mut body: Value, id: &str) -> Value {
    body["client_order_id"] = json!(id);
    body
}

/// Places `n` orders that must be accepted (filled, or refused by the simulated venue).
async fn trade(c: &reqwest::Client, svc: &Service, n: usize) {
    for i in 0..n {
        let body = if i % 3 == 2 {
            json!({"symbol": "AAPL", "side": "sell", "quantity": 1, "type": "market"})
        } else {
            buy(["AAPL", "MSFT", "KO"][i % 3], 3)
        };
        let (status, v, _) = post(c, svc, &body).await;
        // A sell before any buy filled is a (stored) risk rejection: still 201.
        assert_eq!(status, 201, "{v}");
    }
}

/// Posts until an order is accepted (201) within `within`; every answer before is a 503.
async fn until_accepted(c: &reqwest::Client, svc: &Service, body: &Value, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let (status, v, _) = post(c, svc, body).await;
        if status == 201 {
            return start.elapsed();
        }
        assert_eq!(status, 503, "only 503 before the recovery: {v}");
        assert!(start.elapsed() < within, "orders did not resume within {within:?}: {v}\n{}", svc.stderr());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The stored ledger, read directly (not through the proxy).
#[derive(Debug)]
struct Ledger {
    cash: f64,
    flows: f64,
    positions: BTreeMap<String, i64>,
    fill_positions: BTreeMap<String, i64>,
    fills: i64,
    filled_orders: i64,
}

async fn ledger(db: &PgDb) -> Ledger {
    let pool = db.pool().await;
    let cash: f64 = sqlx::query_scalar("SELECT cash FROM account WHERE id = 1").fetch_one(&pool).await.unwrap();
    let flows: f64 = sqlx::query_scalar(
        "SELECT COALESCE(SUM(CASE WHEN side = 'buy' THEN -(quantity * price) ELSE quantity * price END), 0) FROM fills",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let by_symbol = async |sql: &'static str| -> BTreeMap<String, i64> {
        sqlx::query_as(sql).fetch_all(&pool).await.unwrap().into_iter().collect()
    };
    let positions = by_symbol("SELECT symbol, quantity FROM positions WHERE quantity <> 0").await;
    let fill_positions = by_symbol(
        "SELECT symbol, SUM(CASE WHEN side = 'buy' THEN quantity ELSE -quantity END)::BIGINT AS q FROM fills \
         GROUP BY symbol HAVING SUM(CASE WHEN side = 'buy' THEN quantity ELSE -quantity END) <> 0",
    )
    .await;
    let fills: i64 = sqlx::query_scalar("SELECT count(*) FROM fills").fetch_one(&pool).await.unwrap();
    let filled_orders: i64 =
        sqlx::query_scalar("SELECT count(*) FROM orders WHERE status = 'filled'").fetch_one(&pool).await.unwrap();
    let joined: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT f.id) FROM fills f JOIN orders o ON f.order_id = o.id WHERE o.status = 'filled'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(joined, fills, "a fill without a filled order");
    pool.close().await;
    Ledger { cash, flows, positions, fill_positions, fills, filled_orders }
}

/// The stored ledger is consistent, and the service's book agrees with it.
async fn assert_consistent(db: &PgDb, c: &reqwest::Client, svc: &Service) -> Ledger {
    let l = ledger(db).await;
    let expected = STARTING_CASH + l.flows;
    assert!((l.cash - expected).abs() < 1e-6, "stored cash {} != starting cash + fills {expected}: {l:?}", l.cash);
    assert_eq!(l.positions, l.fill_positions, "stored positions != the fills per symbol: {l:?}");
    assert_eq!(l.fills, l.filled_orders, "every fill belongs to a filled order: {l:?}");
    let r = c.get(svc.url("/api/portfolio")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let p: Value = r.json().await.unwrap();
    let cash = p["cash"].as_f64().unwrap();
    assert!((cash - l.cash).abs() < 0.006, "/api/portfolio cash {cash} != stored {}", l.cash);
    let held: BTreeMap<String, i64> = p["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["symbol"].as_str().unwrap().to_string(), x["quantity"].as_i64().unwrap()))
        .collect();
    assert_eq!(held, l.positions, "/api/portfolio positions != stored");
    l
}

/// Every submitted order has exactly one outcome; no request got a 500.
async fn assert_outcomes(c: &reqwest::Client, svc: &Service) -> (f64, f64) {
    let s = scrape(c, &svc.url("/metrics")).await;
    let submitted = s.sum("swaggy_trading_orders_submitted_total", &[]);
    let outcomes = s.sum("swaggy_trading_orders_filled_total", &[])
        + s.sum("swaggy_trading_orders_rejected_total", &[])
        + s.sum("swaggy_trading_orders_cancelled_total", &[]);
    assert_eq!(submitted, outcomes, "submitted orders without exactly one outcome");
    let failed = s.sum("swaggy_trading_orders_rejected_total", &[("swaggy_order_reject_reason", "broker_unavailable")]);
    let errors = s.sum("http_server_request_duration_seconds_count", &[("http_response_status_code", "500")]);
    assert_eq!(errors, 0.0, "a fault answered 500 somewhere:\n{}", svc.stderr());
    (submitted, failed)
}

async fn orders_with_client_id(db: &PgDb, id: &str) -> Vec<String> {
    let pool = db.pool().await;
    let ids =
        sqlx::query_scalar("SELECT id FROM orders WHERE client_order_id = $1").bind(id).fetch_all(&pool).await.unwrap();
    pool.close().await;
    ids
}

/// A service on a fresh database reached through a [`Proxy`], with a few orders placed.
struct Rig {
    db: PgDb,
    proxy: Proxy,
    svc: Service,
    c: reqwest::Client,
}

impl Rig {
    /// `None` (the test skips, saying why) without Postgres.
    async fn behind_proxy(orders: usize) -> Option<Rig> {
        if !require(&["postgres"]) {
            return None;
        }
        let db = PgDb::create().await;
        let proxy = Proxy::start("127.0.0.1:5432").await;
        let svc = start(&proxy.pg_url(&db.name)).await;
        let c = client();
        trade(&c, &svc, orders).await;
        Some(Rig { db, proxy, svc, c })
    }
}

/// A service straight on a fresh database, with a few orders placed; `None` (the test skips,
/// saying why) without Postgres.
async fn direct(orders: usize) -> Option<(PgDb, Service, reqwest::Client)> {
    if !require(&["postgres"]) {
        return None;
    }
    let db = PgDb::create().await;
    let svc = start(&db.url).await;
    let c = client();
    trade(&c, &svc, orders).await;
    Some((db, svc, c))
}

/// A writer with a few orders placed and, on the same database, a second instance that has
/// found the ledger taken (standing by); `None` (the test skips, saying why) without Postgres.
async fn writer_and_standby() -> Option<(PgDb, Service, Service, reqwest::Client)> {
    let (db, first, c) = direct(3).await?;
    let second = Service::start(&["serve"], &[("DATABASE_URL", &db.url), ("HEALTH_INTERVAL", "1s")]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    Some((db, first, second, c))
}

/// After a fault: more orders go through, the ledger is consistent, every order has one outcome.
async fn trades_on_consistently(db: &PgDb, c: &reqwest::Client, svc: &Service) {
    trade(c, svc, 3).await;
    assert_consistent(db, c, svc).await;
    assert_outcomes(c, svc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_commit_reply_is_outcome_unknown_and_the_retry_does_not_trade_twice() {
    let Some(Rig { db, proxy, mut svc, c }) = Rig::behind_proxy(4).await else { return };

    // The COMMIT reaches Postgres; its reply never comes back.
    proxy.drop_replies_after("COMMIT", 0);
    let body = with_id(buy("AAPL", 7), "lost-commit-1");
    let (status, v, took) = post(&c, &svc, &body).await;
    assert_eq!(proxy.fired(), 1);
    assert_eq!((status, v["error"]["code"].as_str()), (503, Some("outcome_unknown")), "{v}");
    assert!(took <= DEADLINE + SLACK, "outcome_unknown after {took:?}");
    let stored = orders_with_client_id(&db, "lost-commit-1").await;
    assert_eq!(stored.len(), 1, "the COMMIT reached the database: the order is stored");
    assert!(v["error"]["message"].as_str().unwrap().contains(&stored[0]), "the answer names the order: {v}");
    eprintln!("lost COMMIT reply: 503 outcome_unknown after {took:?}");

    // The retry returns the stored order (200), it does not trade again.
    let (status, again, _) = post(&c, &svc, &body).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"].as_str(), Some(stored[0].as_str()));
    assert_eq!(again["client_order_id"], "lost-commit-1");
    assert_eq!(orders_with_client_id(&db, "lost-commit-1").await.len(), 1);
    let r = c.get(svc.url(&format!("/api/orders/{}", stored[0]))).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // The same id for a different order is a conflict.
    let (status, v, _) = post(&c, &svc, &with_id(buy("AAPL", 8), "lost-commit-1")).await;
    assert_eq!((status, v["error"]["code"].as_str()), (409, Some("client_order_id_conflict")), "{v}");

    // The book picked up the fill it never heard about, and later fills add to it.
    assert_consistent(&db, &c, &svc).await;
    trade(&c, &svc, 3).await;
    let before = assert_consistent(&db, &c, &svc).await;
    let (submitted, failed) = assert_outcomes(&c, &svc).await;
    assert_eq!(submitted, 4.0 + 1.0 + 3.0, "replays and conflicts are not submissions");
    // (The simulated venue also refuses about 2 % of orders with this reason.)
    assert!(failed >= 1.0, "the unknown outcome counts as a broker_unavailable rejection");

    // ... and after a restart.
    svc.terminate(Duration::from_secs(15));
    let svc = start(&proxy.pg_url(&db.name)).await;
    let after = assert_consistent(&db, &c, &svc).await;
    assert_eq!((before.cash, before.positions), (after.cash, after.positions));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_blackhole_is_bounded_and_orders_resume_after_it() {
    let Some(Rig { db, proxy, svc, c }) = Rig::behind_proxy(4).await else { return };

    // Postgres gets every request and none of its replies reach the service.
    proxy.set(Mode::DropReplies);
    let mut set = tokio::task::JoinSet::new();
    for i in 0..4 {
        let (c, url) = (c.clone(), svc.url("/api/orders"));
        set.spawn(async move {
            let t = Instant::now();
            let r = c.post(url).json(&with_id(buy("MSFT", 2), &format!("blackhole-{i}"))).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null), t.elapsed())
        });
    }
    let portfolio = c.get(svc.url("/api/portfolio")).send().await.unwrap().status().as_u16();
    let mut slowest = Duration::ZERO;
    while let Some(r) = set.join_next().await {
        let (status, v, took) = r.unwrap();
        assert_eq!(status, 503, "{v}");
        let code = v["error"]["code"].as_str().unwrap();
        assert!(["unavailable", "standby", "outcome_unknown"].contains(&code), "{v}");
        slowest = slowest.max(took);
    }
    assert!(slowest <= DEADLINE + SLACK, "an order took {slowest:?} during the blackhole");
    assert!([200, 503].contains(&portfolio));
    // Later orders are bounded too (no queue behind a hung one).
    let (status, _, took) = post(&c, &svc, &buy("KO", 1)).await;
    assert_eq!(status, 503);
    assert!(took <= DEADLINE + SLACK, "{took:?}");
    eprintln!("reply blackhole: 4 concurrent orders answered 503 within {slowest:?}; a later one in {took:?}");

    proxy.set(Mode::Pass);
    let resumed = until_accepted(&c, &svc, &buy("KO", 1), Duration::from_secs(20)).await;
    eprintln!("orders resumed {resumed:?} after the blackhole lifted");
    // A retry of a refused order trades once.
    for i in 0..4 {
        let id = format!("blackhole-{i}");
        let (status, v, _) = post(&c, &svc, &with_id(buy("MSFT", 2), &id)).await;
        assert!([200, 201].contains(&status), "{v}");
        assert_eq!(orders_with_client_id(&db, &id).await.len(), 1);
    }
    trades_on_consistently(&db, &c, &svc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hang_mid_transaction_is_bounded_and_releases_the_book() {
    let Some(Rig { db, proxy, svc, c }) = Rig::behind_proxy(3).await else { return };

    // BEGIN's reply arrives; after it the connection hears nothing (the INSERT is executed).
    proxy.drop_replies_after("BEGIN", 1);
    let body = with_id(buy("AAPL", 4), "mid-tx-1");
    let (status, v, took) = post(&c, &svc, &body).await;
    assert_eq!(proxy.fired(), 1);
    assert_eq!((status, v["error"]["code"].as_str()), (503, Some("unavailable")), "no COMMIT was sent: {v}");
    assert!(took <= DEADLINE + SLACK, "{took:?}");
    // The order lock is free and the next order runs on another connection at once.
    let (status, v, next) = post(&c, &svc, &buy("MSFT", 1)).await;
    assert_eq!(status, 201, "{v}");
    assert!(next < Duration::from_secs(2), "the next order took {next:?}");
    eprintln!("hang mid-transaction: 503 after {took:?}; the next order took {next:?}");
    // The abandoned transaction ends (its connection is closed, Postgres rolls it back): the
    // retry stores the order once.
    let (status, v, _) = post(&c, &svc, &body).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(orders_with_client_id(&db, "mid-tx-1").await.len(), 1);
    assert_consistent(&db, &c, &svc).await;
    assert_outcomes(&c, &svc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_connections_answer_503_and_the_service_recovers() {
    let Some(Rig { db, proxy, svc, c }) = Rig::behind_proxy(4).await else { return };

    proxy.set(Mode::Cut);
    let (status, v, took) = post(&c, &svc, &buy("AAPL", 2)).await;
    assert_eq!(status, 503, "{v}");
    assert!(took <= DEADLINE + SLACK, "{took:?}");
    // Readiness follows.
    let t = Instant::now();
    while c.get(svc.url("/health/ready")).send().await.unwrap().status().as_u16() != 503 {
        assert!(t.elapsed() < Duration::from_secs(10), "still ready with the database cut off");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("cut: 503 ({}) after {took:?}", v["error"]["code"]);

    proxy.set(Mode::Pass);
    let resumed = until_accepted(&c, &svc, &buy("AAPL", 2), Duration::from_secs(20)).await;
    eprintln!("orders resumed {resumed:?} after the connections came back");
    svc.wait_ready(&c, "/health/ready", Duration::from_secs(20)).await;
    trades_on_consistently(&db, &c, &svc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_shutdown_of_the_service_connections_is_503_not_500() {
    let Some((db, svc, c)) = direct(3).await else { return };
    let admin = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(&db.url).await.unwrap();

    // A fill's transaction waits on the account row (held here); its backend is terminated
    // (FATAL 57P01) while it waits.
    let mut answered = None;
    for _ in 0..10 {
        let mut hold = admin.begin().await.unwrap();
        sqlx::query("SELECT cash FROM account WHERE id = 1 FOR UPDATE").execute(&mut *hold).await.unwrap();
        let (c2, url) = (c.clone(), svc.url("/api/orders"));
        let order = tokio::spawn(async move {
            let r = c2.post(url).json(&buy("KO", 1)).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
        });
        let t = Instant::now();
        let mut terminated = false;
        while !order.is_finished() && t.elapsed() < Duration::from_secs(3) {
            let waiting: Vec<i32> = sqlx::query_scalar(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
            )
            .bind(&db.name)
            .fetch_all(&mut *hold)
            .await
            .unwrap();
            if let Some(pid) = waiting.first() {
                sqlx::query("SELECT pg_terminate_backend($1)").bind(pid).execute(&mut *hold).await.unwrap();
                terminated = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let result = order.await.unwrap();
        hold.rollback().await.unwrap();
        if terminated {
            answered = Some(result);
            break;
        }
        // The venue refused that one (no fill, the account row untouched): again.
    }
    let (status, v) = answered.expect("no fill ever waited on the account row");
    assert_eq!((status, v["error"]["code"].as_str()), (503, Some("unavailable")), "57P01 must be retryable: {v}");
    eprintln!("57P01 during a fill: {status} {v}");
    let resumed = until_accepted(&c, &svc, &buy("KO", 1), Duration::from_secs(10)).await;
    eprintln!("next order accepted after {resumed:?}");

    // Every connection of the service at once, the ledger lock's included.
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(&db.name)
    .fetch_all(&admin)
    .await
    .unwrap();
    assert!(killed.len() >= 2, "the pool's and the lock's connections: {killed:?}");
    let t = Instant::now();
    let mut statuses = BTreeMap::new();
    while t.elapsed() < Duration::from_secs(4) {
        let (status, v, _) = post(&c, &svc, &buy("KO", 1)).await;
        assert!([201, 503].contains(&status), "{status} {v}");
        *statuses.entry(status).or_insert(0) += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("after terminating {} backends: answers {statuses:?}", killed.len());
    until_accepted(&c, &svc, &buy("KO", 1), Duration::from_secs(10)).await;
    svc.wait_ready(&c, "/health/ready", Duration::from_secs(10)).await;
    admin.close().await;
    assert_consistent(&db, &c, &svc).await;
    assert_outcomes(&c, &svc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_instance_stands_by_until_the_first_exits() {
    let Some((db, mut first, c)) = direct(3).await else { return };

    let second = Service::start(&["serve"], &[("DATABASE_URL", &db.url), ("HEALTH_INTERVAL", "1s")]);
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(4) {
        let r = c.get(second.url("/health/ready")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 503, "two writers on one ledger");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (status, v, _) = post(&c, &second, &buy("AAPL", 1)).await;
    assert_eq!((status, v["error"]["code"].as_str()), (503, Some("standby")), "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("another instance holds the ledger"), "{v}");
    let r = c.get(second.url("/api/portfolio")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 503, "a standby has no book to show");
    let r = c.get(second.url(&format!("/api/orders/{}", uuid::Uuid::new_v4()))).send().await.unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "standby", "an order lookup on a standby says why: {v}");
    let h: Value = c.get(second.url("/health")).send().await.unwrap().json().await.unwrap();
    let detail = common::health::check(&h, "postgres")["detail"].as_str().unwrap_or_default().to_string();
    assert!(detail.contains("another instance holds the ledger"), "the database check says why: {h}");
    // The first one still trades.
    trade(&c, &first, 3).await;

    let t = Instant::now();
    first.terminate(Duration::from_secs(15));
    second.wait_ready(&c, "/health/ready", Duration::from_secs(20)).await;
    let handover = t.elapsed();
    eprintln!("single writer: the standby took over {handover:?} after the first was told to stop");
    // The new writer's book is the ledger, the first's orders included.
    let l = assert_consistent(&db, &c, &second).await;
    assert!(!l.positions.is_empty());
    trade(&c, &second, 3).await;
    assert_consistent(&db, &c, &second).await;
    assert_outcomes(&c, &second).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_has_one_writer_too() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("one.db").display());
    let mut first = start(&url).await;
    let c = client();
    trade(&c, &first, 2).await;
    let second = Service::start(&["serve"], &[("DATABASE_URL", &url), ("HEALTH_INTERVAL", "1s")]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(c.get(second.url("/health/ready")).send().await.unwrap().status().as_u16(), 503);
    let (status, v, _) = post(&c, &second, &buy("AAPL", 1)).await;
    assert_eq!((status, v["error"]["code"].as_str()), (503, Some("standby")), "{v}");
    let cash = c.get(first.url("/api/portfolio")).send().await.unwrap().json::<Value>().await.unwrap()["cash"].clone();
    first.terminate(Duration::from_secs(15));
    second.wait_ready(&c, "/health/ready", Duration::from_secs(20)).await;
    let p: Value = c.get(second.url("/api/portfolio")).send().await.unwrap().json().await.unwrap();
    assert_eq!(p["cash"], cash);
    trade(&c, &second, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_give_up_mid_order_neither_skew_the_book_nor_the_counters() {
    let Some(Rig { db, proxy: _proxy, svc, c }) = Rig::behind_proxy(3).await else { return };
    // Clients that hang up after 1 to 9 ms: some before the order is stored, some between its
    // COMMIT and the answer.
    let mut gave_up = 0;
    for i in 0..120u64 {
        let impatient = reqwest::Client::builder().timeout(Duration::from_millis(1 + i % 9)).build().unwrap();
        let body = if i % 4 == 3 {
            json!({"symbol": "AAPL", "side": "sell", "quantity": 1, "type": "market"})
        } else {
            buy(["AAPL", "MSFT", "KO"][i as usize % 3], 1)
        };
        if impatient.post(svc.url("/api/orders")).json(&body).send().await.is_err() {
            gave_up += 1;
        }
    }
    assert!(gave_up > 0, "no client gave up: the test proves nothing");
    // Orders already under way finish on their own.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let l = assert_consistent(&db, &c, &svc).await;
    assert!(l.positions.values().all(|q| *q >= 0), "a position went short: {:?}", l.positions);
    assert_outcomes(&c, &svc).await;
    eprintln!("{gave_up} of 120 clients hung up mid-order; the book and the counters still match the ledger");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_retries_of_one_client_order_id_trade_once_and_count_once() {
    let Some(Rig { db, proxy: _proxy, svc, c }) = Rig::behind_proxy(1).await else { return };
    let before = scrape(&c, &svc.url("/metrics")).await.sum("swaggy_trading_orders_submitted_total", &[]);
    for round in 0..3 {
        let id = format!("race-{round}");
        let body = with_id(buy("MSFT", 2), &id);
        let answers = futures_util::future::join_all((0..10).map(|_| post(&c, &svc, &body))).await;
        let mut statuses: Vec<u16> = answers.iter().map(|(s, _, _)| *s).collect();
        statuses.sort();
        assert_eq!(statuses, [200, 200, 200, 200, 200, 200, 200, 200, 200, 201], "{answers:?}");
        assert_eq!(orders_with_client_id(&db, &id).await.len(), 1);
    }
    let (submitted, _) = assert_outcomes(&c, &svc).await;
    assert_eq!(submitted - before, 3.0, "one submission per client_order_id");
    assert_consistent(&db, &c, &svc).await;
}

/// The backend holding the ledger's advisory lock in `db` (at most one holds it).
async fn lock_holder(db: &PgDb) -> Option<i32> {
    let pool = db.pool().await;
    let pid = sqlx::query_scalar(
        "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
         WHERE l.locktype = 'advisory' AND l.granted AND d.datname = $1",
    )
    .bind(&db.name)
    .fetch_optional(&pool)
    .await
    .unwrap();
    pool.close().await;
    pid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_lost_its_lock_commits_nothing_after_the_standby_took_over() {
    let Some((db, first, second, c)) = writer_and_standby().await else { return };

    // Cut the first one's lock connection (the lock goes with it) while both are sent orders.
    // The first finds out at its next lock check, up to a second later; the second may take the
    // lock before that. Whichever wins, no order the first one was sent after the second one's
    // first success may be stored: the fencing token refuses it. Tried until the second wins.
    let mut took_over = None;
    for attempt in 0..12 {
        cut_lock(&db).await;
        let t0 = Instant::now();
        let send = |svc: &Service, side: &str| {
            let (c, url, side) = (c.clone(), svc.url("/api/orders"), side.to_string());
            tokio::spawn(async move {
                let mut accepted = Vec::new();
                while t0.elapsed() < Duration::from_secs(3) {
                    let sent = t0.elapsed();
                    let body = json!({"symbol": "KO", "side": side, "quantity": 1, "type": "market"});
                    let r = c.post(&url).json(&body).send().await.unwrap();
                    let status = r.status().as_u16();
                    assert!([201, 503].contains(&status), "{status}: {}", r.text().await.unwrap());
                    if status == 201 {
                        accepted.push((sent, t0.elapsed()));
                    }
                }
                accepted
            })
        };
        let (a, b) = (send(&first, "buy"), send(&second, "buy"));
        let (a, b) = (a.await.unwrap(), b.await.unwrap());
        if let Some(&(_, b_first)) = b.first() {
            let late: Vec<_> = a.iter().filter(|(sent, _)| *sent > b_first).collect();
            assert!(late.is_empty(), "the old writer stored orders sent after the new one took over: {late:?}");
            let a_last = a.last().map(|(_, done)| *done);
            eprintln!(
                "attempt {attempt}: the second took over (first success at {b_first:?} after the cut); \
                 the old writer's last success at {a_last:?}, {} orders accepted by it in all",
                a.len()
            );
            took_over = Some(second);
            break;
        }
        // The first took its lock back: try again.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let new = took_over.expect("the standby never took over in 12 tries");
    // The old writer stands by now; the new one's book is the ledger.
    let (status, v, _) = post(&c, &first, &buy("KO", 1)).await;
    assert_eq!((status, v["error"]["code"].as_str()), (503, Some("standby")), "{v}");
    assert_consistent(&db, &c, &new).await;
    assert_outcomes(&c, &first).await;
    assert_outcomes(&c, &new).await;
}

/// Cuts the connection holding the ledger lock in `db`.
async fn cut_lock(db: &PgDb) {
    let holder = lock_holder(db).await.expect("a writer holds the ledger");
    let pool = db.pool().await;
    sqlx::query("SELECT pg_terminate_backend($1)").bind(holder).execute(&pool).await.unwrap();
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_lost_its_lock_cannot_claim_the_ledger_from_the_one_that_holds_it() {
    let Some((db, first, second, c)) = writer_and_standby().await else { return };
    // The second takes the lock from the first and is sent nothing (it never claims); its lock
    // is cut in turn, the first takes it back and trades. Only then is the second asked for
    // something: it must not claim the ledger with a lock it no longer holds.
    for attempt in 0..8 {
        cut_lock(&db).await;
        if !second.becomes_ready(&c, "/health/ready", Duration::from_secs(4)).await {
            continue; // the first took its lock back
        }
        cut_lock(&db).await;
        let t = Instant::now();
        let mut back = false;
        while t.elapsed() < Duration::from_secs(4) && !back {
            back = post(&c, &first, &buy("KO", 1)).await.0 == 201;
        }
        if !back {
            continue; // the second kept it: try again
        }
        let r = c.get(second.url("/api/portfolio")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 503, "a writer without its lock read the book");
        let (status, v, _) = post(&c, &second, &buy("KO", 1)).await;
        assert_eq!(status, 503, "a writer without its lock traded: {v}");
        // The writer that holds the lock keeps trading.
        for _ in 0..5 {
            let (status, v, _) = post(&c, &first, &buy("KO", 1)).await;
            assert_eq!(status, 201, "the lock holder was locked out of the ledger: {v}");
        }
        eprintln!("attempt {attempt}: the lock went first -> second -> first; the second claimed nothing");
        assert_consistent(&db, &c, &first).await;
        assert_outcomes(&c, &first).await;
        return;
    }
    panic!("the lock never went first -> second -> first in 8 tries");
}
