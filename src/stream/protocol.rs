//! The `/ws` JSON protocol (a contract: the live page and external dashboards speak it).

use crate::catalog::values::WsTopic;
use serde::Deserialize;
use serde_json::{Value, json};

/// Smallest subscription interval.
pub const MIN_INTERVAL_MS: u64 = 1_000;
/// Largest subscription interval.
pub const MAX_INTERVAL_MS: u64 = 30_000;
/// Largest accepted client message.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Symbols a `quotes` subscription may name.
pub const MAX_SYMBOLS: usize = 50;

/// A message from the client.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMessage {
    /// `{"type":"subscribe","topic":T,"interval_ms":N,"symbols":[…]}` (`interval_ms` and
    /// `symbols` optional; `symbols` for `quotes` only).
    Subscribe {
        /// Topic.
        topic: WsTopic,
        /// Interval (validated range), or the topic's default.
        interval_ms: Option<u64>,
        /// For `quotes`: which symbols.
        symbols: Option<Vec<String>>,
    },
    /// `{"type":"unsubscribe","topic":T}`.
    Unsubscribe {
        /// Topic.
        topic: WsTopic,
    },
    /// `{"type":"ping"}`.
    Ping,
}

/// Why a client message was refused (an error frame, the connection stays open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    /// Machine-readable code.
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
}

impl ProtocolError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        ProtocolError { code, message: message.into() }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(rename = "type")]
    kind: String,
    topic: Option<String>,
    interval_ms: Option<Value>,
    symbols: Option<Value>,
}

/// Longest symbol a subscription may name.
pub const MAX_SYMBOL_LEN: usize = 16;

/// `symbols`: 1 to [`MAX_SYMBOLS`] strings shaped like tickers (letters, digits, `.`, `-`, `_`),
/// upper-cased.
fn symbols(v: &Value) -> Result<Vec<String>, ProtocolError> {
    let bad = || {
        ProtocolError::new(
            "invalid_symbols",
            format!(
                "\"symbols\" must be an array of 1 to {MAX_SYMBOLS} ticker strings (letters, digits, . - _; at most \
                 {MAX_SYMBOL_LEN} characters)"
            ),
        )
    };
    let list = v.as_array().filter(|a| !a.is_empty() && a.len() <= MAX_SYMBOLS).ok_or_else(bad)?;
    list.iter()
        .map(|x| {
            let s = x.as_str().map(str::trim).ok_or_else(bad)?;
            let ok = !s.is_empty()
                && s.len() <= MAX_SYMBOL_LEN
                && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
            if ok { Ok(s.to_ascii_uppercase()) } else { Err(bad()) }
        })
        .collect()
}

/// Parses and validates one text message.
pub fn parse(text: &str) -> Result<ClientMessage, ProtocolError> {
    let raw: Raw = serde_json::from_str(text)
        .map_err(|_| ProtocolError::new("invalid_message", "expected a JSON object with a known \"type\""))?;
    let topic = |raw: &Raw| -> Result<WsTopic, ProtocolError> {
        let name =
            raw.topic.as_deref().ok_or_else(|| ProtocolError::new("invalid_message", "\"topic\" is required"))?;
        WsTopic::parse(name).ok_or_else(|| {
            let names: Vec<&str> = WsTopic::ALL.iter().map(|t| t.as_str()).collect();
            ProtocolError::new("unknown_topic", format!("unknown topic; topics: {}", names.join(", ")))
        })
    };
    match raw.kind.as_str() {
        "subscribe" => {
            let topic = topic(&raw)?;
            let interval_ms = match &raw.interval_ms {
                None => None,
                Some(v) => match v.as_u64() {
                    Some(n) if (MIN_INTERVAL_MS..=MAX_INTERVAL_MS).contains(&n) => Some(n),
                    _ => {
                        return Err(ProtocolError::new(
                            "invalid_interval",
                            format!("interval_ms must be within [{MIN_INTERVAL_MS}, {MAX_INTERVAL_MS}]"),
                        ));
                    }
                },
            };
            let symbols = match (&raw.symbols, topic) {
                (None, _) => None,
                (Some(_), t) if t != WsTopic::Quotes => {
                    return Err(ProtocolError::new("invalid_message", "\"symbols\" applies to the quotes topic only"));
                }
                (Some(s), _) => Some(symbols(s)?),
            };
            Ok(ClientMessage::Subscribe { topic, interval_ms, symbols })
        }
        "unsubscribe" => Ok(ClientMessage::Unsubscribe { topic: topic(&raw)? }),
        "ping" => Ok(ClientMessage::Ping),
        _ => Err(ProtocolError::new("invalid_message", "unknown \"type\"; expected subscribe, unsubscribe or ping")),
    }
}

/// `{"type":"error","code":…,"message":…}`.
pub fn error_frame(e: &ProtocolError) -> String {
    json!({ "type": "error", "code": e.code, "message": e.message }).to_string()
}

/// `{"type":"data","topic":T,"seq":n,"ts":ms,"data":…}` around an already serialized payload.
pub fn data_frame(topic: WsTopic, seq: u64, ts_ms: i64, data_json: &str) -> String {
    let mut s = String::with_capacity(data_json.len() + 64);
    s.push_str("{\"type\":\"data\",\"topic\":\"");
    s.push_str(topic.as_str());
    s.push_str("\",\"seq\":");
    s.push_str(&seq.to_string());
    s.push_str(",\"ts\":");
    s.push_str(&ts_ms.to_string());
    s.push_str(",\"data\":");
    s.push_str(data_json);
    s.push('}');
    s
}

/// `{"type":"gap","topic":T,"skipped":k,"seq":n}`: `k` updates due to this client were not
/// delivered (it read too slowly); the next data frame is the latest snapshot.
pub fn gap_frame(topic: WsTopic, skipped: u64, seq: u64) -> String {
    json!({ "type": "gap", "topic": topic.as_str(), "skipped": skipped, "seq": seq }).to_string()
}

/// `{"type":"subscribed","topic":T,"interval_ms":N}`.
pub fn subscribed_frame(topic: WsTopic, interval_ms: u64) -> String {
    json!({ "type": "subscribed", "topic": topic.as_str(), "interval_ms": interval_ms }).to_string()
}

/// `{"type":"unsubscribed","topic":T}`.
pub fn unsubscribed_frame(topic: WsTopic) -> String {
    json!({ "type": "unsubscribed", "topic": topic.as_str() }).to_string()
}

/// `{"type":"pong","ts":ms}`.
pub fn pong_frame(ts_ms: i64) -> String {
    json!({ "type": "pong", "ts": ts_ms }).to_string()
}

/// `{"type":"welcome",…}`: topics, default intervals and the interval range.
pub fn welcome_frame(defaults: &[(WsTopic, u64)]) -> String {
    let topics: serde_json::Map<String, Value> =
        defaults.iter().map(|(t, ms)| (t.as_str().to_string(), json!({ "default_interval_ms": ms }))).collect();
    json!({
        "type": "welcome",
        "topics": topics,
        "interval_ms": { "min": MIN_INTERVAL_MS, "max": MAX_INTERVAL_MS },
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates() {
        assert_eq!(
            parse(r#"{"type":"subscribe","topic":"trading","interval_ms":2000}"#).unwrap(),
            ClientMessage::Subscribe { topic: WsTopic::Trading, interval_ms: Some(2000), symbols: None }
        );
        assert_eq!(parse(r#"{"type":"ping"}"#).unwrap(), ClientMessage::Ping);
        assert_eq!(
            parse(r#"{"type":"subscribe","topic":"trading","interval_ms":999}"#).unwrap_err().code,
            "invalid_interval"
        );
        assert_eq!(
            parse(r#"{"type":"subscribe","topic":"trading","interval_ms":"1s"}"#).unwrap_err().code,
            "invalid_interval"
        );
        assert_eq!(parse(r#"{"type":"subscribe","topic":"gossip"}"#).unwrap_err().code, "unknown_topic");
        assert_eq!(parse("not json").unwrap_err().code, "invalid_message");
        assert_eq!(parse(r#"{"type":"dance"}"#).unwrap_err().code, "invalid_message");
        assert_eq!(parse(r#"{"type":"ping","extra":1}"#).unwrap_err().code, "invalid_message");
        assert_eq!(
            parse(r#"{"type":"subscribe","topic":"trading","symbols":["AAPL"]}"#).unwrap_err().code,
            "invalid_message"
        );
        for bad in [r#""AAPL""#, "[]", "[1]", r#"["ZZZZZZZZZZZZZZZZZ"]"#, r#"["💸"]"#, r#"["A B"]"#] {
            let msg = format!(r#"{{"type":"subscribe","topic":"quotes","symbols":{bad}}}"#);
            assert_eq!(parse(&msg).unwrap_err().code, "invalid_symbols", "{bad}");
        }
        assert_eq!(
            parse(r#"{"type":"subscribe","topic":"quotes","symbols":[" aapl ","BRK.B"]}"#).unwrap(),
            ClientMessage::Subscribe {
                topic: WsTopic::Quotes,
                interval_ms: None,
                symbols: Some(vec!["AAPL".into(), "BRK.B".into()])
            }
        );
        let frame = data_frame(WsTopic::Quotes, 3, 10, r#"{"AAPL":1}"#);
        let v: Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(v["seq"], 3);
        assert_eq!(v["data"]["AAPL"], 1);
    }
}
