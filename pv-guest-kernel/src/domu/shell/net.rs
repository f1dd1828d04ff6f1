//! The shell's network commands: `ip` (vifs, address, counters), `ping IP [COUNT]`, `tcp listen PORT`, `tcp send IP PORT BYTES SEED`.

use alloc::vec::Vec;

use smoltcp::wire::Ipv4Address;

use crate::console::{Escaped, kprintln};
use crate::domu::net::runtime::NetRuntime;

/// Most echo requests one `ping` sends.
const MAX_PING: u16 = 1000;
/// Most bytes one `tcp send` sends.
const MAX_SEND: u64 = 1 << 30;

/// The help lines of these commands.
pub const HELP: [&str; 4] = [
    "ip              the vifs: address, MAC, state, counters",
    "ping IP [N]     N ICMP echo requests (3 by default)",
    "tcp listen PORT accept one connection in the background and sum what arrives",
    "tcp send IP PORT BYTES SEED  send BYTES of the SEED pattern and sum them",
];

fn number<T: core::str::FromStr>(word: &[u8]) -> Option<T> {
    core::str::from_utf8(word).ok()?.parse().ok()
}

fn address(word: &[u8]) -> Option<Ipv4Address> {
    core::str::from_utf8(word).ok()?.parse().ok()
}

/// Runs `line` if it is a network command; false if it is not one.
pub fn run(net: &mut NetRuntime, line: &[u8]) -> bool {
    let words: Vec<&[u8]> = line
        .split(|&b| b == b' ')
        .filter(|w| !w.is_empty())
        .collect();
    match words.as_slice() {
        [b"ip"] => show(net),
        [b"ip", ..] => kprintln!("usage: ip"),
        [b"ping", rest @ ..] => ping(net, rest),
        [b"tcp", rest @ ..] => tcp(net, rest),
        _ => return false,
    }
    true
}

fn show(net: &mut NetRuntime) {
    if net.fronts.vifs.is_empty() {
        kprintln!("ip: no vifs");
        return;
    }
    for v in &net.fronts.vifs {
        kprintln!(
            "vif{}: mac {} state {} backend {}",
            v.handle,
            dom0_tools::vif::mac_text(&v.mac),
            v.state.name(),
            Escaped(v.backend.as_bytes())
        );
        if let Some(s) = net.stack.as_ref().filter(|s| s.runs_on(&v.conn)) {
            kprintln!("    inet {}", s.cidr);
        }
        if let Some(c) = v.conn.borrow().as_ref() {
            let k = c.counters();
            kprintln!(
                "    tx packets {} bytes {} errors {} busy {}",
                k.tx_packets,
                k.tx_bytes,
                k.tx_errors,
                k.tx_busy
            );
            kprintln!(
                "    rx packets {} bytes {} errors {} dropped {} port {}",
                k.rx_packets,
                k.rx_bytes,
                k.rx_errors + k.bad_responses,
                c.rx_dropped,
                c.port
            );
        }
    }
}

fn ping(net: &mut NetRuntime, args: &[&[u8]]) {
    let (to, count) = match args {
        [ip] => (address(ip), Some(3)),
        [ip, n] => (
            address(ip),
            number::<u16>(n).filter(|&n| (1..=MAX_PING).contains(&n)),
        ),
        _ => (None, None),
    };
    let (Some(to), Some(count)) = (to, count) else {
        kprintln!("usage: ping IP [COUNT 1..{}]", MAX_PING);
        return;
    };
    match net.stack.as_mut() {
        Some(s) => s.ping(to, count),
        None => kprintln!("ping: network is unreachable (no connected vif with an address)"),
    }
}

fn tcp(net: &mut NetRuntime, args: &[&[u8]]) {
    let Some(stack) = net.stack.as_mut() else {
        kprintln!("tcp: network is unreachable (no connected vif with an address)");
        return;
    };
    match args {
        [b"listen", port] => match number::<u16>(port).filter(|&p| p != 0) {
            Some(p) => kprintln!("{}", stack.listen(p)),
            None => kprintln!("usage: tcp listen PORT"),
        },
        [b"send", ip, port, bytes, seed] => {
            match (
                address(ip),
                number::<u16>(port).filter(|&p| p != 0),
                number::<u64>(bytes).filter(|&b| b <= MAX_SEND),
                number::<u64>(seed),
            ) {
                (Some(ip), Some(port), Some(bytes), Some(seed)) => {
                    stack.send(ip, port, bytes, seed)
                }
                _ => kprintln!("usage: tcp send IP PORT BYTES(0..2^30) SEED"),
            }
        }
        _ => {
            kprintln!("usage: tcp listen PORT | tcp send IP PORT BYTES SEED");
        }
    }
}
