//! Command line and environment: every flag has an environment fallback; every bad value exits
//! with status 2 and one line naming the setting.

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::time::Duration;
use swaggy_telemetry::db::DbMeta;
use swaggy_telemetry::mcp::{McpServersFile, ServerEntry};

/// Swaggy Stacks: a paper-trading reference service instrumented with swaggy-telemetry.
#[derive(Debug, Parser)]
#[command(name = "swaggy-stacks", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Address to listen on.
    #[arg(long = "listen", env = "LISTEN_ADDR", global = true, value_name = "ADDR")]
    pub listen: Option<String>,

    /// Database URL (postgres://… or sqlite:…); default: an SQLite file in the temp directory.
    #[arg(long = "database-url", env = "DATABASE_URL", global = true, value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Redis URL (redis://host:port); default: no cache.
    #[arg(long = "redis-url", env = "REDIS_URL", global = true, value_name = "URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Simulated orders per second (demo only).
    #[arg(long = "rate", allow_negative_numbers = true, env = "SIM_RATE", global = true, value_name = "N")]
    pub rate: Option<String>,

    /// Quote cache TTL in seconds.
    #[arg(long = "quote-ttl", allow_negative_numbers = true, env = "QUOTE_TTL", global = true, value_name = "SECS")]
    pub quote_ttl: Option<String>,

    /// How often health checks run in the background (e.g. 30s, 500ms).
    #[arg(
        long = "health-interval",
        allow_negative_numbers = true,
        env = "HEALTH_INTERVAL",
        global = true,
        value_name = "DURATION"
    )]
    pub health_interval: Option<String>,

    /// Bound on each health probe.
    #[arg(
        long = "health-timeout",
        allow_negative_numbers = true,
        env = "HEALTH_TIMEOUT",
        global = true,
        value_name = "DURATION"
    )]
    pub health_timeout: Option<String>,

    /// On-demand refreshes (`/health?fresh=1`) happen at most this often.
    #[arg(
        long = "health-min-refresh",
        allow_negative_numbers = true,
        env = "HEALTH_MIN_REFRESH",
        global = true,
        value_name = "DURATION"
    )]
    pub health_min_refresh: Option<String>,

    /// WebSocket connections at most (more are refused with 503).
    #[arg(
        long = "ws-max-connections",
        allow_negative_numbers = true,
        env = "WS_MAX_CONNECTIONS",
        global = true,
        value_name = "N"
    )]
    pub ws_max_connections: Option<String>,

    /// Origins allowed to open `/ws` besides the server's own (comma-separated, `*` for any).
    #[arg(long = "ws-allowed-origins", env = "WS_ALLOWED_ORIGINS", global = true, value_name = "LIST")]
    pub ws_allowed_origins: Option<String>,

    /// An `mcpServers` JSON file naming the MCP servers the agents use (default: the bundled
    /// server, this executable's `mcp-server` over stdio, as `market`).
    #[arg(long = "mcp-config", env = "MCP_CONFIG", global = true, value_name = "FILE")]
    pub mcp_config: Option<String>,

    /// External APIs to health-check: `name=url[=status],…` (default: the simulated venue).
    #[arg(long = "external-apis", env = "EXTERNAL_APIS", global = true, value_name = "LIST", hide_env_values = true)]
    pub external_apis: Option<String>,
}

/// What to run.
#[derive(Debug, Subcommand, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Serve the API with the traffic simulator and the trading agents (the default).
    Demo,
    /// Serve the API without the simulator and the agents.
    Serve,
    /// Run the bundled MCP server (market data and risk tools).
    McpServer {
        /// `stdio` (what the demo spawns) or `http` (streamable HTTP on --listen, path /mcp).
        #[arg(long, value_enum, default_value = "stdio")]
        transport: crate::mcp_server::McpTransportArg,
    },
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct AppConfig {
    pub mode: Command,
    pub listen: SocketAddr,
    pub database_url: String,
    pub database_meta: DbMeta,
    pub redis: Option<redis::Client>,
    pub rate: f64,
    pub quote_ttl: u64,
    pub health: swaggy_telemetry::health::HealthConfig,
    /// `(name, url, expected status)`; `None`: check the simulated venue.
    pub external_apis: Option<Vec<(String, String, u16)>>,
    pub stream: swaggy_telemetry::stream::StreamConfig,
    /// The MCP servers from `--mcp-config`; `None`: the bundled one (see [`bundled_mcp_servers`]).
    pub mcp: Option<McpServersFile>,
}

/// A bad setting (printed as one line, exit status 2).
#[derive(Debug)]
pub struct ConfigError {
    pub setting: &'static str,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid {}: {}", self.setting, self.message)
    }
}

fn err(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError { setting, message: message.into() }
}

/// The default database: an SQLite file in the temp directory.
pub fn default_database_url() -> String {
    let path = std::env::temp_dir().join("swaggy-stacks-demo.db");
    format!("sqlite://{}?mode=rwc", path.display())
}

/// `service.name` of the bundled MCP server when run on its own.
pub const MCP_SERVICE_NAME: &str = "swaggy-stacks-mcp";

/// The default MCP servers: this executable's `mcp-server` over stdio, named `market`, exporting
/// its telemetry as `{service_name}-mcp` (the service's own name when it spawns it).
pub fn bundled_mcp_servers(service_name: &str) -> McpServersFile {
    let command = std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "swaggy-stacks".to_string());
    let env = [("OTEL_SERVICE_NAME", format!("{service_name}-mcp")), ("RUST_LOG", "warn".to_string())]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let mut file = McpServersFile::default();
    file.servers.insert(
        crate::agents::MARKET_SERVER.to_string(),
        ServerEntry::Stdio { command, args: vec!["mcp-server".to_string()], env },
    );
    file
}

/// `--listen`/`LISTEN_ADDR` (default `127.0.0.1:8080`).
pub fn listen_addr(raw: Option<String>) -> Result<SocketAddr, ConfigError> {
    let raw = raw.unwrap_or_else(|| "127.0.0.1:8080".into());
    raw.parse().map_err(|_| err("--listen/LISTEN_ADDR", format!("{raw:?} is not an address like 127.0.0.1:8080")))
}

/// Parses a duration like `30s`, `500ms`, `2m` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let v: f64 = num.parse().ok()?;
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        _ => return None,
    };
    // Past what a Duration holds (e.g. `99999999999999999999999h`) is a bad value, not a panic.
    Duration::try_from_secs_f64(secs).ok()
}

fn duration_setting(
    raw: Option<String>,
    setting: &'static str,
    default: Duration,
    range: std::ops::RangeInclusive<Duration>,
) -> Result<Duration, ConfigError> {
    let Some(raw) = raw else { return Ok(default) };
    match parse_duration(&raw) {
        Some(d) if range.contains(&d) => Ok(d),
        _ => Err(err(
            setting,
            format!("{raw:?} is not a duration between {:?} and {:?} (e.g. 30s, 500ms)", range.start(), range.end()),
        )),
    }
}

fn parse_external_apis(raw: &str) -> Result<Vec<(String, String, u16)>, ConfigError> {
    const SETTING: &str = "--external-apis/EXTERNAL_APIS";
    let mut out = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((name, rest)) = entry.split_once('=') else {
            return Err(err(SETTING, "each entry is name=url or name=url=status"));
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(err(SETTING, format!("{name:?} is not a valid check name (letters, digits, _ and -)")));
        }
        let (url, status) = match rest.rsplit_once('=') {
            Some((u, code)) if code.chars().all(|c| c.is_ascii_digit()) && !code.is_empty() => {
                (u, code.parse::<u16>().ok().filter(|c| (100..600).contains(c)))
            }
            _ => (rest, Some(200)),
        };
        let Some(status) = status else {
            return Err(err(SETTING, format!("the expected status of {name} must be 100-599")));
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.parse::<http::Uri>().is_err() {
            return Err(err(SETTING, format!("the URL of {name} must be http:// or https://")));
        }
        if out.iter().any(|(n, _, _)| n == name) {
            return Err(err(SETTING, format!("{name:?} is named twice")));
        }
        out.push((name.to_string(), url.to_string(), status));
    }
    if out.len() > 32 {
        return Err(err(SETTING, "at most 32 external APIs"));
    }
    Ok(out)
}

impl AppConfig {
    /// Validates the parsed command line.
    pub fn from_cli(cli: Cli) -> Result<Self, ConfigError> {
        let mode = cli.command.unwrap_or(Command::Demo);
        let listen = listen_addr(cli.listen)?;
        let database_url = cli.database_url.unwrap_or_else(default_database_url);
        // Never echo the URL: it may carry a password.
        let database_meta =
            DbMeta::from_url(&database_url).map_err(|e| err("--database-url/DATABASE_URL", e.to_string()))?;
        if database_meta.system == swaggy_telemetry::catalog::values::DbSystem::Sqlite
            && (database_url.contains(":memory:") || database_url.contains("mode=memory"))
        {
            return Err(err(
                "--database-url/DATABASE_URL",
                "in-memory SQLite is a separate empty database per pooled connection: give a file \
                 (sqlite://path/to/file.db?mode=rwc)",
            ));
        }
        // The generic parser leaves driver options (e.g. `sslmode`) to connect time: check them now.
        let parsed = match database_meta.system {
            swaggy_telemetry::catalog::values::DbSystem::Postgresql => {
                <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(&database_url).map(|_| ())
            }
            _ => <sqlx::any::AnyConnectOptions as std::str::FromStr>::from_str(&database_url).map(|_| ()),
        };
        if let Err(e) = parsed {
            let kind = match e {
                sqlx::Error::Configuration(_) => "malformed connection options",
                _ => "not a valid connection URL",
            };
            return Err(err("--database-url/DATABASE_URL", kind));
        }
        let redis = match cli.redis_url {
            None => None,
            Some(url) => Some(
                redis::Client::open(url.as_str())
                    .map_err(|_| err("--redis-url/REDIS_URL", "not a valid redis:// URL"))?,
            ),
        };
        let rate = match cli.rate {
            None => 5.0,
            Some(r) => match r.parse::<f64>() {
                Ok(v) if v.is_finite() && (0.0..=1000.0).contains(&v) => v,
                _ => {
                    return Err(err(
                        "--rate/SIM_RATE",
                        format!("{r:?} is not a number of orders per second in [0, 1000]"),
                    ));
                }
            },
        };
        let quote_ttl = match cli.quote_ttl {
            None => 2,
            Some(t) => match t.parse::<u64>() {
                Ok(v) if (1..=3600).contains(&v) => v,
                _ => {
                    return Err(err("--quote-ttl/QUOTE_TTL", format!("{t:?} is not a number of seconds in [1, 3600]")));
                }
            },
        };
        let health = swaggy_telemetry::health::HealthConfig {
            interval: duration_setting(
                cli.health_interval,
                "--health-interval/HEALTH_INTERVAL",
                Duration::from_secs(30),
                Duration::from_millis(100)..=Duration::from_secs(3600),
            )?,
            timeout: duration_setting(
                cli.health_timeout,
                "--health-timeout/HEALTH_TIMEOUT",
                Duration::from_secs(2),
                Duration::from_millis(10)..=Duration::from_secs(60),
            )?,
            min_refresh: duration_setting(
                cli.health_min_refresh,
                "--health-min-refresh/HEALTH_MIN_REFRESH",
                Duration::from_secs(1),
                Duration::ZERO..=Duration::from_secs(3600),
            )?,
        };
        let external_apis = cli.external_apis.as_deref().map(parse_external_apis).transpose()?;
        let mut stream = swaggy_telemetry::stream::StreamConfig::default();
        if let Some(n) = cli.ws_max_connections {
            stream.max_connections = match n.parse::<usize>() {
                Ok(v) if (1..=100_000).contains(&v) => v,
                _ => {
                    return Err(err(
                        "--ws-max-connections/WS_MAX_CONNECTIONS",
                        format!("{n:?} is not a number in [1, 100000]"),
                    ));
                }
            };
        }
        if let Some(list) = cli.ws_allowed_origins {
            for o in list.split(',').map(str::trim).filter(|o| !o.is_empty()) {
                if o != "*" && !(o.starts_with("http://") || o.starts_with("https://")) {
                    return Err(err(
                        "--ws-allowed-origins/WS_ALLOWED_ORIGINS",
                        format!("{o:?} is not an origin like https://host:port"),
                    ));
                }
                stream.allowed_origins.push(o.trim_end_matches('/').to_string());
            }
        }
        // A secret: environment only, never a flag (flags show up in process listings).
        if let Ok(token) = std::env::var("WS_TOKEN") {
            let token = token.trim().to_string();
            if token.len() < 8 || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(err("WS_TOKEN", "must be at least 8 characters without spaces"));
            }
            stream.token = Some(token);
        }
        let mcp = match cli.mcp_config {
            Some(path) => {
                const SETTING: &str = "--mcp-config/MCP_CONFIG";
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| err(SETTING, format!("cannot read {path:?}: {}", e.kind())))?;
                Some(McpServersFile::parse(&text).map_err(|e| err(SETTING, format!("{path}: {e}")))?)
            }
            None => None,
        };
        Ok(AppConfig {
            mcp,
            mode,
            listen,
            database_url,
            database_meta,
            redis,
            rate,
            quote_ttl,
            health,
            external_apis,
            stream,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Some(Duration::from_secs(60)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("-1s"), None);
        assert_eq!(parse_duration("99999999999999999999999h"), None);
    }

    #[test]
    fn external_apis() {
        let v = parse_external_apis("venue=http://x/status, fx=https://fx.example/health=204").unwrap();
        assert_eq!(v[0], ("venue".into(), "http://x/status".into(), 200));
        assert_eq!(v[1], ("fx".into(), "https://fx.example/health".into(), 204));
        assert!(parse_external_apis("nourl").is_err());
        assert!(parse_external_apis("a=ftp://x").is_err());
        assert!(parse_external_apis("a=http://x=999").is_err());
        assert!(parse_external_apis("bad name=http://x").is_err());
        assert!(parse_external_apis("a=http://x,a=http://y").is_err());
        // A query string keeps its `=`; a trailing number is the expected status.
        assert_eq!(parse_external_apis("a=http://x/?q=abc").unwrap()[0].1, "http://x/?q=abc");
        assert_eq!(
            parse_external_apis("a=http://x/?page=2=200").unwrap()[0],
            ("a".into(), "http://x/?page=2".into(), 200)
        );
    }
}
