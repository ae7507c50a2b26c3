//! Typed attribute values and attribute sets.
//!
//! Every attribute an instrument carries is a type implementing [`LabelValue`]: it names its key
//! (a constant from [`super::key`]) and turns itself into an OpenTelemetry value. An instrument's
//! attribute set is a tuple of such types ([`Labels`]), so a call site cannot misspell a key, pass
//! the attributes in a different order (which would cost the SDK a sort and a second lookup), or
//! forget one.
//!
//! When every value in a set is *enumerable* (an enum with a fixed list of variants), the set is
//! *dense*: the handle pre-binds one SDK aggregator per combination and a recording is an array
//! index plus an atomic update, with no hashing at all.

use opentelemetry::{KeyValue, StringValue, Value};
use smallvec::SmallVec;
use std::sync::Arc;

/// Attributes as built for one recording (no heap allocation up to 8 attributes).
pub type AttrVec = SmallVec<[KeyValue; 8]>;

/// One typed attribute: its key and how its value is written.
pub trait LabelValue: Send + Sync {
    /// The attribute key (a constant from [`crate::catalog::key`]).
    const KEY: &'static str;
    /// Number of distinct values when the type is enumerable, `0` otherwise.
    const COUNT: usize;
    /// Position of this value among the `COUNT` values (only called when `COUNT > 0`).
    fn index(&self) -> usize;
    /// The value at `index` (only called when `COUNT > 0`); `None` omits the attribute.
    fn value_at(index: usize) -> Option<Value>;
    /// This value as an attribute value; `None` omits the attribute.
    fn value(&self) -> Option<Value>;
}

/// An attribute set: a tuple of [`LabelValue`]s, written in a fixed order.
pub trait Labels: Send + Sync {
    /// The attribute keys, in the order they are written (for the generated reference).
    const KEYS: &'static [&'static str];
    /// Number of combinations when every value is enumerable, `0` otherwise.
    const DENSE: usize;
    /// Index of this combination among `DENSE` (only called when `DENSE > 0`).
    fn dense_index(&self) -> usize;
    /// Attributes of combination `index` (only called when `DENSE > 0`).
    fn dense_attributes(index: usize) -> AttrVec;
    /// The attributes of this set.
    fn attributes(&self) -> AttrVec;
}

/// Product of the counts, or 0 when any count is 0 (a non-enumerable member).
#[doc(hidden)]
pub const fn dense_product(counts: &[usize]) -> usize {
    let mut product = 1usize;
    let mut i = 0;
    while i < counts.len() {
        if counts[i] == 0 {
            return 0;
        }
        product *= counts[i];
        i += 1;
    }
    product
}

impl Labels for () {
    const KEYS: &'static [&'static str] = &[];
    const DENSE: usize = 1;
    #[inline]
    fn dense_index(&self) -> usize {
        0
    }
    fn dense_attributes(_: usize) -> AttrVec {
        AttrVec::new()
    }
    fn attributes(&self) -> AttrVec {
        AttrVec::new()
    }
}

macro_rules! tuple_labels {
    ($($name:ident $idx:tt),+) => {
        impl<$($name: LabelValue),+> Labels for ($($name,)+) {
            const KEYS: &'static [&'static str] = &[$($name::KEY),+];
            const DENSE: usize = dense_product(&[$($name::COUNT),+]);
            #[inline]
            fn dense_index(&self) -> usize {
                let mut index = 0usize;
                $( index = index * $name::COUNT + self.$idx.index(); )+
                index
            }
            fn dense_attributes(index: usize) -> AttrVec {
                // Mixed-radix decode, last member varies fastest.
                let counts = [$($name::COUNT),+];
                let mut digits = [0usize; { [$($idx),+].len() }];
                let mut rest = index;
                for i in (0..counts.len()).rev() {
                    digits[i] = rest % counts[i];
                    rest /= counts[i];
                }
                let mut out = AttrVec::new();
                $( if let Some(v) = $name::value_at(digits[$idx]) { out.push(KeyValue::new($name::KEY, v)); } )+
                out
            }
            #[inline]
            fn attributes(&self) -> AttrVec {
                let mut out = AttrVec::new();
                $( if let Some(v) = self.$idx.value() { out.push(KeyValue::new($name::KEY, v)); } )+
                out
            }
        }
    };
}

tuple_labels!(A 0);
tuple_labels!(A 0, B 1);
tuple_labels!(A 0, B 1, C 2);
tuple_labels!(A 0, B 1, C 2, D 3);
tuple_labels!(A 0, B 1, C 2, D 3, E 4);
tuple_labels!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_labels!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);

impl<T: LabelValue> LabelValue for Option<T> {
    const KEY: &'static str = T::KEY;
    const COUNT: usize = if T::COUNT == 0 { 0 } else { T::COUNT + 1 };
    #[inline]
    fn index(&self) -> usize {
        match self {
            None => 0,
            Some(v) => 1 + v.index(),
        }
    }
    fn value_at(index: usize) -> Option<Value> {
        if index == 0 { None } else { T::value_at(index - 1) }
    }
    #[inline]
    fn value(&self) -> Option<Value> {
        self.as_ref().and_then(LabelValue::value)
    }
}

/// Defines an enumerable attribute type: an enum whose variants map to fixed strings.
///
/// ```ignore
/// label_enum! {
///     /// Order side.
///     pub enum OrderSide: key::ORDER_SIDE { Buy = "buy", Sell = "sell" }
/// }
/// ```
#[macro_export]
#[doc(hidden)]
macro_rules! __label_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident : $key:path { $($(#[$vmeta:meta])* $variant:ident = $value:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name { $($(#[$vmeta])* #[doc = concat!("`", $value, "`")] $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The attribute value as exported.
            #[inline]
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $value),+ }
            }
            /// Parses the exported string back (exact match).
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($value => Some($name::$variant),)+ _ => None }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::catalog::LabelValue for $name {
            const KEY: &'static str = $key;
            const COUNT: usize = [$($name::$variant),+].len();
            #[inline]
            fn index(&self) -> usize { *self as usize }
            fn value_at(index: usize) -> Option<::opentelemetry::Value> {
                Self::ALL.get(index).map(|v| ::opentelemetry::Value::from(v.as_str()))
            }
            #[inline]
            fn value(&self) -> Option<::opentelemetry::Value> {
                Some(::opentelemetry::Value::from(self.as_str()))
            }
        }
    };
}
pub use crate::__label_enum as label_enum;

/// Defines a non-enumerable string attribute type (a newtype over [`BoundedStr`]).
#[macro_export]
#[doc(hidden)]
macro_rules! __label_str {
    ($(#[$meta:meta])* $vis:vis struct $name:ident : $key:path;) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        $vis struct $name(pub $crate::catalog::BoundedStr);

        impl $name {
            /// Wraps a value. The caller guarantees the set of values is bounded (a template,
            /// a configured name, an allow-listed value); see [`crate::catalog::BoundedSet`].
            pub fn new(value: impl Into<$crate::catalog::BoundedStr>) -> Self {
                Self(value.into())
            }
            /// The value as a string.
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }
        }

        impl $crate::catalog::LabelValue for $name {
            const KEY: &'static str = $key;
            const COUNT: usize = 0;
            fn index(&self) -> usize { 0 }
            fn value_at(_: usize) -> Option<::opentelemetry::Value> { None }
            #[inline]
            fn value(&self) -> Option<::opentelemetry::Value> {
                Some(::opentelemetry::Value::String(self.0.to_string_value()))
            }
        }
    };
}
pub use crate::__label_str as label_str;

/// A cheaply clonable string value for a bounded attribute (static or shared).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BoundedStr {
    /// A compile-time constant.
    Static(&'static str),
    /// A shared runtime value (interned by the caller).
    Shared(Arc<str>),
}

impl BoundedStr {
    /// The value as a string.
    pub fn as_str(&self) -> &str {
        match self {
            BoundedStr::Static(s) => s,
            BoundedStr::Shared(s) => s,
        }
    }
    /// As an OpenTelemetry string value without copying the text.
    #[inline]
    pub fn to_string_value(&self) -> StringValue {
        match self {
            BoundedStr::Static(s) => StringValue::from(*s),
            BoundedStr::Shared(s) => StringValue::from(s.clone()),
        }
    }
}

impl From<&'static str> for BoundedStr {
    fn from(s: &'static str) -> Self {
        BoundedStr::Static(s)
    }
}
impl From<Arc<str>> for BoundedStr {
    fn from(s: Arc<str>) -> Self {
        BoundedStr::Shared(s)
    }
}
impl From<String> for BoundedStr {
    fn from(s: String) -> Self {
        BoundedStr::Shared(Arc::from(s))
    }
}

/// An integer attribute (status codes and the like).
macro_rules! label_int {
    ($(#[$meta:meta])* $vis:vis struct $name:ident($ty:ty) : $key:path;) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis struct $name(pub $ty);
        impl LabelValue for $name {
            const KEY: &'static str = $key;
            const COUNT: usize = 0;
            fn index(&self) -> usize { 0 }
            fn value_at(_: usize) -> Option<Value> { None }
            #[inline]
            fn value(&self) -> Option<Value> { Some(Value::I64(i64::from(self.0))) }
        }
    };
}
pub(crate) use label_int;
