//! `xl network-attach`, `network-detach` and `network-list`: their arguments parsed, and network-list's table in xl's columns.
// As xl_nic.c in Xen 4.17 reads them: network-attach takes a domain and then VIFSPEC words
// (`mac=...`, `bridge=...`, each as in a config's `vif = [...]` entry); network-detach a
// domain and a device, a number being a devid and anything else a MAC; network-list one or
// more domains. The table has one header line and a row per vif, the missing numbers
// (a vif not connected yet) shown as -1.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::dom_resolve::DomSpec;
use crate::xl_cfg::VifSpec;
use crate::xl_cfg::vif::parse_vif_spec;

/// network-list's header line.
pub const HEADER: &str = "Idx BE Mac Addr.         handle state evt-ch   tx-/rx-ring-ref BE-path\n";

/// The usage lines, as xl's help gives them.
pub const ATTACH_USAGE: &str = "Usage: xl [-v] network-attach <Domain> [type=<type>] [mac=<mac>] [bridge=<bridge>] [ip=<ip>] [script=<script>] [backend=<BackDomain>] [vifname=<name>] [rate=<rate>] [model=<model>] [accel=<accel>]\n\nCreate a new virtual network device.\n";
/// See [`ATTACH_USAGE`].
pub const DETACH_USAGE: &str = "Usage: xl [-v] network-detach <Domain> <DevId|mac>\n\nDestroy a domain's virtual network device.\n";
/// See [`ATTACH_USAGE`].
pub const LIST_USAGE: &str =
    "Usage: xl [-v] network-list <Domain(s)>\n\nList virtual network interfaces for a domain.\n";

/// Which vif network-detach names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NicId {
    /// Its devid (handle).
    Devid(u32),
    /// Its MAC address.
    Mac([u8; 6]),
}

/// One of the three commands, or what is wrong with its line (the text to print).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetworkCommand {
    /// `network-attach DOM [VIFSPEC words]`.
    Attach {
        /// The guest.
        domain: DomSpec,
        /// The vif's settings.
        spec: Box<VifSpec>,
    },
    /// `network-detach DOM DEVID|MAC`.
    Detach {
        /// The guest.
        domain: DomSpec,
        /// The vif.
        nic: NicId,
    },
    /// `network-list DOM...`.
    List(Vec<DomSpec>),
    /// A bad line: what xl prints.
    Bad(String),
}

fn too_few(name: &str, usage: &str) -> NetworkCommand {
    NetworkCommand::Bad(format!(
        "'xl {name}' requires at least 1 argument.\n\n{usage}"
    ))
}

/// A MAC written `aa:bb:cc:dd:ee:ff` (hex digits, either case).
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// Parses the words after `name` (one of network-attach, -detach, -list).
pub fn parse(name: &str, args: &[&str]) -> NetworkCommand {
    if args.iter().any(|a| *a == "-h" || *a == "--help") {
        let usage = match name {
            "network-attach" => ATTACH_USAGE,
            "network-detach" => DETACH_USAGE,
            _ => LIST_USAGE,
        };
        return NetworkCommand::Bad(String::from(usage));
    }
    match name {
        "network-attach" => {
            let Some((dom, words)) = args.split_first() else {
                return too_few(name, ATTACH_USAGE);
            };
            let joined = words.join(",");
            match parse_vif_spec(&joined) {
                Ok(spec) => NetworkCommand::Attach {
                    domain: DomSpec::parse(dom),
                    spec: Box::new(spec),
                },
                Err(e) => NetworkCommand::Bad(format!("Invalid parameter: {e}\n")),
            }
        }
        "network-detach" => {
            let [dom, nic] = args else {
                return if args.len() < 2 {
                    NetworkCommand::Bad(format!(
                        "'xl {name}' requires at least 2 arguments.\n\n{DETACH_USAGE}"
                    ))
                } else {
                    NetworkCommand::Bad(String::from(DETACH_USAGE))
                };
            };
            let id = if nic.bytes().all(|b| b.is_ascii_digit()) {
                nic.parse().ok().map(NicId::Devid)
            } else {
                parse_mac(nic).map(NicId::Mac)
            };
            match id {
                Some(nic) => NetworkCommand::Detach {
                    domain: DomSpec::parse(dom),
                    nic,
                },
                None => NetworkCommand::Bad(format!("Unknown device {nic}.\n")),
            }
        }
        _ => {
            if args.is_empty() {
                return too_few(name, LIST_USAGE);
            }
            NetworkCommand::List(args.iter().map(|a| DomSpec::parse(a)).collect())
        }
    }
}

/// One row of network-list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NicRow {
    /// The vif's index (its devid, as libxl lists them).
    pub idx: u32,
    /// The backend domain.
    pub backend_id: u32,
    /// `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    /// The devid.
    pub handle: u32,
    /// The frontend's xenbus state number.
    pub state: u32,
    /// The frontend's event channel, -1 if not published.
    pub evtch: i64,
    /// The tx ring's grant reference, -1 if not published.
    pub tx_ref: i64,
    /// The rx ring's grant reference, -1 if not published.
    pub rx_ref: i64,
    /// The backend directory.
    pub be_path: String,
}

/// One row in xl's widths.
pub fn format_row(r: &NicRow) -> String {
    format!(
        "{:<3} {:<2} {:<17} {:>6} {:>5} {:>6} {:>5}/{:<11} {:<30}\n",
        r.idx, r.backend_id, r.mac, r.handle, r.state, r.evtch, r.tx_ref, r.rx_ref, r.be_path
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_line_up_under_xls_header() {
        let row = NicRow {
            idx: 0,
            backend_id: 0,
            mac: String::from("00:16:3e:57:db:c5"),
            handle: 0,
            state: 4,
            evtch: -1,
            tx_ref: -1,
            rx_ref: -1,
            be_path: String::from("/local/domain/0/backend/vif/2/0"),
        };
        assert_eq!(
            format_row(&row),
            "0   0  00:16:3e:57:db:c5      0     4     -1    -1/-1          /local/domain/0/backend/vif/2/0\n"
        );
        let row = NicRow {
            idx: 1,
            handle: 1,
            evtch: 12,
            tx_ref: 1282,
            rx_ref: 1283,
            ..row
        };
        assert!(format_row(&row).contains("     1     4     12  1282/1283        /local"));
        assert!(HEADER.starts_with("Idx BE Mac Addr.         handle state evt-ch"));
    }

    #[test]
    fn commands_parse_and_bad_lines_say_why() {
        match parse(
            "network-attach",
            &["g1", "mac=00:16:3e:00:00:09", "bridge=xenbr0"],
        ) {
            NetworkCommand::Attach { domain, spec } => {
                assert_eq!(domain, DomSpec::Name(String::from("g1")));
                assert_eq!(spec.mac, Some([0, 0x16, 0x3e, 0, 0, 9]));
                assert_eq!(spec.bridge.as_deref(), Some("xenbr0"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse("network-attach", &["3"]),
            NetworkCommand::Attach {
                domain: DomSpec::Id(3),
                ..
            }
        ));
        assert_eq!(
            parse("network-detach", &["g1", "1"]),
            NetworkCommand::Detach {
                domain: DomSpec::Name(String::from("g1")),
                nic: NicId::Devid(1)
            }
        );
        assert_eq!(
            parse("network-detach", &["g1", "00:16:3E:00:00:09"]),
            NetworkCommand::Detach {
                domain: DomSpec::Name(String::from("g1")),
                nic: NicId::Mac([0, 0x16, 0x3e, 0, 0, 9])
            }
        );
        assert_eq!(
            parse("network-detach", &["g1", "eth0"]),
            NetworkCommand::Bad(String::from("Unknown device eth0.\n"))
        );
        assert_eq!(
            parse("network-list", &["1", "g2"]),
            NetworkCommand::List(vec![DomSpec::Id(1), DomSpec::Name(String::from("g2"))])
        );
        for (name, args) in [
            ("network-attach", &[][..]),
            ("network-detach", &["g1"][..]),
            ("network-list", &[][..]),
        ] {
            match parse(name, args) {
                NetworkCommand::Bad(text) => assert!(text.contains("requires at least"), "{text}"),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(
            parse("network-attach", &["g1", "mac=zz"]),
            NetworkCommand::Bad(_)
        ));
        assert_eq!(parse_mac("00:16:3e:00:00"), None);
        assert_eq!(parse_mac("00:16:3e:00:00:01:02"), None);
    }
}
