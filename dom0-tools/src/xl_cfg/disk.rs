//! One `disk = [ ... ]` entry (a DISKSPEC, xl-disk-configuration(5)), parsed and checked.
//
// A DISKSPEC is comma-separated: `key=value` pairs, flags, and positional parameters that fill
// the not yet given ones of target, format, vdev, access in that order. An empty value means
// the default. `target=` consumes the rest of the spec (commas included), so it comes last.
// The deprecated forms are read too: prefixes on the target (`phy:`, `file:`, `tap:`, `aio:`...
// are dropped; `raw:`, `qcow:`, `qcow2:`, `vhd:`, `qed:` set the format; `iscsi:`, `nbd:`,
// `enbd:`, `drbd:` set `script=block-NAME`), after which the next positional is the vdev
// (`[FORMAT:]TARGET,VDEV[:cdrom],ACCESS`), as it is after a `VDEV:cdrom` in the format's place
// (`,hdc:cdrom,r`, an empty cdrom). The target is kept as written.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// Image formats a disk may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskFormat {
    /// `raw` (the default).
    Raw,
    /// `qcow`
    Qcow,
    /// `qcow2`
    Qcow2,
    /// `vhd`
    Vhd,
    /// `qed`
    Qed,
}

/// Whether the guest may write the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskAccess {
    /// `ro` or `r`
    ReadOnly,
    /// `rw` or `w` (the default except for a cdrom)
    ReadWrite,
}

/// A parsed DISKSPEC, kept for the split-driver work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskSpec {
    /// Block device or image path; `None` only for an empty cdrom.
    pub target: Option<String>,
    /// Image format.
    pub format: DiskFormat,
    /// Device name in the guest (`xvda`, `hdc`, ...).
    pub vdev: String,
    /// Read-only or read-write.
    pub access: DiskAccess,
    /// `devtype=cdrom` (or the `cdrom` flag, or `VDEV:cdrom`).
    pub cdrom: bool,
    /// `backend=DOMAIN`.
    pub backend: Option<String>,
    /// `backendtype=phy|qdisk|standalone|tap`.
    pub backendtype: Option<String>,
    /// `script=SCRIPT` (or a deprecated script prefix).
    pub script: Option<String>,
    /// Other `key=value` parameters xl knows (specification, grant_usage, colo-*), as given.
    pub options: Vec<(String, String)>,
    /// Other flags xl knows (`discard`, `no-discard`, `trusted`, `untrusted`,
    /// `direct-io-safe`, `colo`).
    pub flags: Vec<String>,
}

const POSITIONAL: [&str; 4] = ["target", "format", "vdev", "access"];
const TARGET: usize = 0;
const FORMAT: usize = 1;
const VDEV: usize = 2;

const IGNORED_PREFIXES: [&str; 7] = ["tapdisk", "tap2", "tap", "aio", "ioemu", "file", "phy"];
const FORMAT_PREFIXES: [&str; 5] = ["raw", "qcow", "qcow2", "vhd", "qed"];
const SCRIPT_PREFIXES: [&str; 4] = ["iscsi", "nbd", "enbd", "drbd"];
const OTHER_KEYS: [&str; 7] = [
    "specification",
    "grant_usage",
    "colo-host",
    "colo-port",
    "colo-export",
    "active-disk",
    "hidden-disk",
];
const FLAGS: [&str; 6] = [
    "direct-io-safe",
    "discard",
    "no-discard",
    "trusted",
    "untrusted",
    "colo",
];

#[derive(Default)]
struct Draft {
    /// The four positional parameters: `Some` once given (perhaps empty).
    positional: [Option<String>; 4],
    devtype: Option<String>,
    backend: Option<String>,
    backendtype: Option<String>,
    script: Option<String>,
    options: Vec<(String, String)>,
    flags: Vec<String>,
    /// A `VDEV:cdrom` was seen.
    vdev_cdrom: bool,
}

impl Draft {
    fn set(slot: &mut Option<String>, name: &str, value: &str) -> Result<(), String> {
        if slot.is_some() {
            return Err(format!("parameter \"{name}\" specified more than once"));
        }
        *slot = Some(value.to_string());
        Ok(())
    }

    fn positional(&mut self, index: usize, value: &str) -> Result<(), String> {
        let value = if index == VDEV {
            match value.strip_suffix(":cdrom") {
                Some(vdev) => {
                    self.vdev_cdrom = true;
                    vdev
                }
                None => value,
            }
        } else {
            value
        };
        Self::set(&mut self.positional[index], POSITIONAL[index], value)
    }

    /// A bare word: the next positional parameter not yet given.
    fn bare(&mut self, word: &str) -> Result<(), String> {
        let Some(index) = self.positional.iter().position(Option::is_none) else {
            return Err(format!("unexpected extra parameter \"{word}\""));
        };
        if index == FORMAT && word.contains(':') {
            // No format has a colon: this is `VDEV:DEVTYPE` of the deprecated syntax
            // (`,hdc:cdrom,r` is an empty cdrom).
            self.positional[FORMAT] = Some(String::new());
            return self.positional(VDEV, word);
        }
        if index != TARGET {
            return self.positional(index, word);
        }
        let mut target = word;
        let mut deprecated = false;
        while let Some((prefix, rest)) = target.split_once(':') {
            if IGNORED_PREFIXES.contains(&prefix) {
                // Dropped, as xl drops them: the toolstack picks the backend.
            } else if FORMAT_PREFIXES.contains(&prefix) {
                Self::set(&mut self.positional[FORMAT], "format", prefix)?;
            } else if SCRIPT_PREFIXES.contains(&prefix) {
                Self::set(&mut self.script, "script", &format!("block-{prefix}"))?;
            } else {
                break;
            }
            deprecated = true;
            target = rest;
        }
        if deprecated && self.positional[FORMAT].is_none() {
            // `[FORMAT:]TARGET,VDEV,ACCESS`: no format position follows.
            self.positional[FORMAT] = Some(String::new());
        }
        self.positional(TARGET, target)
    }

    fn named(&mut self, key: &str, value: &str) -> Result<(), String> {
        if let Some(index) = POSITIONAL.iter().position(|&p| p == key) {
            return self.positional(index, value);
        }
        match key {
            "devtype" => Self::set(&mut self.devtype, key, value),
            "backend" => Self::set(&mut self.backend, key, value),
            "backendtype" => Self::set(&mut self.backendtype, key, value),
            "script" => Self::set(&mut self.script, key, value),
            _ if OTHER_KEYS.contains(&key) => {
                if self.options.iter().any(|(k, _)| k == key) {
                    return Err(format!("parameter \"{key}\" specified more than once"));
                }
                self.options.push((key.to_string(), value.to_string()));
                Ok(())
            }
            _ => Err(format!("unknown parameter \"{key}\"")),
        }
    }
}

/// `value` if it is given and not empty.
fn given(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// Parses one DISKSPEC. The error says what is wrong, without the file position.
pub fn parse_disk_spec(spec: &str) -> Result<DiskSpec, String> {
    let mut draft = Draft::default();
    let mut rest = spec;
    loop {
        let (token, next) = match rest.split_once(',') {
            Some((token, next)) => (token, Some(next)),
            None => (rest, None),
        };
        let token_start = rest.trim_start();
        if let Some(target) = token_start.strip_prefix("target=") {
            // The whole rest of the spec, commas included; it may replace an empty positional.
            if draft.positional[TARGET].as_deref() == Some("") {
                draft.positional[TARGET] = None;
            }
            draft.positional(TARGET, target)?;
            break;
        }
        let token = token.trim_start();
        if let Some((key, value)) = token.split_once('=') {
            draft.named(key, value)?;
        } else if token == "cdrom" {
            draft.devtype.get_or_insert_with(|| String::from("cdrom"));
        } else if FLAGS.contains(&token) {
            if !draft.flags.iter().any(|f| f == token) {
                draft.flags.push(token.to_string());
            }
        } else {
            draft.bare(token)?;
        }
        match next {
            Some(next) => rest = next,
            None => break,
        }
    }
    finish(draft)
}

fn finish(draft: Draft) -> Result<DiskSpec, String> {
    let [target, format, vdev, access] = draft.positional;
    let cdrom = match given(draft.devtype).as_deref() {
        None => draft.vdev_cdrom,
        Some("cdrom") => true,
        Some(other) => return Err(format!("invalid devtype \"{other}\" (only \"cdrom\")")),
    };
    let format = match given(format).as_deref() {
        None | Some("raw") => DiskFormat::Raw,
        Some("qcow") => DiskFormat::Qcow,
        Some("qcow2") => DiskFormat::Qcow2,
        Some("vhd") => DiskFormat::Vhd,
        Some("qed") => DiskFormat::Qed,
        Some(other) => {
            return Err(format!(
                "invalid format \"{other}\" (raw, qcow, qcow2, vhd or qed)"
            ));
        }
    };
    let access = match given(access).as_deref() {
        None if cdrom => DiskAccess::ReadOnly,
        None => DiskAccess::ReadWrite,
        Some("ro" | "r") => DiskAccess::ReadOnly,
        Some("rw" | "w") => DiskAccess::ReadWrite,
        Some(other) => return Err(format!("invalid access \"{other}\" (ro, r, rw or w)")),
    };
    let Some(vdev) = given(vdev) else {
        return Err(String::from("missing vdev"));
    };
    if !vdev.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!("invalid vdev \"{vdev}\""));
    }
    let target = given(target);
    if target.is_none() && !cdrom {
        return Err(String::from("missing target"));
    }
    Ok(DiskSpec {
        target,
        format,
        vdev,
        access,
        cdrom,
        backend: given(draft.backend),
        backendtype: given(draft.backendtype),
        script: given(draft.script),
        options: draft.options,
        flags: draft.flags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn disk(target: Option<&str>, vdev: &str, access: DiskAccess, cdrom: bool) -> DiskSpec {
        DiskSpec {
            target: target.map(String::from),
            format: DiskFormat::Raw,
            vdev: vdev.into(),
            access,
            cdrom,
            backend: None,
            backendtype: None,
            script: None,
            options: vec![],
            flags: vec![],
        }
    }

    #[test]
    fn the_equivalent_forms_of_the_manual_agree() {
        let want = disk(
            Some("/dev/vg/guest-volume"),
            "hda",
            DiskAccess::ReadWrite,
            false,
        );
        for spec in [
            "/dev/vg/guest-volume,,hda",
            "/dev/vg/guest-volume,raw,hda,rw",
            "format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume",
            "raw:/dev/vg/guest-volume,hda,w",
            "phy:/dev/vg/guest-volume,hda,w",
        ] {
            assert_eq!(parse_disk_spec(spec).as_ref(), Ok(&want), "{spec}");
        }
        let want = disk(Some("/root/image.iso"), "hdc", DiskAccess::ReadOnly, true);
        for spec in [
            "/root/image.iso,,hdc,cdrom",
            "/root/image.iso,,hdc,,cdrom",
            "/root/image.iso,raw,hdc,devtype=cdrom",
            "format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/root/image.iso",
            "raw:/root/image.iso,hdc:cdrom,ro",
        ] {
            assert_eq!(parse_disk_spec(spec).as_ref(), Ok(&want), "{spec}");
        }
    }

    #[test]
    fn keeps_the_other_parameters() {
        let d = parse_disk_spec(
            ",qcow2,xvdb,r,backend=d2,backendtype=qdisk,discard,specification=xen,target=/a,b c ",
        )
        .unwrap();
        assert_eq!(d.target.as_deref(), Some("/a,b c "));
        assert_eq!(d.format, DiskFormat::Qcow2);
        assert_eq!((d.vdev.as_str(), d.access), ("xvdb", DiskAccess::ReadOnly));
        assert_eq!(d.backend.as_deref(), Some("d2"));
        assert_eq!(d.backendtype.as_deref(), Some("qdisk"));
        assert_eq!(d.flags, vec![String::from("discard")]);
        assert_eq!(d.options, vec![("specification".into(), "xen".into())]);
        let d = parse_disk_spec("nbd:host:1234,xvdc,w").unwrap();
        assert_eq!(d.script.as_deref(), Some("block-nbd"));
        assert_eq!(d.target.as_deref(), Some("host:1234"));
        let empty_cdrom = parse_disk_spec(",hdc:cdrom,r").unwrap();
        assert_eq!(empty_cdrom, disk(None, "hdc", DiskAccess::ReadOnly, true));
    }

    #[test]
    fn rejects_bad_specs() {
        let err = |spec: &str| parse_disk_spec(spec).unwrap_err();
        assert_eq!(err("/img"), "missing vdev");
        assert_eq!(err(""), "missing vdev");
        assert_eq!(err(",,xvda"), "missing target");
        assert_eq!(
            err("/img,vmdk,xvda"),
            "invalid format \"vmdk\" (raw, qcow, qcow2, vhd or qed)"
        );
        assert_eq!(
            err("/img,,xvda,rx"),
            "invalid access \"rx\" (ro, r, rw or w)"
        );
        assert_eq!(
            err("/img,,xvda,w,extra"),
            "unexpected extra parameter \"extra\""
        );
        assert_eq!(
            err("/img,,xvda,vdev=xvdb"),
            "parameter \"vdev\" specified more than once"
        );
        assert_eq!(
            err("/img,,xvda,target=/b"),
            "parameter \"target\" specified more than once"
        );
        assert_eq!(err("/img,,xvda,colour=red"), "unknown parameter \"colour\"");
        assert_eq!(err("/img,,xv/da"), "invalid vdev \"xv/da\"");
        assert_eq!(
            err("/img,,xvda,devtype=floppy"),
            "invalid devtype \"floppy\" (only \"cdrom\")"
        );
    }
}
