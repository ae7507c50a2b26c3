//! Trace context in MCP `params._meta` (`traceparent`, `tracestate`, `baggage`), through the
//! installed global propagator.

use opentelemetry::Context;
use opentelemetry::global;
use opentelemetry::propagation::{Extractor, Injector};
use rmcp::model::MetaObject;

/// The `_meta` keys the W3C propagators write (SEP-414).
pub const META_FIELDS: [&str; 3] = ["traceparent", "tracestate", "baggage"];

struct MetaInjector<'a>(&'a mut MetaObject);

impl Injector for MetaInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.0.insert(key.to_string(), serde_json::Value::String(value));
    }
}

struct MetaExtractor<'a>(&'a MetaObject);

impl Extractor for MetaExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.0.get(key).and_then(serde_json::Value::as_str)
    }
    fn keys(&self) -> Vec<&str> {
        self.0.0.keys().map(String::as_str).collect()
    }
}

/// Writes `cx` into `meta` with the installed propagators.
pub fn inject(cx: &Context, meta: &mut MetaObject) {
    global::get_text_map_propagator(|p| p.inject_context(cx, &mut MetaInjector(meta)));
}

/// Reads a context from `meta`; `None` when it carries no propagation field.
pub fn extract(meta: &MetaObject) -> Option<Context> {
    if !META_FIELDS.iter().any(|f| meta.0.contains_key(*f)) {
        return None;
    }
    Some(global::get_text_map_propagator(|p| p.extract(&MetaExtractor(meta))))
}

/// Reads a context from HTTP headers (the streamable HTTP transport also carries them there).
pub fn extract_headers(headers: &http::HeaderMap) -> Option<Context> {
    struct H<'a>(&'a http::HeaderMap);
    impl Extractor for H<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(http::HeaderName::as_str).collect()
        }
    }
    if !META_FIELDS.iter().any(|f| headers.contains_key(*f)) {
        return None;
    }
    Some(global::get_text_map_propagator(|p| p.extract(&H(headers))))
}
