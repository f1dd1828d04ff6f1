//! Two guests on Dom0's bridge: ping each way, a TCP transfer whose checksums match on both ends (and the host's), and a vif attached to a running guest and detached again.

#![forbid(unsafe_code)]

use tests::xl_session::{On, answer, answer_at, xl_on};

/// Bytes of the TCP transfer, and its pattern's seed.
const BYTES: u64 = 256 * 1024;
const SEED: u64 = 7;

/// The pattern `tcp send` sends (pv-guest-kernel's domu/net/pattern.rs).
fn pattern_byte(i: u64, seed: u64) -> u8 {
    (i ^ (i >> 8) ^ (i >> 16))
        .wrapping_mul(31)
        .wrapping_add(seed.wrapping_mul(0x9e37)) as u8
}

/// CRC-32 (IEEE, zlib's) of the first `n` bytes of the pattern.
fn pattern_crc(n: u64, seed: u64) -> u32 {
    let mut c = 0xffff_ffffu32;
    for i in 0..n {
        c ^= u32::from(pattern_byte(i, seed));
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

#[test]
fn crc_is_zlibs() {
    // The check value of CRC-32/ISO-HDLC.
    let mut c = 0xffff_ffffu32;
    for &b in b"123456789" {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    assert_eq!(!c, 0xcbf4_3926);
}

#[test]
fn two_guests_ping_and_talk_tcp_over_the_bridge_and_a_vif_comes_and_goes_on_xen_core() {
    two_guests_ping_and_talk_tcp_over_the_bridge_and_a_vif_comes_and_goes(On::XenCore);
}

#[test]
fn two_guests_ping_and_talk_tcp_over_the_bridge_and_a_vif_comes_and_goes_on_xen_417() {
    two_guests_ping_and_talk_tcp_over_the_bridge_and_a_vif_comes_and_goes(On::Xen417);
}

fn two_guests_ping_and_talk_tcp_over_the_bridge_and_a_vif_comes_and_goes(on: On) {
    let script = format!(
        "create /etc/xen/tests/net-a.cfg\n\
         create /etc/xen/tests/net-b.cfg\n\
         console neta\n\
         @wait net: vif 0 is 10.0.0.1/24\n\
         ip\n\
         tcp listen 5001\n\
         @wait domu# \n\
         ^]\n\
         console netb\n\
         @wait net: vif 0 is 10.0.0.2/24\n\
         ping 10.0.0.1 3\n\
         tcp send 10.0.0.1 5001 {BYTES} {SEED}\n\
         @wait domu# \n\
         ^]\n\
         console neta\n\
         @wait tcp: received\n\
         ping 10.0.0.2 3\n\
         @wait domu# \n\
         ^]\n\
         network-list neta netb\n\
         network-attach neta mac=00:16:3e:00:00:1a\n\
         network-list neta\n\
         console neta\n\
         @wait netfront: vif 1 connected\n\
         ip\n\
         @wait vif1: mac\n\
         @wait  port \n\
         ^]\n\
         network-detach neta 1\n\
         network-list neta\n\
         network-detach neta 7\n\
         destroy neta\n\
         destroy netb\n\
         list\n"
    );
    let Some(run) = xl_on(on, &script) else {
        return;
    };
    let report = || run.report(120);
    let ip = answer_at(&run, "domu# ", "ip", 0);
    assert!(
        ip.contains("vif0: mac 00:16:3e:00:00:0a state Connected"),
        "{ip}\n{}",
        report()
    );
    assert!(ip.contains("inet 10.0.0.1/24"), "{ip}");

    for (nth, from) in [(0, "10.0.0.1"), (1, "10.0.0.2")] {
        let ping = answer_at(&run, "domu# ", &format!("ping {from} 3"), 0);
        let _ = nth;
        for seq in 1..=3 {
            assert!(
                ping.contains(&format!("64 bytes from {from}: icmp_seq={seq} ")),
                "{ping}\n{}",
                report()
            );
        }
        assert!(
            ping.contains("3 packets transmitted, 3 received, 0% packet loss"),
            "{ping}"
        );
    }

    let expected = format!("crc32 {:#010x}", pattern_crc(BYTES, SEED));
    let sent = answer_at(
        &run,
        "domu# ",
        &format!("tcp send 10.0.0.1 5001 {BYTES} {SEED}"),
        0,
    );
    assert!(
        sent.contains(&format!("tcp: sent {BYTES} bytes {expected}")),
        "{sent}\n{}",
        report()
    );
    if let Some(figure) = sent.lines().find(|l| l.starts_with("tcp: figure")) {
        eprintln!("{on:?}: {figure}");
    }
    let received = format!("tcp: received {BYTES} bytes {expected}");
    assert!(
        run.output.contains(&received),
        "no `{received}`\n{}",
        report()
    );

    let list = answer(&run, "network-list neta netb", 0);
    let rows: Vec<&str> = list
        .lines()
        .filter(|l| l.contains("/backend/vif/"))
        .collect();
    assert!(
        list.starts_with("Idx BE Mac Addr.         handle state evt-ch"),
        "{list}"
    );
    assert_eq!(rows.len(), 2, "{list}");
    for (row, mac) in rows.iter().zip(["00:16:3e:00:00:0a", "00:16:3e:00:00:0b"]) {
        let w: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            (w[0], w[1], w[2], w[3], w[4]),
            ("0", "0", mac, "0", "4"),
            "{list}"
        );
        assert!(w[5].parse::<u32>().is_ok(), "evt-ch {row}");
    }

    let attached = answer(&run, "network-list neta", 0);
    assert!(
        attached
            .lines()
            .any(|l| l.starts_with("1   0  00:16:3e:00:00:1a      1     4 ")),
        "{attached}\n{}",
        report()
    );
    // Attaching a console replays its history: the last `ip` is the new one.
    let ips = run.output.replace('\r', "").matches("domu# ip\n").count();
    let ip2 = answer_at(&run, "domu# ", "ip", ips - 1);
    assert!(
        ip2.contains("vif1: mac 00:16:3e:00:00:1a state Connected"),
        "{ip2}"
    );
    let detached = answer(&run, "network-list neta", 1);
    assert!(!detached.contains("00:16:3e:00:00:1a"), "{detached}");
    assert!(detached.contains("00:16:3e:00:00:0a"), "{detached}");
    assert!(answer(&run, "network-detach neta 7", 0).contains("Unknown device 7."));
    let list = answer(&run, "list", 0);
    assert!(!list.contains("neta") && !list.contains("netb"), "{list}");
    assert!(
        !run.output.contains("netback: vif"),
        "a backend error\n{}",
        report()
    );
}
