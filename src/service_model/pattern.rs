//! The model's patterns (Java regexes) as Rust regexes.

use regex::Regex;

/// Compiles a model pattern for a whole-value match, as AWS applies them. The
/// model's patterns are Java regexes; a `-` right after a class range
/// (`[0-9-_]`) is a literal there and is escaped for Rust's regex.
pub(super) fn compile_pattern(pattern: &str) -> Result<Regex, String> {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    let (mut in_class, mut first, mut range_op, mut range_done) = (false, false, false, false);
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.push(c);
            out.extend(chars.next());
        } else if !in_class {
            out.push(c);
            (in_class, first) = (c == '[', true);
            continue;
        } else if c == ']' && !first {
            out.push(c);
            in_class = false;
            continue;
        } else if c == '-' && range_done {
            out.push_str("\\-");
            range_done = false;
            continue;
        } else if c == '-' && !first && chars.peek() != Some(&']') {
            out.push(c);
            range_op = true;
            continue;
        } else {
            out.push(c);
        }
        range_done = range_op;
        (range_op, first) = (false, false);
    }
    Regex::new(&format!("^(?:{out})$")).map_err(|e| format!("pattern {pattern}: {e}"))
}
