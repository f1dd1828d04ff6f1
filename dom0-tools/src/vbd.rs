//! Virtual block devices in xenstore: vdev names and their device numbers (docs/misc/vbd-interface.txt), the nodes the toolstack writes for a disk as libxl does, and what the backend publishes and reads.
// Device numbers: xvd disks 0..=15 with partitions 0..=15 are `202 << 8 | disk << 4 | part`;
// larger xvd disks (up to 2^20 - 1) or partitions (up to 255) use `1 << 28 | disk << 8 | part`;
// sd disks 0..=15 `8 << 8 | disk << 4 | part`; hd disks 0..=1 `3 << 8 | disk << 6 | part` and
// 2..=3 `22 << 8 | (disk - 2) << 6 | part` (partitions 0..=63). Names are parsed as libxl does:
// the disk letters count as bijective base 26 (`a` 0, `z` 25, `aa` 26), a partition number
// has no leading zero; `dNpM` names an xvd disk too, and a plain number is taken as the device
// number itself.
//
// Layout (libxl): the backend directory `/local/domain/0/backend/vbd/<domid>/<devid>` is owned
// by Dom0 and readable by the guest; the frontend directory
// `/local/domain/<domid>/device/vbd/<devid>` is owned by the guest and readable by Dom0.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use hypercall_abi::blkif::{
    BLKIF_KEY_DEVICE_TYPE, BLKIF_KEY_EVENT_CHANNEL, BLKIF_KEY_FEATURE_BARRIER,
    BLKIF_KEY_FEATURE_FLUSH_CACHE, BLKIF_KEY_FEATURE_PERSISTENT, BLKIF_KEY_INFO, BLKIF_KEY_MODE,
    BLKIF_KEY_PARAMS, BLKIF_KEY_PHYSICAL_SECTOR_SIZE, BLKIF_KEY_PROTOCOL,
    BLKIF_KEY_RING_PAGE_ORDER, BLKIF_KEY_RING_REF, BLKIF_KEY_SECTOR_SIZE, BLKIF_KEY_SECTORS,
    BLKIF_KEY_TYPE, BLKIF_KEY_VIRTUAL_DEVICE, VDISK_CDROM, VDISK_READONLY, VDISK_REMOVABLE,
    XEN_IO_PROTO_ABI_X86_64,
};
use hypercall_abi::domid::DomId;
use hypercall_abi::xenbus::{
    XENBUS_KEY_BACKEND, XENBUS_KEY_BACKEND_ID, XENBUS_KEY_FRONTEND, XENBUS_KEY_FRONTEND_ID,
    XENBUS_KEY_ONLINE, XENBUS_KEY_STATE, XenbusState,
};

use crate::xenstored::perms::Access as XsAccess;
use crate::xenstored::{Perm, Perms};

/// Major number of xvd disks.
pub const XVD_MAJOR: u32 = 202;
/// Major number of sd disks.
pub const SD_MAJOR: u32 = 8;
/// Major number of hd disks 0 and 1.
pub const HD01_MAJOR: u32 = 3;
/// Major number of hd disks 2 and 3.
pub const HD23_MAJOR: u32 = 22;
/// Flag of the extended xvd form.
pub const VDEV_EXTENDED: u32 = 1 << 28;

/// Which naming scheme a vdev uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VdevKind {
    /// `xvdX` (or `dNpM`).
    Xvd,
    /// `sdX`.
    Sd,
    /// `hdX`.
    Hd,
}

/// A vdev name that names no device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadVdev(pub String);

impl fmt::Display for BadVdev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid virtual disk identifier {}", self.0)
    }
}

/// Disk index and partition after the `prefix` letters (libxl's rules), or `None`.
fn disk_and_partition(
    name: &str,
    prefix: &str,
    max_disk: u32,
    max_part: u32,
) -> Option<(u32, u32)> {
    let rest = name.strip_prefix(prefix)?;
    let letters = rest.bytes().take_while(u8::is_ascii_lowercase).count();
    if letters == 0 {
        return None;
    }
    let mut disk: u64 = 0;
    for (i, c) in rest.bytes().take(letters).enumerate() {
        disk = if i == 0 { 0 } else { (disk + 1) * 26 };
        disk += u64::from(c - b'a');
        if disk > u64::from(max_disk) {
            return None;
        }
    }
    let part = &rest[letters..];
    let partition = if part.is_empty() {
        0
    } else {
        if part.starts_with('0') {
            return None;
        }
        decimal(part).filter(|&p| p <= max_part)?
    };
    Some((disk as u32, partition))
}

/// A decimal number of at most 10 digits that fits a u32.
fn decimal(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A number as C's `strtoul(s, _, 0)` reads it whole: `0x` hex, leading-0 octal, else decimal.
fn c_number(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// The device number of an xvd disk and partition.
pub const fn xvd_devid(disk: u32, partition: u32) -> u32 {
    if disk <= 15 && partition <= 15 {
        XVD_MAJOR << 8 | disk << 4 | partition
    } else {
        VDEV_EXTENDED | disk << 8 | partition
    }
}

/// The device number `name` stands for (`xvda` 51712, `xvdb1` 51729, `hda` 768...).
pub fn parse_vdev(name: &str) -> Result<u32, BadVdev> {
    let bad = || BadVdev(name.to_string());
    if let Some((d, p)) = name
        .strip_prefix('d')
        .and_then(|r| r.split_once('p'))
        .and_then(|(d, p)| Some((decimal(d)?, decimal(p)?)))
        .filter(|&(d, p)| d < 1 << 20 && p < 256)
    {
        return Ok(xvd_devid(d, p));
    }
    if let Some((d, p)) = disk_and_partition(name, "xvd", (1 << 20) - 1, 255) {
        return Ok(xvd_devid(d, p));
    }
    if let Some(n) = c_number(name) {
        return u32::try_from(n)
            .ok()
            .filter(|&n| n <= i32::MAX as u32)
            .ok_or_else(bad);
    }
    if let Some((d, p)) = disk_and_partition(name, "hd", 3, 63) {
        return Ok(if d < 2 {
            HD01_MAJOR << 8 | d << 6 | p
        } else {
            HD23_MAJOR << 8 | (d - 2) << 6 | p
        });
    }
    if let Some((d, p)) = disk_and_partition(name, "sd", 15, 15) {
        return Ok(SD_MAJOR << 8 | d << 4 | p);
    }
    Err(bad())
}

/// The letters of disk index `disk` (`0` a, `25` z, `26` aa).
fn disk_letters(disk: u32) -> String {
    let mut out = Vec::new();
    let mut n = u64::from(disk) + 1;
    while n > 0 {
        n -= 1;
        out.push(b'a' + (n % 26) as u8);
        n /= 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The name of device number `devid` (libxl's `devid_to_vdev` for xvd, plus hd and sd), or
/// `None` for a number of no known form.
pub fn vdev_name(devid: u32) -> Option<String> {
    let part = |p: u32| if p == 0 { String::new() } else { p.to_string() };
    if devid & VDEV_EXTENDED != 0 {
        if devid >> 28 != 1 {
            return None;
        }
        let disk = (devid >> 8) & 0xf_ffff;
        return Some(format!("xvd{}{}", disk_letters(disk), part(devid & 0xff)));
    }
    let (kind, disk, p) = match devid >> 8 {
        XVD_MAJOR => ("xvd", (devid >> 4) & 0xf, devid & 0xf),
        SD_MAJOR => ("sd", (devid >> 4) & 0xf, devid & 0xf),
        HD01_MAJOR => ("hd", (devid >> 6) & 3, devid & 0x3f),
        HD23_MAJOR => ("hd", 2 + ((devid >> 6) & 3), devid & 0x3f),
        _ => return None,
    };
    if kind == "hd" && disk > 3 {
        return None;
    }
    Some(format!("{kind}{}{}", disk_letters(disk), part(p)))
}

/// `/local/domain/0/backend/vbd/<domid>/<devid>`.
pub fn backend_path(domid: DomId, devid: u32) -> String {
    format!("/local/domain/0/backend/vbd/{domid}/{devid}")
}

/// `/local/domain/<domid>/device/vbd/<devid>`.
pub fn frontend_path(domid: DomId, devid: u32) -> String {
    format!("/local/domain/{domid}/device/vbd/{devid}")
}

/// `/local/domain/0/backend/vbd`: where the backend finds its devices.
pub const BACKEND_ROOT: &str = "/local/domain/0/backend/vbd";

/// Whose directory a node is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Dom0's: owned by Dom0, readable by the guest.
    Backend,
    /// The guest's: owned by the guest, readable by Dom0.
    Frontend,
}

/// The permissions of a node on `side` for guest `domid` (libxl's).
pub fn perms(side: Side, domid: DomId) -> Perms {
    let (owner, reader) = match side {
        Side::Backend => (0, domid),
        Side::Frontend => (domid, 0),
    };
    Perms::new(vec![
        Perm::new(owner, XsAccess::None),
        Perm::new(reader, XsAccess::Read),
    ])
    .unwrap_or_else(|_| Perms::owned_by(0, XsAccess::None))
}

/// One node to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Absolute path.
    pub path: String,
    /// Value.
    pub value: String,
    /// Whose directory.
    pub side: Side,
}

/// A disk as the toolstack hands it to a guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskNodes<'a> {
    /// The guest.
    pub domid: DomId,
    /// Its device number.
    pub devid: u32,
    /// The vdev name as configured.
    pub vdev: &'a str,
    /// The Dom0 device backing it (`params`).
    pub params: &'a str,
    /// Read-only for the guest.
    pub readonly: bool,
    /// A CD-ROM.
    pub cdrom: bool,
}

/// The nodes the toolstack writes for `d` (both directories, the directories themselves
/// first), as libxl does for a `phy` disk.
pub fn toolstack_nodes(d: &DiskNodes<'_>) -> Vec<Node> {
    let be = backend_path(d.domid, d.devid);
    let fe = frontend_path(d.domid, d.devid);
    let device_type = if d.cdrom { "cdrom" } else { "disk" };
    let init = XenbusState::Initialising.as_str();
    let node = |dir: &str, key: &str, value: String, side| Node {
        path: if key.is_empty() {
            dir.to_string()
        } else {
            format!("{dir}/{key}")
        },
        value,
        side,
    };
    let b = Side::Backend;
    let f = Side::Frontend;
    vec![
        node(&be, "", String::new(), b),
        node(&be, XENBUS_KEY_FRONTEND, fe.clone(), b),
        node(&be, XENBUS_KEY_FRONTEND_ID, d.domid.to_string(), b),
        node(&be, XENBUS_KEY_ONLINE, "1".to_string(), b),
        node(
            &be,
            "removable",
            if d.cdrom { "1" } else { "0" }.to_string(),
            b,
        ),
        node(&be, "bootable", "1".to_string(), b),
        node(&be, XENBUS_KEY_STATE, init.to_string(), b),
        node(&be, "dev", d.vdev.to_string(), b),
        node(&be, BLKIF_KEY_TYPE, "phy".to_string(), b),
        node(
            &be,
            BLKIF_KEY_MODE,
            if d.readonly { "r" } else { "w" }.to_string(),
            b,
        ),
        node(&be, BLKIF_KEY_DEVICE_TYPE, device_type.to_string(), b),
        node(&be, BLKIF_KEY_PARAMS, d.params.to_string(), b),
        node(&fe, "", String::new(), f),
        node(&fe, XENBUS_KEY_BACKEND, be.clone(), f),
        node(&fe, XENBUS_KEY_BACKEND_ID, "0".to_string(), f),
        node(&fe, XENBUS_KEY_STATE, init.to_string(), f),
        node(&fe, BLKIF_KEY_VIRTUAL_DEVICE, d.devid.to_string(), f),
        node(&fe, BLKIF_KEY_DEVICE_TYPE, device_type.to_string(), f),
    ]
}

/// What the backend publishes in its directory before InitWait (relative keys and values):
/// the size and kind of the disk, and the requests it takes beyond read and write.
pub fn backend_features(sectors: u64, readonly: bool, cdrom: bool) -> Vec<(&'static str, String)> {
    let mut info = 0;
    if readonly {
        info |= VDISK_READONLY;
    }
    if cdrom {
        info |= VDISK_CDROM | VDISK_REMOVABLE;
    }
    vec![
        (BLKIF_KEY_FEATURE_FLUSH_CACHE, "1".to_string()),
        (BLKIF_KEY_FEATURE_BARRIER, "1".to_string()),
        (BLKIF_KEY_FEATURE_PERSISTENT, "0".to_string()),
        (BLKIF_KEY_SECTORS, sectors.to_string()),
        (BLKIF_KEY_INFO, info.to_string()),
        (BLKIF_KEY_SECTOR_SIZE, "512".to_string()),
        (BLKIF_KEY_PHYSICAL_SECTOR_SIZE, "512".to_string()),
    ]
}

/// The frontend's ring, as it published it before Initialised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrontendRing {
    /// Grant reference of the ring page.
    pub ring_ref: u32,
    /// The frontend's end of the event channel.
    pub event_channel: u32,
}

/// The keys the backend reads from the frontend's directory.
pub const FRONTEND_RING_KEYS: [&str; 4] = [
    BLKIF_KEY_RING_REF,
    BLKIF_KEY_EVENT_CHANNEL,
    BLKIF_KEY_PROTOCOL,
    BLKIF_KEY_RING_PAGE_ORDER,
];

/// Checks what the frontend published (`ring-ref`, `event-channel`, `protocol`,
/// `ring-page-order`, each `None` if absent): one ring page, the native x86_64 layout.
pub fn parse_frontend_ring(
    ring_ref: Option<&str>,
    event_channel: Option<&str>,
    protocol: Option<&str>,
    ring_page_order: Option<&str>,
) -> Result<FrontendRing, String> {
    if let Some(order) = ring_page_order
        && order != "0"
    {
        return Err(format!(
            "ring-page-order {order:?}: only one ring page is supported"
        ));
    }
    if let Some(p) = protocol
        && p != XEN_IO_PROTO_ABI_X86_64
    {
        return Err(format!("protocol {p:?} is not supported"));
    }
    let number = |key: &str, v: Option<&str>| {
        let v = v.ok_or_else(|| format!("reading {key} failed"))?;
        decimal(v).ok_or_else(|| format!("{key} {v:?} is not a number"))
    };
    Ok(FrontendRing {
        ring_ref: number(BLKIF_KEY_RING_REF, ring_ref)?,
        event_channel: number(BLKIF_KEY_EVENT_CHANNEL, event_channel)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_vbd_interface_numbers() {
        let table = [
            ("xvda", 51712),
            ("xvdb", 51728),
            ("xvda1", 51713),
            ("xvdb1", 51729),
            ("xvdp15", 202 << 8 | 15 << 4 | 15),
            ("xvdq", 1 << 28 | 16 << 8),
            ("xvda16", 1 << 28 | 16),
            ("xvdz", 1 << 28 | 25 << 8),
            ("xvdaa", 1 << 28 | 26 << 8),
            ("xvdtq37", 1 << 28 | 536 << 8 | 37),
            ("d0p0", 51712),
            ("d1p2", 51730),
            ("d536p37", 1 << 28 | 536 << 8 | 37),
            ("hda", 3 << 8),
            ("hdb", 3 << 8 | 64),
            ("hdc2", 22 << 8 | 2),
            ("hdd63", 22 << 8 | 64 | 63),
            ("sda", 8 << 8),
            ("sdb3", 8 << 8 | 16 | 3),
            ("51712", 51712),
            ("0xca00", 51712),
            ("0145000", 51712),
        ];
        for (name, devid) in table {
            assert_eq!(parse_vdev(name), Ok(devid), "{name}");
        }
    }

    #[test]
    fn bad_names_are_refused() {
        for name in [
            "",
            "xvd",
            "xvdA",
            "xvda0",
            "xvda01",
            "xvda256",
            "hde",
            "hda64",
            "sdq",
            "sda16",
            "vda",
            "xvda-1",
            "d1",
            "dp1",
            "d1p",
            "d1048576p0",
            "d0p256",
            "4294967296",
            "0x80000000",
            "xvdaaaaaa",
            "xvda99999999999",
        ] {
            assert!(parse_vdev(name).is_err(), "{name}");
        }
        assert_eq!(
            parse_vdev("vda").unwrap_err().to_string(),
            "invalid virtual disk identifier vda"
        );
    }

    #[test]
    fn numbers_name_their_devices() {
        for name in [
            "xvda", "xvdb1", "xvdp15", "xvdq", "xvdaa", "xvdtq37", "hda", "hdb", "hdc2", "hdd63",
            "sda", "sdp15",
        ] {
            let devid = parse_vdev(name).unwrap();
            assert_eq!(vdev_name(devid).as_deref(), Some(name), "{devid}");
        }
        assert_eq!(vdev_name(0), None);
        assert_eq!(vdev_name(2 << 28), None);
    }

    #[test]
    fn a_disk_gets_libxl_nodes_with_libxl_permissions() {
        let nodes = toolstack_nodes(&DiskNodes {
            domid: 3,
            devid: 51712,
            vdev: "xvda",
            params: "/dev/hda2",
            readonly: true,
            cdrom: false,
        });
        let get = |p: &str| {
            nodes
                .iter()
                .find(|n| n.path == p)
                .map(|n| (n.value.as_str(), n.side))
        };
        let be = "/local/domain/0/backend/vbd/3/51712";
        let fe = "/local/domain/3/device/vbd/51712";
        assert_eq!(get(be), Some(("", Side::Backend)));
        assert_eq!(get(fe), Some(("", Side::Frontend)));
        let want_be = [
            ("frontend", fe),
            ("frontend-id", "3"),
            ("online", "1"),
            ("removable", "0"),
            ("bootable", "1"),
            ("state", "1"),
            ("dev", "xvda"),
            ("type", "phy"),
            ("mode", "r"),
            ("device-type", "disk"),
            ("params", "/dev/hda2"),
        ];
        for (k, v) in want_be {
            assert_eq!(get(&format!("{be}/{k}")), Some((v, Side::Backend)), "{k}");
        }
        let want_fe = [
            ("backend", be),
            ("backend-id", "0"),
            ("state", "1"),
            ("virtual-device", "51712"),
            ("device-type", "disk"),
        ];
        for (k, v) in want_fe {
            assert_eq!(get(&format!("{fe}/{k}")), Some((v, Side::Frontend)), "{k}");
        }
        assert_eq!(nodes.len(), 2 + want_be.len() + want_fe.len());
        // Directories come before their keys.
        let at = |p: &str| nodes.iter().position(|n| n.path == p).unwrap();
        assert!(at(be) < at(&format!("{be}/state")));
        assert!(at(fe) < at(&format!("{fe}/state")));

        let owner = |p: &Perms| p.entries()[0];
        let b = perms(Side::Backend, 3);
        assert_eq!(owner(&b), Perm::new(0, XsAccess::None));
        assert_eq!(b.entries()[1], Perm::new(3, XsAccess::Read));
        let f = perms(Side::Frontend, 3);
        assert_eq!(owner(&f), Perm::new(3, XsAccess::None));
        assert_eq!(f.entries()[1], Perm::new(0, XsAccess::Read));
    }

    #[test]
    fn features_say_size_mode_and_flush() {
        let f = backend_features(32768, true, false);
        let get = |k: &str| f.iter().find(|(key, _)| *key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("sectors"), Some("32768"));
        assert_eq!(get("info"), Some("4"));
        assert_eq!(get("sector-size"), Some("512"));
        assert_eq!(get("feature-flush-cache"), Some("1"));
        assert_eq!(get("feature-persistent"), Some("0"));
        let cd = backend_features(1, true, true);
        assert!(cd.contains(&("info", "7".to_string())));
        assert!(backend_features(1, false, false).contains(&("info", "0".to_string())));
    }

    #[test]
    fn the_frontend_ring_is_checked() {
        assert_eq!(
            parse_frontend_ring(Some("8"), Some("5"), Some("x86_64-abi"), None),
            Ok(FrontendRing {
                ring_ref: 8,
                event_channel: 5
            })
        );
        assert!(parse_frontend_ring(Some("8"), Some("5"), None, Some("0")).is_ok());
        for (r, e, p, o) in [
            (None, Some("5"), None, None),
            (Some("8"), None, None, None),
            (Some("x"), Some("5"), None, None),
            (Some("8"), Some("-1"), None, None),
            (Some("8"), Some("99999999999"), None, None),
            (Some("8"), Some("5"), Some("x86_32-abi"), None),
            (Some("8"), Some("5"), None, Some("1")),
        ] {
            assert!(
                parse_frontend_ring(r, e, p, o).is_err(),
                "{r:?} {e:?} {p:?} {o:?}"
            );
        }
    }
}
