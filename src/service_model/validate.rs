//! Checking values against the model's constraints: required members,
//! lengths, list and map sizes (an over-long one is not checked element by
//! element), patterns, ranges and enums.

use serde_json::Value;

use super::{Member, ServiceModel, Shape};

impl ServiceModel {
    /// Checks one member of a structure against the model: `None` (or null)
    /// means absent. Paths in the violations start at the member.
    pub fn check_member(&self, structure: &str, member: &str, value: Option<&Value>) -> Vec<Violation> {
        match self.shapes.get(structure) {
            Some(Shape::Structure { members, .. }) => self.check_member_of(members, structure, member, value),
            _ => Vec::new(),
        }
    }

    /// The most elements a list or map member of a structure may have, if the
    /// model bounds it.
    pub fn max_items(&self, structure: &str, member: &str) -> Option<i64> {
        let Some(Shape::Structure { members, .. }) = self.shapes.get(structure) else { return None };
        let shape = &members.iter().find(|m| m.name == member)?.shape;
        match self.shapes.get(shape)? {
            Shape::List { max, .. } | Shape::Map { max, .. } => *max,
            _ => None,
        }
    }

    pub(super) fn check_member_of(
        &self,
        members: &[Member],
        structure: &str,
        name: &str,
        value: Option<&Value>,
    ) -> Vec<Violation> {
        let mut out = Vec::new();
        let Some(member) = members.iter().find(|m| m.name == name) else {
            return out;
        };
        let path = vec![PathPart::Member(name.to_string())];
        match value.filter(|v| !v.is_null()) {
            Some(v) => self.check(&member.shape, v, path, &mut out),
            None if self.is_required(structure, name) => {
                out.push(Violation { path, shown: Some("null".into()), constraint: Constraint::Required })
            }
            None => {}
        }
        out
    }

    fn is_required(&self, structure: &str, member: &str) -> bool {
        matches!(self.shapes.get(structure), Some(Shape::Structure { required, .. }) if required.iter().any(|r| r == member))
    }

    fn check(&self, shape_name: &str, value: &Value, path: Vec<PathPart>, out: &mut Vec<Violation>) {
        let Some(shape) = self.shapes.get(shape_name) else {
            return;
        };
        let mut push = |path: &Vec<PathPart>, shown: Option<String>, constraint: Constraint| {
            out.push(Violation { path: path.clone(), shown, constraint });
        };
        match shape {
            Shape::Structure { members, required } => {
                let Some(object) = value.as_object() else {
                    return push(&path, None, Constraint::Type("a structure"));
                };
                for member in members {
                    let mut member_path = path.clone();
                    member_path.push(PathPart::Member(member.name.clone()));
                    match object.get(&member.name).filter(|v| !v.is_null()) {
                        Some(v) => self.check(&member.shape, v, member_path, out),
                        None if required.contains(&member.name) => out.push(Violation {
                            path: member_path,
                            shown: Some("null".into()),
                            constraint: Constraint::Required,
                        }),
                        None => {}
                    }
                }
            }
            Shape::List { member, min, max } => {
                let Some(items) = value.as_array() else {
                    return push(&path, None, Constraint::Type("a list"));
                };
                let too_many = max.is_some_and(|m| items.len() as i64 > m);
                for c in length_violations(items.len(), *min, *max) {
                    push(&path, None, c);
                }
                if too_many {
                    return;
                }
                for (i, item) in items.iter().enumerate() {
                    let mut item_path = path.clone();
                    item_path.push(PathPart::Index(i));
                    self.check(member, item, item_path, out);
                }
            }
            Shape::Map { key, value: value_shape, min, max } => {
                let Some(entries) = value.as_object() else {
                    return push(&path, None, Constraint::Type("a map"));
                };
                let too_many = max.is_some_and(|m| entries.len() as i64 > m);
                for c in length_violations(entries.len(), *min, *max) {
                    push(&path, None, c);
                }
                if too_many {
                    return;
                }
                for (k, v) in entries {
                    let mut key_path = path.clone();
                    key_path.push(PathPart::Key(k.clone()));
                    self.check(key, &Value::String(k.clone()), key_path, out);
                    let mut value_path = path.clone();
                    value_path.push(PathPart::Value(k.clone()));
                    self.check(value_shape, v, value_path, out);
                }
            }
            Shape::String { min, max, pattern, enumeration, sensitive } => {
                let Some(s) = value.as_str() else {
                    return push(&path, None, Constraint::Type("a string"));
                };
                let shown = (!sensitive).then(|| s.to_string());
                for c in length_violations(s.chars().count(), *min, *max) {
                    push(&path, shown.clone(), c);
                }
                if let Some((source, re)) = pattern {
                    if !re.is_match(s) {
                        push(&path, shown.clone(), Constraint::Pattern(source.clone()));
                    }
                }
                if let Some(allowed) = enumeration {
                    if !allowed.iter().any(|a| a == s) {
                        push(&path, shown, Constraint::Enum(allowed.clone()));
                    }
                }
            }
            Shape::Integer { min, max } => {
                let Some(n) = value.as_i64() else {
                    return push(&path, None, Constraint::Type("an integer"));
                };
                if let Some(min) = min.filter(|m| n < *m) {
                    push(&path, Some(n.to_string()), Constraint::MinValue(min));
                }
                if let Some(max) = max.filter(|m| n > *m) {
                    push(&path, Some(n.to_string()), Constraint::MaxValue(max));
                }
            }
            Shape::Boolean => {
                if !value.is_boolean() {
                    push(&path, None, Constraint::Type("a boolean"));
                }
            }
            Shape::Timestamp(_) | Shape::Other => {}
        }
    }
}

/// One step of the path to a bad value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathPart {
    /// A structure member, by its model name.
    Member(String),
    /// A list element, from 0.
    Index(usize),
    /// The key of a map entry.
    Key(String),
    /// The value of a map entry, by key.
    Value(String),
}

/// A constraint of the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Constraint {
    /// A required member is absent.
    Required,
    /// Shorter (or fewer elements) than this.
    MinLength(i64),
    /// Longer (or more elements) than this.
    MaxLength(i64),
    /// Smaller than this.
    MinValue(i64),
    /// Larger than this.
    MaxValue(i64),
    /// Does not match this pattern (as the model writes it).
    Pattern(String),
    /// Not one of these values.
    Enum(Vec<String>),
    /// Not of this JSON type.
    Type(&'static str),
}

/// A value that breaks a constraint of the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Where the value is, from the member checked.
    pub path: Vec<PathPart>,
    /// The value as it may be shown (`None` for sensitive values and collections).
    pub shown: Option<String>,
    /// The constraint broken.
    pub constraint: Constraint,
}

fn length_violations(len: usize, min: Option<i64>, max: Option<i64>) -> Vec<Constraint> {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    let mut out = Vec::new();
    if let Some(min) = min.filter(|m| len < *m) {
        out.push(Constraint::MinLength(min));
    }
    if let Some(max) = max.filter(|m| len > *m) {
        out.push(Constraint::MaxLength(max));
    }
    out
}
