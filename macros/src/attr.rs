//! Parsing the macros' arguments; every mistake is an error at the offending token.

use proc_macro2::Span;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Lit, LitStr, MetaNameValue, Token};

/// Which macro.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Operation,
    Trade,
    Query,
    Mcp,
}

impl Kind {
    fn macro_name(self) -> &'static str {
        match self {
            Kind::Operation => "instrumented",
            Kind::Trade => "instrument_trade",
            Kind::Query => "instrument_query",
            Kind::Mcp => "instrument_mcp",
        }
    }
    fn allowed(self) -> &'static [&'static str] {
        match self {
            Kind::Operation => &["name"],
            Kind::Trade => &["name", "side", "order_type"],
            Kind::Query => &["name", "system", "operation", "collection"],
            Kind::Mcp => &["name", "method", "tool", "server", "kind"],
        }
    }
}

/// Parsed arguments.
#[derive(Default)]
pub struct Args {
    pub name: Option<LitStr>,
    pub side: Option<Expr>,
    pub order_type: Option<Expr>,
    pub system: Option<LitStr>,
    pub operation: Option<LitStr>,
    pub collection: Option<LitStr>,
    pub method: Option<LitStr>,
    pub tool: Option<LitStr>,
    pub server: Option<LitStr>,
    pub mcp_kind: Option<LitStr>,
}

/// The `db.system.name` values a query may name.
pub const DB_SYSTEMS: &[(&str, &str)] = &[
    ("postgresql", "Postgresql"),
    ("sqlite", "Sqlite"),
    ("mysql", "Mysql"),
    ("redis", "Redis"),
    ("other_sql", "OtherSql"),
];

fn lit_str(v: &Expr) -> syn::Result<LitStr> {
    match v {
        Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => Ok(s.clone()),
        other => Err(syn::Error::new_spanned(other, "expected a string literal")),
    }
}

pub fn parse(kind: Kind, tokens: proc_macro2::TokenStream) -> syn::Result<Args> {
    let list = Punctuated::<MetaNameValue, Token![,]>::parse_terminated.parse2(tokens)?;
    let mut args = Args::default();
    for nv in list {
        let Some(key) = nv.path.get_ident().map(|i| i.to_string()) else {
            return Err(syn::Error::new_spanned(&nv.path, "expected a simple argument name"));
        };
        if !kind.allowed().contains(&key.as_str()) {
            return Err(syn::Error::new_spanned(
                &nv.path,
                format!(
                    "unknown argument `{key}` for #[{}]; expected one of: {}",
                    kind.macro_name(),
                    kind.allowed().join(", ")
                ),
            ));
        }
        let duplicate = || syn::Error::new_spanned(&nv.path, format!("`{key}` given twice"));
        match key.as_str() {
            "name" => {
                let s = lit_str(&nv.value)?;
                if s.value().is_empty() {
                    return Err(syn::Error::new_spanned(&s, "the name must not be empty"));
                }
                if args.name.replace(s).is_some() {
                    return Err(duplicate());
                }
            }
            "side" => {
                if args.side.replace(nv.value.clone()).is_some() {
                    return Err(duplicate());
                }
            }
            "order_type" => {
                if args.order_type.replace(nv.value.clone()).is_some() {
                    return Err(duplicate());
                }
            }
            "system" => {
                let s = lit_str(&nv.value)?;
                if !DB_SYSTEMS.iter().any(|(v, _)| *v == s.value()) {
                    let names: Vec<&str> = DB_SYSTEMS.iter().map(|(v, _)| *v).collect();
                    return Err(syn::Error::new_spanned(
                        &s,
                        format!("unknown db system; expected one of: {}", names.join(", ")),
                    ));
                }
                if args.system.replace(s).is_some() {
                    return Err(duplicate());
                }
            }
            "operation" => {
                let s = lit_str(&nv.value)?;
                if s.value().is_empty() || s.value().contains(char::is_whitespace) {
                    return Err(syn::Error::new_spanned(&s, "the operation is one word, e.g. \"SELECT\""));
                }
                if args.operation.replace(s).is_some() {
                    return Err(duplicate());
                }
            }
            "collection" => {
                if args.collection.replace(lit_str(&nv.value)?).is_some() {
                    return Err(duplicate());
                }
            }
            "method" => {
                if args.method.replace(lit_str(&nv.value)?).is_some() {
                    return Err(duplicate());
                }
            }
            "tool" => {
                if args.tool.replace(lit_str(&nv.value)?).is_some() {
                    return Err(duplicate());
                }
            }
            "server" => {
                if args.server.replace(lit_str(&nv.value)?).is_some() {
                    return Err(duplicate());
                }
            }
            "kind" => {
                let s = lit_str(&nv.value)?;
                if s.value() != "client" && s.value() != "server" {
                    return Err(syn::Error::new_spanned(&s, "kind is \"client\" or \"server\""));
                }
                if args.mcp_kind.replace(s).is_some() {
                    return Err(duplicate());
                }
            }
            _ => unreachable!("checked against the allowed list"),
        }
    }
    let missing =
        |what: &str| syn::Error::new(Span::call_site(), format!("#[{}] needs `{what} = ...`", kind.macro_name()));
    match kind {
        Kind::Trade => {
            if args.side.is_none() {
                return Err(missing("side"));
            }
            if args.order_type.is_none() {
                return Err(missing("order_type"));
            }
        }
        Kind::Query => {
            if args.system.is_none() {
                return Err(missing("system"));
            }
            if args.operation.is_none() {
                return Err(missing("operation"));
            }
        }
        Kind::Mcp => {
            if args.method.is_none() {
                return Err(missing("method"));
            }
        }
        Kind::Operation => {}
    }
    Ok(args)
}
