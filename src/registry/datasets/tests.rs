use super::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn identical_bytes_return_the_existing_version() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = Home::create(&dir.path().join("home")).unwrap();
    let file = write(dir.path(), "a.csv", "x,y\n1,a\n2,b\n3,\n");
    let first = home
        .add_dataset("demo", &file, &SchemaOverrides::default())
        .unwrap();
    assert!(first.created);
    assert_eq!(first.dataset.rows, 3);
    assert_eq!(first.dataset.version.len(), VERSION_LEN);
    assert!(
        first
            .dataset
            .sha256
            .as_str()
            .starts_with(&first.dataset.version)
    );

    let again = home
        .add_dataset("demo", &file, &SchemaOverrides::default())
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.dataset, first.dataset);
    assert_eq!(home.list_datasets().unwrap().len(), 1);
}

#[test]
fn name_alone_resolves_to_the_latest_version() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = Home::create(&dir.path().join("home")).unwrap();
    let v1 = home
        .add_dataset(
            "demo",
            &write(dir.path(), "1.csv", "x\n1\n"),
            &Default::default(),
        )
        .unwrap()
        .dataset;
    let v2 = home
        .add_dataset(
            "demo",
            &write(dir.path(), "2.csv", "x\n2\n"),
            &Default::default(),
        )
        .unwrap()
        .dataset;
    assert_eq!(home.resolve_dataset("demo").unwrap(), v2);
    assert_eq!(home.resolve_dataset(&v1.spec()).unwrap(), v1);
    let err = home.resolve_dataset("demo@000000000000").unwrap_err();
    assert!(format!("{err:#}").contains(&v1.version), "{err:#}");
    let err = home.resolve_dataset("nope").unwrap_err();
    assert!(
        format!("{err:#}").contains("modelwatch dataset add nope"),
        "{err:#}"
    );
}

#[test]
fn a_ragged_row_anywhere_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = Home::create(&dir.path().join("home")).unwrap();
    let file = write(dir.path(), "r.csv", "x,y\n1,2\n3,4\n5\n");
    let err = home
        .add_dataset("demo", &file, &Default::default())
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("r.csv") && text.contains("row 4"), "{text}");
    // Past the rows schema inference samples: the full pass must still catch it.
    let mut text = "x,y\n".to_string();
    for i in 0..10_000 {
        text.push_str(&format!("{i},{i}\n"));
    }
    text.push_str("5\n");
    let file = write(dir.path(), "late.csv", &text);
    let err = home
        .add_dataset("demo", &file, &Default::default())
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("late.csv") && text.contains("line 10002"),
        "{text}"
    );
    assert!(home.list_datasets().unwrap().is_empty());
}

#[test]
fn the_stored_copy_is_verified_on_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = Home::create(&dir.path().join("home")).unwrap();
    let file = write(dir.path(), "a.csv", "x\n1\n");
    let d = home
        .add_dataset("demo", &file, &Default::default())
        .unwrap()
        .dataset;
    let path = home.dataset_file(&d).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "x\n1\n");
    std::fs::write(&path, "x\n9\n").unwrap();
    let err = format!("{:#}", home.dataset_file(&d).unwrap_err());
    assert!(err.contains("demo@") && err.contains("corrupted"), "{err}");
}

#[test]
fn specs_parse_name_and_version() {
    let spec: DatasetSpec = "credit@ABCDEF012345".parse().unwrap();
    assert_eq!(spec.name, "credit");
    assert_eq!(spec.version.as_deref(), Some("abcdef012345"));
    assert!("credit@v1".parse::<DatasetSpec>().is_err());
    assert!("bad name".parse::<DatasetSpec>().is_err());
}
