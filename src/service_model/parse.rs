//! Reading botocore's JSON into the model's operations and shapes.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::pattern::compile_pattern;
use super::{Location, Member, Metadata, Operation, Segment, ServiceModel, Shape, TimestampFormat};

#[derive(Deserialize)]
struct RawModel {
    metadata: RawMetadata,
    operations: HashMap<String, RawOperation>,
    shapes: HashMap<String, RawShape>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMetadata {
    signing_name: String,
    service_full_name: String,
}

#[derive(Deserialize)]
struct RawOperation {
    http: RawHttp,
    input: Option<RawRef>,
    output: Option<RawRef>,
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
    #[serde(rename = "timestampFormat")]
    timestamp_format: Option<String>,
}

impl ServiceModel {
    pub(super) fn parse(json: &str) -> Result<Self, String> {
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
                output: op.output.map(|r| r.shape),
            })
            .collect();
        operations.sort_by(|a, b| a.name.cmp(&b.name));
        let metadata =
            Metadata { signing_name: raw.metadata.signing_name, service_full_name: raw.metadata.service_full_name };
        Ok(Self { metadata, operations, shapes })
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
            "timestamp" => Shape::Timestamp(match raw.timestamp_format.as_deref() {
                None | Some("unixTimestamp") => TimestampFormat::EpochSeconds,
                Some("iso8601") => TimestampFormat::Iso8601,
                Some("rfc822") => TimestampFormat::HttpDate,
                Some(other) => return Err(format!("unknown timestampFormat {other}")),
            }),
            _ => Shape::Other,
        })
    }
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
