//! Implicit folders: made for a key, gone with the last thing in it; explicit ones stay.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod common;
use common::*;
use nas_engine::{EngineError, WriteOptions};

#[test]
fn implicit_folders_go_with_their_last_file_and_explicit_ones_stay() {
    let (_d, s) = store();
    let h = home(&s);
    h.mkdir(&p("/b")).unwrap();
    h.mkdir_all_implicit(&p("/b/x/y")).unwrap();
    assert!(h.is_implicit(&p("/b/x")).unwrap() && h.is_implicit(&p("/b/x/y")).unwrap());
    assert!(!h.is_implicit(&p("/b")).unwrap());
    h.write_all(&p("/b/x/y/f"), b"1", WriteOptions::default())
        .unwrap();
    h.write_all(&p("/b/x/g"), b"2", WriteOptions::default())
        .unwrap();
    h.delete(&p("/b/x/y/f")).unwrap();
    assert!(!h.exists(&p("/b/x/y")).unwrap(), "y went with f");
    assert!(h.exists(&p("/b/x")).unwrap(), "x still holds g");
    h.delete(&p("/b/x/g")).unwrap();
    assert!(!h.exists(&p("/b/x")).unwrap());
    assert!(h.exists(&p("/b")).unwrap(), "an explicit folder stays");
    // the trash restores a file into folders made again, explicit ones
    let t = h.trash_list().unwrap();
    h.trash_restore(t[0].id, None).unwrap();
    assert!(!h.is_implicit(&p("/b/x")).unwrap());

    // keep_folder makes an implicit folder explicit; release_folder the other way
    h.mkdir_all_implicit(&p("/b/k")).unwrap();
    h.keep_folder(&p("/b/k")).unwrap();
    h.write_all(&p("/b/k/f"), b"1", WriteOptions::default())
        .unwrap();
    h.delete(&p("/b/k/f")).unwrap();
    assert!(h.exists(&p("/b/k")).unwrap(), "kept");
    h.release_folder(&p("/b/k")).unwrap();
    assert!(
        !h.exists(&p("/b/k")).unwrap(),
        "an empty released folder goes at once"
    );
    h.mkdir(&p("/b/r")).unwrap();
    h.write_all(&p("/b/r/f"), b"1", WriteOptions::default())
        .unwrap();
    h.release_folder(&p("/b/r")).unwrap();
    assert!(h.exists(&p("/b/r/f")).unwrap(), "what is inside stays");
    h.delete(&p("/b/r/f")).unwrap();
    assert!(
        !h.exists(&p("/b/r")).unwrap(),
        "and the folder goes with it"
    );
    assert!(matches!(
        h.release_folder(&p("/b/x/g")),
        Err(EngineError::NotADirectory(_))
    ));
}
