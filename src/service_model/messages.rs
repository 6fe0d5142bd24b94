//! Violations worded as AWS words them in a ValidationException.

use super::validate::{Constraint, PathPart, Violation};

impl Constraint {
    /// AWS's wording: "Member must ...".
    pub fn aws_description(&self) -> String {
        match self {
            Self::Required => "Member must not be null".into(),
            Self::MinLength(n) => format!("Member must have length greater than or equal to {n}"),
            Self::MaxLength(n) => format!("Member must have length less than or equal to {n}"),
            Self::MinValue(n) => format!("Member must have value greater than or equal to {n}"),
            Self::MaxValue(n) => format!("Member must have value less than or equal to {n}"),
            Self::Pattern(p) => format!("Member must satisfy regular expression pattern: {p}"),
            Self::Enum(values) => format!("Member must satisfy enum value set: [{}]", values.join(", ")),
            Self::Type(t) => format!("Member must be {t}"),
        }
    }
}

impl Violation {
    /// The path as AWS's messages write it: lower camel case members,
    /// `name.1.member` for list elements.
    pub fn aws_path(&self) -> String {
        let mut out = String::new();
        for part in &self.path {
            let piece = match part {
                PathPart::Member(name) => lower_camel(name),
                PathPart::Index(i) => format!("{}.member", i + 1),
                PathPart::Key(_) => "key".into(),
                PathPart::Value(k) => k.clone(),
            };
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&piece);
        }
        out
    }

    /// AWS's sentence for this violation.
    pub fn aws_sentence(&self) -> String {
        let at = match self.shown.as_deref() {
            Some("null") if self.constraint == Constraint::Required => {
                format!("Value null at '{}'", self.aws_path())
            }
            Some(v) => format!("Value '{v}' at '{}'", self.aws_path()),
            None => format!("Value at '{}'", self.aws_path()),
        };
        format!("{at} failed to satisfy constraint: {}", self.constraint.aws_description())
    }
}

/// AWS's ValidationException message for these violations.
pub fn aws_message(violations: &[Violation]) -> String {
    let n = violations.len();
    let noun = if n == 1 { "error" } else { "errors" };
    let sentences: Vec<String> = violations.iter().map(Violation::aws_sentence).collect();
    format!("{n} validation {noun} detected: {}", sentences.join("; "))
}

fn lower_camel(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|c| c.to_ascii_lowercase()).into_iter().chain(chars).collect()
}
