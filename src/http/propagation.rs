//! Header carriers for the OpenTelemetry propagators, and `traceparent` rendering.

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::SpanContext;

/// Reads propagation fields from request headers.
#[derive(Debug)]
pub struct HeaderExtractor<'a>(pub &'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

/// Writes propagation fields into headers.
#[derive(Debug)]
pub struct HeaderInjector<'a>(pub &'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(key.as_bytes()), HeaderValue::from_str(&value)) {
            self.0.insert(name, value);
        }
    }
}

/// The W3C `traceparent` value of a span context (`None` when invalid), formatted without
/// intermediate strings.
pub fn traceparent_of(sc: &SpanContext) -> Option<HeaderValue> {
    if !sc.is_valid() {
        return None;
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 55];
    buf[..3].copy_from_slice(b"00-");
    for (i, b) in sc.trace_id().to_bytes().iter().enumerate() {
        buf[3 + 2 * i] = HEX[(b >> 4) as usize];
        buf[4 + 2 * i] = HEX[(b & 15) as usize];
    }
    buf[35] = b'-';
    for (i, b) in sc.span_id().to_bytes().iter().enumerate() {
        buf[36 + 2 * i] = HEX[(b >> 4) as usize];
        buf[37 + 2 * i] = HEX[(b & 15) as usize];
    }
    buf[52] = b'-';
    let flags = sc.trace_flags().to_u8();
    buf[53] = HEX[(flags >> 4) as usize];
    buf[54] = HEX[(flags & 15) as usize];
    HeaderValue::from_bytes(&buf).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};

    #[test]
    fn formats_like_the_w3c_example() {
        let sc = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        );
        assert_eq!(traceparent_of(&sc).unwrap(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        assert!(traceparent_of(&SpanContext::empty_context()).is_none());
    }
}
