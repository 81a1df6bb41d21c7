//! JSON reading shared by the decoders.
//!
//! Three pieces: tolerance for the bare `NaN` / `Infinity` / `-Infinity` that TF Serving
//! and Python's `json.dumps` emit (strict serde_json rejects them), a reader that flattens
//! a tensor's `data` (flat or nested, row-major) straight into values without building a
//! tree, and [`Node`], a small ordered tree for the payload parts whose shape varies
//! (`instances`, `predictions`, records).

use super::batch::Value;
use super::error::{DecodeError, DecodeReason, fail, from_json, tagged};
use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

/// Parses a JSON document into `T`, after checking the body is not empty and replacing
/// bare non-finite literals. A document that is not an object is `wrong_protocol`
/// when `T` expects one (`expect_object`).
pub(crate) fn parse<T: DeserializeOwned>(
    body: &[u8],
    expect_object: bool,
) -> Result<T, DecodeError> {
    let body = trim_body(body)?;
    let text = tolerate_non_finite(body);
    if expect_object && body[0] != b'{' {
        // Valid JSON of another shape is another protocol; invalid JSON is just that.
        return match serde_json::from_slice::<de::IgnoredAny>(&text) {
            Ok(_) => fail(
                DecodeReason::WrongProtocol,
                "the body is not a JSON object, which this protocol needs",
            ),
            Err(e) => Err(from_json(&e)),
        };
    }
    serde_json::from_slice(&text).map_err(|e| from_json(&e))
}

/// The body without a UTF-8 byte-order mark and surrounding whitespace; `empty` if
/// nothing is left.
pub(crate) fn trim_body(body: &[u8]) -> Result<&[u8], DecodeError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let body = body.trim_ascii();
    if body.is_empty() {
        return fail(DecodeReason::Empty, "the body is empty");
    }
    Ok(body)
}

// Bare non-finite literals are rewritten into strings that no client sends (they start
// with a NUL character), and every value reader below turns those strings back into
// numbers. A client string that really is "\u0000NaN" would read as NaN: accepted.
const NAN: &[u8] = b"\"\\u0000NaN\"";
const POS_INF: &[u8] = b"\"\\u0000Infinity\"";
const NEG_INF: &[u8] = b"\"\\u0000-Infinity\"";

/// The body with every bare `NaN`, `Infinity` and `-Infinity` outside strings replaced by
/// a sentinel string; borrowed unchanged when there is none (the common case).
///
/// It jumps with `memchr` from one quote, `N` or `I` to the next instead of looking at
/// every byte: on the proxy benchmark's 1 KiB OIP body, the byte-at-a-time loop this
/// replaces was about 18,600 instructions a request (callgrind), an eighth of the analysis
/// worker's work per request.
pub(crate) fn tolerate_non_finite(body: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let (mut i, mut copied) = (0, 0);
    while let Some(found) = memchr::memchr3(b'"', b'N', b'I', &body[i..]) {
        let at = i + found;
        if body[at] == b'"' {
            i = after_string(body, at + 1);
            continue;
        }
        // `-Infinity` is found at its `I`; a `-` cannot end a replaced literal, so one
        // before `copied` is never part of it.
        let start = if body[at] == b'I' && at > copied && body[at - 1] == b'-' {
            at - 1
        } else {
            at
        };
        match non_finite_at(&body[start..]) {
            Some((len, sentinel)) => {
                let o = out.get_or_insert_with(|| Vec::with_capacity(body.len() + 64));
                o.extend_from_slice(&body[copied..start]);
                o.extend_from_slice(sentinel);
                copied = start + len;
                i = copied;
            }
            None => i = at + 1,
        }
    }
    match out {
        None => Cow::Borrowed(body),
        Some(mut o) => {
            o.extend_from_slice(&body[copied..]);
            Cow::Owned(o)
        }
    }
}

/// The index after the quote that closes the string whose contents start at `from`, or
/// the body's length when it is never closed.
fn after_string(body: &[u8], mut from: usize) -> usize {
    while let Some(found) = memchr::memchr2(b'"', b'\\', &body[from..]) {
        let at = from + found;
        if body[at] == b'"' {
            return at + 1;
        }
        // An escape: the next byte is escaped, whatever it is.
        from = at + 2;
        if from >= body.len() {
            return body.len();
        }
    }
    body.len()
}

fn non_finite_at(rest: &[u8]) -> Option<(usize, &'static [u8])> {
    let literals: [(&[u8], &[u8]); 3] = [
        (b"NaN", NAN),
        (b"Infinity", POS_INF),
        (b"-Infinity", NEG_INF),
    ];
    literals.into_iter().find_map(|(literal, sentinel)| {
        let whole_word = !rest
            .get(literal.len())
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
        (rest.starts_with(literal) && whole_word).then_some((literal.len(), sentinel))
    })
}

/// A string read from JSON: a sentinel becomes its number, anything else is text.
fn text_value(s: &str) -> Value {
    match s {
        "\0NaN" => Value::Number(f64::NAN),
        "\0Infinity" => Value::Number(f64::INFINITY),
        "\0-Infinity" => Value::Number(f64::NEG_INFINITY),
        _ => Value::Text(s.to_owned()),
    }
}

fn owned_text_value(s: String) -> Value {
    if s.starts_with('\0') {
        text_value(&s)
    } else {
        Value::Text(s)
    }
}

/// A tensor's `data`, flat or nested to any depth, read in row-major order straight into
/// values. Objects are not tensor elements (`unsupported_shape`).
pub(crate) struct FlatCells(pub Vec<Value>);

impl<'de> Deserialize<'de> for FlatCells {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut out = Vec::new();
        FlattenInto(&mut out).deserialize(d)?;
        Ok(FlatCells(out))
    }
}

struct FlattenInto<'a>(&'a mut Vec<Value>);

impl<'de> DeserializeSeed<'de> for FlattenInto<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FlattenInto<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("tensor data: numbers, strings, booleans or nulls, possibly nested")
    }
    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.0.push(Value::Bool(v));
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.0.push(Value::Number(v as f64));
        Ok(())
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.0.push(Value::Number(v as f64));
        Ok(())
    }
    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.0.push(Value::Number(v));
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.0.push(text_value(v));
        Ok(())
    }
    fn visit_string<E>(self, v: String) -> Result<(), E> {
        self.0.push(owned_text_value(v));
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.0.push(Value::Missing);
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(FlattenInto(&mut *self.0))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<(), A::Error> {
        Err(de::Error::custom(tagged(
            DecodeReason::UnsupportedShape,
            "tensor data holds an object; only scalars are tensor elements",
        )))
    }
}

/// A JSON value whose shape varies by payload, keeping object key order (records become
/// columns in the order the client wrote them). `{"b64": "..."}` reads as text.
#[derive(Debug, PartialEq)]
pub(crate) enum Node {
    Cell(Value),
    List(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Cell(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Cell(Value::Number(v as f64)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Cell(Value::Number(v as f64)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Cell(Value::Number(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Cell(text_value(v)))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Cell(owned_text_value(v)))
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Cell(Value::Missing))
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        self.visit_unit()
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Node::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries: Vec<(String, Node)> = Vec::new();
        // Duplicate keys: the last one wins, as in serde_json's own map. A hash index
        // only once an object is large keeps small objects cheap and large ones linear.
        let mut index: Option<HashMap<String, usize>> = None;
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<Node>()?;
            let existing = match &index {
                Some(index) => index.get(&key).copied(),
                None => entries.iter().position(|(k, _)| *k == key),
            };
            if let Some(at) = existing {
                entries[at].1 = value;
                continue;
            }
            if let Some(index) = &mut index {
                index.insert(key.clone(), entries.len());
            } else if entries.len() >= 16 {
                let mut built: HashMap<String, usize> = entries
                    .iter()
                    .enumerate()
                    .map(|(i, (k, _))| (k.clone(), i))
                    .collect();
                built.insert(key.clone(), entries.len());
                index = Some(built);
            }
            entries.push((key, value));
        }
        if let [(key, Node::Cell(Value::Text(_)))] = entries.as_slice()
            && key == "b64"
            && let Some((_, cell)) = entries.pop()
        {
            return Ok(cell);
        }
        Ok(Node::Object(entries))
    }
}
