use super::*;

fn parse_in(chunks: &[&[u8]], limit: usize) -> (Vec<SseEvent>, u64) {
    let mut parser = SseParser::new(limit);
    let mut events = Vec::new();
    for chunk in chunks {
        parser.push(chunk, &mut |e| events.push(e));
    }
    (events, parser.dropped)
}

fn data(events: &[SseEvent]) -> Vec<&str> {
    events.iter().map(|e| e.data.as_str()).collect()
}

const STREAM: &[u8] = b"\xEF\xBB\xBF: keep-alive\r\ndata: {\"a\":1}\r\n\r\nevent: error\ndata: x\ndata:y\n\ndata: [DONE]\r\rid: 7\n\n";

#[test]
fn events_are_the_same_at_every_chunk_boundary() {
    let (whole, _) = parse_in(&[STREAM], 1 << 20);
    assert_eq!(data(&whole), ["{\"a\":1}", "x\ny", "[DONE]"]);
    assert_eq!(whole[1].event.as_deref(), Some("error"));
    for a in 0..=STREAM.len() {
        for b in a..=STREAM.len() {
            let (split, _) = parse_in(&[&STREAM[..a], &STREAM[a..b], &STREAM[b..]], 1 << 20);
            assert_eq!(split, whole, "split at {a} and {b}");
        }
    }
}

#[test]
fn cr_then_lf_in_the_next_chunk_is_one_line_end() {
    let (events, _) = parse_in(&[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"], 1 << 20);
    assert_eq!(data(&events), ["a\nb"]);
}

#[test]
fn an_event_past_the_limit_is_dropped_and_counted_and_the_next_one_kept() {
    let (events, dropped) = parse_in(
        &[
            b"data: 0123456789012345678901234567890\n\n",
            b"data: ok\n\n",
        ],
        16,
    );
    assert_eq!(data(&events), ["ok"]);
    assert_eq!(dropped, 1);
}

#[test]
fn a_blank_line_without_data_dispatches_nothing() {
    let (events, _) = parse_in(&[b"\n\n: comment\n\nevent: ping\n\n"], 1 << 20);
    assert!(events.is_empty());
}
