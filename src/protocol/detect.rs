//! Which protocol a request speaks: from its route first, then from its body's shape.
//!
//! Routes may carry a prefix (an ingress path such as `/seldon/<ns>/<deployment>` or
//! `/serving/<ns>/<service>`), so the known route is matched at the end of the path. The
//! body sniff reads only the top-level keys and the kind of their values; a body cut at
//! `analysis.max_body_bytes` is still sniffed from the keys seen before the cut.

use super::Protocol;
use super::json;
use serde::Deserializer;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// The protocol of a request, or `None` when neither the route nor the body says.
pub fn detect(path: &str, content_type: Option<&str>, body: &[u8]) -> Option<Protocol> {
    if let Some(protocol) = from_route(path) {
        return Some(protocol);
    }
    if content_type.is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|media| media.trim().eq_ignore_ascii_case("text/csv"))
    }) {
        return Some(Protocol::Mlflow);
    }
    from_body(body)
}

/// The protocol a route belongs to.
pub(crate) fn from_route(path: &str) -> Option<Protocol> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    // …/v2/models/<m>[/versions/<v>]/infer
    if let Some(at) = segments.windows(2).position(|w| w == ["v2", "models"])
        && matches!(
            segments[at + 2..],
            [_, "infer"] | [_, "versions", _, "infer"]
        )
    {
        return Some(Protocol::OpenInference);
    }
    // …/v1/models/<m>[/versions/<v> | /labels/<l>]:predict
    if let Some(at) = segments.windows(2).position(|w| w == ["v1", "models"])
        && let [.., last] = segments[at + 2..]
        && last.ends_with(":predict")
        && matches!(segments[at + 2..].len(), 1 | 3)
    {
        return Some(Protocol::KServeV1);
    }
    match segments.as_slice() {
        [.., "invocations"] => Some(Protocol::Mlflow),
        [.., "api", "v1.0", "predictions"] => Some(Protocol::SeldonV1),
        _ => None,
    }
}

/// What the top level of a body looked like.
#[derive(Default)]
struct Sniff {
    /// The body is a JSON list.
    list: bool,
    /// Top-level keys and the kind of their values.
    keys: Vec<(String, Kind)>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Scalar,
    Object,
    /// A list, and the kind of its first element (`None` when empty).
    List(Option<Shallow>),
    /// The body ended before the value was complete.
    Unknown,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Shallow {
    Scalar,
    List,
    Object,
}

fn from_body(body: &[u8]) -> Option<Protocol> {
    let body = json::trim_body(body).ok()?;
    let text = json::tolerate_non_finite(body);
    let mut sniff = Sniff::default();
    let mut de = serde_json::Deserializer::from_slice(&text);
    // Errors are fine here: a truncated body still told us its first keys.
    let _ = (&mut de).deserialize_any(TopVisitor(&mut sniff));
    if sniff.list {
        return Some(Protocol::GenericJson);
    }
    let kind = |name: &str| {
        sniff
            .keys
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, kind)| *kind)
    };
    if let Some(Kind::List(first)) = kind("inputs")
        && first == Some(Shallow::Object)
    {
        return Some(Protocol::OpenInference);
    }
    if kind("dataframe_split").is_some() || kind("dataframe_records").is_some() {
        return Some(Protocol::Mlflow);
    }
    if kind("instances").is_some() || kind("inputs").is_some() {
        return Some(Protocol::KServeV1);
    }
    if matches!(kind("data"), Some(Kind::Object | Kind::Unknown)) {
        return Some(Protocol::SeldonV1);
    }
    let columns = sniff
        .keys
        .iter()
        .all(|(_, k)| matches!(k, Kind::List(_) | Kind::Unknown));
    let record = sniff
        .keys
        .iter()
        .all(|(_, k)| matches!(k, Kind::Scalar | Kind::Unknown));
    (!sniff.keys.is_empty() && (columns || record)).then_some(Protocol::GenericJson)
}

struct TopVisitor<'a>(&'a mut Sniff);

impl<'de> Visitor<'de> for TopVisitor<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object or list")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.0.list = true;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            self.0.keys.push((key, Kind::Unknown));
            if let Some((_, slot)) = self.0.keys.last_mut() {
                map.next_value_seed(KindSeed(slot))?;
            }
        }
        Ok(())
    }
}

/// Records a value's kind as soon as it is known (so a cut body still tells it), then
/// skips the rest of the value.
struct KindSeed<'a>(&'a mut Kind);

impl<'de> DeserializeSeed<'de> for KindSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl KindSeed<'_> {
    fn scalar<E>(self) -> Result<(), E> {
        *self.0 = Kind::Scalar;
        Ok(())
    }
}

impl<'de> Visitor<'de> for KindSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        self.scalar()
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        self.scalar()
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.scalar()
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        *self.0 = Kind::List(None);
        seq.next_element_seed(FirstElement(self.0))?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        *self.0 = Kind::Object;
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

/// The first element of a list value: records its shallow kind into the list's slot.
struct FirstElement<'a>(&'a mut Kind);

impl<'de> DeserializeSeed<'de> for FirstElement<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl FirstElement<'_> {
    fn scalar<E>(self) -> Result<(), E> {
        *self.0 = Kind::List(Some(Shallow::Scalar));
        Ok(())
    }
}

impl<'de> Visitor<'de> for FirstElement<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        self.scalar()
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        self.scalar()
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.scalar()
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        *self.0 = Kind::List(Some(Shallow::List));
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        *self.0 = Kind::List(Some(Shallow::Object));
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }
}
