//! Instrument definitions ([`Info`] + a typed `*Def`) and the typed handles they build.

use super::labels::{AttrVec, Labels};
use opentelemetry::KeyValue;
use opentelemetry::metrics::{
    AsyncInstrument, BoundCounter, BoundHistogram, BoundUpDownCounter, Meter, ObservableCounter, ObservableGauge,
    ObservableUpDownCounter,
};
use std::fmt;
use std::marker::PhantomData;
use std::sync::OnceLock;

/// Dense label sets larger than this are recorded through the attribute path instead of
/// pre-bound aggregators (keeps memory and the bound series count small).
pub const MAX_DENSE: usize = 512;

/// Default per-instrument cardinality limit (series per instrument and collection).
pub const DEFAULT_CARDINALITY_LIMIT: usize = 2000;

/// What kind of instrument a definition describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InstrumentKind {
    /// Monotonic synchronous counter.
    Counter,
    /// Synchronous up-down counter.
    UpDownCounter,
    /// Synchronous histogram with explicit buckets.
    Histogram,
    /// Asynchronous monotonic counter (callback).
    ObservableCounter,
    /// Asynchronous up-down counter (callback).
    ObservableUpDownCounter,
    /// Asynchronous gauge (callback).
    ObservableGauge,
}

impl InstrumentKind {
    /// Name as written in the reference.
    pub fn as_str(self) -> &'static str {
        match self {
            InstrumentKind::Counter => "counter",
            InstrumentKind::UpDownCounter => "updowncounter",
            InstrumentKind::Histogram => "histogram",
            InstrumentKind::ObservableCounter => "observable counter",
            InstrumentKind::ObservableUpDownCounter => "observable updowncounter",
            InstrumentKind::ObservableGauge => "observable gauge",
        }
    }
    /// Whether Prometheus exposes it as a counter (`_total`).
    pub fn is_monotonic(self) -> bool {
        matches!(self, InstrumentKind::Counter | InstrumentKind::ObservableCounter)
    }
}

/// Everything the catalog knows about one instrument.
#[derive(Debug, Clone, Copy)]
pub struct Info {
    /// OpenTelemetry instrument name (no unit, no `_total`).
    pub name: &'static str,
    /// Instrument kind.
    pub kind: InstrumentKind,
    /// UCUM unit (`s`, `By`, `{request}`).
    pub unit: &'static str,
    /// One-line description (Prometheus HELP).
    pub description: &'static str,
    /// Attribute keys, in recording order.
    pub attributes: &'static [&'static str],
    /// Explicit histogram bucket boundaries (empty for non-histograms).
    pub buckets: &'static [f64],
    /// Series limit enforced by a view; excess goes to `otel.metric.overflow=true`.
    pub cardinality_limit: usize,
    /// Whether every combination of an enumerable label set is exported at 0 from start.
    pub zero_init: bool,
    /// Reference section.
    pub category: &'static str,
    /// Which issue/component fills it with live data (for the reference).
    pub source: &'static str,
}

impl Info {
    /// Defaults for the fields a definition leaves out.
    pub const DEFAULT: Info = Info {
        name: "",
        kind: InstrumentKind::Counter,
        unit: "",
        description: "",
        attributes: &[],
        buckets: &[],
        cardinality_limit: DEFAULT_CARDINALITY_LIMIT,
        zero_init: false,
        category: "",
        source: "",
    };

    /// The metric family name the Prometheus exporter (ours and the collector's, with
    /// `add_metric_suffixes`) produces: dots to `_`, the unit word, `_total` on counters.
    pub fn prometheus_name(&self) -> String {
        let mut name: String = self
            .name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == ':' { c } else { '_' })
            .collect();
        if let Some(suffix) = prometheus_unit_suffix(self.unit) {
            name.push('_');
            name.push_str(suffix);
        }
        if self.kind.is_monotonic() {
            name.push_str("_total");
        }
        name
    }
}

/// The unit words the Prometheus exporter appends (annotations like `{request}` add nothing).
pub fn prometheus_unit_suffix(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "min" => "minutes",
        "h" => "hours",
        "d" => "days",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "1" => "ratio",
        "%" => "percent",
        _ => return None,
    })
}

macro_rules! def_type {
    ($(#[$m:meta])* $name:ident, $kind:ident) => {
        $(#[$m])*
        pub struct $name<L> {
            /// What the catalog knows about the instrument.
            pub info: Info,
            _labels: PhantomData<fn(L)>,
        }
        impl<L: Labels> $name<L> {
            /// The instrument kind of this definition.
            pub const KIND: InstrumentKind = InstrumentKind::$kind;
            #[doc(hidden)]
            pub const fn new(info: Info) -> Self {
                $name { info, _labels: PhantomData }
            }
        }
        impl<L> fmt::Debug for $name<L> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($name)).field(&self.info.name).finish()
            }
        }
    };
}

def_type!(
    /// A monotonic counter (`u64`).
    CounterDef, Counter);
def_type!(
    /// A monotonic counter of fractional amounts (`f64`), e.g. notional.
    FloatCounterDef, Counter);
def_type!(
    /// An up-down counter (`i64`).
    UpDownCounterDef, UpDownCounter);
def_type!(
    /// A histogram (`f64`) with the catalog's buckets.
    HistogramDef, Histogram);
def_type!(
    /// An observable monotonic counter (`f64`).
    ObservableCounterDef, ObservableCounter);
def_type!(
    /// An observable up-down counter (`i64`).
    ObservableUpDownCounterDef, ObservableUpDownCounter);
def_type!(
    /// An observable gauge (`f64`).
    ObservableGaugeDef, ObservableGauge);

fn dense_len<L: Labels>() -> usize {
    if L::DENSE > 0 && L::DENSE <= MAX_DENSE { L::DENSE } else { 0 }
}

fn slots<B>(len: usize) -> Box<[OnceLock<B>]> {
    (0..len).map(|_| OnceLock::new()).collect()
}

macro_rules! sync_handle {
    (
        $(#[$m:meta])* $handle:ident, $def:ident, $num:ty, $otel:ident, $bound:ident,
        $builder:ident, $record:ident, $bind_doc:literal
    ) => {
        $(#[$m])*
        pub struct $handle<L> {
            inner: opentelemetry::metrics::$otel<$num>,
            bound: Box<[OnceLock<$bound<$num>>]>,
            _labels: PhantomData<fn(L)>,
        }

        impl<L> Clone for $handle<L> {
            fn clone(&self) -> Self {
                $handle { inner: self.inner.clone(), bound: self.bound.clone(), _labels: PhantomData }
            }
        }

        impl<L> fmt::Debug for $handle<L> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($handle)).field("bound", &self.bound.len()).finish()
            }
        }

        impl<L: Labels> $handle<L> {
            #[doc = $bind_doc]
            #[inline]
            pub fn $record(&self, value: $num, labels: L) {
                if !self.bound.is_empty() {
                    let index = labels.dense_index();
                    self.slot(index).$record(value);
                } else {
                    self.inner.$record(value, &labels.attributes());
                }
            }

            /// Records with attributes appended after the typed ones (for optional, rarely
            /// set attributes). Takes the attribute path.
            pub fn record_with(&self, value: $num, labels: L, extra: &[KeyValue]) {
                let mut attrs: AttrVec = labels.attributes();
                attrs.extend(extra.iter().cloned());
                self.inner.$record(value, &attrs);
            }

            #[inline]
            fn slot(&self, index: usize) -> &$bound<$num> {
                self.bound[index].get_or_init(|| self.inner.bind(&L::dense_attributes(index)))
            }

            /// Pre-binds one label set (it is exported from now on, at 0 until recorded).
            pub fn bind(&self, labels: &L) {
                if !self.bound.is_empty() {
                    let _ = self.slot(labels.dense_index());
                } else {
                    // A dropped bound handle leaves its series in place (cumulative).
                    drop(self.inner.bind(&labels.attributes()));
                }
            }

            /// The raw SDK instrument (for attributes outside the typed set, e.g. benchmarks).
            pub fn raw(&self) -> &opentelemetry::metrics::$otel<$num> {
                &self.inner
            }
        }
    };
}

sync_handle!(
    /// Typed handle of a [`CounterDef`].
    Counter, CounterDef, u64, Counter, BoundCounter, u64_counter, add,
    "Adds `value` for this label set (an array index and an atomic add when the set is enumerable).");
sync_handle!(
    /// Typed handle of a [`FloatCounterDef`].
    FloatCounter, FloatCounterDef, f64, Counter, BoundCounter, f64_counter, add,
    "Adds `value` for this label set.");
sync_handle!(
    /// Typed handle of an [`UpDownCounterDef`].
    UpDownCounter, UpDownCounterDef, i64, UpDownCounter, BoundUpDownCounter, i64_up_down_counter, add,
    "Adds `value` (may be negative) for this label set.");
sync_handle!(
    /// Typed handle of a [`HistogramDef`].
    Histogram, HistogramDef, f64, Histogram, BoundHistogram, f64_histogram, record,
    "Records `value` for this label set.");

fn zero_init<L: Labels, B>(info: &Info, bound: &[OnceLock<B>], bind: impl Fn(&AttrVec) -> B) {
    if info.zero_init {
        for (index, slot) in bound.iter().enumerate() {
            let _ = slot.get_or_init(|| bind(&L::dense_attributes(index)));
        }
    }
}

impl<L: Labels> CounterDef<L> {
    /// Builds the typed handle on `meter`.
    pub fn build(&self, meter: &Meter) -> Counter<L> {
        let i = &self.info;
        let inner = meter.u64_counter(i.name).with_unit(i.unit).with_description(i.description).build();
        let bound = slots(dense_len::<L>());
        zero_init::<L, _>(i, &bound, |a| inner.bind(a));
        if i.zero_init && L::KEYS.is_empty() {
            // The SDK exports the attribute-less series only once it has been written to.
            inner.add(0, &[]);
        }
        Counter { inner, bound, _labels: PhantomData }
    }
}

impl<L: Labels> FloatCounterDef<L> {
    /// Builds the typed handle on `meter`.
    pub fn build(&self, meter: &Meter) -> FloatCounter<L> {
        let i = &self.info;
        let inner = meter.f64_counter(i.name).with_unit(i.unit).with_description(i.description).build();
        let bound = slots(dense_len::<L>());
        zero_init::<L, _>(i, &bound, |a| inner.bind(a));
        if i.zero_init && L::KEYS.is_empty() {
            // The SDK exports the attribute-less series only once it has been written to.
            inner.add(0.0, &[]);
        }
        FloatCounter { inner, bound, _labels: PhantomData }
    }
}

impl<L: Labels> UpDownCounterDef<L> {
    /// Builds the typed handle on `meter`.
    pub fn build(&self, meter: &Meter) -> UpDownCounter<L> {
        let i = &self.info;
        let inner = meter.i64_up_down_counter(i.name).with_unit(i.unit).with_description(i.description).build();
        let bound = slots(dense_len::<L>());
        zero_init::<L, _>(i, &bound, |a| inner.bind(a));
        if i.zero_init && L::KEYS.is_empty() {
            // The SDK exports the attribute-less series only once it has been written to.
            inner.add(0, &[]);
        }
        UpDownCounter { inner, bound, _labels: PhantomData }
    }
}

impl<L: Labels> HistogramDef<L> {
    /// Builds the typed handle on `meter`, with the catalog's bucket boundaries.
    pub fn build(&self, meter: &Meter) -> Histogram<L> {
        let i = &self.info;
        let inner = meter
            .f64_histogram(i.name)
            .with_unit(i.unit)
            .with_description(i.description)
            .with_boundaries(i.buckets.to_vec())
            .build();
        let bound = slots(dense_len::<L>());
        zero_init::<L, _>(i, &bound, |a| inner.bind(a));
        Histogram { inner, bound, _labels: PhantomData }
    }
}

/// Passed to observable callbacks: observe values with typed labels.
pub struct Observe<'a, L, T> {
    inner: &'a dyn AsyncInstrument<T>,
    _labels: PhantomData<fn(L)>,
}

impl<L: Labels, T> Observe<'_, L, T> {
    /// Observes `value` for this label set.
    #[inline]
    pub fn observe(&self, value: T, labels: L) {
        self.inner.observe(value, &labels.attributes());
    }
}

impl<L: Labels> ObservableGaugeDef<L> {
    /// Registers `callback` (must not block or do I/O: read a snapshot).
    pub fn register<F>(&self, meter: &Meter, callback: F) -> ObservableGauge<f64>
    where
        F: Fn(&Observe<'_, L, f64>) + Send + Sync + 'static,
    {
        let i = &self.info;
        meter
            .f64_observable_gauge(i.name)
            .with_unit(i.unit)
            .with_description(i.description)
            .with_callback(move |o| callback(&Observe { inner: o, _labels: PhantomData }))
            .build()
    }
}

impl<L: Labels> ObservableCounterDef<L> {
    /// Registers `callback` (must not block or do I/O: read a snapshot).
    pub fn register<F>(&self, meter: &Meter, callback: F) -> ObservableCounter<f64>
    where
        F: Fn(&Observe<'_, L, f64>) + Send + Sync + 'static,
    {
        let i = &self.info;
        meter
            .f64_observable_counter(i.name)
            .with_unit(i.unit)
            .with_description(i.description)
            .with_callback(move |o| callback(&Observe { inner: o, _labels: PhantomData }))
            .build()
    }
}

impl<L: Labels> ObservableUpDownCounterDef<L> {
    /// Registers `callback` (must not block or do I/O: read a snapshot).
    pub fn register<F>(&self, meter: &Meter, callback: F) -> ObservableUpDownCounter<i64>
    where
        F: Fn(&Observe<'_, L, i64>) + Send + Sync + 'static,
    {
        let i = &self.info;
        meter
            .i64_observable_up_down_counter(i.name)
            .with_unit(i.unit)
            .with_description(i.description)
            .with_callback(move |o| callback(&Observe { inner: o, _labels: PhantomData }))
            .build()
    }
}
