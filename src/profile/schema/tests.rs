use super::*;

fn infer(csv_text: &str, overrides: &SchemaOverrides) -> Result<Schema, SchemaError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(csv_text.as_bytes());
    Schema::infer(&mut reader, overrides)
}

#[test]
fn infers_numeric_categorical_boolean_with_missing_values() {
    let schema = infer(
        "Status,Age,Home,Active,Income\ngood,30,rent,true,\nbad,NA,owner,FALSE,129.5\n",
        &SchemaOverrides {
            target: Some("Status".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let kinds: Vec<_> = schema
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.kind, c.role))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("Status", ColumnKind::Categorical, ColumnRole::Target),
            ("Age", ColumnKind::Numeric, ColumnRole::Feature),
            ("Home", ColumnKind::Categorical, ColumnRole::Feature),
            ("Active", ColumnKind::Boolean, ColumnRole::Feature),
            ("Income", ColumnKind::Numeric, ColumnRole::Feature),
        ]
    );
    assert_eq!(schema.features().count(), 4);
    assert_eq!(schema.target().unwrap().name, "Status");
}

#[test]
fn categorical_override_wins_over_numbers() {
    let schema = infer(
        "zip,amount\n10115,3\n20095,4\n",
        &SchemaOverrides {
            categorical: vec!["zip".into()],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(schema.column("zip").unwrap().kind, ColumnKind::Categorical);
    assert_eq!(schema.column("amount").unwrap().kind, ColumnKind::Numeric);
}

#[test]
fn unknown_override_column_lists_the_real_ones() {
    let err = infer(
        "a,b\n1,2\n",
        &SchemaOverrides {
            target: Some("Status".into()),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "--target names column \"Status\", which is not in the header; the columns are: a, b"
    );
}

#[test]
fn empty_header_only_ragged_and_duplicate_inputs_are_refused() {
    let d = SchemaOverrides::default();
    assert!(matches!(infer("", &d), Err(SchemaError::Empty)));
    assert!(matches!(infer("a,b\n", &d), Err(SchemaError::HeaderOnly)));
    assert!(matches!(
        infer("a,b\n1,2\n3\n", &d),
        Err(SchemaError::Ragged {
            row: 3,
            found: 1,
            expected: 2
        })
    ));
    assert!(matches!(
        infer("a,a\n1,2\n", &d),
        Err(SchemaError::DuplicateColumn { .. })
    ));
}

#[test]
fn nan_is_a_number_and_na_is_missing() {
    assert!(is_missing(" NA "));
    assert!(is_missing(""));
    assert!(!is_missing("NaN"));
    let schema = infer("x\nNaN\n1.5\nNA\n", &SchemaOverrides::default()).unwrap();
    assert_eq!(schema.columns[0].kind, ColumnKind::Numeric);
}
