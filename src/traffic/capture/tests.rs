use super::*;

#[test]
fn keeps_chunks_up_to_the_limit() {
    let mut c = Capture::new(10);
    c.push(&Bytes::from_static(b"hello"));
    c.push(&Bytes::from_static(b"world"));
    match c.finish(true) {
        CapturedBody::Complete(b) => assert_eq!(b, "helloworld"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn one_byte_over_the_limit_is_too_large() {
    let mut c = Capture::new(10);
    c.push(&Bytes::from_static(b"hello"));
    c.push(&Bytes::from_static(b"world!"));
    c.push(&Bytes::from_static(b"x"));
    assert!(matches!(c.finish(true), CapturedBody::TooLarge));
}

#[test]
fn an_unfinished_stream_is_incomplete() {
    let mut c = Capture::new(10);
    c.push(&Bytes::from_static(b"hel"));
    assert!(matches!(c.finish(false), CapturedBody::Incomplete));
}

#[test]
fn the_capture_keeps_no_reference_to_the_frames_buffer() {
    // A frame is a slice of hyper's read buffer: while anything else holds it, hyper cannot
    // reuse that buffer and allocates a new one for the next read.
    let mut read_buffer = BytesMut::with_capacity(64);
    read_buffer.extend_from_slice(b"{\"inputs\": []}");
    let frame = read_buffer.split().freeze();
    let mut c = Capture::new(100);
    c.push(&frame);
    drop(frame);
    let captured = c.finish(true);
    assert!(
        read_buffer.try_reclaim(64),
        "the capture still holds the read buffer"
    );
    match captured {
        CapturedBody::Complete(b) => assert_eq!(b, "{\"inputs\": []}"),
        other => panic!("{other:?}"),
    }
}
