//! Writing Dom0's ramdisk: a cpio "newc" archive (magic 070701, as Linux's initramfs) of files.
//
// Entries are written in the order given, each preceded by the directories on its path that
// are not in the archive yet (mode 040755, nlink 2). Files get mode 0100644, nlink 1. Names
// have no leading `/` (`etc/xen/d1.cfg`), inode numbers count from 1, owner, times and device
// numbers are 0 so the archive is reproducible. The `TRAILER!!!` entry ends it; every name and
// every file's data are padded with zeros to a multiple of 4 bytes. dom0-tools' `initramfs`
// module reads it.

use std::collections::BTreeSet;

/// The newc magic.
const MAGIC: &str = "070701";
/// Name of the entry that ends an archive.
const TRAILER: &str = "TRAILER!!!";
/// Mode of a directory entry.
pub const DIR_MODE: u32 = 0o040755;
/// Mode of a file entry.
pub const FILE_MODE: u32 = 0o100644;

/// A newc archive holding `files` (path, contents), with their parent directories.
///
/// A path may start with `/`; it must not be empty, end with `/`, or have an empty, `.` or
/// `..` component, and may appear only once.
pub fn build(files: &[(&str, &[u8])]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut dirs = BTreeSet::new();
    let mut names = BTreeSet::new();
    let mut ino = 0u32;
    for &(path, data) in files {
        let name = check_path(path)?;
        if !names.insert(name) || dirs.contains(name) {
            return Err(format!("ramdisk: \"{path}\" given twice"));
        }
        for (at, _) in name.match_indices('/') {
            let dir = &name[..at];
            if names.contains(dir) {
                return Err(format!("ramdisk: \"{dir}\" is a file and a directory"));
            }
            if dirs.insert(dir) {
                ino += 1;
                write_entry(&mut out, dir, DIR_MODE, 2, ino, &[])?;
            }
        }
        ino += 1;
        write_entry(&mut out, name, FILE_MODE, 1, ino, data)?;
    }
    write_entry(&mut out, TRAILER, 0, 1, 0, &[])?;
    Ok(out)
}

/// `path` without its leading `/`, if it is a usable file name.
fn check_path(path: &str) -> Result<&str, String> {
    let name = path.trim_start_matches('/');
    let bad = name.is_empty()
        || name.contains('\0')
        || name
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..");
    if bad || name == TRAILER {
        return Err(format!("ramdisk: bad file name \"{path}\""));
    }
    Ok(name)
}

fn write_entry(
    out: &mut Vec<u8>,
    name: &str,
    mode: u32,
    nlink: u32,
    ino: u32,
    data: &[u8],
) -> Result<(), String> {
    let filesize = u32::try_from(data.len())
        .map_err(|_| format!("ramdisk: \"{name}\" is larger than 4 GiB"))?;
    let namesize =
        u32::try_from(name.len() + 1).map_err(|_| format!("ramdisk: name \"{name}\" too long"))?;
    // ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor,
    // namesize, check.
    let fields = [ino, mode, 0, 0, nlink, 0, filesize, 0, 0, 0, 0, namesize, 0];
    out.extend_from_slice(MAGIC.as_bytes());
    for field in fields {
        out.extend_from_slice(format!("{field:08X}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad4(out);
    out.extend_from_slice(data);
    pad4(out);
    Ok(())
}

fn pad4(out: &mut Vec<u8>) {
    out.resize(out.len().next_multiple_of(4), 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(ino: u32, mode: u32, nlink: u32, filesize: u32, namesize: u32) -> String {
        format!(
            "070701{ino:08X}{mode:08X}0000000000000000{nlink:08X}00000000{filesize:08X}\
             00000000000000000000000000000000{namesize:08X}00000000"
        )
    }

    #[test]
    fn a_small_archive_byte_for_byte() {
        let archive = build(&[("/etc/a", b"hello")]).unwrap();
        let mut want = Vec::new();
        // "etc": 110 + 4 bytes of name = 114, padded to 116.
        want.extend_from_slice(header(1, 0o040755, 2, 0, 4).as_bytes());
        want.extend_from_slice(b"etc\0\0\0");
        // "etc/a": starts at 116; 116 + 110 + 6 = 232 (aligned); 5 bytes of data, padded to 8.
        want.extend_from_slice(header(2, 0o100644, 1, 5, 6).as_bytes());
        want.extend_from_slice(b"etc/a\0");
        want.extend_from_slice(b"hello\0\0\0");
        // The trailer at 240: 110 + 11 = 121, padded to 124.
        want.extend_from_slice(header(0, 0, 1, 0, 11).as_bytes());
        want.extend_from_slice(b"TRAILER!!!\0\0\0\0");
        assert_eq!(
            String::from_utf8_lossy(&archive),
            String::from_utf8_lossy(&want)
        );
        assert_eq!(archive, want);
        assert_eq!(archive.len(), 364);
        assert_eq!(&archive[..6], b"070701");
        assert_eq!(&archive[6 + 8..6 + 16], b"000041ED");
    }

    #[test]
    fn directories_come_once_before_their_files() {
        let archive = build(&[
            ("etc/xen/d1.cfg", b"a"),
            ("etc/xen/d2.cfg", b"bb"),
            ("boot/kernel", &[0x7f, b'E', b'L', b'F']),
        ])
        .unwrap();
        let text = String::from_utf8_lossy(&archive);
        let order: Vec<usize> = [
            "etc\0",
            "etc/xen\0",
            "etc/xen/d1.cfg\0",
            "etc/xen/d2.cfg\0",
            "boot\0",
            "boot/kernel\0",
            "TRAILER!!!\0",
        ]
        .iter()
        .map(|n| text.find(n).unwrap())
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        assert_eq!(text.matches("etc/xen\0").count(), 1);
        assert_eq!(archive.len() % 4, 0);
    }

    #[test]
    fn bad_paths_are_refused() {
        for bad in ["", "/", "a//b", "a/./b", "../a", "a/", "TRAILER!!!", "a\0b"] {
            assert!(build(&[(bad, b"")]).is_err(), "{bad:?}");
        }
        assert!(build(&[("a", b""), ("/a", b"")]).is_err());
        assert!(build(&[("a", b""), ("a/b", b"")]).is_err());
        assert!(build(&[("a/b", b""), ("a", b"")]).is_err());
        assert_eq!(build(&[]).unwrap().len(), 124);
    }
}
