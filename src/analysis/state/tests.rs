use super::*;
use crate::protocol::Column;

fn reference() -> Arc<LoadedReference> {
    let profile = crate::analysis::window::tests::profile();
    Arc::new(LoadedReference::new("test", profile, 100))
}

fn value(registry: &prometheus::Registry, name: &str, bin: Option<&str>) -> f64 {
    registry
        .gather()
        .iter()
        .filter(|family| family.name() == name)
        .flat_map(|family| family.get_metric().iter())
        .filter(|m| {
            bin.is_none_or(|bin| {
                m.get_label()
                    .iter()
                    .any(|l| l.name() == "bin" && l.value() == bin)
            })
        })
        .map(|m| m.get_counter().get_value())
        .sum()
}

#[test]
fn every_cell_of_an_exchange_is_counted_once_when_record_returns() {
    let registry = prometheus::Registry::new();
    let metrics = LiveMetrics::register(&registry).unwrap();
    let reference = reference();
    let labels = ModelLabels {
        model: "m".into(),
        version: "1".into(),
    };
    let mut state = ModelVersionState::new(
        reference.clone(),
        labels,
        &AnalysisConfig::default(),
        &metrics,
    );
    let cells = [
        Value::Number(1.0),
        Value::Number(1.5),
        Value::Number(98.0),
        Value::Missing,
        Value::Number(500.0),
        Value::Text("not a number".into()),
    ];
    let batch = Batch {
        columns: vec![Column {
            name: Some("x".into()),
            values: cells.to_vec(),
        }],
        rows: cells.len(),
        model_version: None,
    };
    let x = &reference.profile.columns[reference.features[0]];
    let low_bin = x.numeric.as_ref().unwrap().bin_of(1.0).to_string();
    for exchange in 1..=2 {
        state.record(&batch, None, Instant::now());
        let n = f64::from(exchange);
        // Four numbers binned (the out-of-range one in the last bin), the two low ones in
        // the same bin; a missing cell and a type error counted apart.
        assert_eq!(
            value(&registry, "modelwatch_feature_bin_total", None),
            4.0 * n
        );
        assert_eq!(
            value(&registry, "modelwatch_feature_bin_total", Some(&low_bin)),
            2.0 * n
        );
        assert_eq!(
            value(&registry, "modelwatch_feature_missing_total", None),
            n
        );
        assert_eq!(
            value(&registry, "modelwatch_feature_out_of_range_total", None),
            n
        );
        assert_eq!(
            value(&registry, "modelwatch_feature_type_errors_total", None),
            n
        );
    }
}
