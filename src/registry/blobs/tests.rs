use super::*;

fn store() -> (tempfile::TempDir, BlobStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::new(dir.path().join("blobs/sha256"));
    (dir, store)
}

#[test]
fn stores_under_the_sha256_of_the_bytes() {
    let (_dir, store) = store();
    let hash = store.put_bytes(b"abc").unwrap();
    // printf abc | sha256sum
    assert_eq!(
        hash.as_str(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let path = store.path_of(&hash);
    assert!(path.ends_with("ba/7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    assert_eq!(store.read(&hash).unwrap(), b"abc");
    assert_eq!(
        store.put_bytes(b"abc").unwrap(),
        hash,
        "same bytes, same blob"
    );
}

#[test]
fn leaves_no_temporary_files_behind() {
    let (_dir, store) = store();
    store.put_bytes(b"one").unwrap();
    let abandoned = {
        let mut w = store.writer().unwrap();
        w.write_all(b"never committed").unwrap();
        w
    };
    drop(abandoned);
    let leftovers: Vec<_> = fs::read_dir(store.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".incoming-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn refuses_a_tampered_blob_and_repairs_it_on_the_next_put() {
    let (_dir, store) = store();
    let hash = store.put_bytes(b"good bytes").unwrap();
    fs::write(store.path_of(&hash), b"evil bytes").unwrap();
    let err = store.read(&hash).unwrap_err().to_string();
    assert!(
        err.contains("corrupted") && err.contains(hash.as_str()),
        "{err}"
    );
    let err = store.verified_path(&hash).unwrap_err().to_string();
    assert!(err.contains("corrupted"), "{err}");
    store.put_bytes(b"good bytes").unwrap();
    assert_eq!(store.read(&hash).unwrap(), b"good bytes");
}

#[test]
fn a_missing_blob_is_a_clear_error() {
    let (_dir, store) = store();
    let hash = BlobHash::of(b"never stored");
    let err = format!("{:#}", store.verified_path(&hash).unwrap_err());
    assert!(err.contains("missing"), "{err}");
}

#[test]
fn hash_parsing_rejects_anything_but_64_hex_digits() {
    assert!(BlobHash::parse(&"A".repeat(64)).is_ok());
    assert!(BlobHash::parse("abc").is_err());
    assert!(BlobHash::parse(&"g".repeat(64)).is_err());
}

#[test]
fn abandoned_temporary_files_are_removed_and_a_write_in_progress_is_not() {
    let (_dir, store) = store();
    store.put_bytes(b"one").unwrap();
    // What a process killed mid-write leaves: a temporary file whose lock died with it.
    let abandoned = store.root().join(".incoming-killed");
    fs::write(&abandoned, b"half a blo").unwrap();
    // A write in progress (in this process or another one) holds its file's lock.
    let mut live = store.writer().unwrap();
    live.write_all(b"still being ").unwrap();

    assert_eq!(store.remove_abandoned_writes(), 1);
    assert!(!abandoned.exists());
    live.write_all(b"written").unwrap();
    let (hash, _) = live.commit().expect("the live write was left alone");
    assert_eq!(store.read(&hash).unwrap(), b"still being written");
    assert_eq!(store.remove_abandoned_writes(), 0);
}
