//! The wire side of the model: which operation a method and path name, and an
//! operation's input gathered from path labels, query string and JSON body.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::validate::Violation;
use super::{Location, Operation, Segment, ServiceModel, Shape};

impl ServiceModel {
    /// The operation a method and raw (still percent-encoded) path name, with its
    /// decoded path labels. Literal segments win over labels.
    pub fn route(&self, method: &str, raw_path: &str) -> Option<(&Operation, HashMap<String, String>)> {
        let parts: Vec<&str> = raw_path.trim_start_matches('/').split('/').collect();
        let mut best: Option<(&Operation, HashMap<String, String>, usize)> = None;
        for op in self.operations.iter().filter(|op| op.method == method) {
            if let Some((labels, literals)) = op.match_path(&parts) {
                if best.as_ref().is_none_or(|(_, _, n)| literals > *n) {
                    best = Some((op, labels, literals));
                }
            }
        }
        best.map(|(op, labels, _)| (op, labels))
    }

    /// Builds an operation's input from the wire (path labels, query string and
    /// JSON body) and checks it against the model.
    pub fn input(
        &self,
        op: &Operation,
        labels: &HashMap<String, String>,
        query: &[(String, String)],
        body: Map<String, Value>,
    ) -> Result<Value, Vec<Violation>> {
        let Some(Shape::Structure { members, .. }) = op.input.as_ref().and_then(|i| self.shapes.get(i)) else {
            return Ok(Value::Object(Map::new()));
        };
        let mut object = Map::new();
        for member in members {
            let raw = match member.location {
                Location::Body => body.get(&member.name).cloned(),
                Location::Uri => labels.get(&member.location_name).cloned().map(Value::String),
                Location::Query => query
                    .iter()
                    .find(|(k, _)| *k == member.location_name)
                    .map(|(_, v)| self.query_value(&member.shape, v)),
                Location::Header => None,
            };
            if let Some(v) = raw.filter(|v| !v.is_null()) {
                object.insert(member.name.clone(), v);
            }
        }
        let mut violations = Vec::new();
        for member in members {
            violations.extend(self.check_member_of(
                members,
                op.input.as_deref().unwrap_or_default(),
                &member.name,
                object.get(&member.name),
            ));
        }
        if violations.is_empty() {
            Ok(Value::Object(object))
        } else {
            Err(violations)
        }
    }

    fn query_value(&self, shape: &str, raw: &str) -> Value {
        match self.shapes.get(shape) {
            Some(Shape::Integer { .. }) => {
                raw.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::String(raw.to_string()))
            }
            _ => Value::String(raw.to_string()),
        }
    }
}

impl Operation {
    fn match_path(&self, parts: &[&str]) -> Option<(HashMap<String, String>, usize)> {
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut labels = HashMap::new();
        let mut literals = 0;
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(lit) if lit == part => literals += 1,
                Segment::Literal(_) => return None,
                Segment::Label(name) => {
                    let decoded = percent_encoding::percent_decode_str(part).decode_utf8().ok()?.into_owned();
                    if decoded.is_empty() {
                        return None;
                    }
                    labels.insert(name.clone(), decoded);
                }
            }
        }
        Some((labels, literals))
    }
}
