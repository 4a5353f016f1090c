//! Local pack files pass the `BlobStore` conformance suite.

use nas_blob::{BlobStore, LocalPackStore, conformance};

#[test]
fn local_packs_conform() {
    conformance::run_all(&|dir, faults| -> Box<dyn BlobStore> {
        Box::new(LocalPackStore::open_with_faults(dir, 1 << 16, faults).expect("open"))
    });
}
