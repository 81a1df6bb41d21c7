use super::*;
use crate::traffic::capture::CapturedBody;
use crate::traffic::exchange::CapturedMessage;
use crate::traffic::identity::ModelLabels;
use bytes::Bytes;

fn exchange(body_len: usize) -> Exchange {
    let message = |len: usize| CapturedMessage {
        content_type: None,
        inference_header_len: None,
        bytes: len as u64,
        body: CapturedBody::Complete(Bytes::from(vec![b'x'; len])),
    };
    Exchange {
        request_id: "r".into(),
        received_at: std::time::SystemTime::now(),
        labels: ModelLabels {
            model: "m".into(),
            version: "1".into(),
        },
        method: http::Method::POST,
        path: "/v2/models/m/infer".into(),
        status: http::StatusCode::OK,
        duration: Default::default(),
        upstream_duration: None,
        request: message(body_len),
        response: message(0),
        response_end: crate::traffic::BodyEnd::Complete,
        traceparent: None,
        llm: None,
    }
}

fn dropped(queue: &AnalysisQueue) -> u64 {
    queue.dropped.with_label_values(&["queue_full"]).get()
}

#[test]
fn the_count_limit_drops_the_newest_and_counts_it() {
    let (queue, receiver) = AnalysisQueue::new(2, usize::MAX, &Registry::new()).unwrap();
    for _ in 0..3 {
        queue.offer(exchange(10));
    }
    assert_eq!(dropped(&queue), 1);
    assert_eq!(receiver.depth.get(), 2);
    assert!(receiver.recv().is_some());
    assert_eq!(receiver.depth.get(), 1);
}

#[test]
fn the_byte_limit_holds_whatever_the_count() {
    let one = exchange(1000).footprint();
    let (queue, receiver) = AnalysisQueue::new(1000, one * 3, &Registry::new()).unwrap();
    for _ in 0..10 {
        queue.offer(exchange(1000));
    }
    assert_eq!(dropped(&queue), 7);
    // Taking one out makes room for exactly one more.
    receiver.recv().unwrap();
    queue.offer(exchange(1000));
    assert_eq!(dropped(&queue), 7);
    queue.offer(exchange(1000));
    assert_eq!(dropped(&queue), 8);
}

#[test]
fn try_recv_takes_what_waits_and_frees_its_room() {
    let one = exchange(1000).footprint();
    let (queue, receiver) = AnalysisQueue::new(1000, one * 2, &Registry::new()).unwrap();
    assert!(receiver.try_recv().is_none());
    queue.offer(exchange(1000));
    queue.offer(exchange(1000));
    assert_eq!(receiver.depth.get(), 2);
    assert!(receiver.try_recv().is_some());
    assert_eq!(receiver.depth.get(), 1);
    // Its bytes are released: one more fits, a second does not.
    queue.offer(exchange(1000));
    queue.offer(exchange(1000));
    assert_eq!(dropped(&queue), 1);
    assert!(receiver.try_recv().is_some());
    assert!(receiver.try_recv().is_some());
    assert!(receiver.try_recv().is_none());
}
