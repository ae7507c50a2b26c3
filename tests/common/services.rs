//! Real Postgres and Redis: presence checks, fresh databases, private redis-server processes.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

fn strict() -> bool {
    std::env::var("REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

fn reachable(addr: &str) -> bool {
    addr.parse().ok().is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_secs(1)).is_ok())
}

/// Whether the named services are up. When one is not: prints why the test skips, or panics
/// under `REQUIRE_SERVICES=1`.
pub fn require(services: &[&str]) -> bool {
    for s in services {
        let (addr, how) = match *s {
            "postgres" => {
                ("127.0.0.1:5432", "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start")
            }
            "redis" => (
                "127.0.0.1:6379",
                "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no",
            ),
            other => panic!("unknown service {other}"),
        };
        if !reachable(addr) {
            let msg = format!("{s} is not reachable on {addr} (start it with: {how})");
            if strict() {
                panic!("REQUIRE_SERVICES=1 and {msg}");
            }
            eprintln!("SKIPPED: {msg}");
            return false;
        }
    }
    true
}

/// The path of `tool` when installed; otherwise prints a skip reason or panics under
/// `REQUIRE_SERVICES=1`.
pub fn require_tool(tool: &str, package: &str) -> Option<String> {
    let found = std::env::var("PATH").ok().and_then(|p| {
        std::env::split_paths(&p).map(|d| d.join(tool)).find(|f| f.is_file()).map(|f| f.display().to_string())
    });
    if found.is_none() {
        let msg = format!("{tool} is not installed (apt-get install -y {package}; .ci/run installs it)");
        if strict() {
            panic!("REQUIRE_SERVICES=1 and {msg}");
        }
        eprintln!("SKIPPED: {msg}");
    }
    found
}

/// A fresh Postgres database, dropped when the value is dropped.
pub struct PgDb {
    pub url: String,
    pub name: String,
}

impl PgDb {
    pub async fn create() -> PgDb {
        let name = format!("swaggy_t_{:x}", rand::random::<u64>());
        let admin = sqlx::PgPool::connect(PG_ADMIN_URL).await.expect("connect to postgres");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("create database");
        admin.close().await;
        PgDb { url: format!("postgres://postgres@127.0.0.1:5432/{name}"), name }
    }

    pub async fn pool(&self) -> sqlx::PgPool {
        sqlx::PgPool::connect(&self.url).await.expect("connect to test database")
    }

    pub async fn count(&self, sql: &str) -> i64 {
        let pool = self.pool().await;
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(&pool).await.expect("count");
        pool.close().await;
        n
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async {
                if let Ok(admin) = sqlx::PgPool::connect(PG_ADMIN_URL).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                        .execute(&admin)
                        .await;
                    admin.close().await;
                }
            });
        })
        .join();
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A redis-server of the test's own, on a free port; killed (by its handle) on drop.
pub struct PrivateRedis {
    pub port: u16,
    pub child: Child,
    _dir: tempfile::TempDir,
}

impl PrivateRedis {
    pub fn start() -> Option<PrivateRedis> {
        Self::start_on(free_port())
    }

    /// A server on `port` (e.g. a restart where the previous one was killed).
    pub fn start_on(port: u16) -> Option<PrivateRedis> {
        let bin = require_tool("redis-server", "redis-server")?;
        let dir = tempfile::tempdir().expect("tempdir");
        let child = Command::new(bin)
            .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !reachable(&format!("127.0.0.1:{port}")) {
            assert!(Instant::now() < deadline, "private redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(PrivateRedis { port, child, _dir: dir })
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Sends a signal to this server only (by its PID).
    pub fn signal(&self, sig: &str) {
        let status =
            Command::new("kill").arg(format!("-{sig}")).arg(self.child.id().to_string()).status().expect("kill");
        assert!(status.success(), "kill -{sig} failed");
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.signal_quietly("CONT");
        self.kill();
    }
}

impl PrivateRedis {
    fn signal_quietly(&self, sig: &str) {
        let _ = Command::new("kill").arg(format!("-{sig}")).arg(self.child.id().to_string()).status();
    }
}
