//! The reference service as a child process on a free port.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_swaggy-stacks");

/// Environment variables the service reads; cleared so the caller's shell cannot leak in.
const CLEARED: &[&str] = &[
    "DATABASE_URL",
    "REDIS_URL",
    "LISTEN_ADDR",
    "SIM_RATE",
    "QUOTE_TTL",
    "LOG_FORMAT",
    "RUST_LOG",
    "HEALTH_INTERVAL",
    "HEALTH_TIMEOUT",
    "HEALTH_MIN_REFRESH",
    "MCP_CONFIG",
    "WS_TOKEN",
];

pub struct Service {
    pub child: Child,
    pub base: String,
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub stderr: Arc<Mutex<String>>,
}

/// A command for the service binary with a clean environment.
pub fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("OTEL_") || CLEARED.contains(&k.as_str()) {
            cmd.env_remove(k);
        }
    }
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

impl Service {
    /// Starts `swaggy-stacks <args> --listen 127.0.0.1:0` and waits for its URL line.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Service {
        Self::start_on(args, env, "127.0.0.1:0")
    }

    /// [`Service::start`] on a given address (a restart on the port of one that was killed).
    pub fn start_on(args: &[&str], env: &[(&str, &str)], listen: &str) -> Service {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--listen", listen]);
        let mut child =
            command(&all, env).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn swaggy-stacks");
        let stdout_lines = Arc::new(Mutex::new(Vec::new()));
        let stderr_text = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        let lines = stdout_lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(url) = line.split("listening on ").nth(1) {
                    let _ = tx.send(url.trim().to_string());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let err = child.stderr.take().expect("stderr");
        let text = stderr_text.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(err);
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                text.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(b) => b,
            Err(_) => {
                let _ = child.kill();
                panic!("service did not start; stderr:\n{}", stderr_text.lock().unwrap());
            }
        };
        Service { child, base, stdout: stdout_lines, stderr: stderr_text }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends SIGTERM and waits for the exit; returns the status and how long it took.
    pub fn terminate(&mut self, within: Duration) -> (ExitStatus, Duration) {
        let start = Instant::now();
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return (status, start.elapsed());
            }
            if start.elapsed() > within {
                let _ = self.child.kill();
                panic!("service did not exit within {within:?}; stderr:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until `path` answers 200 (e.g. the database bootstrap finished).
    pub async fn wait_ready(&self, client: &reqwest::Client, path: &str, within: Duration) {
        assert!(
            self.becomes_ready(client, path, within).await,
            "{path} never became ready; stderr:\n{}",
            self.stderr()
        );
    }

    /// Whether `path` answers 2xx within `within` (polled every 100 ms).
    pub async fn becomes_ready(&self, client: &reqwest::Client, path: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(r) = client.get(self.url(path)).send().await
                && r.status().is_success()
            {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the binary to completion (bad-configuration tests).
pub fn run_to_exit(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = command(args, env).output().expect("run swaggy-stacks");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
