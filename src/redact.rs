//! Keeping credentials out of what is shown: URLs lose their user info, query and fragment
//! wherever they appear in a health detail, a log line, a span attribute or an error message.

/// Removes credentials from a URL for display: user info and query are dropped.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (s, r),
        None => return "<url>".to_string(),
    };
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{scheme}://{host}{path}")
}

/// Applies [`redact_url`] to every `scheme://…` inside free text (an error message from a
/// library, say `error sending request for url (http://u:pw@h/p?token=x)`). A URL runs to the
/// next whitespace or quote; closing punctuation right after it (`)`, `,`, `.`…) is kept.
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let scheme_len = rest[..at]
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .map(char::len_utf8)
            .sum::<usize>();
        let start = at - scheme_len;
        let len = rest[start..].find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>'));
        let end = len.map_or(rest.len(), |l| start + l);
        let token = &rest[start..end];
        let core = token.trim_end_matches([')', ']', '}', ',', '.', ';', ':', '!']);
        out.push_str(&rest[..start]);
        if scheme_len == 0 {
            // `://` without a scheme: not a URL we can parse, so nothing of it is kept.
            out.push_str("<url>");
        } else {
            out.push_str(&redact_url(core));
        }
        out.push_str(&token[core.len()..]);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_inside_text_lose_their_secrets() {
        assert_eq!(
            redact_urls("error sending request for url (http://u:s3cretpw@y/mcp?k=s3cretpw)"),
            "error sending request for url (http://y/mcp)"
        );
        assert_eq!(
            redact_urls(r#"Error { url: "https://a:b@h:8/p?x=1#f", other: "wss://t@w/s?q" }."#),
            r#"Error { url: "https://h:8/p", other: "wss://w/s" }."#
        );
        assert_eq!(redact_urls("see http://h/a?k=v, then https://i/b."), "see http://h/a, then https://i/b.");
        assert_eq!(redact_urls("no url here: a://"), "no url here: a://");
        assert_eq!(redact_urls("odd ://u:pw@h?k=s"), "odd <url>");
        assert_eq!(redact_urls("plain text"), "plain text");
        assert_eq!(redact_urls("µ-http://u:pw@h/ü?k=s ok"), "µ-http://h/ü ok");
    }
}
