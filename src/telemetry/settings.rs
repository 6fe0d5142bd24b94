//! What telemetry to set up: the log format and filter from the command line
//! and `RUST_LOG`, the OTLP exporters from the standard OpenTelemetry
//! variables. The command line builds these; telemetry owns them.

/// An environment variable the gateway reads but does not own is unusable.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{variable}: {reason}")]
pub struct EnvError {
    /// The variable's name.
    pub variable: String,
    /// What is wrong.
    pub reason: String,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable, with the span context (and its trace_id) before each message.
    Text,
    /// One JSON object per line; the `spans` list carries the trace_id.
    Json,
}

/// What telemetry to set up: the log format from the flags, the OTLP
/// exporters from the standard OpenTelemetry variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryConfig {
    /// How log lines look.
    pub log_format: LogFormat,
    /// Export traces over OTLP/gRPC.
    pub otlp_traces: bool,
    /// Export metrics over OTLP/gRPC.
    pub otlp_metrics: bool,
    /// The traces endpoint is `https://`: verify it against the system's roots.
    pub traces_tls: bool,
    /// The metrics endpoint is `https://`.
    pub metrics_tls: bool,
    /// `OTEL_SERVICE_NAME` is unset: the service is called gamelift-streams-gateway.
    pub default_service_name: bool,
    /// The wire's own logs are not held at info (`--log-wire-unsafe`).
    pub wire_logs: bool,
    /// `RUST_LOG`'s directives, if set (default: `info`).
    pub log_filter: Option<String>,
}

impl TelemetryConfig {
    /// Reads the OpenTelemetry variables through `var`. A signal is exported
    /// when `OTEL_<SIGNAL>_EXPORTER` names `otlp`, or is unset while an OTLP
    /// endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT` or the signal's own);
    /// `none` turns it off. Only the `grpc` protocol is built in.
    pub fn from_env(log_format: LogFormat, var: impl Fn(&str) -> Option<String>) -> Result<Self, EnvError> {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let enabled = |signal: &str| -> Result<bool, EnvError> {
            let on = match var(&format!("OTEL_{signal}_EXPORTER")) {
                Some(list) => list.split(',').any(|e| e.trim() == "otlp"),
                None => var("OTEL_EXPORTER_OTLP_ENDPOINT")
                    .or_else(|| var(&format!("OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")))
                    .is_some(),
            };
            let protocol =
                var(&format!("OTEL_EXPORTER_OTLP_{signal}_PROTOCOL")).or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL"));
            match protocol {
                Some(p) if on && p != "grpc" => Err(EnvError {
                    variable: format!("OTEL_EXPORTER_OTLP_[{signal}_]PROTOCOL"),
                    reason: format!("'{p}' is not supported; use grpc"),
                }),
                _ => Ok(on),
            }
        };
        let tls = |signal: &str| {
            var(&format!("OTEL_EXPORTER_OTLP_{signal}_ENDPOINT"))
                .or_else(|| var("OTEL_EXPORTER_OTLP_ENDPOINT"))
                .is_some_and(|url| url.trim().to_ascii_lowercase().starts_with("https://"))
        };
        Ok(Self {
            log_format,
            otlp_traces: enabled("TRACES")?,
            otlp_metrics: enabled("METRICS")?,
            traces_tls: tls("TRACES"),
            metrics_tls: tls("METRICS"),
            default_service_name: var("OTEL_SERVICE_NAME").is_none(),
            wire_logs: false,
            log_filter: var("RUST_LOG"),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn telemetry(vars: &[(&str, &str)]) -> Result<TelemetryConfig, EnvError> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        TelemetryConfig::from_env(LogFormat::Text, |name| vars.get(name).cloned())
    }

    #[test]
    fn otlp_export_follows_the_standard_variables() {
        let off = telemetry(&[]).expect("valid");
        assert_eq!((off.otlp_traces, off.otlp_metrics, off.default_service_name), (false, false, true));
        let both = telemetry(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"), ("OTEL_SERVICE_NAME", "gw")])
            .expect("valid");
        assert_eq!((both.otlp_traces, both.otlp_metrics, both.default_service_name), (true, true, false));
        let traces = telemetry(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4317")]).expect("valid");
        assert_eq!((traces.otlp_traces, traces.otlp_metrics), (true, false));
        let none = telemetry(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"), ("OTEL_METRICS_EXPORTER", "none")])
            .expect("valid");
        assert_eq!((none.otlp_traces, none.otlp_metrics), (true, false));
        let default_endpoint = telemetry(&[("OTEL_TRACES_EXPORTER", "otlp")]).expect("valid");
        assert!(default_endpoint.otlp_traces && !default_endpoint.traces_tls);
        let tls = telemetry(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector.example:4317"),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://agent:4317"),
        ])
        .expect("valid");
        assert_eq!((tls.traces_tls, tls.metrics_tls), (true, false));
        let http = telemetry(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ]);
        assert!(http.expect_err("unsupported").to_string().contains("use grpc"));
        let unused =
            telemetry(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")]).expect("nothing exported: no error");
        assert!(!unused.otlp_traces);
    }
}
