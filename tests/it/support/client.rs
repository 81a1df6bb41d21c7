//! A plain HTTP client for the tests (hyper, HTTP/1.1 or h2c prior knowledge).

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub fn http1() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

pub fn h2c() -> HttpClient {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

/// A whole answer.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `req` and reads the whole answer.
pub async fn send(client: &HttpClient, req: Request<Full<Bytes>>) -> Answer {
    let response = client.request(req).await.expect("the request failed");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("the body failed").to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// A `GET url`.
pub async fn get(client: &HttpClient, url: &str) -> Answer {
    send(client, Request::get(url).body(Full::default()).unwrap()).await
}

/// A `POST url` with a body.
pub async fn post(client: &HttpClient, url: &str, body: impl Into<Bytes>) -> Answer {
    send(
        client,
        Request::post(url)
            .header("content-type", "application/json")
            .body(Full::new(body.into()))
            .unwrap(),
    )
    .await
}

/// `parts` and `body` sent on to `backend` (`http://HOST:PORT`); its status, content type
/// and body back (the test fronts' way to reach the real node).
pub async fn relay(
    parts: &http::request::Parts,
    body: Bytes,
    backend: &str,
) -> Response<Full<Bytes>> {
    let mut request = Request::builder()
        .method(parts.method.clone())
        .uri(format!("{backend}{}", parts.uri.path_and_query().unwrap()));
    if let Some(content_type) = parts.headers.get(http::header::CONTENT_TYPE) {
        request = request.header(http::header::CONTENT_TYPE, content_type);
    }
    let answer = send(&http1(), request.body(Full::new(body)).unwrap()).await;
    let mut response = Response::builder().status(answer.status);
    if let Some(content_type) = answer.headers.get(http::header::CONTENT_TYPE) {
        response = response.header(http::header::CONTENT_TYPE, content_type);
    }
    response.body(Full::new(answer.body)).unwrap()
}
