use super::*;

#[test]
fn a_missing_directory_is_created_and_left_empty() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("a").join("b");
    ensure_writable(&state, "the state directory", "fix").unwrap();
    assert!(state.is_dir());
    assert_eq!(std::fs::read_dir(&state).unwrap().count(), 0);
}

#[test]
fn a_path_under_a_file_is_an_error_naming_the_path_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "").unwrap();
    let err = ensure_writable(&file.join("spool"), "the export spool directory", "pass X")
        .unwrap_err()
        .0;
    assert!(err.starts_with("the export spool directory "), "{err}");
    assert!(
        err.contains(&file.join("spool").display().to_string()),
        "{err}"
    );
    assert!(err.ends_with(": pass X"), "{err}");
}
