//! Strict input checks, before any AWS call: every member of a request is
//! checked against botocore's model of the AWS operation it becomes (required,
//! lengths, patterns, ranges, sizes), plus the gRPC-only fields (`request_id`,
//! enum values). Violations name the proto field. Never echoes a value.

use serde_json::Value;

use crate::proto::v1 as pb;
use crate::service_model::{self, Constraint, PathPart, ServiceModel, Violation};
use crate::sessions::idempotency;

/// A bad field, for `google.rpc.BadRequest`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldViolation {
    /// The proto field path, e.g. `display_configuration.resolution.width`.
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

/// One AWS input member, the proto field it comes from, and its value as AWS
/// would receive it (`None` when the request leaves it unset).
pub struct Member {
    /// The AWS member name.
    pub aws: &'static str,
    /// The proto field name.
    pub proto: &'static str,
    /// The value, shaped as AWS's JSON.
    pub value: Option<Value>,
}

/// Most locations a StartStreamSession may name. The model sets no maximum;
/// GameLift Streams has far fewer locations than this.
pub const MAX_LOCATIONS: usize = 100;

/// Longest map key a field path quotes (the key is the caller's text).
const MAX_QUOTED_KEY_CHARS: usize = 32;

/// Counts a StartStreamSession's repeated and map fields, before anything
/// else: one that is too long fails the request before any per-element work
/// (so a request of a million junk locations costs one comparison).
pub fn check_counts(r: &pb::StartStreamSessionRequest) -> Result<(), Vec<FieldViolation>> {
    let model = service_model::model();
    let max = |member| model.max_items("StartStreamSessionInput", member).and_then(|m| usize::try_from(m).ok());
    let counts = [
        ("locations", r.locations.len(), Some(MAX_LOCATIONS)),
        ("additional_launch_args", r.additional_launch_args.len(), max("AdditionalLaunchArgs")),
        (
            "additional_environment_variables",
            r.additional_environment_variables.len(),
            max("AdditionalEnvironmentVariables"),
        ),
    ];
    let too_many: Vec<FieldViolation> = counts
        .into_iter()
        .filter_map(|(field, len, max)| {
            max.filter(|max| len > *max).map(|max| FieldViolation {
                field: field.into(),
                description: format!("must have at most {max} elements (got {len})"),
            })
        })
        .collect();
    if too_many.is_empty() {
        Ok(())
    } else {
        Err(too_many)
    }
}

/// Checks `members` against the model's `input` structure, plus the request's
/// `request_id` and enum fields.
pub fn check(
    model: &ServiceModel,
    input: &str,
    members: &[Member],
    request_id: Option<&str>,
    enums: &[(&str, bool)],
) -> Result<(), Vec<FieldViolation>> {
    let mut out: Vec<FieldViolation> = enums
        .iter()
        .filter(|(_, known)| !known)
        .map(|(field, _)| FieldViolation { field: (*field).to_string(), description: "unknown enum value".into() })
        .collect();
    if let Some(id) = request_id.filter(|id| !id.is_empty() && !idempotency::is_valid_request_id(id)) {
        out.push(FieldViolation {
            field: "request_id".into(),
            description: format!(
                "must be 1 to {} printable ASCII characters without spaces (got {} bytes)",
                idempotency::MAX_REQUEST_ID_LEN,
                id.len()
            ),
        });
    }
    // Tokens the sidecar derives from request_id, checked as request_id.
    for member in members.iter().filter(|m| !matches!(m.aws, "ClientToken" | "idempotencyToken")) {
        for v in model.check_member(input, member.aws, member.value.as_ref()) {
            out.push(FieldViolation { field: proto_path(member.proto, &v), description: describe(&v) });
        }
    }
    if out.is_empty() {
        Ok(())
    } else {
        Err(out)
    }
}

fn proto_path(root: &str, v: &Violation) -> String {
    let mut out = root.to_string();
    for part in v.path.iter().skip(1) {
        match part {
            PathPart::Member(name) => {
                out.push('.');
                out.push_str(&snake_case(name));
            }
            PathPart::Index(i) => out.push_str(&format!("[{i}]")),
            PathPart::Key(k) | PathPart::Value(k) => out.push_str(&format!("[{:?}]", quoted_key(k))),
        }
    }
    out
}

/// A map key as a field path quotes it: at most [`MAX_QUOTED_KEY_CHARS`].
fn quoted_key(key: &str) -> String {
    match key.char_indices().nth(MAX_QUOTED_KEY_CHARS) {
        Some((end, _)) => format!("{}…", &key[..end]),
        None => key.to_string(),
    }
}

fn describe(v: &Violation) -> String {
    let subject = match v.path.last() {
        Some(PathPart::Key(_)) => "the key ",
        _ => "",
    };
    let rule = match &v.constraint {
        Constraint::Required => return "required".into(),
        Constraint::MinLength(n) => format!("length must be at least {n}"),
        Constraint::MaxLength(n) => format!("length must be at most {n}"),
        Constraint::MinValue(n) => format!("must be at least {n}"),
        Constraint::MaxValue(n) => format!("must be at most {n}"),
        Constraint::Pattern(p) => format!("must match the pattern {p}"),
        Constraint::Enum(values) => format!("must be one of {}", values.join(", ")),
        Constraint::Type(t) => format!("must be {t}"),
    };
    format!("{subject}{rule}")
}

/// `ConnectionTimeoutSeconds` → `connection_timeout_seconds`.
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::inputs;

    fn aws_names(members: &[Member]) -> Vec<&'static str> {
        let mut names: Vec<_> = members.iter().map(|m| m.aws).collect();
        names.sort_unstable();
        names
    }

    fn model_names(input: &str) -> Vec<&'static str> {
        let mut names = service_model::model().member_names(input);
        names.sort_unstable();
        names
    }

    fn start_check(r: &pb::StartStreamSessionRequest) -> Result<(), Vec<FieldViolation>> {
        check_counts(r)?;
        inputs::start_fields(r, None).expect("a resolution builds").check(Some(&r.request_id)).map(drop)
    }

    #[test]
    fn every_member_of_every_aws_input_comes_from_a_proto_field() {
        let start = inputs::start_fields(&Default::default(), None).expect("an empty request builds");
        let cases = [
            ("StartStreamSessionInput", aws_names(start.members())),
            ("GetStreamSessionInput", aws_names(inputs::get_fields("", "").members())),
            ("ListStreamSessionsInput", aws_names(inputs::list_fields("", 0, 0, 0, "").members())),
            (
                "ListStreamSessionsByAccountInput",
                aws_names(inputs::list_by_account_fields(&Default::default()).members()),
            ),
            ("TerminateStreamSessionInput", aws_names(inputs::terminate_fields("", "").members())),
            (
                "CreateStreamSessionConnectionInput",
                aws_names(inputs::connection_fields(&Default::default(), None).members()),
            ),
            ("ExportStreamSessionFilesInput", aws_names(inputs::export_fields(&Default::default()).members())),
        ];
        for (input, members) in cases {
            assert_eq!(members, model_names(input), "{input}");
        }
    }

    #[test]
    fn nested_violations_name_the_proto_path() {
        let req = pb::StartStreamSessionRequest {
            stream_group_identifier: "sg-1".into(),
            application_identifier: "a-1".into(),
            signal_request: "offer".into(),
            locations: vec!["us-west-2".into(), "bad location".into()],
            additional_environment_variables: [("1BAD".to_string(), "x".to_string())].into(),
            display_configuration: Some(pb::DisplayConfiguration {
                resolution: Some(pb::Resolution { width: 100, height: 720 }),
            }),
            ..Default::default()
        };
        let err = start_check(&req).unwrap_err();
        let fields: Vec<&str> = err.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            ["locations[1]", "additional_environment_variables[\"1BAD\"]", "display_configuration.resolution.width"]
        );
        assert_eq!(err[2].description, "must be at least 320");
        assert!(err[1].description.starts_with("the key must match"), "{}", err[1].description);
    }

    #[test]
    fn oversized_repeated_fields_fail_before_any_element_is_checked() {
        let req = pb::StartStreamSessionRequest {
            locations: vec!["not a location!".into(); 1_000_000],
            additional_launch_args: vec![String::new(); 101],
            additional_environment_variables: (0..51).map(|i| (format!("bad-{i}"), String::new())).collect(),
            ..Default::default()
        };
        let err = start_check(&req).unwrap_err();
        let found: Vec<(&str, &str)> = err.iter().map(|v| (v.field.as_str(), v.description.as_str())).collect();
        assert_eq!(
            found,
            [
                ("locations", "must have at most 100 elements (got 1000000)"),
                ("additional_launch_args", "must have at most 100 elements (got 101)"),
                ("additional_environment_variables", "must have at most 50 elements (got 51)"),
            ]
        );
    }

    #[test]
    fn a_long_map_key_is_quoted_cut_short() {
        let key = "K-".repeat(500);
        let req = pb::StartStreamSessionRequest {
            additional_environment_variables: [(key, "v".to_string())].into(),
            ..Default::default()
        };
        let err = start_check(&req).unwrap_err();
        let quoted = err.iter().find(|v| v.field.starts_with("additional_environment_variables[")).expect("the key");
        assert_eq!(quoted.field, format!("additional_environment_variables[\"{}…\"]", "K-".repeat(16)));
    }

    #[test]
    fn required_fields_request_ids_and_enums() {
        let get = inputs::get_fields("", "");
        let err = check(
            service_model::model(),
            "GetStreamSessionInput",
            get.members(),
            Some("with space"),
            &[("status", false)],
        )
        .unwrap_err();
        let fields: Vec<&str> = err.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["status", "request_id", "stream_group_identifier", "stream_session_identifier"]);
        assert_eq!(err[2].description, "required");
    }
}
