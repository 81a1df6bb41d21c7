//! One request through the proxy: label it, check limits, forward it with its body
//! streaming, and stream the answer back, recording metrics when the answer ends.
//!
//! Every request gets a response: the upstream's, or one made by [`super::rescue`] when
//! the upstream cannot give one. Errors never escape to hyper, so a failing upstream never
//! closes the client's connection by surprise.

use super::body::{Observed, OnBodyEnd};
use super::headers::{self, ClientAddr};
use super::llm::{LlmCall, LlmRequestTap, LlmResponseTap, LlmSinks};
use super::metrics::{InFlight, ProxyMetrics, VersionHandles};
use super::rescue::{self, ProxyError};
use super::tap::{OwnAnswerFacts, RequestFacts, RequestTap, ResponseTap, Tap};
use crate::config::{Config, UpstreamProtocol, parse_upstream};
use crate::export::elasticsearch::capture::CapturePolicy;
use crate::export::elasticsearch::event::EventError;
use crate::export::otlp::Otlp;
use crate::export::otlp::spans::RequestTelemetry;
use crate::protocol::openai::Endpoint;
use crate::traffic::BodyEnd;
use crate::traffic::identity::{self, LabelInterner, ModelLabels};
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, Uri, Version};
use http_body_util::{Either, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The body sent upstream: the client's, streamed, cut off past the size limit.
pub type UpstreamBody = Observed<Limited<Incoming>, RequestSize>;
/// The body sent to the client: the upstream's, or a small one made by the proxy.
pub type ClientBody = Observed<Either<Incoming, Full<Bytes>>, Completion>;

/// Forwards requests to one upstream. Shared by every connection.
pub struct Forwarder {
    client: Client<HttpConnector, UpstreamBody>,
    authority: http::uri::Authority,
    version: Version,
    max_request_body: u64,
    response_timeout: Duration,
    labels: Arc<LabelInterner>,
    default_model: Option<String>,
    default_version: Option<String>,
    metrics: Arc<ProxyMetrics>,
    tap: Option<Tap>,
    otlp: Option<Arc<Otlp>>,
    /// The capture policy of request events, for the prompt and completion of LLM calls.
    llm_text: Option<Arc<CapturePolicy>>,
}

impl Forwarder {
    /// Builds the forwarder from a validated configuration.
    pub fn new(
        config: &Config,
        metrics: Arc<ProxyMetrics>,
        tap: Option<Tap>,
    ) -> anyhow::Result<Self> {
        let p = &config.proxy;
        let upstream = parse_upstream(p.upstream.as_deref().unwrap_or_default())
            .map_err(|why| anyhow::anyhow!("proxy.upstream {why}"))?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(p.connect_timeout));
        connector.set_nodelay(true);
        connector.enforce_http(true);
        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(p.pool_idle_timeout)
            .pool_max_idle_per_host(p.pool_max_idle)
            // A request is re-sent only when the pooled connection closed before a single
            // byte of it was written: the upstream never saw it, so no inference request is
            // ever delivered twice.
            .retry_canceled_requests(true)
            .set_host(true);
        let version = match p.upstream_protocol {
            UpstreamProtocol::Http1 => Version::HTTP_11,
            UpstreamProtocol::H2c => {
                builder.http2_only(true);
                Version::HTTP_2
            }
        };
        Ok(Self {
            client: builder.build(connector),
            authority: upstream.authority,
            version,
            max_request_body: p.max_request_body_bytes,
            response_timeout: p.response_timeout,
            labels: Arc::new(LabelInterner::new(p.max_models, p.max_versions_per_model)),
            default_model: config.model.name.clone(),
            default_version: config.model.version.clone(),
            metrics,
            tap,
            otlp: None,
            llm_text: None,
        })
    }

    /// Puts the prompt and completion text of the LLM calls `policy` samples into their
    /// request events; `None` (the default) captures no text.
    pub fn with_llm_capture(mut self, policy: Option<CapturePolicy>) -> Self {
        self.llm_text = policy.map(Arc::new);
        self
    }

    /// Records spans and OTLP metrics for every request; `None` (the default) records none.
    pub fn with_otlp(mut self, otlp: Option<Arc<Otlp>>) -> Self {
        self.otlp = otlp;
        self
    }

    /// Answers one client request.
    pub async fn handle(
        &self,
        req: Request<Incoming>,
        client: &ClientAddr,
    ) -> Response<ClientBody> {
        let started = Instant::now();
        let received_at = SystemTime::now();
        let request_id = headers::request_id(req.headers());
        let path_identity = identity::from_path(req.uri().path());
        let model = path_identity.model.or(self.default_model.as_deref());
        let version = path_identity.version.or(self.default_version.as_deref());
        let labels = self.labels.labels(model, version);
        let handles = self.metrics.version(&labels);
        let in_flight = self.metrics.in_flight(&handles);
        let url_has_version = path_identity.version.is_some() || self.default_version.is_some();
        let telemetry = self
            .otlp
            .as_ref()
            .map(|otlp| otlp.request(&req, client.ip, &request_id));

        let own_answer = self
            .tap
            .as_ref()
            .and_then(|tap| tap.own_answer(&req, received_at));
        let llm_endpoint = (req.method() == http::Method::POST)
            .then(|| Endpoint::from_route(req.uri().path()))
            .flatten();

        let mut finish = Finish {
            metrics: self.metrics.clone(),
            labels,
            handles,
            started,
            request_id,
            in_flight: Some(in_flight),
            telemetry,
        };
        match self
            .forward(req, client, &mut finish, url_has_version, received_at)
            .await
        {
            Ok(response) => response,
            Err(err) => {
                if let Some(endpoint) = llm_endpoint {
                    // The proxy answers (413, 502, 504): the body's model may be unread.
                    self.metrics.llm.count_error(
                        &finish.labels.model,
                        endpoint,
                        err.status().as_str(),
                    );
                }
                if let Some(own_answer) = own_answer {
                    let (status, body) = rescue::response_body(&err, &finish.request_id);
                    own_answer.export(OwnAnswerFacts {
                        request_id: &finish.request_id,
                        labels: &finish.labels,
                        status,
                        error: EventError {
                            kind: err.reason(),
                            message: err.to_string(),
                        },
                        duration: started.elapsed(),
                        response_bytes: body.len() as u64,
                    });
                }
                finish.error_response(err)
            }
        }
    }

    /// Exports the event of a request hyper answered 431 (no-op without event export).
    pub fn export_refused_head(&self) {
        if let Some(tap) = &self.tap {
            tap.export_refused_head(&self.labels.labels(None, None));
        }
    }

    async fn forward(
        &self,
        req: Request<Incoming>,
        client: &ClientAddr,
        finish: &mut Finish,
        url_has_version: bool,
        received_at: SystemTime,
    ) -> Result<Response<ClientBody>, ProxyError> {
        let (mut parts, body) = req.into_parts();
        if let Some(len) = content_length(&parts.headers)
            && len > self.max_request_body
        {
            return Err(ProxyError::BodyTooLarge {
                limit: self.max_request_body,
            });
        }
        parts.uri = self.upstream_uri(&parts.uri)?;
        parts.version = self.version;
        // Before the tap reads the headers: the `traceparent` going upstream (and so the
        // event's trace id) is the client span's.
        let upstream_call = finish
            .telemetry
            .as_ref()
            .map(|telemetry| telemetry.upstream_call(&mut parts));
        let tapped = self
            .tap
            .as_ref()
            .filter(|_| Tap::wants(&parts.method))
            .map(|tap| {
                let facts = RequestFacts::new(&finish.request_id, received_at, &parts);
                let (request_tap, slot) = tap.request(&facts);
                (tap, request_tap, slot, facts)
            });
        headers::to_upstream(&mut parts.headers, &finish.request_id, client);
        let (request_tap, response_side) = match tapped {
            Some((tap, request_tap, slot, facts)) => (Some(request_tap), Some((tap, slot, facts))),
            None => (None, None),
        };
        let (llm_tap, llm_call) = match (parts.method == http::Method::POST)
            .then(|| {
                LlmRequestTap::for_path(
                    parts.uri.path(),
                    finish.started,
                    LlmSinks {
                        metrics: &self.metrics.llm,
                        labels: &self.labels,
                        text: self.llm_text.as_ref().filter(|policy| {
                            policy.sampled(finish.request_id.to_str().unwrap_or_default())
                        }),
                    },
                    finish.labels.model.clone(),
                )
            })
            .flatten()
        {
            Some((tap, call)) => (Some(tap), Some(call)),
            None => (None, None),
        };
        let body = Observed::new(
            Limited::new(body, self.max_request_body as usize),
            RequestSize {
                histogram: finish.handles.request_size.clone(),
                tap: request_tap,
                llm: llm_tap,
            },
        );

        let sent = Instant::now();
        let upstream = self.client.request(Request::from_parts(parts, body));
        let outcome = match tokio::time::timeout(self.response_timeout, upstream).await {
            Err(_elapsed) => Err(ProxyError::ResponseTimeout(self.response_timeout)),
            Ok(Err(err)) => Err(rescue::classify_upstream(&err, self.max_request_body)),
            Ok(Ok(response)) => Ok(response),
        };
        let upstream_duration = sent.elapsed();
        if let Some(call) = upstream_call {
            let status = outcome
                .as_ref()
                .map(|r| r.status())
                .map_err(ProxyError::reason);
            call.finish(status, upstream_duration, &finish.labels);
        }
        let response = outcome?;
        finish
            .handles
            .upstream_duration
            .observe(upstream_duration.as_secs_f64());

        let (mut parts, body) = response.into_parts();
        if !url_has_version {
            // The server may say which version answered; it is bounded by the interner.
            if let Some(v) = parts
                .headers
                .get(&headers::MODEL_VERSION)
                .and_then(|v| v.to_str().ok())
            {
                let model = finish.labels.model.clone();
                finish.labels = self.labels.labels(Some(&model), Some(v));
                finish.handles = self.metrics.version(&finish.labels);
            }
        }
        let response_tap = response_side
            .map(|(tap, slot, facts)| tap.response(facts, slot, &parts.headers, upstream_duration));
        headers::to_client(&mut parts.headers, &finish.request_id);
        let status = parts.status;
        let mut completion = finish.completion(status);
        completion.tap = response_tap;
        completion.llm = llm_call.map(|call: LlmCall| LlmResponseTap::new(call, &parts.headers));
        let body = Observed::new(Either::Left(body), completion);
        Ok(Response::from_parts(parts, body))
    }

    fn upstream_uri(&self, uri: &Uri) -> Result<Uri, ProxyError> {
        let path_and_query = uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/"));
        Uri::builder()
            .scheme(http::uri::Scheme::HTTP)
            .authority(self.authority.clone())
            .path_and_query(path_and_query)
            .build()
            .map_err(|_| ProxyError::BadRequestTarget)
    }
}

fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// What a request needs to record when its answer ends, whichever answer it is.
struct Finish {
    metrics: Arc<ProxyMetrics>,
    labels: ModelLabels,
    /// The metric handles of `labels`, looked up again when `labels` change.
    handles: VersionHandles,
    started: Instant,
    request_id: HeaderValue,
    in_flight: Option<InFlight>,
    telemetry: Option<RequestTelemetry>,
}

impl Finish {
    fn completion(&mut self, status: StatusCode) -> Completion {
        Completion {
            metrics: self.metrics.clone(),
            labels: self.labels.clone(),
            handles: self.handles.clone(),
            started: self.started,
            status,
            _in_flight: self.in_flight.take(),
            tap: None,
            llm: None,
            telemetry: self.telemetry.take(),
        }
    }

    fn error_response(mut self, err: ProxyError) -> Response<ClientBody> {
        rescue::count(&self.metrics, &self.labels.model, &err);
        let (status, body) = rescue::response_body(&err, &self.request_id);
        tracing::warn!(
            request_id = ?self.request_id,
            model = %self.labels.model,
            status = status.as_u16(),
            "{err}"
        );
        let completion = self.completion(status);
        let mut response = Response::new(Observed::new(Either::Right(Full::new(body)), completion));
        *response.status_mut() = status;
        let h = response.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert(headers::REQUEST_ID.clone(), self.request_id.clone());
        if matches!(err, ProxyError::BodyTooLarge { .. }) {
            // The rest of the body is not read: tell HTTP/1 clients the connection ends here.
            h.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// Records the request body size when the upstream has consumed it, and captures the
/// body for analysis when the request is tapped.
pub struct RequestSize {
    histogram: prometheus::Histogram,
    tap: Option<RequestTap>,
    llm: Option<LlmRequestTap>,
}

impl OnBodyEnd for RequestSize {
    fn on_data(&mut self, data: &Bytes) {
        if let Some(tap) = self.tap.as_mut() {
            tap.on_data(data);
        }
        if let Some(llm) = self.llm.as_mut() {
            llm.on_data(data);
        }
    }

    fn on_end(self, bytes: u64, end: BodyEnd) {
        self.histogram.observe(bytes as f64);
        if let Some(tap) = self.tap {
            tap.on_end(bytes, end);
        }
        if let Some(llm) = self.llm {
            llm.on_end(end);
        }
    }
}

/// Records the request's RED metrics when its response body ends.
pub struct Completion {
    metrics: Arc<ProxyMetrics>,
    labels: ModelLabels,
    handles: VersionHandles,
    started: Instant,
    status: StatusCode,
    _in_flight: Option<InFlight>,
    tap: Option<ResponseTap>,
    llm: Option<LlmResponseTap>,
    telemetry: Option<RequestTelemetry>,
}

impl OnBodyEnd for Completion {
    fn on_data(&mut self, data: &Bytes) {
        if let Some(tap) = self.tap.as_mut() {
            tap.on_data(data);
        }
        if let Some(llm) = self.llm.as_mut() {
            llm.on_data(data);
        }
    }

    fn on_end(self, bytes: u64, end: BodyEnd) {
        let llm = self.llm.map(|llm| Box::new(llm.on_end(self.status, end)));
        let duration = self.started.elapsed();
        self.handles
            .request_duration
            .observe(duration.as_secs_f64());
        self.handles.response_size.observe(bytes as f64);
        self.metrics
            .count_request(&self.labels, &self.handles, self.status);
        if let Some(telemetry) = self.telemetry {
            telemetry.finish(self.status, duration, &self.labels, llm.as_deref());
        }
        if let Some(tap) = self.tap {
            tap.on_end(self.labels, self.status, duration, bytes, end, llm);
        }
    }
}
