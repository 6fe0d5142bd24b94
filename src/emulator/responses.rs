//! Operation by operation: turns a validated input (a JSON object with the
//! model's member names) into a call on the state machine, and the result into
//! the operation's output shape, paging lists. Knows nothing about HTTP.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::clock::Time;
use super::errors::ApiError;
use super::model::{SessionFilter, World};

const SESSION_SUMMARY: &[&str] = &[
    "Arn",
    "UserId",
    "Status",
    "StatusReason",
    "Protocol",
    "LastUpdatedAt",
    "CreatedAt",
    "ApplicationArn",
    "ExportFilesMetadata",
    "Location",
    "RoleArn",
];
const GROUP_SUMMARY: &[&str] =
    &["Arn", "Id", "Description", "DefaultApplication", "StreamClass", "Status", "CreatedAt", "LastUpdatedAt"];
const APPLICATION_SUMMARY: &[&str] =
    &["Arn", "Id", "Description", "Status", "CreatedAt", "LastUpdatedAt", "RuntimeEnvironment"];

/// The default page size of every List operation.
const DEFAULT_PAGE: usize = 25;

/// Runs `operation` on `world` at time `now`. `Ok(None)` is an empty answer.
pub fn dispatch(world: &mut World, operation: &str, input: &Value, now: Time) -> Result<Option<Value>, ApiError> {
    let out = match operation {
        "StartStreamSession" => {
            let session = world.start_session(text(input, "Identifier"), parse(input)?, token(input), now)?;
            to_json(&session)
        }
        "GetStreamSession" => {
            to_json(&world.get_session(text(input, "Identifier"), text(input, "StreamSessionIdentifier"), now)?)
        }
        "ListStreamSessions" | "ListStreamSessionsByAccount" => {
            let filter = SessionFilter {
                stream_group: input.get("Identifier").and_then(Value::as_str).map(str::to_string),
                status: member(input, "Status")?,
                export_status: member(input, "ExportFilesStatus")?,
            };
            let by_account = filter.stream_group.is_none();
            let items = world
                .list_sessions(&filter, now)?
                .iter()
                .map(|s| {
                    let mut summary = project(to_json(s), SESSION_SUMMARY);
                    if by_account {
                        if let Some(export) = summary.get_mut("ExportFilesMetadata") {
                            *export = project(export.take(), &["Status"]);
                        }
                    }
                    summary
                })
                .collect();
            page(items, input)?
        }
        "TerminateStreamSession" => {
            world.terminate_session(text(input, "Identifier"), text(input, "StreamSessionIdentifier"), now)?;
            return Ok(None);
        }
        "CreateStreamSessionConnection" => {
            let response = world.create_connection(
                text(input, "Identifier"),
                text(input, "StreamSessionIdentifier"),
                text(input, "SignalRequest"),
                token(input),
                now,
            )?;
            json!({ "SignalResponse": response })
        }
        "ExportStreamSessionFiles" => {
            world.export_files(
                text(input, "Identifier"),
                text(input, "StreamSessionIdentifier"),
                text(input, "OutputUri"),
                now,
            )?;
            json!({})
        }
        "CreateStreamGroup" => to_json(&world.create_stream_group(parse(input)?, token(input), now)?),
        "GetStreamGroup" => to_json(&world.get_stream_group(text(input, "Identifier"), now)?),
        "ListStreamGroups" => {
            page(world.list_stream_groups(now).iter().map(|g| project(to_json(g), GROUP_SUMMARY)).collect(), input)?
        }
        "CreateApplication" => to_json(&world.create_application(parse(input)?, token(input), now)?),
        "GetApplication" => to_json(&world.get_application(text(input, "Identifier"), now)?),
        "ListApplications" => page(
            world.list_applications(now).iter().map(|a| project(to_json(a), APPLICATION_SUMMARY)).collect(),
            input,
        )?,
        "AssociateApplications" => {
            let apps: Vec<String> = member(input, "ApplicationIdentifiers")?.unwrap_or_default();
            let (arn, app_arns) = world.associate_applications(text(input, "Identifier"), &apps, now)?;
            json!({ "Arn": arn, "ApplicationArns": app_arns })
        }
        other => {
            return Err(ApiError::NotImplemented(format!("The GameLift Streams emulator does not implement {other}.")))
        }
    };
    Ok(Some(out))
}

fn text<'a>(input: &'a Value, name: &str) -> &'a str {
    input.get(name).and_then(Value::as_str).unwrap_or_default()
}

fn token(input: &Value) -> Option<String> {
    input.get("ClientToken").and_then(Value::as_str).map(str::to_string)
}

fn parse<T: DeserializeOwned>(input: &Value) -> Result<T, ApiError> {
    serde_json::from_value(input.clone()).map_err(|e| ApiError::Serialization(e.to_string()))
}

fn member<T: DeserializeOwned>(input: &Value, name: &str) -> Result<Option<T>, ApiError> {
    input
        .get(name)
        .map(|v| serde_json::from_value(v.clone()).map_err(|e| ApiError::Serialization(format!("{name}: {e}"))))
        .transpose()
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn project(value: Value, keys: &[&str]) -> Value {
    let Value::Object(object) = value else {
        return value;
    };
    Value::Object(object.into_iter().filter(|(k, _)| keys.contains(&k.as_str())).collect())
}

/// One page of `items` per the input's `MaxResults` and `NextToken`.
fn page(items: Vec<Value>, input: &Value) -> Result<Value, ApiError> {
    let size = input
        .get("MaxResults")
        .and_then(Value::as_u64)
        .map_or(DEFAULT_PAGE, |n| usize::try_from(n).unwrap_or(DEFAULT_PAGE));
    let start = match input.get("NextToken").and_then(Value::as_str) {
        Some(token) => decode_token(token).filter(|&s| s <= items.len()).ok_or_else(|| {
            ApiError::Validation("The NextToken is not valid. Use the token from a previous response.".into())
        })?,
        None => 0,
    };
    let end = (start + size).min(items.len());
    let mut out = Map::new();
    out.insert("Items".into(), Value::Array(items[start..end].to_vec()));
    if end < items.len() {
        out.insert("NextToken".into(), Value::String(URL_SAFE_NO_PAD.encode(format!("offset:{end}"))));
    }
    Ok(Value::Object(out))
}

fn decode_token(token: &str) -> Option<usize> {
    let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
    std::str::from_utf8(&raw).ok()?.strip_prefix("offset:")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_walk_every_item_once_and_reject_foreign_tokens() {
        let items: Vec<Value> = (0..5).map(Value::from).collect();
        let mut seen = Vec::new();
        let mut input = json!({"MaxResults": 2});
        loop {
            let out = page(items.clone(), &input).expect("page");
            seen.extend(out["Items"].as_array().expect("items").clone());
            match out.get("NextToken") {
                Some(t) => input["NextToken"] = t.clone(),
                None => break,
            }
        }
        assert_eq!(seen, items);
        assert!(matches!(page(items, &json!({"NextToken": "garbage"})), Err(ApiError::Validation(_))));
    }
}
