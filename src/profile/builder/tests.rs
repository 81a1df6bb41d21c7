use super::*;
use crate::profile::format::CategorySlot;
use crate::profile::schema::SchemaOverrides;

#[test]
fn numeric_column_statistics_are_exact() {
    let p = profile_of(
        "x\n1\n2\n3\n4\nNA\nnull\n",
        &SchemaOverrides::default(),
        &ProfileOptions::default(),
    );
    let x = p.column("x").unwrap();
    assert_eq!((x.count, x.missing), (6, 2));
    assert!((x.missing_rate - 2.0 / 6.0).abs() < 1e-15);
    let n = x.numeric.as_ref().unwrap();
    assert_eq!((n.valid, n.min, n.max), (4, 1.0, 4.0));
    assert!((n.mean - 2.5).abs() < 1e-15);
    // np.std([1, 2, 3, 4]) = 1.118033988749895
    assert!((n.std - 1.118033988749895).abs() < 1e-15);
    assert_eq!(n.sample, vec![1.0, 2.0, 3.0, 4.0]);
    assert!(n.sample_complete);
    assert!((n.proportions.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert_eq!(x.distinct, 4);
}

#[test]
fn words_and_non_finite_values_in_numeric_columns_are_counted_not_fatal() {
    let mut builder = ProfileBuilder::new(
        &Schema {
            columns: vec![crate::profile::ColumnSchema {
                name: "x".into(),
                kind: ColumnKind::Numeric,
                role: ColumnRole::Feature,
            }],
        },
        &ProfileOptions::default(),
    );
    for v in ["1", "abc", "NaN", "inf", "-Infinity", "2"] {
        builder
            .push_record(&csv::StringRecord::from(vec![v]))
            .unwrap();
    }
    let p = builder.finish("t");
    let x = p.column("x").unwrap();
    assert_eq!((x.type_errors, x.non_finite), (1, 3));
    assert_eq!(x.numeric.as_ref().unwrap().valid, 2);
}

#[test]
fn categories_keep_the_top_k_and_fold_the_rest_into_other() {
    let mut text = "c\n".to_string();
    for (label, n) in [("a", 5), ("b", 3), ("c", 2), ("d", 1)] {
        for _ in 0..n {
            text.push_str(label);
            text.push('\n');
        }
    }
    let options = ProfileOptions {
        top_k: 2,
        ..Default::default()
    };
    let p = profile_of(&text, &SchemaOverrides::default(), &options);
    let cat = p.column("c").unwrap().categorical.as_ref().unwrap();
    let names: Vec<_> = cat
        .categories
        .iter()
        .map(|c| (c.value.as_str(), c.count))
        .collect();
    assert_eq!(names, vec![("a", 5), ("b", 3)]);
    assert_eq!(cat.other_count, 3);
    assert!((cat.other_proportion - 3.0 / 11.0).abs() < 1e-15);
    assert_eq!(cat.slot_of("b"), Some(CategorySlot::Named(1)));
    assert_eq!(cat.slot_of("d"), Some(CategorySlot::Other));
    assert_eq!(cat.slot_of("never"), None);
}

#[test]
fn id_columns_are_left_out_and_targets_kept() {
    let p = profile_of(
        "id,y,x\n1,good,3\n2,bad,4\n",
        &SchemaOverrides {
            id: Some("id".into()),
            target: Some("y".into()),
            ..Default::default()
        },
        &ProfileOptions::default(),
    );
    let names: Vec<_> = p.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["y", "x"]);
    assert_eq!(p.column("y").unwrap().role, ColumnRole::Target);
}

#[test]
fn a_large_column_is_sampled_reproducibly_with_exact_moments() {
    let mut text = "x\n".to_string();
    for i in 0..50_000 {
        text.push_str(&format!("{}\n", i % 977));
    }
    let options = ProfileOptions {
        sample_size: 1000,
        ..Default::default()
    };
    let a = profile_of(&text, &SchemaOverrides::default(), &options);
    let b = profile_of(&text, &SchemaOverrides::default(), &options);
    let n = a.column("x").unwrap().numeric.as_ref().unwrap();
    assert_eq!(n.sample.len(), 1000);
    assert!(!n.sample_complete);
    assert_eq!((n.min, n.max, n.valid), (0.0, 976.0, 50_000));
    assert_eq!(a.to_json(), b.to_json(), "same data and seed, same profile");
    // Equal-frequency edges from the sample: each bin holds roughly a tenth.
    for p in &n.proportions {
        assert!((0.06..0.14).contains(p), "{:?}", n.proportions);
    }
}

#[test]
fn the_json_round_trips_and_other_formats_are_refused() {
    let p = profile_of(
        "x,c\n1,a\n2,b\n",
        &SchemaOverrides::default(),
        &ProfileOptions::default(),
    );
    let json = p.to_json();
    assert!(json.contains("\"format\": \"modelwatch.profile/v1\""));
    let back = Profile::from_json(json.as_bytes()).unwrap();
    assert_eq!(back.to_json(), json);
    assert_eq!(
        back.column("c")
            .unwrap()
            .categorical
            .as_ref()
            .unwrap()
            .slot_of("b"),
        Some(CategorySlot::Named(1))
    );
    let err = Profile::from_json(br#"{"format":"modelwatch.profile/v9"}"#).unwrap_err();
    assert!(err.to_string().contains("not supported"), "{err}");
}

#[test]
fn a_file_larger_than_the_sample_gets_exact_proportions_on_a_second_pass() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.csv");
    let mut text = "x\n".to_string();
    for i in 0..20_000u32 {
        // Skewed: a spike at 0 and a long tail.
        let v = if i % 3 == 0 { 0 } else { (i * 7919) % 1000 };
        text.push_str(&format!("{v}\n"));
    }
    std::fs::write(&path, &text).unwrap();
    let schema = Schema::infer(
        &mut csv::Reader::from_path(&path).unwrap(),
        &SchemaOverrides::default(),
    )
    .unwrap();
    let options = ProfileOptions {
        sample_size: 500,
        ..Default::default()
    };
    let profile = build_from_csv(&path, &schema, &options, "big.csv").unwrap();
    let n = profile.column("x").unwrap().numeric.as_ref().unwrap();
    assert!(!n.sample_complete);
    let mut counts = vec![0u64; n.bin_count()];
    for line in text.lines().skip(1) {
        counts[n.bin_of(line.parse().unwrap())] += 1;
    }
    let exact: Vec<f64> = counts.iter().map(|&c| c as f64 / 20_000.0).collect();
    assert_eq!(n.proportions, exact);
}

#[test]
fn the_row_sample_keeps_whole_feature_rows_typed_as_the_columns() {
    let text = "id,x,flag,colour,y\n1,1.5,true,red,0\n2,,FALSE,,1\n3,inf,,blue,0\n";
    let overrides = SchemaOverrides {
        id: Some("id".into()),
        target: Some("y".into()),
        ..Default::default()
    };
    let p = profile_of(text, &overrides, &ProfileOptions::default());
    assert_eq!(p.column("x").unwrap().kind, ColumnKind::Numeric);
    assert_eq!(p.column("flag").unwrap().kind, ColumnKind::Boolean);
    let sample = p.row_sample.as_ref().expect("a row sample");
    // Features only: no id, no target.
    assert_eq!(sample.columns, ["x", "flag", "colour"]);
    assert_eq!(sample.seen, 3);
    let text = |s: &str| Some(RowCell::Text(s.into()));
    assert_eq!(
        sample.rows,
        vec![
            vec![Some(RowCell::Number(1.5)), text("true"), text("red")],
            // A missing number, a missing category: no value.
            vec![None, text("false"), None],
            // Non-finite numbers and a missing boolean: no value.
            vec![None, None, text("blue")],
        ]
    );
}

#[test]
fn the_row_sample_is_bounded_and_can_be_turned_off() {
    let mut text = "x,c\n".to_string();
    for i in 0..1000 {
        text.push_str(&format!("{i},{}\n", i % 3));
    }
    let options = ProfileOptions {
        row_sample_size: 100,
        ..Default::default()
    };
    let p = profile_of(&text, &SchemaOverrides::default(), &options);
    let sample = p.row_sample.as_ref().unwrap();
    assert_eq!((sample.rows.len(), sample.seen), (100, 1000));
    // Rows stay whole: each sampled x comes with its own c.
    for row in &sample.rows {
        let Some(RowCell::Number(x)) = row[0] else {
            panic!("{row:?}")
        };
        assert_eq!(row[1], Some(RowCell::Number((x as u64 % 3) as f64)));
    }
    let off = ProfileOptions {
        row_sample_size: 0,
        ..Default::default()
    };
    assert!(
        profile_of(&text, &SchemaOverrides::default(), &off)
            .row_sample
            .is_none()
    );
}

#[test]
fn a_profile_written_before_row_samples_reads_without_one() {
    let p = profile_of(
        "x\n1\n2\n",
        &SchemaOverrides::default(),
        &ProfileOptions::default(),
    );
    let mut json: serde_json::Value = serde_json::from_str(&p.to_json()).unwrap();
    assert!(json["row_sample"].is_object());
    json.as_object_mut().unwrap().remove("row_sample");
    json["options"]
        .as_object_mut()
        .unwrap()
        .remove("row_sample_size");
    let old = Profile::from_json(json.to_string().as_bytes()).unwrap();
    assert!(old.row_sample.is_none());
    assert_eq!(old.options.row_sample_size, 0);
}
