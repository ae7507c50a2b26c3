//! `#[derive(ErrorKind)]`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields};

pub fn error_kind(item: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(item) {
        Ok(i) => i,
        Err(e) => return e.to_compile_error(),
    };
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let body = match &input.data {
        Data::Enum(e) => {
            let arms = e.variants.iter().map(|v| {
                let ident = &v.ident;
                let text = ident.to_string();
                let pattern = match &v.fields {
                    Fields::Unit => quote!(Self::#ident),
                    Fields::Unnamed(_) => quote!(Self::#ident(..)),
                    Fields::Named(_) => quote!(Self::#ident { .. }),
                };
                quote!(#pattern => #text)
            });
            if e.variants.is_empty() { quote!(match *self {}) } else { quote!(match self { #(#arms,)* }) }
        }
        Data::Struct(_) => {
            let text = name.to_string();
            quote!(#text)
        }
        Data::Union(u) => {
            return syn::Error::new_spanned(u.union_token, "ErrorKind cannot be derived for unions").to_compile_error();
        }
    };
    quote! {
        impl #impl_generics ::swaggy_telemetry::ErrorKind for #name #ty_generics #where_clause {
            fn error_type(&self) -> &'static str {
                #body
            }
        }
    }
}
