//! A vif's xenstore nodes as libxl lays them out, its default MAC, and the keys each end publishes in the handshake (checked when read).
// Toolstack (libxl's generic device nodes plus its nic ones): the backend directory
// /local/domain/<backend>/backend/vif/<domid>/<handle> holds frontend, frontend-id, online,
// state, then script, mac, bridge, handle, type (and ip, mtu, rate... when set); the frontend
// directory /local/domain/<domid>/device/vif/<handle> holds backend, backend-id, state, handle,
// mac, trusted, and a read-only mtu. No hotplug script runs in our Dom0, so no
// hotplug-status node is written (a backend waiting for one would never connect).
//
// Handshake (io/netif.h, and what Linux's drivers insist on): the backend offers
// feature-rx-copy=1 (netfront refuses a backend without it) and its other features; the
// frontend answers with tx-ring-ref, rx-ring-ref, event-channel, request-rx-copy=1 and
// feature-rx-notify=1 (Linux's netback refuses a frontend without either). Whatever the other
// end wrote is hostile: it is parsed strictly, and what we did not offer is refused.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use hypercall_abi::domid::DomId;
use hypercall_abi::netif::{
    NETIF_KEY_EVENT_CHANNEL, NETIF_KEY_FEATURE_GSO_TCPV4, NETIF_KEY_FEATURE_GSO_TCPV6,
    NETIF_KEY_FEATURE_IPV6_CSUM_OFFLOAD, NETIF_KEY_FEATURE_NO_CSUM_OFFLOAD,
    NETIF_KEY_FEATURE_RX_COPY, NETIF_KEY_FEATURE_RX_NOTIFY, NETIF_KEY_FEATURE_SG,
    NETIF_KEY_FEATURE_SPLIT_EVENT_CHANNELS, NETIF_KEY_MULTI_QUEUE_NUM_QUEUES,
    NETIF_KEY_REQUEST_RX_COPY, NETIF_KEY_RX_RING_REF, NETIF_KEY_TX_RING_REF,
};

use crate::domain_paths::{Access, Entry, domain_path};
use crate::xl_cfg::VifSpec;

/// xl's default bridge.
pub const DEFAULT_BRIDGE: &str = "xenbr0";
/// libxl's default MTU (not written to the backend when in force).
pub const DEFAULT_MTU: u32 = 1500;
/// `XenbusStateInitialising`, the state both directories start in.
const STATE_INITIALISING: &str = "1";

/// Everything the toolstack writes for one vif.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VifDevice {
    /// The guest.
    pub domid: DomId,
    /// The interface number (`handle`, xl's DEVID: the index in `vif = [...]` unless `devid=`).
    pub handle: u32,
    /// The backend domain (Dom0).
    pub backend: DomId,
    /// The guest's MAC address.
    pub mac: [u8; 6],
    /// The bridge the backend port joins.
    pub bridge: String,
    /// The MTU.
    pub mtu: u32,
    /// `script=` as given (informational: no script runs).
    pub script: Option<String>,
    /// `ip=` as given.
    pub ip: Option<String>,
    /// `vifname=` as given.
    pub vifname: Option<String>,
    /// `trusted` (the default) or `untrusted`.
    pub trusted: bool,
}

/// 64-bit FNV-1a over `bytes`, continuing from `h`.
fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The MAC a vif gets when its spec names none: in Xen's OUI 00:16:3e like libxl's, but
/// derived from `seed` (the domain's name or UUID) and the handle instead of drawn at random,
/// so the same config gets the same address every time. The fourth byte's top bit is clear,
/// as libxl leaves it.
pub fn default_mac(seed: &str, handle: u32) -> [u8; 6] {
    let h = fnv1a(
        fnv1a(0xcbf2_9ce4_8422_2325, seed.as_bytes()),
        &handle.to_le_bytes(),
    );
    let b = h.to_le_bytes();
    [0x00, 0x16, 0x3e, b[0] & 0x7f, b[1], b[2]]
}

/// `aa:bb:cc:dd:ee:ff`, lower case, as libxl writes it.
pub fn mac_text(mac: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
    )
}

impl VifDevice {
    /// The vif the `index`th entry of `vif = [...]` describes for domain `domid` (named
    /// `seed` for the default MAC). Backends other than Dom0 are not supported.
    pub fn from_spec(spec: &VifSpec, index: u32, domid: DomId, seed: &str) -> Result<Self, String> {
        if let Some(b) = spec.backend.as_deref()
            && b != "0"
            && b != "Domain-0"
        {
            return Err(format!("backend \"{b}\" not supported (only Domain-0)"));
        }
        if spec.vif_type.as_deref() == Some("ioemu") {
            return Err("trying to create PV guest with an emulated interface".to_string());
        }
        let handle = spec.devid.unwrap_or(index);
        let mtu = spec.mtu.unwrap_or(DEFAULT_MTU);
        if !(68..=DEFAULT_MTU).contains(&mtu) {
            return Err(format!("mtu {mtu} not supported (68 to {DEFAULT_MTU})"));
        }
        Ok(VifDevice {
            domid,
            handle,
            backend: 0,
            mac: spec.mac.unwrap_or_else(|| default_mac(seed, handle)),
            bridge: spec
                .bridge
                .clone()
                .unwrap_or_else(|| DEFAULT_BRIDGE.to_string()),
            mtu,
            script: spec.script.clone(),
            ip: spec.ip.clone(),
            vifname: spec.vifname.clone(),
            trusted: spec.trusted.unwrap_or(true),
        })
    }

    /// `/local/domain/<backend>/backend/vif/<domid>/<handle>`.
    pub fn backend_path(&self) -> String {
        format!(
            "{}/backend/vif/{}/{}",
            domain_path(self.backend),
            self.domid,
            self.handle
        )
    }

    /// `/local/domain/<domid>/device/vif/<handle>`.
    pub fn frontend_path(&self) -> String {
        format!("{}/device/vif/{}", domain_path(self.domid), self.handle)
    }

    /// The nodes the toolstack writes, backend first (libxl's order within each).
    pub fn entries(&self) -> Vec<Entry> {
        let back = self.backend_path();
        let front = self.frontend_path();
        let mac = mac_text(&self.mac);
        let mut out = Vec::new();
        let mut put = |dir: &str, key: &str, value: String, access: Access| {
            out.push(Entry {
                path: format!("{dir}/{key}"),
                value,
                access,
            })
        };
        use Access::{GuestReads, GuestWrites};
        put(&back, "frontend", front.clone(), GuestReads);
        put(&back, "frontend-id", self.domid.to_string(), GuestReads);
        put(&back, "online", "1".to_string(), GuestReads);
        put(&back, "state", STATE_INITIALISING.to_string(), GuestReads);
        if let Some(s) = &self.script {
            put(&back, "script", s.clone(), GuestReads);
        }
        if let Some(v) = &self.vifname {
            put(&back, "vifname", v.clone(), GuestReads);
        }
        put(&back, "mac", mac.clone(), GuestReads);
        if let Some(ip) = &self.ip {
            put(&back, "ip", ip.clone(), GuestReads);
        }
        if self.mtu != DEFAULT_MTU {
            put(&back, "mtu", self.mtu.to_string(), GuestReads);
        }
        put(&back, "bridge", self.bridge.clone(), GuestReads);
        put(&back, "handle", self.handle.to_string(), GuestReads);
        put(&back, "type", "vif".to_string(), GuestReads);

        put(&front, "backend", back.clone(), GuestWrites);
        put(&front, "backend-id", self.backend.to_string(), GuestWrites);
        put(&front, "state", STATE_INITIALISING.to_string(), GuestWrites);
        put(&front, "handle", self.handle.to_string(), GuestWrites);
        put(&front, "mac", mac, GuestWrites);
        put(&front, "mtu", self.mtu.to_string(), GuestReads);
        let trusted = if self.trusted { "1" } else { "0" };
        put(&front, "trusted", trusted.to_string(), GuestWrites);
        out
    }
}

/// What our netback offers, written to its directory before it goes InitWait: multi-slot tx
/// (sg), rx by copy only, and no offloads, split channels or multicast control.
pub const BACKEND_FEATURES: [(&str, &str); 7] = [
    (NETIF_KEY_FEATURE_SG, "1"),
    (NETIF_KEY_FEATURE_GSO_TCPV4, "0"),
    (NETIF_KEY_FEATURE_GSO_TCPV6, "0"),
    (NETIF_KEY_FEATURE_IPV6_CSUM_OFFLOAD, "0"),
    (NETIF_KEY_FEATURE_RX_COPY, "1"),
    ("feature-rx-flip", "0"),
    (NETIF_KEY_FEATURE_SPLIT_EVENT_CHANNELS, "0"),
];

/// What a frontend publishes before it goes Initialised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrontendRings {
    /// Grant of the tx ring page.
    pub tx_ring_ref: u32,
    /// Grant of the rx ring page.
    pub rx_ring_ref: u32,
    /// The frontend's event channel port (both rings).
    pub event_channel: u32,
    /// The frontend takes a frame in several rx buffers.
    pub sg: bool,
}

impl FrontendRings {
    /// The keys our netfront writes: its rings and port, rx by copy with notifications, one
    /// slot per frame, checksums always filled in.
    pub fn keys(&self) -> Vec<(&'static str, String)> {
        let flag = |b: bool| if b { "1" } else { "0" }.to_string();
        alloc::vec![
            (NETIF_KEY_TX_RING_REF, self.tx_ring_ref.to_string()),
            (NETIF_KEY_RX_RING_REF, self.rx_ring_ref.to_string()),
            (NETIF_KEY_EVENT_CHANNEL, self.event_channel.to_string()),
            (NETIF_KEY_REQUEST_RX_COPY, flag(true)),
            (NETIF_KEY_FEATURE_RX_NOTIFY, flag(true)),
            (NETIF_KEY_FEATURE_SG, flag(self.sg)),
            (NETIF_KEY_FEATURE_GSO_TCPV4, flag(false)),
            (NETIF_KEY_FEATURE_NO_CSUM_OFFLOAD, flag(true)),
        ]
    }

    /// Netback: reads what the frontend published (`read(key)` is the node's value in its
    /// directory, `None` if missing) and checks it against what we offered.
    pub fn read(read: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        let number = |key: &str| -> Result<u32, String> {
            let v = read(key).ok_or_else(|| format!("{key} missing"))?;
            parse_u32(&v).ok_or_else(|| format!("{key} \"{v}\" is not a number"))
        };
        let flag = |key: &str| -> Result<bool, String> {
            match read(key).as_deref() {
                None | Some("0") => Ok(false),
                Some("1") => Ok(true),
                Some(v) => Err(format!("{key} \"{v}\" is not 0 or 1")),
            }
        };
        if read(NETIF_KEY_MULTI_QUEUE_NUM_QUEUES).is_some_and(|q| q != "1") {
            return Err("multi-queue not offered".to_string());
        }
        if !flag(NETIF_KEY_REQUEST_RX_COPY)? {
            return Err("frontend does not support rx copy".to_string());
        }
        if !flag(NETIF_KEY_FEATURE_RX_NOTIFY)? {
            return Err("feature-rx-notify is mandatory".to_string());
        }
        for unoffered in [NETIF_KEY_FEATURE_GSO_TCPV4, NETIF_KEY_FEATURE_GSO_TCPV6] {
            // A frontend asking to receive segmentation offload is told no by not getting it.
            flag(unoffered)?;
        }
        Ok(FrontendRings {
            tx_ring_ref: number(NETIF_KEY_TX_RING_REF)?,
            rx_ring_ref: number(NETIF_KEY_RX_RING_REF)?,
            event_channel: number(NETIF_KEY_EVENT_CHANNEL)?,
            sg: flag(NETIF_KEY_FEATURE_SG)?,
        })
    }
}

/// Netfront: checks the backend offers what we need (rx by copy).
pub fn check_backend(read: &dyn Fn(&str) -> Option<String>) -> Result<(), String> {
    match read(NETIF_KEY_FEATURE_RX_COPY).as_deref() {
        Some("1") => Ok(()),
        _ => Err("backend does not support copying receive path".to_string()),
    }
}

/// A decimal u32 with no sign, spaces or leading `+` (xenstore values are guest text).
fn parse_u32(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xl_cfg::parse_vif_spec;
    use std::collections::HashMap;

    fn value<'a>(e: &'a [Entry], path: &str) -> &'a Entry {
        e.iter()
            .find(|x| x.path == path)
            .unwrap_or_else(|| panic!("{path} missing"))
    }

    #[test]
    fn an_empty_spec_gets_libxl_defaults() {
        let vif = VifDevice::from_spec(&parse_vif_spec("").unwrap(), 0, 3, "d1").unwrap();
        assert_eq!(vif.bridge, "xenbr0");
        assert_eq!(vif.mtu, 1500);
        assert_eq!(&vif.mac[..3], &[0x00, 0x16, 0x3e]);
        assert_eq!(vif.mac[3] & 0x80, 0);
        let e = vif.entries();
        let b = "/local/domain/0/backend/vif/3/0";
        let f = "/local/domain/3/device/vif/0";
        assert_eq!(value(&e, &format!("{b}/frontend")).value, f);
        assert_eq!(value(&e, &format!("{b}/frontend-id")).value, "3");
        assert_eq!(value(&e, &format!("{b}/online")).value, "1");
        assert_eq!(value(&e, &format!("{b}/state")).value, "1");
        assert_eq!(value(&e, &format!("{b}/bridge")).value, "xenbr0");
        assert_eq!(value(&e, &format!("{b}/handle")).value, "0");
        assert_eq!(value(&e, &format!("{b}/type")).value, "vif");
        assert_eq!(value(&e, &format!("{f}/backend")).value, b);
        assert_eq!(value(&e, &format!("{f}/backend-id")).value, "0");
        assert_eq!(value(&e, &format!("{f}/state")).value, "1");
        assert_eq!(value(&e, &format!("{f}/handle")).value, "0");
        assert_eq!(
            value(&e, &format!("{f}/mac")).value,
            value(&e, &format!("{b}/mac")).value
        );
        assert_eq!(value(&e, &format!("{f}/mtu")).access, Access::GuestReads);
        assert_eq!(value(&e, &format!("{f}/state")).access, Access::GuestWrites);
        assert_eq!(value(&e, &format!("{b}/state")).access, Access::GuestReads);
        for absent in ["script", "mtu", "ip", "hotplug-status"] {
            assert!(e.iter().all(|x| x.path != format!("{b}/{absent}")));
        }
    }

    #[test]
    fn a_full_spec_is_carried_over() {
        let spec = parse_vif_spec(
            "mac=00:16:3E:74:3d:76,bridge=br1,ip=10.0.0.2,script=vif-bridge,mtu=1400,devid=2,untrusted",
        )
        .unwrap();
        let vif = VifDevice::from_spec(&spec, 0, 7, "d").unwrap();
        let e = vif.entries();
        let b = "/local/domain/0/backend/vif/7/2";
        assert_eq!(value(&e, &format!("{b}/mac")).value, "00:16:3e:74:3d:76");
        assert_eq!(value(&e, &format!("{b}/bridge")).value, "br1");
        assert_eq!(value(&e, &format!("{b}/ip")).value, "10.0.0.2");
        assert_eq!(value(&e, &format!("{b}/script")).value, "vif-bridge");
        assert_eq!(value(&e, &format!("{b}/mtu")).value, "1400");
        assert_eq!(value(&e, "/local/domain/7/device/vif/2/trusted").value, "0");
    }

    #[test]
    fn specs_we_cannot_serve_are_refused() {
        let refuse = |s: &str| VifDevice::from_spec(&parse_vif_spec(s).unwrap(), 0, 1, "d");
        assert!(refuse("backend=drv").unwrap_err().contains("drv"));
        assert!(refuse("type=ioemu").unwrap_err().contains("emulated"));
        assert!(refuse("mtu=9000").unwrap_err().contains("9000"));
        assert!(refuse("backend=0").is_ok());
    }

    #[test]
    fn default_macs_are_stable_and_differ_per_vif() {
        assert_eq!(default_mac("d1", 0), default_mac("d1", 0));
        assert_ne!(default_mac("d1", 0), default_mac("d1", 1));
        assert_ne!(default_mac("d1", 0), default_mac("d2", 0));
        for n in 0..64 {
            let m = default_mac("guest", n);
            assert_eq!(&m[..3], &[0x00, 0x16, 0x3e]);
            assert_eq!(m[3] & 0x80, 0);
        }
        assert_eq!(
            mac_text(&[0, 0x16, 0x3e, 0xa, 0xbc, 1]),
            "00:16:3e:0a:bc:01"
        );
    }

    fn store(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_frontend_keys_round_trip_and_are_checked() {
        let rings = FrontendRings {
            tx_ring_ref: 9,
            rx_ring_ref: 10,
            event_channel: 5,
            sg: false,
        };
        let keys: HashMap<String, String> = rings
            .keys()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(keys["request-rx-copy"], "1");
        assert_eq!(keys["feature-rx-notify"], "1");
        assert_eq!(keys["feature-sg"], "0");
        assert_eq!(FrontendRings::read(&|k| keys.get(k).cloned()), Ok(rings));

        let base = [
            ("tx-ring-ref", "9"),
            ("rx-ring-ref", "10"),
            ("event-channel", "5"),
            ("request-rx-copy", "1"),
            ("feature-rx-notify", "1"),
        ];
        let with = |k: &str, v: Option<&str>| {
            let mut s = store(&base);
            match v {
                Some(v) => s.insert(k.to_string(), v.to_string()),
                None => s.remove(k),
            };
            FrontendRings::read(&|key| s.get(key).cloned())
        };
        assert!(with("feature-sg", Some("1")).unwrap().sg);
        assert_eq!(with("tx-ring-ref", None), Err("tx-ring-ref missing".into()));
        assert!(with("rx-ring-ref", Some("-1")).is_err());
        assert!(with("event-channel", Some("99999999999")).is_err());
        assert!(with("event-channel", Some(" 5")).is_err());
        assert!(
            with("request-rx-copy", Some("0"))
                .unwrap_err()
                .contains("rx copy")
        );
        assert!(
            with("feature-rx-notify", None)
                .unwrap_err()
                .contains("mandatory")
        );
        assert!(with("feature-sg", Some("yes")).is_err());
        assert!(with("multi-queue-num-queues", Some("4")).is_err());
        assert!(with("multi-queue-num-queues", Some("1")).is_ok());
    }

    #[test]
    fn netfront_needs_rx_copy_from_the_backend() {
        let offered = store(&BACKEND_FEATURES);
        assert_eq!(check_backend(&|k| offered.get(k).cloned()), Ok(()));
        assert!(check_backend(&|_| None).is_err());
        assert_eq!(offered["feature-rx-copy"], "1");
        assert_eq!(offered["feature-sg"], "1");
    }
}
