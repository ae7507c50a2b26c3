//! Real Prometheus and Alertmanager (Debian's packages) running the project's configs, and a
//! webhook listener standing in for the receivers.

use super::services::{free_port, require_tool};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Scales a `for:` duration down by `factor` (at least 2 s). Only `for:` lines change.
pub fn shorten_for(yaml: &str, factor: u64) -> String {
    yaml.lines()
        .map(|line| {
            let trimmed = line.trim_start();
            let Some(value) = trimmed.strip_prefix("for: ") else { return line.to_string() };
            let value = value.trim();
            let (num, unit) = value.split_at(value.len() - 1);
            let Ok(n) = num.parse::<u64>() else { return line.to_string() };
            let secs = match unit {
                "s" => n,
                "m" => n * 60,
                "h" => n * 3600,
                _ => return line.to_string(),
            };
            let indent = &line[..line.len() - trimmed.len()];
            format!("{indent}for: {}s", (secs / factor).max(2))
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// A notification as the webhook listener received it.
#[derive(Debug, Clone)]
pub struct Notification {
    pub receiver: String,
    pub at: Instant,
    pub body: serde_json::Value,
    pub raw: String,
}

impl Notification {
    /// `(alertname, status)` pairs: from Alertmanager's webhook payload, or from a Slack
    /// payload's text.
    pub fn alerts(&self) -> Vec<(String, String)> {
        if let Some(alerts) = self.body["alerts"].as_array() {
            return alerts
                .iter()
                .map(|a| {
                    (
                        a["labels"]["alertname"].as_str().unwrap_or("").to_string(),
                        a["status"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect();
        }
        // Slack-format (chat receiver): the status is in the title/text rendered by our template.
        let status = if self.raw.to_ascii_uppercase().contains("RESOLVED") { "resolved" } else { "firing" };
        vec![(self.raw.clone(), status.to_string())]
    }

    pub fn mentions(&self, alertname: &str, status: &str) -> bool {
        self.alerts().iter().any(|(name, s)| name.contains(alertname) && s == status)
    }
}

/// Records every POST it receives.
pub struct Webhook {
    pub base: String,
    pub received: Arc<Mutex<Vec<Notification>>>,
}

impl Webhook {
    pub async fn start() -> Webhook {
        use axum::extract::{Path as AxPath, State};
        let received: Arc<Mutex<Vec<Notification>>> = Arc::default();
        async fn hook(
            State(r): State<Arc<Mutex<Vec<Notification>>>>,
            AxPath(receiver): AxPath<String>,
            body: String,
        ) -> &'static str {
            let json = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
            r.lock().unwrap().push(Notification { receiver, at: Instant::now(), body: json, raw: body });
            "ok"
        }
        let app = axum::Router::new().route("/{receiver}", axum::routing::post(hook)).with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Webhook { base, received }
    }

    pub fn all(&self) -> Vec<Notification> {
        self.received.lock().unwrap().clone()
    }

    /// Waits for a notification about `alertname` with `status`; returns when it arrived.
    pub async fn wait_for(&self, alertname: &str, status: &str, within: Duration) -> Notification {
        let deadline = Instant::now() + within;
        loop {
            if let Some(n) = self.all().into_iter().find(|n| n.mentions(alertname, status)) {
                return n;
            }
            if Instant::now() > deadline {
                let seen: Vec<String> =
                    self.all().iter().map(|n| format!("{}: {:?}", n.receiver, n.alerts())).collect();
                panic!("no {status} notification for {alertname} within {within:?}; received: {seen:#?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

pub struct Proc {
    pub child: Child,
    pub base: String,
    pub log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(bin: &str, args: &[String], log: &Path) -> Child {
    let out = std::fs::File::create(log).unwrap();
    Command::new(bin)
        .args(args)
        .stdout(Stdio::null())
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {bin}: {e}"))
}

async fn wait_ready(base: &str, log: &Path) {
    let c = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = c.get(format!("{base}/-/ready")).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{base} never became ready:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Alertmanager 0.25 with the shipped config rendered for the webhook listener (every receiver,
/// the Watchdog's dead-man's switch included, posts to `{webhook}/{receiver}`); only the grouping
/// timers are shortened.
pub async fn alertmanager(dir: &Path, webhook: &Webhook) -> Option<Proc> {
    let bin = require_tool("prometheus-alertmanager", "prometheus-alertmanager")?;
    let out = dir.join("am");
    let status = Command::new("sh")
        .arg(root().join("alertmanager/render-config.sh"))
        .arg(root().join("alertmanager/alertmanager.yml"))
        .arg(&out)
        .env("ALERT_PAGER_WEBHOOK_URL", format!("{}/pager", webhook.base))
        .env("ALERT_CHAT_WEBHOOK_URL", format!("{}/chat", webhook.base))
        .env("ALERT_TICKET_WEBHOOK_URL", format!("{}/tickets", webhook.base))
        .env("ALERT_WATCHDOG_WEBHOOK_URL", format!("{}/watchdog", webhook.base))
        .status()
        .unwrap();
    assert!(status.success(), "render-config.sh failed");
    let config_path = out.join("alertmanager.yml");
    let config = std::fs::read_to_string(&config_path).unwrap();
    let unrendered = config.lines().filter(|l| !l.trim_start().starts_with('#')).any(|l| l.contains(".invalid"));
    assert!(!unrendered, "every receiver URL was rendered");
    let fast: String = config
        .lines()
        .map(|l| {
            let t = l.trim_start();
            let indent = &l[..l.len() - t.len()];
            if t.starts_with("group_wait:") {
                format!("{indent}group_wait: 1s")
            } else if t.starts_with("group_interval:") {
                format!("{indent}group_interval: 3s")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&config_path, fast).unwrap();
    let port = free_port();
    let log = dir.join("alertmanager.log");
    let child = spawn(
        &bin,
        &[
            format!("--config.file={}", config_path.display()),
            format!("--storage.path={}", dir.join("am-data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--cluster.listen-address=".into(),
        ],
        &log,
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&base, &log).await;
    Some(Proc { child, base, log })
}

/// Prometheus 2.42 with the shipped local config pointed at `service` and `alertmanager` (for
/// alerting and for its scrape job), at itself for its own scrape job, the shipped rules with
/// `for:` divided by `for_factor`, and 1 s scrape/evaluation intervals.
pub async fn prometheus(dir: &Path, service_addr: &str, alertmanager_addr: &str, for_factor: u64) -> Option<Proc> {
    let bin = require_tool("prometheus", "prometheus")?;
    let rules_dir = dir.join("rules");
    std::fs::create_dir_all(&rules_dir).unwrap();
    for entry in std::fs::read_dir(root().join("prometheus/rules")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) == Some("yml") {
            let shipped = std::fs::read_to_string(&path).unwrap();
            let rewritten = shorten_for(&shipped, for_factor);
            // Nothing but `for:` may differ from the shipped rules.
            for (a, b) in shipped.lines().zip(rewritten.lines()) {
                assert!(
                    a == b || (a.trim_start().starts_with("for:") && b.trim_start().starts_with("for:")),
                    "{a} vs {b}"
                );
            }
            std::fs::write(rules_dir.join(path.file_name().unwrap()), rewritten).unwrap();
        }
    }
    let port = free_port();
    let self_addr = format!("127.0.0.1:{port}");
    let shipped = std::fs::read_to_string(root().join("prometheus/prometheus.local.yml")).unwrap();
    let config = shipped
        .replace("scrape_interval: 15s", "scrape_interval: 1s")
        .replace("evaluation_interval: 15s", "evaluation_interval: 1s")
        .replace("scrape_timeout: 10s", "scrape_timeout: 1s")
        .replace("127.0.0.1:9093", alertmanager_addr)
        .replace("127.0.0.1:9090", &self_addr)
        .replace("127.0.0.1:8080", service_addr)
        .replace("rules/*.yml", &format!("{}/*.yml", rules_dir.display()));
    assert!(
        config.contains(service_addr) && config.contains(alertmanager_addr) && config.contains(&self_addr),
        "the local config was rewritten:\n{config}"
    );
    let config_path = dir.join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let log = dir.join("prometheus.log");
    let child = spawn(
        &bin,
        &[
            format!("--config.file={}", config_path.display()),
            format!("--storage.tsdb.path={}", dir.join("prom-data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
        ],
        &log,
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&base, &log).await;
    Some(Proc { child, base, log })
}

/// Runs an instant query; returns the result vector.
pub async fn query(prom: &str, q: &str) -> Vec<serde_json::Value> {
    let encoded: String = q
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let v: serde_json::Value = reqwest::Client::new()
        .get(format!("{prom}/api/v1/query?query={encoded}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "success", "query {q} failed: {v}");
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

/// Metric names an expression reads (functions, keywords, label lists and strings skipped).
pub fn metric_names(expr: &str) -> Vec<String> {
    const KEYWORDS: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "and",
        "or",
        "unless",
        "offset",
        "sum",
        "avg",
        "min",
        "max",
        "count",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
        "group",
        "inf",
        "nan",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut depth_braces = 0;
    let mut skip_list = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            continue;
        }
        if c == '{' {
            depth_braces += 1;
        } else if c == '}' {
            depth_braces -= 1;
        } else if c == '[' {
            while i < chars.len() && chars[i] != ']' {
                i += 1;
            }
        } else if c == '(' && skip_list {
            while i < chars.len() && chars[i] != ')' {
                i += 1;
            }
            skip_list = false;
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            continue;
        } else if (c.is_ascii_alphabetic() || c == '_' || c == ':') && depth_braces == 0 {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut j = i;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            let is_call = j < chars.len() && chars[j] == '(';
            let lower = word.to_ascii_lowercase();
            if ["by", "without", "on", "ignoring", "group_left", "group_right"].contains(&lower.as_str()) {
                skip_list = true;
            } else if !is_call && !KEYWORDS.contains(&lower.as_str()) {
                out.push(word);
            }
            continue;
        }
        i += 1;
    }
    out
}
