//! Logs: a `tracing-subscriber` fmt layer (text, or JSON lines carrying `trace_id`/`span_id`)
//! plus the OpenTelemetry layer that turns `tracing` spans into OTel spans.

use super::config::LogFormat;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::trace::SdkTracer;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// Crates whose own spans and chatter never become telemetry (exporter internals, drivers).
const QUIET: &[&str] = &["h2", "hyper", "hyper_util", "tonic", "tower", "reqwest", "sqlx", "opentelemetry", "rmcp"];

/// Installs the global subscriber. Returns `false` when one was already installed (the
/// application's own choice wins; nothing is replaced).
pub(crate) fn install(format: LogFormat, filter: &str, tracer: Option<SdkTracer>) -> bool {
    let mut directives = String::from(filter);
    for krate in QUIET {
        if !filter.contains(krate) {
            directives.push_str(&format!(",{krate}=warn"));
        }
    }
    // rmcp's transport worker logs every failed connection attempt at ERROR (with Rust type
    // names); the MCP orchestrator reports the same failure once, as a warning naming the
    // server. A filter that names rmcp keeps its own say.
    if !filter.contains("rmcp") {
        directives.push_str(",rmcp::transport::worker=off");
    }
    let env_filter = EnvFilter::builder().parse_lossy(directives);
    let otel_layer = tracer.map(|t| {
        let mut targets = Targets::new().with_default(tracing::Level::TRACE);
        for krate in QUIET {
            targets = targets.with_target(*krate, tracing::level_filters::LevelFilter::OFF);
        }
        tracing_opentelemetry::layer()
            .with_tracer(t)
            .with_tracked_inactivity(false)
            .with_threads(false)
            .with_filter(targets)
    });
    let registry = tracing_subscriber::registry().with(env_filter).with(otel_layer);
    match format {
        LogFormat::Json => registry
            .with(tracing_subscriber::fmt::layer().event_format(JsonLines).with_writer(std::io::stderr))
            .try_init()
            .is_ok(),
        LogFormat::Text => {
            // Colours only on a terminal: piped into a file, journald or a log shipper, escape
            // codes would only garble the lines.
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
            registry
                .with(tracing_subscriber::fmt::layer().with_ansi(ansi).with_writer(std::io::stderr))
                .try_init()
                .is_ok()
        }
    }
}

/// One JSON object per line: `timestamp`, `level`, `target`, `message`, the event's fields, the
/// current span name, and `trace_id`/`span_id` of the active OpenTelemetry context.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonLines;

struct JsonVisitor<'a>(&'a mut serde_json::Map<String, serde_json::Value>);

impl Visit for JsonVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_string(), serde_json::Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), serde_json::Value::String(value.to_string()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), value.into());
    }
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let meta = event.metadata();
        let mut map = serde_json::Map::new();
        map.insert("timestamp".into(), rfc3339(SystemTime::now()).into());
        map.insert("level".into(), meta.level().as_str().into());
        map.insert("target".into(), meta.target().into());
        let mut fields = serde_json::Map::new();
        event.record(&mut JsonVisitor(&mut fields));
        if let Some(message) = fields.remove("message") {
            map.insert("message".into(), message);
        }
        if !fields.is_empty() {
            map.insert("fields".into(), fields.into());
        }
        if let Some(span) = ctx.lookup_current() {
            map.insert("span".into(), span.name().into());
        }
        let cx = opentelemetry::Context::current();
        let span = cx.span();
        let sc = span.span_context();
        if sc.is_valid() {
            map.insert("trace_id".into(), sc.trace_id().to_string().into());
            map.insert("span_id".into(), sc.span_id().to_string().into());
        }
        let line = serde_json::Value::Object(map);
        writeln!(writer, "{line}")
    }
}

/// Formats a time as RFC 3339 UTC with microseconds (no calendar crate needed).
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        d.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_796_400_000) + Duration::from_micros(123_456);
        assert_eq!(rfc3339(t), "2026-12-04T16:00:00.123456Z");
    }
}
