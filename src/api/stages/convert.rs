//! IVS Real-Time's SDK types to the Stages contract's messages, and the
//! contract's composite fields to the SDK's. An enum value crosses by name:
//! the proto's value name is its prefix and AWS's name (an AWS value this
//! build does not know is UNSPECIFIED).

use aws_sdk_ivsrealtime::types as aws;
use serde_json::{json, Map, Value};

use crate::api::fields::{text, AwsJson};
use crate::api::validate::FieldViolation;
use crate::convert::timestamp;
use crate::proto::ivs as pb;

/// The proto value (as `i32`) named `prefix` + AWS's `name`; 0 when none is.
fn from_aws<E: Into<i32>>(prefix: &str, name: Option<&str>, from_name: fn(&str) -> Option<E>) -> i32 {
    name.and_then(|n| from_name(&format!("{prefix}{n}"))).map_or(0, Into::into)
}

/// AWS's name of a proto value name; `None` for UNSPECIFIED.
fn to_aws<'a>(prefix: &str, name: &'a str) -> Option<&'a str> {
    name.strip_prefix(prefix).filter(|n| *n != "UNSPECIFIED")
}

impl From<aws::Stage> for pb::Stage {
    fn from(s: aws::Stage) -> Self {
        let endpoints = s.endpoints.map(|e| pb::StageEndpoints {
            events: e.events.unwrap_or_default(),
            whip: e.whip.unwrap_or_default(),
            rtmp: e.rtmp.unwrap_or_default(),
            rtmps: e.rtmps.unwrap_or_default(),
        });
        Self {
            arn: s.arn,
            name: s.name.unwrap_or_default(),
            active_session_id: s.active_session_id.unwrap_or_default(),
            endpoints,
        }
    }
}

impl From<aws::StageSummary> for pb::Stage {
    fn from(s: aws::StageSummary) -> Self {
        Self {
            arn: s.arn,
            name: s.name.unwrap_or_default(),
            active_session_id: s.active_session_id.unwrap_or_default(),
            endpoints: None,
        }
    }
}

fn capability_from_aws(c: &aws::ParticipantTokenCapability) -> i32 {
    from_aws("PARTICIPANT_TOKEN_CAPABILITY_", Some(c.as_str()), pb::ParticipantTokenCapability::from_str_name)
}

impl From<aws::ParticipantToken> for pb::ParticipantToken {
    fn from(t: aws::ParticipantToken) -> Self {
        Self {
            participant_id: t.participant_id.unwrap_or_default(),
            token: t.token.unwrap_or_default(),
            user_id: t.user_id.unwrap_or_default(),
            attributes: t.attributes.unwrap_or_default().into_iter().collect(),
            duration_minutes: t.duration.unwrap_or_default(),
            capabilities: t.capabilities.unwrap_or_default().iter().map(capability_from_aws).collect(),
            expiration_time: timestamp(t.expiration_time),
        }
    }
}

fn state_from_aws(state: Option<&aws::ParticipantState>) -> i32 {
    from_aws("PARTICIPANT_STATE_", state.map(aws::ParticipantState::as_str), pb::ParticipantState::from_str_name)
}

impl From<aws::Participant> for pb::Participant {
    fn from(p: aws::Participant) -> Self {
        let protocol = p.protocol.as_ref().map(aws::ParticipantProtocol::as_str);
        Self {
            participant_id: p.participant_id.unwrap_or_default(),
            user_id: p.user_id.unwrap_or_default(),
            state: state_from_aws(p.state.as_ref()),
            first_join_time: timestamp(p.first_join_time),
            attributes: p.attributes.unwrap_or_default().into_iter().collect(),
            published: p.published,
            isp_name: p.isp_name.unwrap_or_default(),
            os_name: p.os_name.unwrap_or_default(),
            os_version: p.os_version.unwrap_or_default(),
            browser_name: p.browser_name.unwrap_or_default(),
            browser_version: p.browser_version.unwrap_or_default(),
            sdk_version: p.sdk_version.unwrap_or_default(),
            protocol: from_aws("PARTICIPANT_PROTOCOL_", protocol, pb::ParticipantProtocol::from_str_name),
        }
    }
}

impl From<aws::ParticipantSummary> for pb::Participant {
    fn from(p: aws::ParticipantSummary) -> Self {
        Self {
            participant_id: p.participant_id.unwrap_or_default(),
            user_id: p.user_id.unwrap_or_default(),
            state: state_from_aws(p.state.as_ref()),
            first_join_time: timestamp(p.first_join_time),
            published: p.published,
            ..Self::default()
        }
    }
}

impl From<aws::Event> for pb::ParticipantEvent {
    fn from(e: aws::Event) -> Self {
        let name = e.name.as_ref().map(aws::EventName::as_str);
        let code = e.error_code.as_ref().map(aws::EventErrorCode::as_str);
        Self {
            name: from_aws("PARTICIPANT_EVENT_NAME_", name, pb::ParticipantEventName::from_str_name),
            participant_id: e.participant_id.unwrap_or_default(),
            event_time: timestamp(e.event_time),
            remote_participant_id: e.remote_participant_id.unwrap_or_default(),
            error_code: from_aws("PARTICIPANT_EVENT_ERROR_CODE_", code, pb::ParticipantEventErrorCode::from_str_name),
        }
    }
}

impl From<aws::StageSession> for pb::StageSession {
    fn from(s: aws::StageSession) -> Self {
        Self {
            session_id: s.session_id.unwrap_or_default(),
            start_time: timestamp(s.start_time),
            end_time: timestamp(s.end_time),
        }
    }
}

impl From<aws::StageSessionSummary> for pb::StageSession {
    fn from(s: aws::StageSessionSummary) -> Self {
        Self {
            session_id: s.session_id.unwrap_or_default(),
            start_time: timestamp(s.start_time),
            end_time: timestamp(s.end_time),
        }
    }
}

fn composition_state(name: &str) -> i32 {
    from_aws("COMPOSITION_STATE_", Some(name), pb::CompositionState::from_str_name)
}

fn fill_from_aws(mode: Option<&aws::VideoFillMode>) -> i32 {
    from_aws("VIDEO_FILL_MODE_", mode.map(aws::VideoFillMode::as_str), pb::VideoFillMode::from_str_name)
}

fn layout_from_aws(layout: aws::LayoutConfiguration) -> pb::LayoutConfiguration {
    let grid = layout.grid.map(|g| pb::GridConfiguration {
        featured_participant_attribute: g.featured_participant_attribute.unwrap_or_default(),
        omit_stopped_video: Some(g.omit_stopped_video),
        video_aspect_ratio: from_aws(
            "VIDEO_ASPECT_RATIO_",
            g.video_aspect_ratio.as_ref().map(aws::VideoAspectRatio::as_str),
            pb::VideoAspectRatio::from_str_name,
        ),
        video_fill_mode: fill_from_aws(g.video_fill_mode.as_ref()),
        grid_gap: Some(g.grid_gap),
        participant_order_attribute: g.participant_order_attribute.unwrap_or_default(),
    });
    let pip = layout.pip.map(|p| pb::PipConfiguration {
        featured_participant_attribute: p.featured_participant_attribute.unwrap_or_default(),
        omit_stopped_video: Some(p.omit_stopped_video),
        video_fill_mode: fill_from_aws(p.video_fill_mode.as_ref()),
        grid_gap: Some(p.grid_gap),
        pip_participant_attribute: p.pip_participant_attribute.unwrap_or_default(),
        pip_behavior: from_aws(
            "PIP_BEHAVIOR_",
            p.pip_behavior.as_ref().map(aws::PipBehavior::as_str),
            pb::PipBehavior::from_str_name,
        ),
        pip_offset: Some(p.pip_offset),
        pip_position: from_aws(
            "PIP_POSITION_",
            p.pip_position.as_ref().map(aws::PipPosition::as_str),
            pb::PipPosition::from_str_name,
        ),
        pip_width: p.pip_width,
        pip_height: p.pip_height,
        participant_order_attribute: p.participant_order_attribute.unwrap_or_default(),
    });
    pb::LayoutConfiguration { grid, pip }
}

fn destination_config_from_aws(d: aws::DestinationConfiguration) -> pb::DestinationConfiguration {
    pb::DestinationConfiguration {
        name: d.name.unwrap_or_default(),
        channel: d.channel.map(|c| pb::ChannelDestinationConfiguration {
            channel_arn: c.channel_arn,
            encoder_configuration_arn: c.encoder_configuration_arn.unwrap_or_default(),
        }),
        s3: d.s3.map(|s| pb::S3DestinationConfiguration {
            storage_configuration_arn: s.storage_configuration_arn,
            encoder_configuration_arns: s.encoder_configuration_arns,
        }),
    }
}

impl From<aws::Composition> for pb::Composition {
    fn from(c: aws::Composition) -> Self {
        let destinations = c
            .destinations
            .into_iter()
            .map(|d| pb::Destination {
                id: d.id,
                state: composition_state(d.state.as_str()),
                start_time: timestamp(d.start_time),
                end_time: timestamp(d.end_time),
                configuration: d.configuration.map(destination_config_from_aws),
                s3_recording_prefix: d.detail.and_then(|x| x.s3).map(|s3| s3.recording_prefix).unwrap_or_default(),
            })
            .collect();
        Self {
            arn: c.arn,
            stage_arn: c.stage_arn,
            state: composition_state(c.state.as_str()),
            layout: c.layout.map(layout_from_aws),
            destinations,
            start_time: timestamp(c.start_time),
            end_time: timestamp(c.end_time),
        }
    }
}

impl From<aws::CompositionSummary> for pb::Composition {
    fn from(c: aws::CompositionSummary) -> Self {
        let destinations = c
            .destinations
            .into_iter()
            .map(|d| pb::Destination {
                id: d.id,
                state: composition_state(d.state.as_str()),
                start_time: timestamp(d.start_time),
                end_time: timestamp(d.end_time),
                ..pb::Destination::default()
            })
            .collect();
        Self {
            arn: c.arn,
            stage_arn: c.stage_arn,
            state: composition_state(c.state.as_str()),
            layout: None,
            destinations,
            start_time: timestamp(c.start_time),
            end_time: timestamp(c.end_time),
        }
    }
}

/// A token configuration as the SDK takes it.
pub fn token_config_to_aws(c: &pb::ParticipantTokenConfiguration) -> aws::ParticipantTokenConfiguration {
    aws::ParticipantTokenConfiguration::builder()
        .set_duration(c.duration_minutes)
        .set_user_id((!c.user_id.is_empty()).then(|| c.user_id.clone()))
        .set_attributes((!c.attributes.is_empty()).then(|| c.attributes.clone().into_iter().collect()))
        .set_capabilities(capabilities_to_aws(&c.capabilities))
        .build()
}

/// Capabilities as the SDK takes them; `None` when empty (AWS's default).
pub fn capabilities_to_aws(capabilities: &[i32]) -> Option<Vec<aws::ParticipantTokenCapability>> {
    let names: Vec<aws::ParticipantTokenCapability> = capabilities
        .iter()
        .filter_map(|c| pb::ParticipantTokenCapability::try_from(*c).ok())
        .filter_map(|c| {
            to_aws("PARTICIPANT_TOKEN_CAPABILITY_", c.as_str_name()).map(aws::ParticipantTokenCapability::from)
        })
        .collect();
    (!names.is_empty()).then_some(names)
}

fn fill_to_aws(mode: i32) -> Option<aws::VideoFillMode> {
    let mode = pb::VideoFillMode::try_from(mode).ok()?;
    to_aws("VIDEO_FILL_MODE_", mode.as_str_name()).map(aws::VideoFillMode::from)
}

/// A layout as the SDK takes it.
pub fn layout_to_aws(l: &pb::LayoutConfiguration) -> aws::LayoutConfiguration {
    let grid = l.grid.as_ref().map(|g| {
        let ratio = pb::VideoAspectRatio::try_from(g.video_aspect_ratio).ok();
        aws::GridConfiguration::builder()
            .set_featured_participant_attribute(text(&g.featured_participant_attribute))
            .set_omit_stopped_video(g.omit_stopped_video)
            .set_video_aspect_ratio(
                ratio.and_then(|r| to_aws("VIDEO_ASPECT_RATIO_", r.as_str_name()).map(aws::VideoAspectRatio::from)),
            )
            .set_video_fill_mode(fill_to_aws(g.video_fill_mode))
            .set_grid_gap(g.grid_gap)
            .set_participant_order_attribute(text(&g.participant_order_attribute))
            .build()
    });
    let pip = l.pip.as_ref().map(|p| {
        let behavior = pb::PipBehavior::try_from(p.pip_behavior).ok();
        let position = pb::PipPosition::try_from(p.pip_position).ok();
        aws::PipConfiguration::builder()
            .set_featured_participant_attribute(text(&p.featured_participant_attribute))
            .set_omit_stopped_video(p.omit_stopped_video)
            .set_video_fill_mode(fill_to_aws(p.video_fill_mode))
            .set_grid_gap(p.grid_gap)
            .set_pip_participant_attribute(text(&p.pip_participant_attribute))
            .set_pip_behavior(
                behavior.and_then(|b| to_aws("PIP_BEHAVIOR_", b.as_str_name()).map(aws::PipBehavior::from)),
            )
            .set_pip_offset(p.pip_offset)
            .set_pip_position(
                position.and_then(|b| to_aws("PIP_POSITION_", b.as_str_name()).map(aws::PipPosition::from)),
            )
            .set_pip_width(p.pip_width)
            .set_pip_height(p.pip_height)
            .set_participant_order_attribute(text(&p.participant_order_attribute))
            .build()
    });
    aws::LayoutConfiguration::builder().set_grid(grid).set_pip(pip).build()
}

/// Destinations as the SDK takes them; a missing required member is a
/// violation naming its proto field (the SDK cannot hold the destination
/// without it).
pub fn destinations_to_aws(
    destinations: &[pb::DestinationConfiguration],
) -> Result<Vec<aws::DestinationConfiguration>, Vec<FieldViolation>> {
    let mut violations = Vec::new();
    let mut out = Vec::new();
    let missing = |field: String| FieldViolation { field, description: "required".into() };
    for (i, d) in destinations.iter().enumerate() {
        let channel = d.channel.as_ref().and_then(|c| {
            let built = aws::ChannelDestinationConfiguration::builder()
                .channel_arn(&c.channel_arn)
                .set_encoder_configuration_arn(text(&c.encoder_configuration_arn))
                .build();
            if c.channel_arn.is_empty() {
                violations.push(missing(format!("destinations[{i}].channel.channel_arn")));
            }
            built.ok()
        });
        let s3 = d.s3.as_ref().and_then(|s| {
            if s.storage_configuration_arn.is_empty() {
                violations.push(missing(format!("destinations[{i}].s3.storage_configuration_arn")));
            }
            if s.encoder_configuration_arns.is_empty() {
                violations.push(missing(format!("destinations[{i}].s3.encoder_configuration_arns")));
            }
            aws::S3DestinationConfiguration::builder()
                .storage_configuration_arn(&s.storage_configuration_arn)
                .set_encoder_configuration_arns(Some(s.encoder_configuration_arns.clone()))
                .build()
                .ok()
        });
        if d.channel.is_some() == d.s3.is_some() {
            violations.push(FieldViolation {
                field: format!("destinations[{i}]"),
                description: "set exactly one of channel and s3".into(),
            });
        }
        out.push(
            aws::DestinationConfiguration::builder().set_name(text(&d.name)).set_channel(channel).set_s3(s3).build(),
        );
    }
    if violations.is_empty() {
        Ok(out)
    } else {
        Err(violations)
    }
}

fn object(pairs: Vec<(&str, Option<Value>)>) -> Value {
    let map: Map<String, Value> = pairs.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_string(), v))).collect();
    Value::Object(map)
}

impl AwsJson for bool {
    fn aws_json(&self) -> Value {
        Value::Bool(*self)
    }
}

impl AwsJson for aws::ParticipantState {
    fn aws_json(&self) -> Value {
        json!(self.as_str())
    }
}

impl AwsJson for Vec<aws::ParticipantTokenCapability> {
    fn aws_json(&self) -> Value {
        json!(self.iter().map(aws::ParticipantTokenCapability::as_str).collect::<Vec<_>>())
    }
}

impl AwsJson for aws::ParticipantTokenConfiguration {
    fn aws_json(&self) -> Value {
        object(vec![
            ("duration", self.duration.map(Value::from)),
            ("userId", self.user_id.as_ref().map(|u| json!(u))),
            ("attributes", self.attributes.as_ref().map(|a| json!(a))),
            ("capabilities", self.capabilities.as_ref().map(AwsJson::aws_json)),
        ])
    }
}

impl AwsJson for Vec<aws::ParticipantTokenConfiguration> {
    fn aws_json(&self) -> Value {
        Value::Array(self.iter().map(AwsJson::aws_json).collect())
    }
}

impl AwsJson for aws::LayoutConfiguration {
    fn aws_json(&self) -> Value {
        let fill = |m: &Option<aws::VideoFillMode>| m.as_ref().map(|m| json!(m.as_str()));
        let grid = self.grid.as_ref().map(|g| {
            object(vec![
                ("featuredParticipantAttribute", g.featured_participant_attribute.as_ref().map(|a| json!(a))),
                ("videoAspectRatio", g.video_aspect_ratio.as_ref().map(|r| json!(r.as_str()))),
                ("videoFillMode", fill(&g.video_fill_mode)),
                ("gridGap", Some(json!(g.grid_gap))),
                ("participantOrderAttribute", g.participant_order_attribute.as_ref().map(|a| json!(a))),
            ])
        });
        let pip = self.pip.as_ref().map(|p| {
            object(vec![
                ("featuredParticipantAttribute", p.featured_participant_attribute.as_ref().map(|a| json!(a))),
                ("videoFillMode", fill(&p.video_fill_mode)),
                ("gridGap", Some(json!(p.grid_gap))),
                ("pipParticipantAttribute", p.pip_participant_attribute.as_ref().map(|a| json!(a))),
                ("pipBehavior", p.pip_behavior.as_ref().map(|b| json!(b.as_str()))),
                ("pipOffset", Some(json!(p.pip_offset))),
                ("pipPosition", p.pip_position.as_ref().map(|b| json!(b.as_str()))),
                ("pipWidth", p.pip_width.map(Value::from)),
                ("pipHeight", p.pip_height.map(Value::from)),
                ("participantOrderAttribute", p.participant_order_attribute.as_ref().map(|a| json!(a))),
            ])
        });
        object(vec![("grid", grid), ("pip", pip)])
    }
}

impl AwsJson for Vec<aws::DestinationConfiguration> {
    fn aws_json(&self) -> Value {
        Value::Array(
            self.iter()
                .map(|d| {
                    let channel = d.channel.as_ref().map(|c| {
                        object(vec![
                            ("channelArn", Some(json!(c.channel_arn))),
                            ("encoderConfigurationArn", c.encoder_configuration_arn.as_ref().map(|a| json!(a))),
                        ])
                    });
                    let s3 = d.s3.as_ref().map(|s| {
                        json!({
                            "storageConfigurationArn": s.storage_configuration_arn,
                            "encoderConfigurationArns": s.encoder_configuration_arns,
                        })
                    });
                    object(vec![("name", d.name.as_ref().map(|n| json!(n))), ("channel", channel), ("s3", s3)])
                })
                .collect(),
        )
    }
}
