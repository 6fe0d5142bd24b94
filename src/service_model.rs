//! botocore's model of GameLift Streams (`service-2.json`, embedded), read once:
//! which operation a method and path name, where each input member lives on the
//! wire, and every constraint an input must satisfy. The emulator validates
//! requests with it as AWS does; the gateway validates its gRPC input with the
//! same constraints before any AWS call. Never echoes a sensitive value.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value};

/// The model as botocore ships it, documentation stripped.
const MODEL_JSON: &str = include_str!("service-2.json");

/// One operation of the model.
#[derive(Debug)]
pub struct Operation {
    /// The operation's name, e.g. `StartStreamSession`.
    pub name: String,
    /// The HTTP method.
    pub method: String,
    /// The status of a successful answer.
    pub response_code: u16,
    /// The input shape, if the operation takes one.
    pub input: Option<String>,
    segments: Vec<Segment>,
}

#[derive(Debug)]
enum Segment {
    Literal(String),
    Label(String),
}

/// Where an input member travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A member of the JSON body.
    Body,
    /// A label of the path.
    Uri,
    /// A query-string parameter.
    Query,
    /// An HTTP header.
    Header,
}

/// A member of a structure.
#[derive(Debug)]
pub struct Member {
    /// The member's name.
    pub name: String,
    /// The member's target shape.
    pub shape: String,
    /// Where it travels.
    pub location: Location,
    /// Its name on the wire (path label, query parameter or header).
    pub location_name: String,
}

/// A shape of the model with the constraints the emulator checks.
#[derive(Debug)]
pub enum Shape {
    /// A structure with its members.
    Structure {
        /// Members in model order.
        members: Vec<Member>,
        /// Names of the required members.
        required: Vec<String>,
    },
    /// A list.
    List {
        /// Element shape.
        member: String,
        /// Size range.
        min: Option<i64>,
        /// Size range.
        max: Option<i64>,
    },
    /// A map.
    Map {
        /// Key shape.
        key: String,
        /// Value shape.
        value: String,
        /// Size range.
        min: Option<i64>,
        /// Size range.
        max: Option<i64>,
    },
    /// A string.
    String {
        /// Length range.
        min: Option<i64>,
        /// Length range.
        max: Option<i64>,
        /// The pattern as the model writes it, and compiled (whole-value match).
        pattern: Option<(String, Regex)>,
        /// Allowed values.
        enumeration: Option<Vec<String>>,
        /// Whether values must never be echoed.
        sensitive: bool,
    },
    /// An integer or long.
    Integer {
        /// Value range.
        min: Option<i64>,
        /// Value range.
        max: Option<i64>,
    },
    /// A boolean.
    Boolean,
    /// Anything the emulator does not check (timestamps, blobs, doubles).
    Other,
}

/// The service model: operations and shapes.
#[derive(Debug)]
pub struct ServiceModel {
    operations: Vec<Operation>,
    shapes: HashMap<String, Shape>,
}

/// The embedded model, parsed on first use.
pub fn model() -> &'static ServiceModel {
    static MODEL: OnceLock<ServiceModel> = OnceLock::new();
    MODEL.get_or_init(|| ServiceModel::parse(MODEL_JSON).unwrap_or_else(|e| panic!("embedded service-2.json: {e}")))
}

#[derive(Deserialize)]
struct RawModel {
    operations: HashMap<String, RawOperation>,
    shapes: HashMap<String, RawShape>,
}

#[derive(Deserialize)]
struct RawOperation {
    http: RawHttp,
    input: Option<RawRef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawHttp {
    method: String,
    request_uri: String,
    response_code: Option<u16>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRef {
    shape: String,
    location: Option<String>,
    location_name: Option<String>,
}

#[derive(Deserialize)]
struct RawShape {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    members: Vec<(String, RawRef)>,
    #[serde(default)]
    required: Vec<String>,
    member: Option<RawRef>,
    key: Option<RawRef>,
    value: Option<RawRef>,
    min: Option<i64>,
    max: Option<i64>,
    pattern: Option<String>,
    #[serde(rename = "enum")]
    enumeration: Option<Vec<String>>,
    #[serde(default)]
    sensitive: bool,
}

impl ServiceModel {
    fn parse(json: &str) -> Result<Self, String> {
        let mut value: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
        // Members are an ordered object in the model; read them as pairs.
        if let Some(shapes) = value.get_mut("shapes").and_then(Value::as_object_mut) {
            for shape in shapes.values_mut() {
                if let Some(members) = shape.get_mut("members").and_then(Value::as_object_mut) {
                    let pairs: Vec<Value> = std::mem::take(members)
                        .into_iter()
                        .map(|(k, v)| Value::Array(vec![Value::String(k), v]))
                        .collect();
                    shape["members"] = Value::Array(pairs);
                }
            }
        }
        let raw: RawModel = serde_json::from_value(value).map_err(|e| e.to_string())?;
        let shapes = raw
            .shapes
            .into_iter()
            .map(|(name, s)| Ok((name, Shape::from_raw(s)?)))
            .collect::<Result<HashMap<_, _>, String>>()?;
        let mut operations: Vec<Operation> = raw
            .operations
            .into_iter()
            .map(|(name, op)| Operation {
                segments: parse_template(&op.http.request_uri),
                name,
                method: op.http.method,
                response_code: op.http.response_code.unwrap_or(200),
                input: op.input.map(|r| r.shape),
            })
            .collect();
        operations.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Self { operations, shapes })
    }

    /// The operation with this name.
    pub fn operation(&self, name: &str) -> Option<&Operation> {
        self.operations.iter().find(|op| op.name == name)
    }

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

    /// The names of a structure's members, in model order.
    pub fn member_names(&self, structure: &str) -> Vec<&str> {
        match self.shapes.get(structure) {
            Some(Shape::Structure { members, .. }) => members.iter().map(|m| m.name.as_str()).collect(),
            _ => Vec::new(),
        }
    }

    fn check_member_of(
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

    fn query_value(&self, shape: &str, raw: &str) -> Value {
        match self.shapes.get(shape) {
            Some(Shape::Integer { .. }) => {
                raw.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::String(raw.to_string()))
            }
            _ => Value::String(raw.to_string()),
        }
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
            Shape::Other => {}
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

fn lower_camel(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|c| c.to_ascii_lowercase()).into_iter().chain(chars).collect()
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

impl Shape {
    fn from_raw(raw: RawShape) -> Result<Self, String> {
        Ok(match raw.kind.as_str() {
            "structure" => Shape::Structure {
                members: raw
                    .members
                    .into_iter()
                    .map(|(name, r)| Member {
                        location: match r.location.as_deref() {
                            Some("uri") => Location::Uri,
                            Some("querystring") => Location::Query,
                            Some("header") => Location::Header,
                            _ => Location::Body,
                        },
                        location_name: r.location_name.unwrap_or_else(|| name.clone()),
                        shape: r.shape,
                        name,
                    })
                    .collect(),
                required: raw.required,
            },
            "list" => {
                Shape::List { member: raw.member.ok_or("list without member")?.shape, min: raw.min, max: raw.max }
            }
            "map" => Shape::Map {
                key: raw.key.ok_or("map without key")?.shape,
                value: raw.value.ok_or("map without value")?.shape,
                min: raw.min,
                max: raw.max,
            },
            "string" => Shape::String {
                min: raw.min,
                max: raw.max,
                pattern: match raw.pattern {
                    Some(p) => {
                        let re = compile_pattern(&p)?;
                        Some((p, re))
                    }
                    None => None,
                },
                enumeration: raw.enumeration,
                sensitive: raw.sensitive,
            },
            "integer" | "long" => Shape::Integer { min: raw.min, max: raw.max },
            "boolean" => Shape::Boolean,
            _ => Shape::Other,
        })
    }
}

/// Compiles a model pattern for a whole-value match, as AWS applies them. The
/// model's patterns are Java regexes; a `-` right after a class range
/// (`[0-9-_]`) is a literal there and is escaped for Rust's regex.
fn compile_pattern(pattern: &str) -> Result<Regex, String> {
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

fn parse_template(uri: &str) -> Vec<Segment> {
    let path = uri.split('?').next().unwrap_or_default();
    path.trim_start_matches('/')
        .split('/')
        .map(|s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(label) => Segment::Label(label.trim_end_matches('+').to_string()),
            None => Segment::Literal(s.to_string()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn start_input(body: Value) -> Result<Value, String> {
        let m = model();
        let (op, labels) = m.route("POST", "/streamgroups/sg-000000001/streamsessions").expect("route");
        let Value::Object(body) = body else { panic!("object") };
        m.input(op, &labels, &[], body).map_err(|v| aws_message(&v))
    }

    #[test]
    fn every_pattern_of_the_model_compiles() {
        let m = model();
        assert!(m.operations.len() >= 30);
        assert!(m.shapes.values().any(|s| matches!(s, Shape::String { pattern: Some(_), .. })));
    }

    #[test]
    fn description_pattern_keeps_java_meaning() {
        let re = compile_pattern("[a-zA-Z0-9-_.!+@/][a-zA-Z0-9-_.!+@/ ]*").expect("compiles");
        assert!(re.is_match("my-session_1.x"));
        assert!(!re.is_match(" leading space"));
        assert!(!re.is_match("semi;colon"));
    }

    #[test]
    fn routes_encoded_arn_labels_and_prefers_literals() {
        let m = model();
        let (op, labels) = m
            .route(
                "GET",
                "/streamgroups/arn%3Aaws%3Agameliftstreams%3Aus-west-2%3A111122223333%3Astreamgroup%2Fsg-1/streamsessions/abc",
            )
            .expect("route");
        assert_eq!(op.name, "GetStreamSession");
        assert_eq!(labels["Identifier"], "arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/sg-1");
        assert_eq!(m.route("GET", "/streamgroups/sg-1/streamsessions").expect("r").0.name, "ListStreamSessions");
        assert!(m.route("PATCH", "/nothing/here").is_none());
    }

    #[test]
    fn range_violation_names_the_member_like_aws() {
        let err = start_input(json!({
            "Protocol": "WebRTC", "SignalRequest": "offer", "ApplicationIdentifier": "a-1",
            "ConnectionTimeoutSeconds": 0
        }))
        .unwrap_err();
        assert_eq!(
            err,
            "1 validation error detected: Value '0' at 'connectionTimeoutSeconds' failed to satisfy constraint: Member must have value greater than or equal to 1"
        );
    }

    #[test]
    fn missing_required_members_are_all_reported() {
        let err = start_input(json!({"Protocol": "WebRTC"})).unwrap_err().to_string();
        assert!(err.starts_with("2 validation errors detected"), "{err}");
        assert!(err.contains("Value null at 'signalRequest'"), "{err}");
        assert!(err.contains("Value null at 'applicationIdentifier'"), "{err}");
    }

    #[test]
    fn sensitive_values_are_never_echoed() {
        let err = start_input(json!({
            "Protocol": "WebRTC", "SignalRequest": "offer", "ApplicationIdentifier": "a-1",
            "RoleArn": "arn:aws:iam::12:role/secret-role-name"
        }))
        .unwrap_err();
        assert!(err.contains("at 'roleArn'"), "{err}");
        assert!(!err.contains("secret-role-name"), "{err}");
    }

    #[test]
    fn nested_lists_maps_and_enums_are_checked() {
        let err = start_input(json!({
            "Protocol": "SRT", "SignalRequest": "offer", "ApplicationIdentifier": "a-1",
            "Locations": ["us west"], "AdditionalEnvironmentVariables": {"1BAD": "x"},
            "DisplayConfiguration": {"Resolution": {"Width": 100, "Height": 720}},
            "ClientToken": "short"
        }))
        .unwrap_err();
        for needle in [
            "at 'protocol' failed to satisfy constraint: Member must satisfy enum value set: [WebRTC]",
            "at 'locations.1.member'",
            "at 'additionalEnvironmentVariables.key'",
            "at 'displayConfiguration.resolution.width' failed to satisfy constraint: Member must have value greater than or equal to 320",
            "at 'clientToken' failed to satisfy constraint: Member must have length greater than or equal to 32",
        ] {
            assert!(err.contains(needle), "{needle} not in {err}");
        }
    }

    #[test]
    fn query_integers_are_typed_and_ranged() {
        let m = model();
        let (op, labels) = m.route("GET", "/streamgroups/sg-1/streamsessions").expect("route");
        let q = |v: &str| vec![("MaxResults".to_string(), v.to_string())];
        assert!(m.input(op, &labels, &q("100"), Map::new()).is_ok());
        let err = aws_message(&m.input(op, &labels, &q("101"), Map::new()).unwrap_err());
        assert!(err.contains("at 'maxResults'"), "{err}");
        let err = aws_message(&m.input(op, &labels, &q("ten"), Map::new()).unwrap_err());
        assert!(err.contains("Member must be an integer"), "{err}");
    }
}
