//! One `vif = [ ... ]` entry (a VIFSPEC, xl-network-configuration(5)), parsed and checked.
//
// A VIFSPEC is comma-separated `key=value` pairs and flags, all optional; white space around
// each is dropped and empty ones are skipped (so `''` is a valid VIFSPEC). A key given twice
// keeps its last value, as xl does. `accel` is accepted and ignored (xl only warns).

use super::number::parse_long;
use alloc::format;
use alloc::string::{String, ToString};

/// A parsed VIFSPEC, kept for the split-driver work.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VifSpec {
    /// `mac=XX:XX:XX:XX:XX:XX`; `None` means generate one (in Xen's 00:16:3e range).
    pub mac: Option<[u8; 6]>,
    /// `bridge=NAME` (xl's default is `xenbr0`).
    pub bridge: Option<String>,
    /// `ip=ADDRESS`, as given.
    pub ip: Option<String>,
    /// `model=NAME` (HVM only in xl; kept).
    pub model: Option<String>,
    /// `type=ioemu|vif`.
    pub vif_type: Option<String>,
    /// `vifname=NAME`, the backend device name.
    pub vifname: Option<String>,
    /// `script=PATH`, the hotplug script.
    pub script: Option<String>,
    /// `backend=DOMAIN`.
    pub backend: Option<String>,
    /// `gatewaydev=NAME` (or its old alias `netdev`).
    pub gatewaydev: Option<String>,
    /// `rate=RATE[@INTERVAL]`, as given.
    pub rate: Option<String>,
    /// `devid=N`.
    pub devid: Option<u32>,
    /// `mtu=N`.
    pub mtu: Option<u32>,
    /// `vlan=SPEC`, as given.
    pub vlan: Option<String>,
    /// `trusted` (true) or `untrusted` (false).
    pub trusted: Option<bool>,
}

/// Parses `aa:bb:cc:dd:ee:ff` (each part one or two hex digits).
fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in mac.iter_mut() {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

fn number(key: &str, value: &str, max: u32) -> Result<u32, String> {
    parse_long(value)
        .ok()
        .and_then(|n| u32::try_from(n).ok())
        .filter(|&n| n <= max)
        .ok_or_else(|| format!("invalid {key} \"{value}\" (0 to {max})"))
}

/// Parses one VIFSPEC. The error says what is wrong, without the file position.
pub fn parse_vif_spec(spec: &str) -> Result<VifSpec, String> {
    let mut vif = VifSpec::default();
    for token in spec.split(',') {
        let token = token.trim();
        if token.is_empty() {
            continue;
        }
        let Some((key, value)) = token.split_once('=') else {
            match token {
                "trusted" => vif.trusted = Some(true),
                "untrusted" => vif.trusted = Some(false),
                _ => return Err(format!("unrecognized argument \"{token}\"")),
            }
            continue;
        };
        let text = Some(value.to_string());
        match key {
            "mac" => {
                let mac =
                    parse_mac(value).ok_or_else(|| format!("invalid mac address \"{value}\""))?;
                if mac[0] & 1 != 0 {
                    return Err(format!("mac address \"{value}\" is a multicast address"));
                }
                vif.mac = Some(mac);
            }
            "bridge" => vif.bridge = text,
            "ip" => vif.ip = text,
            "model" => vif.model = text,
            "type" => match value {
                "ioemu" | "vif" => vif.vif_type = text,
                _ => return Err(format!("invalid type \"{value}\" (ioemu or vif)")),
            },
            "vifname" => vif.vifname = text,
            "script" => vif.script = text,
            "backend" => vif.backend = text,
            "gatewaydev" | "netdev" => vif.gatewaydev = text,
            "rate" => vif.rate = text,
            "vlan" => vif.vlan = text,
            "devid" => vif.devid = Some(number(key, value, 65535)?),
            "mtu" => vif.mtu = Some(number(key, value, 65535)?),
            "accel" => {}
            _ => return Err(format!("unrecognized argument \"{token}\"")),
        }
    }
    Ok(vif)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_manual_examples() {
        let v = parse_vif_spec("mac=00:16:3E:74:3d:76,model=rtl8139,bridge=xenbr0").unwrap();
        assert_eq!(v.mac, Some([0x00, 0x16, 0x3e, 0x74, 0x3d, 0x76]));
        assert_eq!(v.model.as_deref(), Some("rtl8139"));
        assert_eq!(v.bridge.as_deref(), Some("xenbr0"));
        assert_eq!(parse_vif_spec(""), Ok(VifSpec::default()));
        let v = parse_vif_spec(" ip=10.0.0.2 , mtu=9000, devid=0x1,untrusted,bridge=a,bridge=b")
            .unwrap();
        assert_eq!(v.ip.as_deref(), Some("10.0.0.2"));
        assert_eq!(
            (v.mtu, v.devid, v.trusted),
            (Some(9000), Some(1), Some(false))
        );
        assert_eq!(v.bridge.as_deref(), Some("b"));
        assert_eq!(
            parse_vif_spec("netdev=eth0").unwrap().gatewaydev.as_deref(),
            Some("eth0")
        );
    }

    #[test]
    fn rejects_bad_specs() {
        let err = |spec: &str| parse_vif_spec(spec).unwrap_err();
        assert_eq!(
            err("mac=00:16:3e:74:3d"),
            "invalid mac address \"00:16:3e:74:3d\""
        );
        assert_eq!(
            err("mac=00:16:3e:74:3d:76:1"),
            "invalid mac address \"00:16:3e:74:3d:76:1\""
        );
        assert_eq!(
            err("mac=00:16:3e:74:3d:zz"),
            "invalid mac address \"00:16:3e:74:3d:zz\""
        );
        assert_eq!(
            err("mac=000:16:3e:74:3d:76"),
            "invalid mac address \"000:16:3e:74:3d:76\""
        );
        assert!(err("mac=01:00:5e:00:00:01").contains("multicast"));
        assert_eq!(
            err("mac=+0:16:3e:74:3d:76"),
            "invalid mac address \"+0:16:3e:74:3d:76\""
        );
        assert_eq!(err("colour=red"), "unrecognized argument \"colour=red\"");
        assert_eq!(err("fast"), "unrecognized argument \"fast\"");
        assert_eq!(err("mtu=lots"), "invalid mtu \"lots\" (0 to 65535)");
        assert_eq!(err("mtu=70000"), "invalid mtu \"70000\" (0 to 65535)");
        assert_eq!(err("devid=-1"), "invalid devid \"-1\" (0 to 65535)");
        assert_eq!(err("type=virtio"), "invalid type \"virtio\" (ioemu or vif)");
    }
}
