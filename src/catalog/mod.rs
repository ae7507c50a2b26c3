//! The instrument catalog: every metric name, unit, bucket list, attribute key and cardinality
//! limit, defined once.
//!
//! * [`key`] — every attribute key (semantic conventions, then the `swaggy.*` namespace).
//! * [`values`] — one type per attribute; enums are enumerable ("dense").
//! * [`instruments`] — the instrument definitions (`*Def` constants) grouped by category.
//! * Typed handles ([`Counter`], [`Histogram`], …) are built from a definition and a meter:
//!   `ORDERS_SUBMITTED.build(&meter).add(1, (OrderSide::Buy, OrderType::Market))`.
//!
//! Handles of enumerable label sets pre-bind one SDK aggregator per combination: a recording is
//! an array index plus an atomic add — no attribute hashing — and instruments marked
//! `zero_init` export every combination at 0 from start, so `increase()`-based alerts see the
//! first failure.
//!
//! The reference in `docs/metrics.md` is rendered from this module ([`render_markdown`]).

mod bounded;
mod handle;
pub mod instruments;
pub mod key;
mod labels;
mod render;
pub mod values;

pub use bounded::{BoundedSet, OTHER};
pub use handle::*;
pub use instruments::{ALL, CATEGORIES, lookup};
pub use labels::{AttrVec, BoundedStr, LabelValue, Labels, dense_product, label_enum, label_str};
pub use render::{README_BEGIN, README_END, render_markdown, render_summary, with_readme_summary};

use opentelemetry_sdk::metrics::{Instrument, Stream};

/// A view that applies each catalog instrument's cardinality limit. Instruments outside the
/// catalog keep the SDK default.
pub fn cardinality_view() -> impl Fn(&Instrument) -> Option<Stream> + Send + Sync + 'static {
    |instrument: &Instrument| {
        let info = lookup(instrument.name())?;
        Stream::builder().with_cardinality_limit(info.cardinality_limit).build().ok()
    }
}
