//! What counts as a failure: for a server, only 5xx responses (semantic conventions; a 4xx is
//! the client's problem, not the server's).

use std::sync::LazyLock;

static CODES: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| (0..1000u16).map(|c| &*Box::leak(c.to_string().into_boxed_str())).collect());

/// The status code as a static string (`"503"`).
pub fn status_str(status: u16) -> &'static str {
    CODES.get(status as usize).copied().unwrap_or("_OTHER")
}

/// `error.type` for a server response: the status code for 5xx, else none.
#[inline]
pub fn server_error_type(status: u16) -> Option<&'static str> {
    (500..600).contains(&status).then(|| status_str(status))
}

/// `error.type` for a client response: the status code for 4xx and 5xx, else none.
#[inline]
pub fn client_error_type(status: u16) -> Option<&'static str> {
    (400..600).contains(&status).then(|| status_str(status))
}
