//! An AWS input filled from a request one member at a time: each member is
//! one row naming the AWS member, the proto field it comes from and its
//! value, and from that row come both the model check (a violation names the
//! proto field) and the SDK's input builder (what is sent). Calls nothing.

use std::collections::HashMap;

use aws_sdk_gameliftstreams::types as aws;
use serde_json::{json, Value};

use super::validate::{check, FieldViolation, Member};
use crate::service_model::{self, ServiceModel};

/// A value as AWS's JSON carries it, for the model check.
pub trait AwsJson {
    /// The value in AWS's JSON.
    fn aws_json(&self) -> Value;
}

impl AwsJson for String {
    fn aws_json(&self) -> Value {
        Value::String(self.clone())
    }
}

impl AwsJson for i32 {
    fn aws_json(&self) -> Value {
        Value::from(*self)
    }
}

impl AwsJson for Vec<String> {
    fn aws_json(&self) -> Value {
        json!(self)
    }
}

impl AwsJson for HashMap<String, String> {
    fn aws_json(&self) -> Value {
        json!(self)
    }
}

impl AwsJson for aws::Protocol {
    fn aws_json(&self) -> Value {
        json!(self.as_str())
    }
}

impl AwsJson for aws::StreamSessionStatus {
    fn aws_json(&self) -> Value {
        json!(self.as_str())
    }
}

impl AwsJson for aws::ExportFilesStatus {
    fn aws_json(&self) -> Value {
        json!(self.as_str())
    }
}

impl AwsJson for aws::PerformanceStatsConfiguration {
    fn aws_json(&self) -> Value {
        json!({ "SharedWithClient": self.shared_with_client })
    }
}

impl AwsJson for aws::DisplayConfiguration {
    fn aws_json(&self) -> Value {
        json!({ "Resolution": self.resolution.as_ref().map(|r| json!({ "Width": r.width, "Height": r.height })) })
    }
}

/// An AWS input (`shape` in the model) being filled into the SDK's builder
/// `B`, with what the check needs.
pub struct Fields<B> {
    model: &'static ServiceModel,
    shape: &'static str,
    builder: B,
    members: Vec<Member>,
    enums: Vec<(&'static str, bool)>,
}

impl<B> Fields<B> {
    /// No member yet, of GameLift Streams' input `shape`.
    pub fn new(shape: &'static str, builder: B) -> Self {
        Self::of(service_model::model(), shape, builder)
    }

    /// No member yet, of IVS Real-Time's input `shape`.
    pub fn ivs(shape: &'static str, builder: B) -> Self {
        Self::of(service_model::ivs_realtime_model(), shape, builder)
    }

    fn of(model: &'static ServiceModel, shape: &'static str, builder: B) -> Self {
        Self { model, shape, builder, members: Vec::new(), enums: Vec::new() }
    }

    /// The AWS member `aws`, from the proto field `proto`: `value` (`None`
    /// when the request leaves it unset) goes to the builder through `set`.
    pub fn member<T: AwsJson>(
        mut self,
        aws: &'static str,
        proto: &'static str,
        value: Option<T>,
        set: fn(B, Option<T>) -> B,
    ) -> Self {
        self.members.push(Member { aws, proto, value: value.as_ref().map(AwsJson::aws_json) });
        self.builder = set(self.builder, value);
        self
    }

    /// The proto enum field `proto` must hold one of the enum's values.
    pub fn known<E: TryFrom<i32>>(mut self, proto: &'static str, value: i32) -> Self {
        self.enums.push((proto, E::try_from(value).is_ok()));
        self
    }

    /// The members so far (for the check that none is missing).
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The filled builder, if every member, the enums and `request_id`
    /// (for a mutating call) pass the check.
    pub fn check(self, request_id: Option<&str>) -> Result<B, Vec<FieldViolation>> {
        check(self.model, self.shape, &self.members, request_id, &self.enums)?;
        Ok(self.builder)
    }
}

/// A string member: an empty proto string is unset.
pub fn text(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// A list member: an empty proto list is unset.
pub fn list<T: Clone>(items: &[T]) -> Option<Vec<T>> {
    (!items.is_empty()).then(|| items.to_vec())
}
