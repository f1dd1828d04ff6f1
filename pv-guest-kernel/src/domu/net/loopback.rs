//! net=loopback: two smoltcp hosts on an in-memory wire ping each other and talk TCP, checking the `NetLink` device end to end.
// No hypercalls beyond the console: the clock is a counter advanced one millisecond per round,
// so the run is the same on any hypervisor. Host A is 10.0.0.1, host B 10.0.0.2 (/24).

use alloc::vec;
use alloc::vec::Vec;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{ChecksumCapabilities, Device};
use smoltcp::socket::{icmp, tcp};
use smoltcp::time::Instant;
use smoltcp::wire::{
    EthernetAddress, HardwareAddress, Icmpv4Packet, Icmpv4Repr, IpAddress, IpCidr, Ipv4Address,
};

use super::device::LinkDevice;
use super::wire::{WireEnd, wire};
use crate::arch::x86_64::xen;
use crate::selftest::report::{Outcome, Report, fail};

const A_IP: Ipv4Address = Ipv4Address::new(10, 0, 0, 1);
const B_IP: Ipv4Address = Ipv4Address::new(10, 0, 0, 2);
const IDENT: u16 = 0x22b;
const ECHO_PORT: u16 = 7;
/// Rounds (simulated milliseconds) a check may take.
const ROUNDS: u32 = 5_000;

/// One host: its device, interface and sockets.
struct Host {
    dev: LinkDevice<WireEnd>,
    iface: Interface,
    sockets: SocketSet<'static>,
}

impl Host {
    fn new(end: WireEnd, mac_last: u8, ip: Ipv4Address) -> Self {
        let mut dev = LinkDevice::new(end);
        let mac = EthernetAddress([0x00, 0x16, 0x3e, 0, 0, mac_last]);
        let mut config = Config::new(HardwareAddress::Ethernet(mac));
        config.random_seed = 0x5eed_0000 + mac_last as u64;
        let mut iface = Interface::new(config, &mut dev, Instant::ZERO);
        iface.update_ip_addrs(|addrs| {
            let _ = addrs.push(IpCidr::new(IpAddress::Ipv4(ip), 24));
        });
        Host {
            dev,
            iface,
            sockets: SocketSet::new(Vec::new()),
        }
    }

    fn poll(&mut self, now: Instant) {
        self.iface.poll(now, &mut self.dev, &mut self.sockets);
    }
}

/// Both hosts and the clock.
struct Net {
    a: Host,
    b: Host,
    ms: i64,
}

impl Net {
    fn new() -> Self {
        let (x, y) = wire();
        Net {
            a: Host::new(x, 1, A_IP),
            b: Host::new(y, 2, B_IP),
            ms: 0,
        }
    }

    /// One round: both hosts poll, the clock moves on a millisecond.
    fn round(&mut self) {
        let now = Instant::from_millis(self.ms);
        self.a.poll(now);
        self.b.poll(now);
        self.ms += 1;
    }

    /// Rounds until `done` says so; false if it never does.
    fn until(&mut self, mut done: impl FnMut(&mut Net) -> bool) -> bool {
        for _ in 0..ROUNDS {
            self.round();
            if done(self) {
                return true;
            }
        }
        false
    }
}

fn icmp_socket() -> icmp::Socket<'static> {
    let buf = || icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 4], vec![0; 1024]);
    icmp::Socket::new(buf(), buf())
}

fn tcp_socket() -> tcp::Socket<'static> {
    tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; 2048]),
        tcp::SocketBuffer::new(vec![0; 2048]),
    )
}

/// A pings B (ARP first, then ICMP echo; B answers by itself) and gets its data back.
fn ping(net: &mut Net) -> Outcome {
    let handle: SocketHandle = net.a.sockets.add(icmp_socket());
    if net
        .a
        .sockets
        .get_mut::<icmp::Socket>(handle)
        .bind(icmp::Endpoint::Ident(IDENT))
        .is_err()
    {
        fail!("bind of the ICMP socket failed");
    }
    let caps = net.a.dev.capabilities().checksum;
    let payload = b"pv-guest-kernel ping";
    for seq_no in 0..3u16 {
        let repr = Icmpv4Repr::EchoRequest {
            ident: IDENT,
            seq_no,
            data: payload,
        };
        let sent = net.until(|n| {
            let s = n.a.sockets.get_mut::<icmp::Socket>(handle);
            if !s.can_send() {
                return false;
            }
            match s.send(repr.buffer_len(), IpAddress::Ipv4(B_IP)) {
                Ok(buf) => {
                    repr.emit(&mut Icmpv4Packet::new_unchecked(buf), &caps);
                    true
                }
                Err(_) => false,
            }
        });
        if !sent {
            fail!("echo request {} could not be queued", seq_no);
        }
        let mut reply = None;
        net.until(|n| {
            let s = n.a.sockets.get_mut::<icmp::Socket>(handle);
            if let Ok((bytes, from)) = s.recv() {
                reply = Some((echo_reply(bytes, &ChecksumCapabilities::default()), from));
                return true;
            }
            false
        });
        match reply {
            Some((Some((ident, seq, ok)), from))
                if ident == IDENT && seq == seq_no && ok && from == IpAddress::Ipv4(B_IP) => {}
            Some(other) => fail!("echo {}: unexpected reply {:?}", seq_no, other),
            None => fail!("echo {}: no reply in {} ms", seq_no, ROUNDS),
        }
    }
    net.a.sockets.remove(handle);
    Ok(())
}

/// An echo reply's ident, sequence number and whether its data is ours.
fn echo_reply(bytes: &[u8], caps: &ChecksumCapabilities) -> Option<(u16, u16, bool)> {
    let packet = Icmpv4Packet::new_checked(bytes).ok()?;
    match Icmpv4Repr::parse(&packet, caps).ok()? {
        Icmpv4Repr::EchoReply {
            ident,
            seq_no,
            data,
        } => Some((ident, seq_no, data == b"pv-guest-kernel ping")),
        _ => None,
    }
}

/// A connects to B's echo port over TCP; B sends back what it reads; A reads it all back.
fn tcp_echo(net: &mut Net) -> Outcome {
    let server = net.b.sockets.add(tcp_socket());
    let client = net.a.sockets.add(tcp_socket());
    if net
        .b
        .sockets
        .get_mut::<tcp::Socket>(server)
        .listen(ECHO_PORT)
        .is_err()
    {
        fail!("listen failed");
    }
    {
        let cx = net.a.iface.context();
        let s = net.a.sockets.get_mut::<tcp::Socket>(client);
        if s.connect(cx, (IpAddress::Ipv4(B_IP), ECHO_PORT), 49152)
            .is_err()
        {
            fail!("connect failed");
        }
    }
    // More than one window's worth, so the transfer takes several segments each way.
    let message: Vec<u8> = (0..6000u32).map(|i| (i * 31 % 251) as u8).collect();
    let mut sent = 0;
    let mut echoed = Vec::new();
    let mut back = Vec::new();
    let done = net.until(|n| {
        let c = n.a.sockets.get_mut::<tcp::Socket>(client);
        if c.may_send() && sent < message.len() {
            sent += c.send_slice(&message[sent..]).unwrap_or(0);
        }
        if c.may_recv() {
            let mut buf = [0u8; 512];
            while let Ok(k) = c.recv_slice(&mut buf) {
                if k == 0 {
                    break;
                }
                back.extend_from_slice(&buf[..k]);
            }
        }
        let s = n.b.sockets.get_mut::<tcp::Socket>(server);
        if s.may_recv() {
            let mut buf = [0u8; 512];
            while let Ok(k) = s.recv_slice(&mut buf) {
                if k == 0 {
                    break;
                }
                echoed.extend_from_slice(&buf[..k]);
            }
        }
        if s.may_send() && !echoed.is_empty() {
            let k = s.send_slice(&echoed).unwrap_or(0);
            echoed.drain(..k);
        }
        back.len() >= message.len()
    });
    if !done {
        fail!(
            "echo stalled: {} of {} bytes sent, {} back",
            sent,
            message.len(),
            back.len()
        );
    }
    if back != message {
        fail!("the echoed bytes differ from those sent");
    }
    net.a.sockets.get_mut::<tcp::Socket>(client).close();
    let closed = net.until(|n| {
        let s = n.b.sockets.get_mut::<tcp::Socket>(server);
        if s.state() == tcp::State::CloseWait {
            s.close();
        }
        !n.a.sockets.get_mut::<tcp::Socket>(client).is_open()
            || n.a.sockets.get_mut::<tcp::Socket>(client).state() == tcp::State::TimeWait
    });
    if !closed {
        fail!("the connection did not close");
    }
    Ok(())
}

/// Frames went both ways through the devices and none was refused.
fn counters(net: &mut Net) -> Outcome {
    let (a, b) = (net.a.dev.counters(), net.b.dev.counters());
    if a.sent == 0 || b.sent == 0 || a.received == 0 || b.received == 0 {
        fail!("frames did not cross: A {:?}, B {:?}", a, b);
    }
    if a.send_failed + b.send_failed != 0 {
        fail!("sends refused: A {:?}, B {:?}", a, b);
    }
    if a.sent != b.received || b.sent != a.received {
        fail!("frames lost on the wire: A {:?}, B {:?}", a, b);
    }
    Ok(())
}

/// Runs the checks, prints the verdict, powers off.
pub fn run() -> ! {
    let mut report = Report::default();
    let mut net = Net::new();
    report.check("net: ping over the wire", ping(&mut net));
    report.check("net: tcp echo over the wire", tcp_echo(&mut net));
    report.check("net: link counters", counters(&mut net));
    report.finish();
    xen::power_off()
}
