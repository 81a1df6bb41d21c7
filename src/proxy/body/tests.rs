use super::*;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(u64, BodyEnd)>>>);

impl OnBodyEnd for Seen {
    fn on_end(self, bytes: u64, end: BodyEnd) {
        self.0.lock().unwrap().push((bytes, end));
    }
}

#[tokio::test]
async fn reports_once_with_the_byte_count_when_complete() {
    let seen = Seen::default();
    let body = Observed::new(Full::new(Bytes::from_static(b"hello")), seen.clone());
    let collected = body.collect().await.unwrap().to_bytes();
    assert_eq!(collected, "hello");
    assert_eq!(*seen.0.lock().unwrap(), vec![(5, BodyEnd::Complete)]);
}

#[tokio::test]
async fn a_stream_error_is_reported_as_failed() {
    let seen = Seen::default();
    let frames: Vec<Result<Frame<Bytes>, std::io::Error>> = vec![
        Ok(Frame::data(Bytes::from_static(b"abc"))),
        Err(std::io::Error::other("reset")),
    ];
    let body = Observed::new(
        StreamBody::new(futures_util::stream::iter(frames)),
        seen.clone(),
    );
    assert!(body.collect().await.is_err());
    assert_eq!(*seen.0.lock().unwrap(), vec![(3, BodyEnd::Failed)]);
}

#[test]
fn dropping_early_is_reported_as_abandoned() {
    let seen = Seen::default();
    let frames: Vec<Result<Frame<Bytes>, std::io::Error>> =
        vec![Ok(Frame::data(Bytes::from_static(b"abc")))];
    drop(Observed::new(
        StreamBody::new(futures_util::stream::iter(frames)),
        seen.clone(),
    ));
    assert_eq!(*seen.0.lock().unwrap(), vec![(0, BodyEnd::Abandoned)]);
}
