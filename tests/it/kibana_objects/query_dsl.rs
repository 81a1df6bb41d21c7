//! The search requests Kibana sends for a saved search or a Lens layer, built from the saved
//! object so that the real cluster can run them.
//!
//! Saved searches use `language: lucene`, which Kibana sends as a `query_string` query
//! (with its default `analyze_wildcard: true`) — so the exact stored string runs here, no
//! translation. Their filters are stored with their query DSL (`filter[].query`), which
//! Kibana sends as is (negated ones under `must_not`, disabled ones not at all). Kibana adds
//! the time picker's range on the data view's time field; the tests pass a range that
//! covers their traffic.
//!
//! Lens layers become the aggregation tree Lens builds: bucket columns nested in
//! `columnOrder` order, the metric inside. Two simplifications, said here: a date histogram
//! with interval `auto` gets a fixed 1 m interval (Kibana derives it from the time range),
//! and the `other` bucket is not requested.

use serde_json::{Map, Value, json};

use super::saved_objects::SavedObject;

/// The `_search` body for a saved search over the last `minutes` minutes, `size` hits.
pub fn saved_search_request(search: &SavedObject, time_field: &str, size: usize) -> Value {
    let source = search.search_source();
    let query = &source["query"];
    assert_eq!(
        query["language"],
        "lucene",
        "{}: the saved searches use Lucene so the stored string runs as is",
        search.key()
    );
    let mut must = vec![json!({"query_string": {
        "query": query["query"].as_str().unwrap(),
        "analyze_wildcard": true,
    }})];
    if query["query"].as_str() == Some("") {
        must = vec![json!({"match_all": {}})];
    }
    let mut filter = vec![time_range(time_field)];
    let mut must_not = Vec::new();
    for stored in source["filter"].as_array().into_iter().flatten() {
        if stored["meta"]["disabled"] == true {
            continue;
        }
        let dsl = stored["query"].clone();
        assert!(
            dsl.is_object(),
            "{}: a filter without its query DSL: {stored}",
            search.key()
        );
        if stored["meta"]["negate"] == true {
            must_not.push(dsl);
        } else {
            filter.push(dsl);
        }
    }
    let sort: Vec<Value> = search.attributes["sort"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|pair| json!({pair[0].as_str().unwrap(): {"order": pair[1]}}))
        .collect();
    json!({
        "size": size,
        "query": {"bool": {"must": must, "filter": filter, "must_not": must_not}},
        "sort": sort,
    })
}

/// Kibana's time picker: the last hour up to a minute ahead (clocks of the test and the
/// node are the same machine's).
pub fn time_range(time_field: &str) -> Value {
    json!({"range": {time_field: {"gte": "now-1h", "lte": "now+1m"}}})
}

/// The aggregation request of one Lens layer: no hits, the layer's buckets and metric.
pub fn lens_layer_request(lens: &SavedObject, layer: &Value, time_field: &str) -> Value {
    let columns = layer["columns"].as_object().unwrap();
    let order: Vec<&str> = layer["columnOrder"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let (buckets, metrics): (Vec<&str>, Vec<&str>) = order
        .iter()
        .partition(|id| columns[**id]["isBucketed"] == true);
    let mut metric_aggs = Map::new();
    for id in &metrics {
        if let Some(agg) = metric_agg(lens, &columns[*id]) {
            metric_aggs.insert(id.to_string(), agg);
        }
    }
    // Innermost first: the last bucket column holds the metrics.
    let mut inner = metric_aggs;
    for id in buckets.iter().rev() {
        let (mut agg, order_metric) = bucket_agg(lens, columns, id);
        if let Some(order_metric) = order_metric {
            inner.insert(ORDER_AGG.to_string(), order_metric);
        }
        if !inner.is_empty() {
            agg["aggs"] = Value::Object(inner);
        }
        inner = Map::new();
        inner.insert(id.to_string(), agg);
    }
    json!({
        "size": 0,
        "query": {"bool": {"filter": [time_range(time_field)]}},
        "aggs": Value::Object(inner),
    })
}

/// Terms ordered by a metric get that metric as a direct sub-aggregation (Lens calls it
/// `orderAgg`): a terms aggregation can only order by its own children.
const ORDER_AGG: &str = "orderAgg";

/// A bucket column's aggregation, and the metric it orders by when it needs one of its own.
fn bucket_agg(
    lens: &SavedObject,
    columns: &Map<String, Value>,
    id: &str,
) -> (Value, Option<Value>) {
    let column = &columns[id];
    let field = column["sourceField"].as_str().unwrap();
    match column["operationType"].as_str() {
        Some("date_histogram") => {
            let interval = column["params"]["interval"].as_str().unwrap_or("auto");
            let interval = if interval == "auto" { "1m" } else { interval };
            let agg = json!({"date_histogram": {"field": field, "fixed_interval": interval,
                                                "min_doc_count": 0}});
            (agg, None)
        }
        Some("terms") => {
            let params = &column["params"];
            let direction = &params["orderDirection"];
            let (order, order_metric) = match params["orderBy"]["type"].as_str() {
                Some("column") => {
                    let by = &columns[params["orderBy"]["columnId"].as_str().unwrap()];
                    match metric_agg(lens, by) {
                        None => (json!({"_count": direction}), None),
                        Some(metric) => {
                            let path = match by["operationType"].as_str() {
                                Some("percentile") => {
                                    format!("{ORDER_AGG}[{}]", by["params"]["percentile"])
                                }
                                _ => ORDER_AGG.to_string(),
                            };
                            (json!({path: direction}), Some(metric))
                        }
                    }
                }
                Some("alphabetical") => (json!({"_key": direction}), None),
                other => panic!("{}: terms order {other:?} not handled", lens.key()),
            };
            let agg = json!({"terms": {"field": field, "size": params["size"], "order": order}});
            (agg, order_metric)
        }
        other => panic!(
            "{} column {id}: bucket operation {other:?} not handled",
            lens.key()
        ),
    }
}

/// The metric aggregation of a column; `None` for a count (a bucket's `doc_count`).
fn metric_agg(lens: &SavedObject, column: &Value) -> Option<Value> {
    let field = column["sourceField"].as_str().unwrap();
    match column["operationType"].as_str() {
        Some("count") => None,
        Some("percentile") => Some(json!({"percentiles": {
            "field": field, "percents": [column["params"]["percentile"]],
        }})),
        Some(op @ ("max" | "min" | "avg" | "sum")) => Some(json!({op: {"field": field}})),
        Some("average") => Some(json!({"avg": {"field": field}})),
        other => panic!("{}: metric {other:?} not handled", lens.key()),
    }
}

/// The value a metric column shows for one bucket.
pub fn metric_value(bucket: &Value, column_id: &str, column: &Value) -> Option<f64> {
    match column["operationType"].as_str() {
        Some("count") => bucket["doc_count"].as_f64(),
        Some("percentile") => {
            let values = &bucket[column_id]["values"];
            values.as_object()?.values().next()?.as_f64()
        }
        _ => bucket[column_id]["value"].as_f64(),
    }
}
