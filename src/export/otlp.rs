//! Traces and metrics over OTLP, configured by the standard `OTEL_*` environment variables.
//!
//! - [`settings`]: which signals are on (off unless an endpoint is set), and clear errors for
//!   values the SDK would silently ignore;
//! - [`spans`]: a SERVER span per proxied request and a CLIENT span for the upstream call,
//!   with the HTTP semantic conventions; the client span's context goes upstream as
//!   `traceparent` (W3C Trace Context);
//! - [`mirror`]: the Prometheus counters and gauges of the metrics contract, observed from
//!   the registry at each OTLP export, so OTLP and `/metrics` always agree;
//! - [`gen_ai_metrics`]: the LLM histograms under the generative-AI conventions' names
//!   (`gen_ai.client.token.usage`, `gen_ai.server.time_to_first_token`, …).
//!
//! Nothing here waits on the collector: spans go to the SDK's batch processor (a bounded
//! queue, full → dropped) and metrics are read by a periodic reader, both on their own
//! threads. A dead or slow collector costs the proxy nothing but those threads' retries.
//! When no signal is on, the proxy holds no [`Otlp`] and pays one `None` check per request.

pub mod gen_ai_metrics;
pub mod mirror;
pub mod settings;
pub mod spans;
pub mod transport;

use crate::export::prometheus::LATENCY_BUCKETS;
use opentelemetry::metrics::{Histogram, MeterProvider as _};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The service name when neither `OTEL_SERVICE_NAME` nor `service.name` in
/// `OTEL_RESOURCE_ATTRIBUTES` gives one.
pub const DEFAULT_SERVICE_NAME: &str = "modelwatch";

/// The running OTLP export: the SDK providers and what the proxy records into them.
pub struct Otlp {
    tracer: Option<SdkTracer>,
    propagator: TraceContextPropagator,
    instruments: Option<Instruments>,
    tracer_provider: Option<SdkTracerProvider>,
    meter_provider: Option<SdkMeterProvider>,
}

/// The histograms recorded per request; counters and gauges come from [`mirror`].
struct Instruments {
    request_duration: Histogram<f64>,
    upstream_duration: Histogram<f64>,
    gen_ai: gen_ai_metrics::GenAiMetrics,
}

impl Otlp {
    /// Starts the export when `env` turns a signal on; `None` when nothing is exported.
    ///
    /// Must run inside the tokio runtime: the gRPC exporter's connection lives there.
    /// `registry` holds the Prometheus instruments that [`mirror`] reports.
    pub fn start(
        env: &HashMap<String, String>,
        registry: &prometheus::Registry,
    ) -> anyhow::Result<Option<Arc<Self>>> {
        let signals = settings::signals(env).map_err(|problems| {
            crate::exit::UsageError(format!(
                "invalid OpenTelemetry settings:\n  - {}",
                problems.join("\n  - ")
            ))
        })?;
        if !signals.any() {
            return Ok(None);
        }
        let resource = resource(env);
        let tracer_provider = if signals.traces {
            let exporter = transport::span_exporter(env)?;
            // The batch processor's queue is bounded (OTEL_BSP_MAX_QUEUE_SIZE, 2048 spans by
            // default); ending a span only tries to enqueue it.
            Some(
                SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(resource.clone())
                    .build(),
            )
        } else {
            None
        };
        let meter_provider = if signals.metrics {
            let exporter = transport::metric_exporter(env)?;
            Some(
                SdkMeterProvider::builder()
                    .with_periodic_exporter(exporter)
                    .with_resource(resource)
                    .build(),
            )
        } else {
            None
        };
        let instruments = meter_provider.as_ref().map(|provider| {
            let meter = provider.meter("modelwatch");
            mirror::register(&meter, registry);
            let histogram = |name: &'static str, description: &'static str| {
                meter
                    .f64_histogram(name)
                    .with_unit("s")
                    .with_description(description)
                    .with_boundaries(LATENCY_BUCKETS.to_vec())
                    .build()
            };
            Instruments {
                request_duration: histogram(
                    "modelwatch_request_duration",
                    "Time from the request head arriving to the last response byte sent.",
                ),
                upstream_duration: histogram(
                    "modelwatch_upstream_duration",
                    "Time from forwarding the request to the upstream's response head.",
                ),
                gen_ai: gen_ai_metrics::GenAiMetrics::register(&meter),
            }
        });
        tracing::info!(
            traces = signals.traces,
            metrics = signals.metrics,
            "exporting over OTLP"
        );
        Ok(Some(Arc::new(Self {
            tracer: tracer_provider
                .as_ref()
                .map(|provider| provider.tracer("modelwatch")),
            propagator: TraceContextPropagator::new(),
            instruments,
            tracer_provider,
            meter_provider,
        })))
    }

    /// Flushes what is queued and stops the exporters, giving up after `timeout` so that a
    /// dead collector never holds the exit hostage.
    pub async fn shutdown(&self, timeout: Duration) {
        let tracer_provider = self.tracer_provider.clone();
        let meter_provider = self.meter_provider.clone();
        // The SDK's shutdown blocks its caller until the exporters return. A thread of its
        // own, not `spawn_blocking`: the runtime waits for its blocking tasks when it is
        // dropped, and an exporter stuck on a black-holed collector would hold the exit.
        let (done, flushed) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("otlp-shutdown".into())
            .spawn(move || {
                if let Some(provider) = tracer_provider
                    && let Err(err) = provider.shutdown_with_timeout(timeout)
                {
                    tracing::warn!(%err, "OTLP spans not flushed");
                }
                if let Some(provider) = meter_provider
                    && let Err(err) = provider.shutdown_with_timeout(timeout)
                {
                    tracing::warn!(%err, "OTLP metrics not flushed");
                }
                let _ = done.send(());
            });
        if let Err(err) = spawned {
            tracing::warn!(%err, "could not flush OTLP telemetry");
            return;
        }
        if tokio::time::timeout(timeout, flushed).await.is_err() {
            tracing::warn!(
                ?timeout,
                "the OTLP collector did not take the last telemetry in time; it is dropped"
            );
        }
    }
}

/// The resource: `service.name` defaults to `modelwatch` unless `OTEL_SERVICE_NAME` or
/// `OTEL_RESOURCE_ATTRIBUTES` names the service (the SDK reads both).
fn resource(env: &HashMap<String, String>) -> Resource {
    let named = env.contains_key("OTEL_SERVICE_NAME")
        || env.get("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|attrs| {
            attrs
                .split(',')
                .any(|kv| kv.trim().starts_with("service.name="))
        });
    let builder = Resource::builder().with_attribute(opentelemetry::KeyValue::new(
        "service.version",
        env!("CARGO_PKG_VERSION"),
    ));
    if named {
        builder.build()
    } else {
        builder.with_service_name(DEFAULT_SERVICE_NAME).build()
    }
}

#[cfg(test)]
mod tests;
