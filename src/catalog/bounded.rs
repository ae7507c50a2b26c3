//! Bounding attribute values fed by user input.

use super::BoundedStr;
use std::collections::HashSet;
use std::sync::{Arc, RwLock};

/// The value every unknown or excess input folds into.
pub const OTHER: &str = "other";

/// A bounded set of attribute values: an allow-list, or the first `capacity` distinct values
/// seen. Anything else folds into [`OTHER`], so user input (symbols, tool names, paths) can
/// never grow a metric's series without bound.
#[derive(Debug)]
pub struct BoundedSet {
    values: RwLock<HashSet<Arc<str>>>,
    capacity: usize,
    learning: bool,
}

impl BoundedSet {
    /// Only these values pass; everything else becomes [`OTHER`].
    pub fn allow_list<I, S>(values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let values: HashSet<Arc<str>> = values.into_iter().map(|v| Arc::from(v.as_ref())).collect();
        let capacity = values.len();
        BoundedSet { values: RwLock::new(values), capacity, learning: false }
    }

    /// The first `capacity` distinct values pass; later new values become [`OTHER`].
    pub fn learning(capacity: usize) -> Self {
        BoundedSet { values: RwLock::new(HashSet::new()), capacity, learning: true }
    }

    /// The attribute value for `input`: the interned value, or [`OTHER`].
    pub fn get(&self, input: &str) -> BoundedStr {
        if let Ok(values) = self.values.read() {
            if let Some(v) = values.get(input) {
                return BoundedStr::Shared(v.clone());
            }
            if !self.learning || values.len() >= self.capacity {
                return BoundedStr::Static(OTHER);
            }
        }
        let Ok(mut values) = self.values.write() else {
            return BoundedStr::Static(OTHER);
        };
        if let Some(v) = values.get(input) {
            return BoundedStr::Shared(v.clone());
        }
        if values.len() >= self.capacity {
            return BoundedStr::Static(OTHER);
        }
        let v: Arc<str> = Arc::from(input);
        values.insert(v.clone());
        BoundedStr::Shared(v)
    }

    /// Whether `input` is a known value (does not learn).
    pub fn contains(&self, input: &str) -> bool {
        self.values.read().map(|v| v.contains(input)).unwrap_or(false)
    }

    /// Number of known values.
    pub fn len(&self) -> usize {
        self.values.read().map(|v| v.len()).unwrap_or(0)
    }

    /// Whether no value is known yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_folds_unknown_values() {
        let set = BoundedSet::allow_list(["AAPL", "MSFT"]);
        assert_eq!(set.get("AAPL").as_str(), "AAPL");
        assert_eq!(set.get("../../etc/passwd").as_str(), OTHER);
        assert_eq!(set.len(), 2);
    }

    #[test]
    fn learning_set_stops_at_capacity() {
        let set = BoundedSet::learning(3);
        for i in 0..100 {
            let _ = set.get(&format!("v{i}"));
        }
        assert_eq!(set.len(), 3);
        assert_eq!(set.get("v1").as_str(), "v1");
        assert_eq!(set.get("v50").as_str(), OTHER);
    }
}
