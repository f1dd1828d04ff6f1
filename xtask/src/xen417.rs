//! The reference Xen 4.17 hypervisor image, fetched from Debian's package and cached in `target/xen-4.17`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{paths, process};

/// Debian's package holding the hypervisor.
pub const PACKAGE: &str = "xen-hypervisor-4.17-amd64";
/// The gzipped image inside the package.
pub const IMAGE_IN_PACKAGE: &str = "boot/xen-4.17-amd64.gz";
/// The cached, gunzipped image's file name.
pub const IMAGE_NAME: &str = "xen-4.17-amd64";

/// `<target>/xen-4.17`.
pub fn cache_dir(target_dir: &Path) -> PathBuf {
    target_dir.join("xen-4.17")
}

/// The Xen 4.17 image, fetched on first use; the error says why it cannot be had.
pub fn image() -> Result<PathBuf, String> {
    image_in(&cache_dir(&paths::target_dir()?))
}

/// The Xen 4.17 image cached in `cache`, fetched there if missing.
pub fn image_in(cache: &Path) -> Result<PathBuf, String> {
    let image = cache.join(IMAGE_NAME);
    if image.is_file() {
        return Ok(image);
    }
    for tool in ["apt-get", "dpkg"] {
        if process::on_path(tool).is_none() {
            return Err(format!("{tool} not found"));
        }
    }
    let work = cache.join(format!("fetch-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let result = fetch(&work, &image);
    // The scratch directory only holds the package and its unpacked files.
    let _ = std::fs::remove_dir_all(&work);
    result.map(|()| image)
}

/// Downloads and unpacks the package in `work` and gunzips its image to `image`.
fn fetch(work: &Path, image: &Path) -> Result<(), String> {
    println!("xtask: fetching {PACKAGE} with apt-get download");
    let download = || {
        process::output(
            Command::new("apt-get")
                .args(["download", PACKAGE])
                .current_dir(work),
        )
    };
    if let Err(first) = download() {
        if !process::is_root() {
            return Err(format!("package not available: {}", last_line(&first)));
        }
        process::output(Command::new("apt-get").arg("update"))
            .map_err(|e| format!("apt-get update failed: {}", last_line(&e)))?;
        download().map_err(|e| format!("package not available: {}", last_line(&e)))?;
    }
    let deb = std::fs::read_dir(work)
        .map_err(|e| format!("cannot list {}: {e}", work.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == "deb"))
        .ok_or("apt-get download left no .deb file")?;
    let unpacked = work.join("x");
    process::output(Command::new("dpkg").arg("-x").arg(&deb).arg(&unpacked))?;
    gunzip(&unpacked.join(IMAGE_IN_PACKAGE), image)
}

/// Decompresses the gzip file `src` to `dst`, through a temporary file so `dst` is never partial.
pub fn gunzip(src: &Path, dst: &Path) -> Result<(), String> {
    let file =
        std::fs::File::open(src).map_err(|e| format!("cannot open {}: {e}", src.display()))?;
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot gunzip {}: {e}", src.display()))?;
    let partial = dst.with_extension(format!("part-{}", std::process::id()));
    std::fs::write(&partial, &bytes)
        .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
    std::fs::rename(&partial, dst).map_err(|e| format!("cannot rename to {}: {e}", dst.display()))
}

/// The last non-empty line of a message (apt-get puts the reason there).
fn last_line(message: &str) -> &str {
    message
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(message)
        .trim()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-xen417-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn gunzips_a_file() {
        let dir = scratch("gunzip");
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(b"xen image bytes").unwrap();
        std::fs::write(dir.join("a.gz"), encoder.finish().unwrap()).unwrap();
        gunzip(&dir.join("a.gz"), &dir.join("a")).unwrap();
        let out = std::fs::read(dir.join("a")).unwrap();
        let bad = gunzip(&dir.join("a"), &dir.join("b"));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(out, b"xen image bytes");
        assert!(bad.is_err());
    }

    #[test]
    fn a_cached_image_is_used_as_is() {
        let dir = scratch("cached");
        std::fs::write(dir.join(IMAGE_NAME), b"cached").unwrap();
        let found = image_in(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(found, Ok(dir.join(IMAGE_NAME)));
    }

    #[test]
    fn takes_apt_gets_last_line_as_the_reason() {
        assert_eq!(
            last_line("`apt-get download x` failed: Reading...\nE: Unable to locate package x\n"),
            "E: Unable to locate package x"
        );
        assert_eq!(cache_dir(Path::new("/t")), Path::new("/t/xen-4.17"));
    }
}
