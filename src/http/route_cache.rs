//! Bound histogram handles per (route, method, status): the request path records with an
//! integer-keyed lookup and an atomic update instead of hashing five attribute strings.

use crate::catalog::instruments::HttpServerLabels;
use crate::catalog::values::{ErrorType, HttpMethod, HttpRoute, HttpStatusCode, UrlScheme};
use crate::catalog::{BoundedStr, Labels};
use crate::http::classify::server_error_type;
use opentelemetry::metrics::{BoundHistogram, Histogram};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, RwLock};

/// Entries at most; beyond it recordings take the (still correct) attribute path.
const MAX_ENTRIES: usize = 4096;

/// A small multiplicative hasher for integer keys (FxHash).
#[derive(Default)]
pub(crate) struct FxHasher(u64);

impl FxHasher {
    #[inline]
    fn add(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
        }
        for b in chunks.remainder() {
            self.add(u64::from(*b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    // Hash and length of the route template (nested routers allocate a fresh string per request,
    // so the text, not its address, is the key). A hit is verified against the stored text.
    route_hash: u64,
    route_len: usize,
    method: u8,
    status: u16,
}

struct Entry {
    route: Option<Arc<str>>,
    bound: BoundHistogram<f64>,
}

pub(crate) struct RouteCache {
    map: RwLock<HashMap<Key, Entry, BuildHasherDefault<FxHasher>>>,
    histogram: Histogram<f64>,
    scheme: UrlScheme,
}

impl RouteCache {
    pub(crate) fn new(histogram: Histogram<f64>, scheme: UrlScheme) -> Self {
        RouteCache { map: RwLock::new(HashMap::default()), histogram, scheme }
    }

    fn labels(&self, route: Option<Arc<str>>, method: HttpMethod, status: u16) -> HttpServerLabels {
        (
            method,
            self.scheme,
            HttpStatusCode(status),
            route.map(|r| HttpRoute(BoundedStr::Shared(r))),
            server_error_type(status).map(|e| ErrorType(BoundedStr::Static(e))),
        )
    }

    #[inline]
    pub(crate) fn record(&self, route: Option<&str>, method: HttpMethod, status: u16, seconds: f64) {
        let key = Key {
            route_hash: route.map_or(0, |r| {
                let mut h = FxHasher::default();
                h.write(r.as_bytes());
                h.finish()
            }),
            route_len: route.map_or(0, str::len),
            method: method as u8,
            status,
        };
        if let Ok(map) = self.map.read()
            && let Some(e) = map.get(&key)
            && e.route.as_deref() == route
        {
            e.bound.record(seconds);
            return;
        }
        self.record_slow(key, route, method, status, seconds);
    }

    #[cold]
    fn record_slow(&self, key: Key, route: Option<&str>, method: HttpMethod, status: u16, seconds: f64) {
        let route: Option<Arc<str>> = route.map(Arc::from);
        let attrs = self.labels(route.clone(), method, status).attributes();
        let Ok(mut map) = self.map.write() else {
            self.histogram.record(seconds, &attrs);
            return;
        };
        if map.len() >= MAX_ENTRIES && !map.contains_key(&key) {
            drop(map);
            self.histogram.record(seconds, &attrs);
            return;
        }
        let bound = self.histogram.bind(&attrs);
        bound.record(seconds);
        map.insert(key, Entry { route, bound });
    }
}

/// Interned span names `{method} {route}` and route strings, so a traced request allocates
/// neither. Bounded: beyond `MAX_NAMES` routes the name is formatted per request.
/// `(route text, span name)`, both interned for the process lifetime.
type Interned = (&'static str, &'static str);

pub(crate) struct SpanNames {
    map: RwLock<HashMap<(u64, u8), Interned, BuildHasherDefault<FxHasher>>>,
}

const MAX_NAMES: usize = 1024;

impl SpanNames {
    pub(crate) fn new() -> Self {
        SpanNames { map: RwLock::new(HashMap::default()) }
    }

    /// `(span name, route)` for a matched route.
    pub(crate) fn get(
        &self,
        route: &str,
        method: HttpMethod,
    ) -> (std::borrow::Cow<'static, str>, std::borrow::Cow<'static, str>) {
        use std::borrow::Cow;
        let mut h = FxHasher::default();
        h.write(route.as_bytes());
        let key = (h.finish(), method as u8);
        if let Ok(map) = self.map.read()
            && let Some((r, name)) = map.get(&key)
            && *r == route
        {
            return (Cow::Borrowed(name), Cow::Borrowed(r));
        }
        let name = format!("{} {}", method.as_str(), route);
        if let Ok(mut map) = self.map.write()
            && map.len() < MAX_NAMES
            && !map.contains_key(&key)
        {
            let r: &'static str = Box::leak(route.to_string().into_boxed_str());
            let n: &'static str = Box::leak(name.into_boxed_str());
            map.insert(key, (r, n));
            return (Cow::Borrowed(n), Cow::Borrowed(r));
        }
        (Cow::Owned(name), Cow::Owned(route.to_string()))
    }
}
