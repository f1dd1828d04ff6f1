//! The DomU's IPv4 host on its first vif: smoltcp over netfront, with ping, a background TCP listener that sums what it receives, and a TCP sender of a seeded pattern.
// Time is Xen system time. The blocking commands (ping, tcp send) poll the interface and wait
// on the vif's port with SCHEDOP_poll until smoltcp's next deadline; the listener is polled by
// the shell's loop and reports when its peer closes.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::socket::{icmp, tcp};
use smoltcp::time::Instant;
use smoltcp::wire::{
    EthernetAddress, HardwareAddress, Icmpv4Packet, Icmpv4Repr, IpAddress, IpCidr, Ipv4Address,
    Ipv4Cidr,
};

use super::device::LinkDevice;
use super::front::{ConnCell, FrontLink};
use super::pattern::{self, Crc32};
use crate::arch::x86_64::{shared_events, timing, toolstack_calls};
use crate::console::kprintln;

/// Our ICMP identifier.
const IDENT: u16 = 0x5076;
/// ICMP echo data bytes (64 bytes with the ICMP header, as ping sends).
const PING_DATA: usize = 56;
/// How long a ping waits for its reply.
const PING_WAIT_NS: u64 = 2_000_000_000;
/// How long `tcp send` may go without progress.
const TCP_STALL_NS: u64 = 30_000_000_000;
/// The TCP socket buffers (the receive one is the window).
const TCP_BUFFER: usize = 32 * 1024;
/// First local port of `tcp send`.
const FIRST_LOCAL_PORT: u16 = 49152;

/// Xen system time now, in ns (0 if unknown).
pub fn now_ns() -> u64 {
    shared_events::system_time_ns().unwrap_or(0)
}

fn instant() -> Instant {
    Instant::from_micros((now_ns() / 1000) as i64)
}

/// The background listener of `tcp listen`.
struct Listener {
    socket: SocketHandle,
    port: u16,
    bytes: u64,
    crc: Crc32,
    done: bool,
}

/// The host.
pub struct Stack {
    iface: Interface,
    dev: LinkDevice<FrontLink>,
    sockets: SocketSet<'static>,
    cell: ConnCell,
    /// Our address and prefix.
    pub cidr: Ipv4Cidr,
    /// Our MAC.
    pub mac: [u8; 6],
    icmp: SocketHandle,
    listener: Option<Listener>,
    next_port: u16,
}

fn tcp_socket() -> tcp::Socket<'static> {
    let mut socket = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; TCP_BUFFER]),
        tcp::SocketBuffer::new(vec![0; TCP_BUFFER]),
    );
    // ACK at once: smoltcp's 10 ms delayed ACK stalls a bulk sender whose window is full
    // (one window per 10 ms: 0.16 MB/s here instead of 5 MB/s); a bridge between guests on
    // one host has no use for delaying.
    socket.set_ack_delay(None);
    socket
}

/// `A.B.C.D/N` (N defaults to 24).
pub fn parse_cidr(text: &str) -> Option<Ipv4Cidr> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, p.parse().ok().filter(|&p: &u8| p <= 32)?),
        None => (text, 24),
    };
    Some(Ipv4Cidr::new(addr.parse::<Ipv4Address>().ok()?, prefix))
}

impl Stack {
    /// A host at `cidr` with `mac` on the vif whose connection is `cell`.
    pub fn new(cell: ConnCell, mac: [u8; 6], cidr: Ipv4Cidr) -> Stack {
        let mut dev = LinkDevice::new(FrontLink(cell.clone()));
        let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
        config.random_seed =
            u64::from_le_bytes([mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], 0, 0])
                ^ timing::now();
        let mut iface = Interface::new(config, &mut dev, instant());
        iface.update_ip_addrs(|addrs| {
            let _ = addrs.push(IpCidr::Ipv4(cidr));
        });
        let mut sockets = SocketSet::new(Vec::new());
        let buf = || icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 4], vec![0; 1024]);
        let mut s = icmp::Socket::new(buf(), buf());
        let _ = s.bind(icmp::Endpoint::Ident(IDENT));
        let icmp = sockets.add(s);
        Stack {
            iface,
            dev,
            sockets,
            cell,
            cidr,
            mac,
            icmp,
            listener: None,
            next_port: FIRST_LOCAL_PORT,
        }
    }

    /// Whether the host still runs on `cell`.
    pub fn runs_on(&self, cell: &ConnCell) -> bool {
        alloc::rc::Rc::ptr_eq(&self.cell, cell)
    }

    /// Lets smoltcp send and receive what it can now.
    fn poll_iface(&mut self) {
        self.iface.poll(instant(), &mut self.dev, &mut self.sockets);
    }

    /// When (system time) smoltcp next wants to be polled, if it does.
    pub fn deadline_ns(&mut self) -> Option<u64> {
        self.iface
            .poll_delay(instant(), &self.sockets)
            .map(|d| now_ns().saturating_add(d.total_micros() * 1000))
    }

    /// Waits for a frame or until `max_ns` from now (or smoltcp's own deadline).
    fn wait(&mut self, max_ns: u64) {
        let now = now_ns();
        let mut deadline = now.saturating_add(max_ns);
        if let Some(d) = self.deadline_ns() {
            deadline = deadline.min(d);
        }
        let port = self.cell.borrow().as_ref().map(|c| c.port);
        if let Some(p) = port
            && deadline > now
            && now != 0
        {
            let _ = toolstack_calls::sched_poll(&[p], deadline);
        }
    }

    /// The shell loop's turn: the interface polled, the listener served; a line to print
    /// when the listener's peer closed.
    pub fn poll(&mut self) -> Option<String> {
        self.poll_iface();
        let l = self.listener.as_mut()?;
        let s = self.sockets.get_mut::<tcp::Socket>(l.socket);
        let mut buf = [0u8; 2048];
        let mut finished = false;
        loop {
            match s.recv_slice(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    l.crc.update(&buf[..n]);
                    l.bytes += n as u64;
                }
                Err(tcp::RecvError::Finished) => {
                    finished = true;
                    break;
                }
                Err(tcp::RecvError::InvalidState) => break,
            }
        }
        if finished && !l.done {
            l.done = true;
            s.close();
            let line = format!(
                "tcp: received {} bytes crc32 {:#010x}",
                l.bytes,
                l.crc.value()
            );
            self.poll_iface();
            return Some(line);
        }
        if l.done && s.state() == tcp::State::Closed {
            let h = l.socket;
            self.listener = None;
            self.sockets.remove(h);
        }
        None
    }

    /// `tcp listen PORT`.
    pub fn listen(&mut self, port: u16) -> String {
        if let Some(l) = &self.listener
            && !l.done
        {
            return format!("tcp: already listening on port {}", l.port);
        }
        if let Some(l) = self.listener.take() {
            self.sockets.remove(l.socket);
        }
        let mut s = tcp_socket();
        if let Err(e) = s.listen(port) {
            return format!("tcp: listen on port {port} failed: {e:?}");
        }
        let socket = self.sockets.add(s);
        self.listener = Some(Listener {
            socket,
            port,
            bytes: 0,
            crc: Crc32::default(),
            done: false,
        });
        format!("tcp: listening on port {port}")
    }

    /// `ping IP COUNT`: echo requests one after the other, each waiting for its reply.
    pub fn ping(&mut self, to: Ipv4Address, count: u16) {
        let caps = ChecksumCapabilities::default();
        let mut data = [0u8; PING_DATA];
        pattern::fill(&mut data, 0, 0x70);
        // Replies to an earlier ping that came late are not ours.
        while self
            .sockets
            .get_mut::<icmp::Socket>(self.icmp)
            .recv()
            .is_ok()
        {}
        let mut received = 0u32;
        kprintln!("PING {} {} bytes of data.", to, PING_DATA);
        for seq in 1..=count {
            let repr = Icmpv4Repr::EchoRequest {
                ident: IDENT,
                seq_no: seq,
                data: &data,
            };
            let start = now_ns();
            let mut sent = false;
            let mut got = None;
            while now_ns().saturating_sub(start) < PING_WAIT_NS {
                self.poll_iface();
                let s = self.sockets.get_mut::<icmp::Socket>(self.icmp);
                if !sent
                    && s.can_send()
                    && let Ok(buf) = s.send(repr.buffer_len(), IpAddress::Ipv4(to))
                {
                    repr.emit(&mut Icmpv4Packet::new_unchecked(buf), &caps);
                    sent = true;
                    continue;
                }
                while let Ok((bytes, from)) = s.recv() {
                    if from != IpAddress::Ipv4(to) {
                        continue;
                    }
                    if let Ok(p) = Icmpv4Packet::new_checked(bytes)
                        && let Ok(Icmpv4Repr::EchoReply { ident, seq_no, .. }) =
                            Icmpv4Repr::parse(&p, &caps)
                        && ident == IDENT
                        && seq_no == seq
                    {
                        got = Some((bytes.len(), now_ns().saturating_sub(start)));
                    }
                }
                if got.is_some() {
                    break;
                }
                self.wait(PING_WAIT_NS / 10);
            }
            match got {
                Some((len, ns)) => {
                    received += 1;
                    kprintln!(
                        "{} bytes from {}: icmp_seq={} time={}.{:03} ms",
                        len,
                        to,
                        seq,
                        ns / 1_000_000,
                        ns / 1000 % 1000
                    );
                }
                None => kprintln!("From {}: icmp_seq={} no reply", to, seq),
            }
        }
        let sent = u32::from(count);
        let loss = ((sent - received) * 100).checked_div(sent).unwrap_or(0);
        kprintln!("--- {} ping statistics ---", to);
        kprintln!(
            "{} packets transmitted, {} received, {}% packet loss",
            sent,
            received,
            loss
        );
    }

    /// `tcp send IP PORT BYTES SEED`: connects, sends the pattern, closes, and waits for the
    /// peer to close too; then prints the checksum and a figure line.
    pub fn send(&mut self, to: Ipv4Address, port: u16, bytes: u64, seed: u64) {
        let local = self.next_port;
        self.next_port = if local == u16::MAX {
            FIRST_LOCAL_PORT
        } else {
            local + 1
        };
        let handle = self.sockets.add(tcp_socket());
        {
            let cx = self.iface.context();
            let s = self.sockets.get_mut::<tcp::Socket>(handle);
            if let Err(e) = s.connect(cx, (IpAddress::Ipv4(to), port), local) {
                kprintln!("tcp: connect failed: {:?}", e);
                self.sockets.remove(handle);
                return;
            }
        }
        let start_ns = now_ns();
        let start_tsc = timing::now();
        let mut crc = Crc32::default();
        let mut queued = 0u64;
        let mut closing = false;
        let mut last_progress = start_ns;
        let mut chunk = [0u8; 4096];
        let outcome = loop {
            self.poll_iface();
            let s = self.sockets.get_mut::<tcp::Socket>(handle);
            let mut progressed = false;
            while queued < bytes && s.can_send() {
                let n = (bytes - queued).min(chunk.len() as u64) as usize;
                pattern::fill(&mut chunk[..n], queued, seed);
                let k = s.send_slice(&chunk[..n]).unwrap_or(0);
                if k == 0 {
                    break;
                }
                crc.update(&chunk[..k]);
                queued += k as u64;
                progressed = true;
            }
            if queued == bytes && !closing {
                s.close();
                closing = true;
            }
            match s.state() {
                tcp::State::TimeWait => break Ok(()),
                tcp::State::Closed if closing => break Ok(()),
                tcp::State::Closed => break Err("connection refused or reset"),
                _ => {}
            }
            let now = now_ns();
            if progressed {
                last_progress = now;
            }
            if now.saturating_sub(last_progress) > TCP_STALL_NS {
                s.abort();
                break Err("stalled");
            }
            if !progressed {
                self.wait(10_000_000);
            }
        };
        let ns = now_ns().saturating_sub(start_ns);
        let tsc = timing::now().wrapping_sub(start_tsc);
        self.poll_iface();
        self.sockets.remove(handle);
        match outcome {
            Ok(()) => {
                kprintln!("tcp: sent {} bytes crc32 {:#010x}", queued, crc.value());
                let copy_tsc = memcpy_tsc(queued);
                kprintln!(
                    "tcp: figure bytes={} ns={} tsc={} memcpy_tsc={}",
                    queued,
                    ns,
                    tsc,
                    copy_tsc
                );
                // The same figure for `cargo xtask bench` (xtask/src/bench_io.rs parses it):
                // instructions per 4 KiB sent and per 4 KiB copied, with the totals.
                let pages = queued / 4096;
                kprintln!(
                    "BENCH tcp_send insns={} n={} bytes={} tsc={}",
                    Hundredths(tsc, pages),
                    pages,
                    queued,
                    tsc
                );
                kprintln!(
                    "BENCH tcp_send_memcpy insns={} n={} bytes={} tsc={}",
                    Hundredths(copy_tsc, pages),
                    pages,
                    queued,
                    copy_tsc
                );
            }
            Err(why) => kprintln!(
                "tcp: send failed after {} of {} bytes: {}",
                queued,
                bytes,
                why
            ),
        }
    }
}

/// `n / d` with two decimals (`x.yy`; 0.00 when `d` is 0).
struct Hundredths(u64, u64);

impl core::fmt::Display for Hundredths {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let h = self.0.saturating_mul(100).checked_div(self.1).unwrap_or(0);
        write!(f, "{}.{:02}", h / 100, h % 100)
    }
}

/// TSC ticks of copying `bytes` bytes in memory (4 KiB at a time), for the ratio.
fn memcpy_tsc(bytes: u64) -> u64 {
    let src = [0x5au8; 4096];
    let mut dst = [0u8; 4096];
    let start = timing::now();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(4096) as usize;
        dst[..n].copy_from_slice(core::hint::black_box(&src[..n]));
        core::hint::black_box(&mut dst);
        left -= n as u64;
    }
    timing::now().wrapping_sub(start)
}
