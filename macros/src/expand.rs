//! Code generation: a `static` site and a few lines around the body calling
//! `::swaggy_telemetry::__private`.

use crate::attr::{self, Args, DB_SYSTEMS, Kind};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Block, Expr, GenericArgument, ItemFn, PathArguments, ReturnType, Stmt, Type, TypeParamBound};

pub fn run(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            let err = syn::Error::new(Span::call_site(), "this attribute applies to functions and methods with a body");
            return combine(err, item);
        }
    };
    let args = match attr::parse(kind, args) {
        Ok(a) => a,
        Err(e) => return combine(e, item),
    };
    match expand(kind, &args, func) {
        Ok(tokens) => tokens,
        Err(e) => combine(e, item),
    }
}

/// The error, plus the untouched item so the rest of the crate still type-checks.
fn combine(err: syn::Error, item: TokenStream) -> TokenStream {
    let err = err.to_compile_error();
    quote!(#err #item)
}

fn last_ident(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        Type::Group(g) => last_ident(&g.elem),
        Type::Paren(p) => last_ident(&p.elem),
        _ => None,
    }
}

fn is_result(ty: &Type) -> bool {
    last_ident(ty).as_deref() == Some("Result")
}

fn contains_impl(ty: &Type) -> bool {
    quote!(#ty).into_iter().any(|t| matches!(&t, proc_macro2::TokenTree::Ident(i) if i == "impl"))
}

/// `Output = X` inside `Pin<Box<dyn Future<Output = X> + …>>` (what `async-trait` produces).
fn future_output(ty: &Type) -> Option<Type> {
    match ty {
        Type::Path(p) => p.path.segments.iter().find_map(|seg| match &seg.arguments {
            PathArguments::AngleBracketed(a) => a.args.iter().find_map(|arg| match arg {
                GenericArgument::AssocType(at) if at.ident == "Output" => Some(at.ty.clone()),
                GenericArgument::Type(t) => future_output(t),
                _ => None,
            }),
            _ => None,
        }),
        Type::TraitObject(t) => t.bounds.iter().find_map(|b| match b {
            TypeParamBound::Trait(tb) => tb.path.segments.iter().find_map(|seg| match &seg.arguments {
                PathArguments::AngleBracketed(a) => a.args.iter().find_map(|arg| match arg {
                    GenericArgument::AssocType(at) if at.ident == "Output" => Some(at.ty.clone()),
                    _ => None,
                }),
                _ => None,
            }),
            _ => None,
        }),
        Type::Group(g) => future_output(&g.elem),
        Type::Paren(p) => future_output(&p.elem),
        _ => None,
    }
}

/// The `async move { … }` inside a body that is exactly `Box::pin(async move { … })`.
fn boxed_async_block(block: &Block) -> Option<&Expr> {
    let [Stmt::Expr(Expr::Call(call), None)] = block.stmts.as_slice() else { return None };
    let Expr::Path(func) = &*call.func else { return None };
    let segments: Vec<String> = func.path.segments.iter().map(|s| s.ident.to_string()).collect();
    if segments.last().map(String::as_str) != Some("pin") || call.args.len() != 1 {
        return None;
    }
    match call.args.first() {
        Some(e @ Expr::Async(_)) => Some(e),
        _ => None,
    }
}

fn site_kind(kind: Kind, args: &Args, name: &str) -> TokenStream {
    let p = quote!(::swaggy_telemetry::__private);
    match kind {
        Kind::Operation => quote!(#p::SiteKind::Operation),
        Kind::Trade => quote!(#p::SiteKind::Trade),
        Kind::Query => {
            let system = args.system.as_ref().map(|s| s.value()).unwrap_or_default();
            let variant = DB_SYSTEMS.iter().find(|(v, _)| *v == system).map(|(_, ident)| *ident).unwrap_or("OtherSql");
            let variant = format_ident!("{}", variant);
            let operation = args.operation.as_ref().map(|s| s.value()).unwrap_or_default();
            let collection = match &args.collection {
                Some(c) => quote!(::core::option::Option::Some(#c)),
                None => quote!(::core::option::Option::None),
            };
            let summary = match &args.collection {
                Some(c) => format!("{operation} {}", c.value()),
                None => operation.clone(),
            };
            let _ = name;
            quote!(#p::SiteKind::Query {
                system: ::swaggy_telemetry::catalog::values::DbSystem::#variant,
                operation: #operation,
                collection: #collection,
                summary: #summary,
            })
        }
        Kind::Mcp => {
            let client = args.mcp_kind.as_ref().is_none_or(|k| k.value() == "client");
            let method = args.method.as_ref().map(|s| s.value()).unwrap_or_default();
            let tool = match &args.tool {
                Some(t) => quote!(::core::option::Option::Some(#t)),
                None => quote!(::core::option::Option::None),
            };
            let server = args.server.as_ref().map(|s| s.value()).unwrap_or_else(|| "default".to_string());
            quote!(#p::SiteKind::Mcp { client: #client, method: #method, tool: #tool, server: #server })
        }
    }
}

fn default_name(kind: Kind, args: &Args, func: &ItemFn) -> String {
    if let Some(n) = &args.name {
        return n.value();
    }
    match kind {
        Kind::Query => {
            let op = args.operation.as_ref().map(|s| s.value()).unwrap_or_default();
            match &args.collection {
                Some(c) => format!("{op} {}", c.value()),
                None => op,
            }
        }
        Kind::Mcp => {
            let method = args.method.as_ref().map(|s| s.value()).unwrap_or_default();
            match &args.tool {
                Some(t) => format!("{method} {}", t.value()),
                None => method,
            }
        }
        _ => func.sig.ident.to_string(),
    }
}

fn finish(kind: Kind, result: bool) -> TokenStream {
    let p = quote!(::swaggy_telemetry::__private);
    let classify = quote! {{
        #[allow(unused_imports)]
        use #p::{ViaErrorKind as _, ViaTypeName as _};
        (&#p::Probe(__swaggy_err)).error_type()
    }};
    match (kind, result) {
        (Kind::Trade, _) => quote! {
            match &__swaggy_result {
                ::core::result::Result::Ok(__swaggy_ok) => __swaggy_guard
                    .finish_trade(::core::result::Result::Ok(::swaggy_telemetry::TradeOutcome::trade_result(__swaggy_ok))),
                ::core::result::Result::Err(__swaggy_err) => __swaggy_guard.finish_trade(::core::result::Result::Err(#classify)),
            }
        },
        (_, true) => quote! {
            match &__swaggy_result {
                ::core::result::Result::Ok(_) => __swaggy_guard.finish_result(::core::option::Option::None),
                ::core::result::Result::Err(__swaggy_err) => __swaggy_guard.finish_result(::core::option::Option::Some(#classify)),
            }
        },
        (_, false) => quote!(__swaggy_guard.finish();),
    }
}

fn expand(kind: Kind, args: &Args, mut func: ItemFn) -> syn::Result<TokenStream> {
    let p = quote!(::swaggy_telemetry::__private);
    let name = default_name(kind, args, &func);
    let fn_name = func.sig.ident.to_string();
    let site_kind = site_kind(kind, args, &name);
    let is_async = func.sig.asyncness.is_some();
    let declared: Option<Type> = match &func.sig.output {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) => Some((**ty).clone()),
    };
    // async-trait: `fn f(..) -> Pin<Box<dyn Future<Output = R> + Send + '_>> { Box::pin(async move {..}) }`.
    let boxed = if is_async { None } else { boxed_async_block(&func.block).cloned() };
    let output: Option<Type> = match (&boxed, &declared) {
        (Some(_), Some(ty)) => future_output(ty).or(Some(ty.clone())),
        _ => declared.clone(),
    };
    let result = output.as_ref().is_some_and(is_result);
    if kind == Kind::Trade && !result {
        let span = output.as_ref().map_or_else(|| func.sig.span(), Spanned::span);
        return Err(syn::Error::new(
            span,
            "#[instrument_trade] needs a function returning `Result<T, E>` with `T: TradeOutcome`",
        ));
    }
    let annotation = match &output {
        None => quote!(: ()),
        Some(ty) if contains_impl(ty) => quote!(),
        Some(ty) => quote!(: #ty),
    };
    let start = match kind {
        Kind::Trade => {
            let side = args.side.as_ref().expect("checked");
            let order_type = args.order_type.as_ref().expect("checked");
            quote_spanned!(side.span()=> #p::Guard::start_trade(&__SWAGGY_SITE, #side, #order_type))
        }
        _ => quote!(#p::Guard::start(&__SWAGGY_SITE)),
    };
    let finish = finish(kind, result);
    let site = quote! {
        static __SWAGGY_SITE: #p::Site = #p::Site::new(
            #name,
            ::core::concat!(::core::module_path!(), "::", #fn_name),
            #site_kind,
        );
    };
    let block = &func.block;
    let body = if let Some(inner) = boxed {
        quote! {{
            #site
            ::std::boxed::Box::pin(async move {
                let __swaggy_guard = #start;
                #[allow(clippy::let_unit_value)]
                let __swaggy_result #annotation = #p::in_context(&__swaggy_guard, #inner).await;
                #finish
                __swaggy_result
            })
        }}
    } else if is_async {
        quote! {{
            #site
            let __swaggy_guard = #start;
            #[allow(clippy::let_unit_value)]
            let __swaggy_result #annotation = #p::in_context(&__swaggy_guard, async move #block).await;
            #finish
            __swaggy_result
        }}
    } else {
        quote! {{
            #site
            let __swaggy_guard = #start;
            #[allow(clippy::let_unit_value, clippy::redundant_closure_call)]
            let __swaggy_result #annotation = __swaggy_guard.in_scope(|| #block);
            #finish
            __swaggy_result
        }}
    };
    *func.block = syn::parse2(body)?;
    Ok(quote!(#func))
}
