//! Writing an operation's output as its shape says: only the members the shape
//! has, in the wire format of each timestamp (epoch seconds for GameLift
//! Streams, ISO 8601 strings for IVS Real-Time). The emulator keeps times as
//! epoch seconds and lets the model decide how they travel.

use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use serde_json::{Map, Value};

use super::{Location, Operation, ServiceModel, Shape, TimestampFormat};

impl ServiceModel {
    /// `value` (times as epoch-second numbers) as the body of `op`'s output:
    /// members the output shape does not have are left out, timestamps are
    /// written in their shape's format. An operation without output answers `{}`.
    pub fn render_output(&self, op: &Operation, value: Value) -> Value {
        match op.output.as_deref() {
            Some(shape) => self.render(shape, value),
            None => Value::Object(Map::new()),
        }
    }

    /// `value` written as the shape `shape` says (see [`Self::render_output`]).
    pub fn render(&self, shape: &str, value: Value) -> Value {
        match (self.shapes.get(shape), value) {
            (Some(Shape::Structure { members, .. }), Value::Object(mut object)) => Value::Object(
                members
                    .iter()
                    .filter(|m| m.location == Location::Body)
                    .filter_map(|m| {
                        let v = object.remove(&m.name).filter(|v| !v.is_null())?;
                        Some((m.name.clone(), self.render(&m.shape, v)))
                    })
                    .collect(),
            ),
            (Some(Shape::List { member, .. }), Value::Array(items)) => {
                Value::Array(items.into_iter().map(|v| self.render(member, v)).collect())
            }
            (Some(Shape::Map { value: of, .. }), Value::Object(entries)) => {
                Value::Object(entries.into_iter().map(|(k, v)| (k, self.render(of, v))).collect())
            }
            (Some(Shape::Timestamp(format)), Value::Number(n)) => match n.as_f64() {
                Some(seconds) => format.write(seconds),
                None => Value::Number(n),
            },
            (_, value) => value,
        }
    }
}

impl TimestampFormat {
    /// `seconds` since the epoch in this format (to the millisecond).
    pub fn write(self, seconds: f64) -> Value {
        let millis = (seconds * 1000.0).round() / 1000.0;
        let text = |format| DateTime::from_secs_f64(millis).fmt(format).map_or(Value::Null, Value::String);
        match self {
            Self::EpochSeconds => serde_json::Number::from_f64(millis).map_or(Value::Null, Value::Number),
            Self::Iso8601 => text(Format::DateTime),
            Self::HttpDate => text(Format::HttpDate),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ivs_realtime_model, model};
    use serde_json::json;

    #[test]
    fn each_model_writes_its_own_timestamp_format() {
        let ivs = ivs_realtime_model();
        let op = ivs.operation("GetStageSession").expect("an IVS operation");
        let out = ivs.render_output(
            op,
            json!({"stageSession": {"sessionId": "st-a", "startTime": 1_700_000_000.25, "extra": 1}, "x": 2}),
        );
        assert_eq!(out, json!({"stageSession": {"sessionId": "st-a", "startTime": "2023-11-14T22:13:20.25Z"}}));
        let gls = model();
        let op = gls.operation("GetStreamSession").expect("a GameLift operation");
        let out = gls.render_output(op, json!({"CreatedAt": 1_700_000_000.5, "Status": "ACTIVE"}));
        assert_eq!(out, json!({"CreatedAt": 1_700_000_000.5, "Status": "ACTIVE"}));
    }

    #[test]
    fn lists_and_maps_are_walked_and_outputless_operations_answer_an_empty_object() {
        let ivs = ivs_realtime_model();
        let op = ivs.operation("ListStageSessions").expect("op");
        let out = ivs.render_output(op, json!({"stageSessions": [{"sessionId": "st-b", "endTime": 0}]}));
        assert_eq!(out, json!({"stageSessions": [{"sessionId": "st-b", "endTime": "1970-01-01T00:00:00Z"}]}));
        let op = ivs.operation("DeleteStage").expect("op");
        assert_eq!(ivs.render_output(op, json!({"anything": 1})), json!({}));
    }
}
