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
