//! The images under test: from `XTASK_IMAGES_DIR` when `cargo xtask test` built them, else built once here.

use std::path::PathBuf;
use std::sync::OnceLock;

use xtask::images::{IMAGES_DIR_ENV, Images};

/// xen-core's container and the guest kernel, built at most once per test binary.
///
/// Panics (failing the test) when they cannot be had: without images nothing can be tested.
pub fn images() -> &'static Images {
    static IMAGES: OnceLock<Result<Images, String>> = OnceLock::new();
    let images = IMAGES.get_or_init(|| match std::env::var_os(IMAGES_DIR_ENV) {
        Some(dir) => Images::existing_in(&PathBuf::from(dir)),
        None => xtask::images::build(),
    });
    match images {
        Ok(images) => images,
        Err(why) => panic!("the images cannot be had: {why}"),
    }
}

/// The Xen 4.17 image, fetched at most once per test binary; Err says why it is not available.
pub fn xen_417() -> Result<PathBuf, String> {
    static XEN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    XEN.get_or_init(xtask::xen417::image).clone()
}

/// The Xen 4.17 image, or None after printing `SKIPPED: Xen 4.17 not available: <why>` to stderr.
pub fn xen_417_or_skip() -> Option<PathBuf> {
    match xen_417() {
        Ok(image) => Some(image),
        Err(why) => {
            eprintln!("SKIPPED: Xen 4.17 not available: {why}");
            None
        }
    }
}
