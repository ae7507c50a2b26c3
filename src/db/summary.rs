//! Turns SQL into low-cardinality telemetry: operation, collection, summary, and a sanitized
//! text with every literal replaced by `?` (no value from a query ever reaches telemetry).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// What telemetry may say about one SQL statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlInfo {
    /// `db.operation.name`: the statement's first keyword (`SELECT`, `INSERT`, …).
    pub operation: Arc<str>,
    /// `db.collection.name`: the table it targets, when one is evident.
    pub collection: Option<Arc<str>>,
    /// `db.query.summary`: `{operation} {collection}`.
    pub summary: Arc<str>,
    /// `db.query.text`: the statement with literals replaced by `?` and whitespace collapsed.
    pub sanitized: Arc<str>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Literal,
    Placeholder(String),
    Punct(char),
}

fn tokenize(sql: &str) -> Vec<Token> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == '\'' {
            // String literal; '' escapes a quote; in E'..' strings a backslash escapes too.
            let escaped = i >= 1
                && matches!(chars[i - 1], 'E' | 'e')
                && (i < 2 || !(chars[i - 2].is_alphanumeric() || chars[i - 2] == '_'));
            i += 1;
            while i < chars.len() {
                if escaped && chars[i] == '\\' {
                    i += 2;
                    continue;
                }
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i += 1;
            if let Some(Token::Word(w)) = out.last()
                && w.len() == 1
                && matches!(w.as_str(), "E" | "e" | "X" | "x" | "B" | "b" | "N" | "n")
            {
                out.pop();
            }
            out.push(Token::Literal);
        } else if c == '$' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()) {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            out.push(Token::Placeholder(chars[start..i].iter().collect()));
        } else if c == '$' {
            // Dollar-quoted string: $tag$ … $tag$
            let start = i;
            let mut j = i + 1;
            while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            if chars.get(j) == Some(&'$') {
                let tag: String = chars[start..=j].iter().collect();
                let rest: String = chars[j + 1..].iter().collect();
                match rest.find(&tag) {
                    Some(end) => i = j + 1 + rest[..end].chars().count() + tag.chars().count(),
                    None => i = chars.len(),
                }
                out.push(Token::Literal);
            } else {
                out.push(Token::Punct('$'));
                i += 1;
            }
        } else if c == '?' {
            out.push(Token::Placeholder("?".into()));
            i += 1;
        } else if c == '"' || c == '`' || c == '[' {
            let close = if c == '[' { ']' } else { c };
            let start = i + 1;
            i += 1;
            while i < chars.len() && chars[i] != close {
                i += 1;
            }
            out.push(Token::Quoted(chars[start..i.min(chars.len())].iter().collect()));
            i += 1;
        } else if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            out.push(Token::Literal);
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.') {
                i += 1;
            }
            out.push(Token::Word(chars[start..i].iter().collect()));
        } else {
            out.push(Token::Punct(c));
            i += 1;
        }
    }
    out
}

fn is_kw(t: &Token, kw: &str) -> bool {
    matches!(t, Token::Word(w) if w.eq_ignore_ascii_case(kw))
}

fn ident(t: Option<&Token>) -> Option<String> {
    match t? {
        Token::Word(w) => Some(w.clone()),
        Token::Quoted(q) => Some(q.clone()),
        _ => None,
    }
}

/// The identifier following `kw` (skipping `IF [NOT] EXISTS`, `ONLY`).
fn after(tokens: &[Token], kw: &str) -> Option<String> {
    let pos = tokens.iter().position(|t| is_kw(t, kw))?;
    let mut i = pos + 1;
    while tokens.get(i).is_some_and(|t| is_kw(t, "IF") || is_kw(t, "NOT") || is_kw(t, "EXISTS") || is_kw(t, "ONLY")) {
        i += 1;
    }
    ident(tokens.get(i))
}

fn render(tokens: &[Token]) -> String {
    let mut out = String::new();
    let mut prev_word = false;
    for t in tokens {
        let (text, word) = match t {
            Token::Word(w) => (w.clone(), true),
            Token::Quoted(q) => (format!("\"{q}\""), true),
            Token::Literal => ("?".to_string(), true),
            Token::Placeholder(p) => (p.clone(), true),
            Token::Punct(c) => (c.to_string(), false),
        };
        let tight = matches!(t, Token::Punct(',') | Token::Punct(')') | Token::Punct(';'));
        if !out.is_empty() && !tight && (prev_word || word) && !out.ends_with('(') {
            out.push(' ');
        }
        out.push_str(&text);
        prev_word = word || matches!(t, Token::Punct(')'));
    }
    out
}

/// Parses one statement.
pub fn summarize(sql: &str) -> SqlInfo {
    let tokens = tokenize(sql);
    let operation = match tokens.iter().find_map(|t| match t {
        Token::Word(w) => Some(w.to_ascii_uppercase()),
        _ => None,
    }) {
        Some(op) => op,
        None => "_OTHER".to_string(),
    };
    let collection = match operation.as_str() {
        "SELECT" | "DELETE" => after(&tokens, "FROM"),
        "INSERT" | "REPLACE" => after(&tokens, "INTO"),
        "UPDATE" => ident(tokens.get(1)).filter(|w| !w.eq_ignore_ascii_case("ONLY")).or_else(|| ident(tokens.get(2))),
        "CREATE" | "DROP" | "ALTER" | "TRUNCATE" => after(&tokens, "TABLE").or_else(|| after(&tokens, "INDEX")),
        "WITH" => after(&tokens, "FROM"),
        _ => None,
    };
    let summary = match &collection {
        Some(c) => format!("{operation} {c}"),
        None => operation.clone(),
    };
    SqlInfo {
        operation: Arc::from(operation),
        collection: collection.map(Arc::from),
        summary: Arc::from(summary),
        sanitized: Arc::from(render(&tokens)),
    }
}

/// A bounded cache of [`summarize`] results keyed by statement text.
#[derive(Debug, Default)]
pub struct SummaryCache {
    map: RwLock<HashMap<Box<str>, Arc<SqlInfo>>>,
}

const MAX_CACHED: usize = 1024;

impl SummaryCache {
    /// The summary of `sql`, parsed once.
    pub fn get(&self, sql: &str) -> Arc<SqlInfo> {
        if let Some(info) = self.map.read().ok().and_then(|m| m.get(sql).cloned()) {
            return info;
        }
        let info = Arc::new(summarize(sql));
        if let Ok(mut m) = self.map.write() {
            if m.len() >= MAX_CACHED {
                m.clear();
            }
            m.insert(sql.into(), info.clone());
        }
        info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarizes_common_statements() {
        let s = summarize("SELECT id, qty FROM orders WHERE id = $1");
        assert_eq!(&*s.summary, "SELECT orders");
        assert_eq!(s.collection.as_deref(), Some("orders"));
        assert_eq!(&*summarize("insert into fills (a,b) values ($1,$2)").summary, "INSERT fills");
        assert_eq!(&*summarize("UPDATE positions SET q = q + 1").summary, "UPDATE positions");
        assert_eq!(&*summarize("DELETE FROM quotes").summary, "DELETE quotes");
        assert_eq!(&*summarize("CREATE TABLE IF NOT EXISTS orders (id TEXT)").summary, "CREATE orders");
        assert_eq!(&*summarize("  -- comment\n BEGIN").summary, "BEGIN");
        assert_eq!(&*summarize("SELECT 1").summary, "SELECT");
        assert_eq!(&*summarize("SELECT * FROM \"Order Book\"").summary, "SELECT Order Book");
    }

    #[test]
    fn literals_never_survive_sanitizing() {
        let s = summarize(
            "SELECT * FROM users WHERE name = 'O''Brien' AND pin = 4242 AND k = E'sec\\'ret' AND t = $x$top secret$x$",
        );
        for secret in ["Brien", "4242", "sec", "ret", "top", "secret"] {
            assert!(!s.sanitized.contains(secret), "{secret} leaked into {}", s.sanitized);
        }
        assert!(s.sanitized.contains("name = ?"), "{}", s.sanitized);
        let p = summarize("INSERT INTO t VALUES ($1, ?, -12.5e3)");
        assert!(p.sanitized.contains("$1"), "{}", p.sanitized);
        assert!(!p.sanitized.contains("12"), "{}", p.sanitized);
    }
}
