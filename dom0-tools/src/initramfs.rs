//! Reading Dom0's ramdisk: a cpio archive in the "newc" format (magic `070701`), as Linux's initramfs.
//
// Each entry is a 110-byte header (the magic, then 13 fields of 8 hex digits: ino, mode, uid,
// gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check), the
// NUL-terminated name padded with zeros to a multiple of 4 bytes (counted from the header's
// start), then the data padded likewise. The entry named `TRAILER!!!` ends the archive; bytes
// after it are not read. [`Archive::parse`] checks every entry up to the trailer once, so a
// corrupt archive is an error up front and the lookups after it cannot fail.
//
// Names are kept without a leading `./` or `/` (`./etc/xen` and `/etc/xen` are `etc/xen`; `.`
// is the root, ``); lookups take either spelling. A name that occurs twice means its last
// entry, as extracting the archive in order would leave it.

use core::fmt;

/// The newc magic.
pub const MAGIC: &[u8; 6] = b"070701";
/// Bytes in a header.
pub const HEADER_LEN: usize = 110;
/// Name of the entry that ends an archive.
pub const TRAILER: &str = "TRAILER!!!";
/// Mask of the file type bits in `mode`.
pub const S_IFMT: u32 = 0o170000;
/// File type of a directory.
pub const S_IFDIR: u32 = 0o040000;
/// File type of a regular file.
pub const S_IFREG: u32 = 0o100000;

const FIELDS: [&str; 13] = [
    "ino",
    "mode",
    "uid",
    "gid",
    "nlink",
    "mtime",
    "filesize",
    "devmajor",
    "devminor",
    "rdevmajor",
    "rdevminor",
    "namesize",
    "check",
];

/// What is wrong with an archive; `offset` is the byte where the bad entry's header starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitramfsError {
    /// A header, name, data or padding runs past the end of the archive.
    Truncated {
        /// Start of the entry.
        offset: usize,
    },
    /// The header does not start with `070701`.
    BadMagic {
        /// Start of the entry.
        offset: usize,
    },
    /// A header field is not 8 hex digits.
    BadField {
        /// Start of the entry.
        offset: usize,
        /// The field's name (`filesize`, `namesize`...).
        field: &'static str,
    },
    /// The name is empty, not NUL-terminated, holds a NUL, or is not UTF-8.
    BadName {
        /// Start of the entry.
        offset: usize,
    },
    /// A padding byte is not zero.
    BadPadding {
        /// Start of the entry.
        offset: usize,
    },
    /// The archive ends without a `TRAILER!!!` entry.
    MissingTrailer,
}

impl fmt::Display for InitramfsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            InitramfsError::Truncated { offset } => {
                write!(f, "ramdisk: entry at byte {offset} runs past the end")
            }
            InitramfsError::BadMagic { offset } => {
                write!(f, "ramdisk: no cpio newc magic at byte {offset}")
            }
            InitramfsError::BadField { offset, field } => {
                write!(
                    f,
                    "ramdisk: bad {field} field in the entry at byte {offset}"
                )
            }
            InitramfsError::BadName { offset } => {
                write!(f, "ramdisk: bad name in the entry at byte {offset}")
            }
            InitramfsError::BadPadding { offset } => {
                write!(f, "ramdisk: non-zero padding in the entry at byte {offset}")
            }
            InitramfsError::MissingTrailer => write!(f, "ramdisk: no TRAILER!!! entry"),
        }
    }
}

/// One entry of the archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Path without a leading `./` or `/` (`""` for the root directory).
    pub name: &'a str,
    /// File type and permission bits.
    pub mode: u32,
    /// Contents (a symbolic link's target; empty for a directory).
    pub data: &'a [u8],
    /// Inode number.
    pub ino: u32,
    /// Link count.
    pub nlink: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: u32,
}

impl Entry<'_> {
    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }

    /// Whether this is a regular file.
    pub fn is_file(&self) -> bool {
        self.mode & S_IFMT == S_IFREG
    }
}

/// A checked archive.
#[derive(Clone, Copy, Debug)]
pub struct Archive<'a> {
    bytes: &'a [u8],
}

/// `name` without leading `./` and `/`, and `.` as the root.
fn normalize(mut name: &str) -> &str {
    loop {
        if let Some(rest) = name.strip_prefix("./") {
            name = rest;
        } else if let Some(rest) = name.strip_prefix('/') {
            name = rest;
        } else {
            break;
        }
    }
    if name == "." { "" } else { name }
}

/// A lookup path: normalized, without trailing `/`.
fn normalize_query(path: &str) -> &str {
    normalize(path.trim_end_matches('/'))
}

fn align4(n: usize) -> Option<usize> {
    n.checked_add(3).map(|n| n & !3)
}

fn hex_field(header: &[u8], index: usize, offset: usize) -> Result<u32, InitramfsError> {
    let bad = InitramfsError::BadField {
        offset,
        field: FIELDS[index],
    };
    let start = MAGIC.len() + index * 8;
    let digits = header.get(start..start + 8).ok_or(bad)?;
    let mut value: u32 = 0;
    for &b in digits {
        let d = char::from(b).to_digit(16).ok_or(bad)?;
        value = (value << 4) | d;
    }
    Ok(value)
}

/// The entry at `offset` (`None` for the trailer) and the offset of the next one.
fn read_entry(bytes: &[u8], offset: usize) -> Result<(Option<Entry<'_>>, usize), InitramfsError> {
    let truncated = InitramfsError::Truncated { offset };
    let header_end = offset.checked_add(HEADER_LEN).ok_or(truncated)?;
    let header = bytes.get(offset..header_end).ok_or(truncated)?;
    if &header[..MAGIC.len()] != MAGIC {
        return Err(InitramfsError::BadMagic { offset });
    }
    let mut fields = [0u32; 13];
    for (index, field) in fields.iter_mut().enumerate() {
        *field = hex_field(header, index, offset)?;
    }
    let [
        ino,
        mode,
        _uid,
        _gid,
        nlink,
        mtime,
        filesize,
        _,
        _,
        _,
        _,
        namesize,
        _check,
    ] = fields;

    let bad_name = InitramfsError::BadName { offset };
    let namesize = usize::try_from(namesize).map_err(|_| truncated)?;
    let name_end = header_end.checked_add(namesize).ok_or(truncated)?;
    let raw_name = bytes.get(header_end..name_end).ok_or(truncated)?;
    let (&nul, name) = raw_name.split_last().ok_or(bad_name)?;
    if nul != 0 || name.contains(&0) {
        return Err(bad_name);
    }
    let name = core::str::from_utf8(name).map_err(|_| bad_name)?;

    let data_start = align4(name_end).ok_or(truncated)?;
    let filesize = usize::try_from(filesize).map_err(|_| truncated)?;
    let data_end = data_start.checked_add(filesize).ok_or(truncated)?;
    let next = align4(data_end).ok_or(truncated)?;
    let name_pad = bytes.get(name_end..data_start).ok_or(truncated)?;
    let data = bytes.get(data_start..data_end).ok_or(truncated)?;
    let data_pad = bytes.get(data_end..next).ok_or(truncated)?;
    if name_pad.iter().chain(data_pad).any(|&b| b != 0) {
        return Err(InitramfsError::BadPadding { offset });
    }
    if name == TRAILER {
        return Ok((None, next));
    }
    let entry = Entry {
        name: normalize(name),
        mode,
        data,
        ino,
        nlink,
        mtime,
    };
    Ok((Some(entry), next))
}

impl<'a> Archive<'a> {
    /// Checks every entry of `bytes` up to the trailer.
    pub fn parse(bytes: &'a [u8]) -> Result<Archive<'a>, InitramfsError> {
        let mut offset = 0;
        loop {
            if offset == bytes.len() {
                return Err(InitramfsError::MissingTrailer);
            }
            match read_entry(bytes, offset)? {
                (Some(_), next) => offset = next,
                (None, end) => {
                    return Ok(Archive {
                        bytes: &bytes[..end],
                    });
                }
            }
        }
    }

    /// Bytes of the archive up to and including the trailer's padding.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the archive has no bytes (never true: a parsed archive has a trailer).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The entries in archive order, the trailer left out.
    pub fn entries(&self) -> Entries<'a> {
        Entries {
            bytes: self.bytes,
            offset: 0,
        }
    }

    /// The (last) entry named `path` (`/etc/xen/d1.cfg`, `etc/xen/d1.cfg` and
    /// `./etc/xen/d1.cfg` are the same path).
    pub fn find(&self, path: &str) -> Option<Entry<'a>> {
        let path = normalize_query(path);
        self.entries().filter(|e| e.name == path).last()
    }

    /// The contents of the regular file at `path`.
    pub fn file(&self, path: &str) -> Option<&'a [u8]> {
        self.find(path).filter(Entry::is_file).map(|e| e.data)
    }

    /// The entries directly inside directory `dir` (`/` or `` for the root), in archive order.
    pub fn read_dir<'p>(&self, dir: &'p str) -> impl Iterator<Item = Entry<'a>> + use<'a, 'p> {
        let dir = normalize_query(dir);
        self.entries().filter(move |e| {
            let rest = if dir.is_empty() {
                Some(e.name)
            } else {
                e.name
                    .strip_prefix(dir)
                    .and_then(|rest| rest.strip_prefix('/'))
            };
            rest.is_some_and(|child| !child.is_empty() && !child.contains('/'))
        })
    }
}

/// Iterator over a checked archive's entries.
#[derive(Clone, Debug)]
pub struct Entries<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        // The archive was checked by `Archive::parse`: an error cannot happen here, and would
        // end the iteration.
        match read_entry(self.bytes, self.offset) {
            Ok((Some(entry), next)) => {
                self.offset = next;
                Some(entry)
            }
            Ok((None, _)) | Err(_) => {
                self.offset = self.bytes.len();
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;
    use alloc::vec::Vec;

    /// A newc entry, as cpio -H newc writes it.
    fn entry(out: &mut Vec<u8>, name: &str, mode: u32, data: &[u8]) {
        let fields = [
            1,
            mode,
            0,
            0,
            1,
            0,
            data.len() as u32,
            0,
            0,
            0,
            0,
            name.len() as u32 + 1,
            0,
        ];
        out.extend_from_slice(MAGIC);
        for f in fields {
            out.extend_from_slice(format!("{f:08X}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
        out.extend_from_slice(data);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }

    fn sample() -> Vec<u8> {
        let mut a = Vec::new();
        entry(&mut a, ".", S_IFDIR | 0o755, b"");
        entry(&mut a, "./etc", S_IFDIR | 0o755, b"");
        entry(&mut a, "./etc/xen", S_IFDIR | 0o755, b"");
        entry(
            &mut a,
            "./etc/xen/d1.cfg",
            S_IFREG | 0o644,
            b"name = \"d1\"\n",
        );
        entry(&mut a, "/etc/xen/d2.cfg", S_IFREG | 0o644, b"abc");
        entry(&mut a, "etc/xen/sub", S_IFDIR | 0o755, b"");
        entry(&mut a, "etc/xen/sub/deep", S_IFREG | 0o644, b"x");
        entry(&mut a, "boot", S_IFDIR | 0o755, b"");
        entry(
            &mut a,
            "boot/kernel",
            S_IFREG | 0o755,
            &[0x7f, b'E', b'L', b'F', 2],
        );
        entry(&mut a, TRAILER, 0, b"");
        a
    }

    #[test]
    fn lists_and_finds_entries() {
        let bytes = sample();
        let archive = Archive::parse(&bytes).unwrap();
        assert_eq!(archive.len(), bytes.len());
        let names: Vec<&str> = archive.entries().map(|e| e.name).collect();
        assert_eq!(
            names,
            [
                "",
                "etc",
                "etc/xen",
                "etc/xen/d1.cfg",
                "etc/xen/d2.cfg",
                "etc/xen/sub",
                "etc/xen/sub/deep",
                "boot",
                "boot/kernel"
            ]
        );
        for path in ["/etc/xen/d1.cfg", "etc/xen/d1.cfg", "./etc/xen/d1.cfg"] {
            assert_eq!(archive.file(path), Some(&b"name = \"d1\"\n"[..]), "{path}");
        }
        assert_eq!(archive.file("/etc/xen/d2.cfg"), Some(&b"abc"[..]));
        assert_eq!(archive.file("/boot/kernel").unwrap().len(), 5);
        assert_eq!(archive.file("/etc/xen"), None, "a directory is not a file");
        assert!(archive.find("/etc/xen/").unwrap().is_dir());
        assert_eq!(archive.find("/etc/xen/d3.cfg"), None);
        let d1 = archive.find("etc/xen/d1.cfg").unwrap();
        assert!(d1.is_file() && !d1.is_dir());
        assert_eq!((d1.mode, d1.nlink, d1.ino), (0o100644, 1, 1));

        let xen: Vec<&str> = archive.read_dir("/etc/xen").map(|e| e.name).collect();
        assert_eq!(xen, ["etc/xen/d1.cfg", "etc/xen/d2.cfg", "etc/xen/sub"]);
        let root: Vec<&str> = archive.read_dir("/").map(|e| e.name).collect();
        assert_eq!(root, ["etc", "boot"]);
        assert_eq!(archive.read_dir("etc/xe").count(), 0);
    }

    #[test]
    fn the_last_of_two_same_names_wins_and_bytes_after_the_trailer_are_ignored() {
        let mut a = Vec::new();
        entry(&mut a, "f", S_IFREG | 0o644, b"old");
        entry(&mut a, "./f", S_IFREG | 0o644, b"new");
        entry(&mut a, TRAILER, 0, b"");
        let len = a.len();
        a.extend_from_slice(&[0; 512]);
        a.extend_from_slice(b"garbage");
        let archive = Archive::parse(&a).unwrap();
        assert_eq!(archive.len(), len);
        assert_eq!(archive.file("f"), Some(&b"new"[..]));
        assert_eq!(archive.entries().count(), 2);
    }

    #[test]
    fn corrupt_archives_are_errors() {
        let good = sample();
        assert_eq!(
            Archive::parse(&[]).unwrap_err(),
            InitramfsError::MissingTrailer
        );
        // Without the trailer.
        let mut a = Vec::new();
        entry(&mut a, "f", S_IFREG | 0o644, b"data");
        assert_eq!(
            Archive::parse(&a).unwrap_err(),
            InitramfsError::MissingTrailer
        );
        // Bad magic.
        let mut a = good.clone();
        a[5] = b'2';
        assert_eq!(
            Archive::parse(&a).unwrap_err(),
            InitramfsError::BadMagic { offset: 0 }
        );
        // A non-hex digit in filesize of the first entry.
        let mut a = good.clone();
        a[6 + 6 * 8 + 3] = b'g';
        assert_eq!(
            Archive::parse(&a).unwrap_err(),
            InitramfsError::BadField {
                offset: 0,
                field: "filesize"
            }
        );
        // A huge filesize.
        let mut a = good.clone();
        a[6 + 6 * 8..6 + 7 * 8].copy_from_slice(b"FFFFFFFF");
        assert_eq!(
            Archive::parse(&a).unwrap_err(),
            InitramfsError::Truncated { offset: 0 }
        );
        // namesize 0, and a name without its NUL.
        let mut a = good.clone();
        a[6 + 11 * 8..6 + 12 * 8].copy_from_slice(b"00000000");
        assert_eq!(
            Archive::parse(&a).unwrap_err(),
            InitramfsError::BadName { offset: 0 }
        );
        let mut a = good.clone();
        a[HEADER_LEN + 1] = b'x';
        assert_eq!(
            Archive::parse(&a).unwrap_err(),
            InitramfsError::BadName { offset: 0 }
        );
        // Non-UTF-8 name.
        let mut a = Vec::new();
        entry(&mut a, "\u{e9}", S_IFREG, b"");
        a[HEADER_LEN] = 0xff;
        entry(&mut a, TRAILER, 0, b"");
        assert_eq!(
            Archive::parse(&a).unwrap_err(),
            InitramfsError::BadName { offset: 0 }
        );
        // Non-zero padding after a name ("ab" + NUL ends at 113, padding to 116) and after data.
        let mut a = Vec::new();
        entry(&mut a, "ab", S_IFREG, b"x");
        entry(&mut a, TRAILER, 0, b"");
        assert!(Archive::parse(&a).is_ok());
        let mut b = a.clone();
        b[114] = 1;
        assert_eq!(
            Archive::parse(&b).unwrap_err(),
            InitramfsError::BadPadding { offset: 0 }
        );
        let mut b = a.clone();
        b[118] = 1;
        assert_eq!(
            Archive::parse(&b).unwrap_err(),
            InitramfsError::BadPadding { offset: 0 }
        );
        assert!(Archive::parse(&good).is_ok());
    }

    #[test]
    fn no_truncation_or_byte_flip_panics() {
        let good = sample();
        for len in 0..good.len() {
            assert!(Archive::parse(&good[..len]).is_err(), "truncated at {len}");
        }
        for i in 0..good.len() {
            for flip in [0x01u8, 0x10, 0x80, 0xff] {
                let mut a = good.clone();
                a[i] ^= flip;
                if let Ok(archive) = Archive::parse(&a) {
                    // Whatever it reads stays inside the bytes.
                    assert!(archive.len() <= a.len());
                    let _ = archive.entries().count();
                    let _ = archive.file("/etc/xen/d1.cfg");
                    let _ = archive.read_dir("/etc").count();
                }
            }
        }
    }

    #[test]
    fn errors_render() {
        assert_eq!(
            InitramfsError::BadField {
                offset: 124,
                field: "namesize"
            }
            .to_string(),
            "ramdisk: bad namesize field in the entry at byte 124"
        );
        assert_eq!(
            InitramfsError::MissingTrailer.to_string(),
            "ramdisk: no TRAILER!!! entry"
        );
    }
}
