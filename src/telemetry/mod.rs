//! Telemetry: logs through `tracing` (text or JSON, with the trace id of the
//! call they belong to), OpenTelemetry traces and metrics exported over OTLP
//! when the standard `OTEL_*` variables ask for it, and the same metrics as
//! Prometheus text on an admin port.
//!
//! Spans: [`rpc`] makes one server span per StreamSessions call; the SDK
//! calls in `sessions` make one client span per HTTP attempt (watch polls make
//! none, so pollers never flood traces). Only this crate's spans are exported,
//! and OpenTelemetry span data is built only when traces are exported.

pub mod metrics;
pub mod prometheus;
pub mod rpc;
pub mod settings;

use std::io::IsTerminal;

use opentelemetry::metrics::Meter;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::tonic_types::transport::ClientTlsConfig;
use opentelemetry_otlp::WithTonicConfig;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_subscriber::filter::{EnvFilter, FilterExt, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer as _;

pub use settings::{LogFormat, TelemetryConfig};

use crate::SCOPE;

/// Targets whose debug and trace logs would carry request and response
/// bodies (signal requests, IP addresses), headers or credentials: held at
/// `info` by a filter `RUST_LOG` cannot widen (even with more specific
/// directives such as `aws_smithy_runtime::client=trace`); only
/// `--log-wire-unsafe` opens them.
const WIRE_TARGETS: &[&str] = &[
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http_client",
    "aws_smithy_http",
    "aws_sigv4",
    "aws_config",
    "hyper",
    "hyper_util",
    "h2",
    "tonic",
    "tower",
];

/// The meter every instrument of the gateway comes from.
pub fn meter() -> Meter {
    opentelemetry::global::meter(SCOPE)
}

/// TLS to an `https://` collector, verified against the system's CA roots.
fn verified_tls() -> ClientTlsConfig {
    ClientTlsConfig::new().with_native_roots()
}

/// The installed providers; flush them with [`Telemetry::shutdown`].
pub struct Telemetry {
    tracer: SdkTracerProvider,
    meter: SdkMeterProvider,
    registry: ::prometheus::Registry,
}

/// Installs logging, the tracer and meter providers and the W3C propagator
/// for the whole process. Exporters are built only for what `config` enables.
pub fn init(config: &TelemetryConfig) -> anyhow::Result<Telemetry> {
    let mut resource = Resource::builder();
    if config.default_service_name {
        resource = resource.with_service_name(SCOPE);
    }
    let resource = resource.build();

    let mut tracer = SdkTracerProvider::builder().with_resource(resource.clone());
    if config.otlp_traces {
        let mut exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic();
        if config.traces_tls {
            exporter = exporter.with_tls_config(verified_tls());
        }
        tracer = tracer.with_batch_exporter(exporter.build()?);
    }
    let tracer = tracer.build();

    let registry = ::prometheus::Registry::new();
    let mut meter = SdkMeterProvider::builder()
        .with_resource(resource)
        .with_reader(opentelemetry_prometheus::exporter().with_registry(registry.clone()).build()?);
    if config.otlp_metrics {
        let mut exporter = opentelemetry_otlp::MetricExporter::builder().with_tonic();
        if config.metrics_tls {
            exporter = exporter.with_tls_config(verified_tls());
        }
        meter = meter.with_periodic_exporter(exporter.build()?);
    }
    let meter = meter.build();

    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    opentelemetry::global::set_tracer_provider(tracer.clone());
    opentelemetry::global::set_meter_provider(meter.clone());

    let filter = match &config.log_filter {
        Some(directives) => {
            EnvFilter::try_new(directives).map_err(|e| anyhow::anyhow!("RUST_LOG='{directives}': {e}"))?
        }
        // IMDS and credential-chain failures (every pod outside EC2, a Region
        // or credentials not found) are said once, in the gateway's own
        // words, not as nested SDK structures; RUST_LOG may ask for them.
        None => EnvFilter::new("info,aws_config::imds=error,aws_config::meta::credentials=error"),
    };
    let hold = if config.wire_logs {
        Targets::new().with_default(LevelFilter::TRACE)
    } else {
        Targets::new()
            .with_default(LevelFilter::TRACE)
            .with_targets(WIRE_TARGETS.iter().map(|t| (*t, LevelFilter::INFO)))
    };
    let logs = match config.log_format {
        // Colours for a terminal only: a file or a log collector gets plain text.
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    // Span data for OpenTelemetry only when spans go somewhere: building it costs
    // every call (and every open watch) memory and time. The AWS attempt spans are
    // at debug level, so only this layer (or RUST_LOG=debug) asks for them.
    let spans = config.otlp_traces.then(|| {
        tracing_opentelemetry::layer()
            .with_tracer(tracer.tracer(SCOPE))
            .with_filter(Targets::new().with_target(env!("CARGO_CRATE_NAME"), tracing::Level::DEBUG))
    });
    tracing_subscriber::registry().with(logs.with_filter(filter.and(hold))).with(spans).try_init()?;
    if config.wire_logs {
        tracing::warn!(
            "--log-wire-unsafe: SDK, HTTP and gRPC logs are not held back; at debug they carry request bodies \
             (signal requests with IP addresses), headers and the AWS access key id"
        );
    }
    Ok(Telemetry { tracer, meter, registry })
}

impl Telemetry {
    /// The registry the Prometheus endpoint renders.
    pub fn registry(&self) -> &::prometheus::Registry {
        &self.registry
    }

    /// Exports what is buffered and stops the exporters.
    pub async fn shutdown(self) {
        let flushed = tokio::task::spawn_blocking(move || {
            let traces = self.tracer.shutdown();
            let metrics = self.meter.shutdown();
            (traces, metrics)
        })
        .await;
        if let Ok((traces, metrics)) = flushed {
            if let Err(e) = traces.and(metrics) {
                tracing::warn!(error = %e, "telemetry shutdown");
            }
        }
    }
}
