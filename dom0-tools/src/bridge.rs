//! A learning software bridge between vifs: which port a frame goes out of, from a MAC table that ages by ticks.
// As an 802.1D bridge (and Linux's, which xl's `bridge=xenbr0` names) forwards: the source
// address of every frame is learnt for its ingress port; a frame to a learnt unicast address
// goes out of that port only, one to a broadcast, multicast or unknown address is flooded to
// every other port, and none goes back out of the port it came in by. Entries not refreshed
// for `max_age` ticks are forgotten; a port's entries go with it. The table is bounded: when
// full, the entry seen longest ago makes room. Frames come from guests: a frame shorter than
// an Ethernet header is dropped, and a multicast source address is never learnt.

use alloc::vec::Vec;

/// A port of the bridge (the caller's name for a vif, e.g. domid << 16 | handle).
pub type PortId = u32;

/// A MAC address.
pub type Mac = [u8; 6];

/// The broadcast address.
pub const BROADCAST: Mac = [0xff; 6];

/// Default ageing time in ticks (Linux's bridge: 300 s; a tick is the caller's choice).
pub const DEFAULT_MAX_AGE: u64 = 300;
/// Default table size.
pub const DEFAULT_MAX_ENTRIES: usize = 1024;

/// Where a frame goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forward {
    /// Out of this port only.
    Port(PortId),
    /// Out of every port but the ingress one (`Bridge::flood_ports`).
    Flood,
    /// Nowhere.
    Drop(DropReason),
}

/// Why a frame goes nowhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// Shorter than an Ethernet header.
    Runt,
    /// The ingress port is not on the bridge.
    UnknownPort,
    /// Its destination lives on the ingress port.
    SamePort,
}

/// Why a port cannot be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortError {
    /// The port is on the bridge already.
    Exists,
    /// No memory for another port.
    NoMemory,
}

/// What the bridge did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BridgeCounters {
    /// Frames sent to one port.
    pub unicast: u64,
    /// Frames flooded.
    pub flooded: u64,
    /// Frames dropped.
    pub dropped: u64,
    /// Entries forgotten by ageing.
    pub aged: u64,
    /// Entries pushed out by a full table.
    pub evicted: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    mac: Mac,
    port: PortId,
    seen: u64,
}

/// The bridge.
#[derive(Clone, Debug)]
pub struct Bridge {
    ports: Vec<PortId>,
    table: Vec<Entry>,
    now: u64,
    max_age: u64,
    max_entries: usize,
    counters: BridgeCounters,
}

impl Default for Bridge {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_AGE, DEFAULT_MAX_ENTRIES)
    }
}

/// Whether `mac` is a group (broadcast or multicast) address.
pub const fn is_group(mac: &Mac) -> bool {
    mac[0] & 1 != 0
}

impl Bridge {
    /// An empty bridge forgetting addresses after `max_age` ticks, learning at most
    /// `max_entries` of them.
    pub const fn new(max_age: u64, max_entries: usize) -> Self {
        Bridge {
            ports: Vec::new(),
            table: Vec::new(),
            now: 0,
            max_age,
            max_entries,
            counters: BridgeCounters {
                unicast: 0,
                flooded: 0,
                dropped: 0,
                aged: 0,
                evicted: 0,
            },
        }
    }

    /// Adds a port (a vif came up).
    pub fn add_port(&mut self, port: PortId) -> Result<(), PortError> {
        if self.ports.contains(&port) {
            return Err(PortError::Exists);
        }
        self.ports.try_reserve(1).map_err(|_| PortError::NoMemory)?;
        self.ports.push(port);
        Ok(())
    }

    /// Removes a port and forgets the addresses learnt on it (a vif went away); whether it
    /// was there.
    pub fn remove_port(&mut self, port: PortId) -> bool {
        let before = self.ports.len();
        self.ports.retain(|&p| p != port);
        self.table.retain(|e| e.port != port);
        self.ports.len() != before
    }

    /// The ports, in the order they were added.
    pub fn ports(&self) -> &[PortId] {
        &self.ports
    }

    /// The ports a frame from `ingress` is flooded to.
    pub fn flood_ports(&self, ingress: PortId) -> impl Iterator<Item = PortId> + '_ {
        self.ports.iter().copied().filter(move |&p| p != ingress)
    }

    /// The port `mac` was learnt on, if it is in the table.
    pub fn lookup(&self, mac: &Mac) -> Option<PortId> {
        self.table.iter().find(|e| e.mac == *mac).map(|e| e.port)
    }

    /// Addresses in the table.
    pub fn learnt(&self) -> usize {
        self.table.len()
    }

    /// What the bridge did so far.
    pub const fn counters(&self) -> &BridgeCounters {
        &self.counters
    }

    /// One tick of the ageing clock: forgets entries not seen for more than `max_age` ticks.
    pub fn tick(&mut self) {
        self.now += 1;
        let (now, max_age) = (self.now, self.max_age);
        let before = self.table.len();
        self.table.retain(|e| now - e.seen <= max_age);
        self.counters.aged += (before - self.table.len()) as u64;
    }

    /// Learns the source of `frame`, come in by `ingress`, and says where it goes.
    pub fn forward(&mut self, ingress: PortId, frame: &[u8]) -> Forward {
        let decision = self.decide(ingress, frame);
        match decision {
            Forward::Port(_) => self.counters.unicast += 1,
            Forward::Flood => self.counters.flooded += 1,
            Forward::Drop(_) => self.counters.dropped += 1,
        }
        decision
    }

    fn decide(&mut self, ingress: PortId, frame: &[u8]) -> Forward {
        if frame.len() < 14 {
            return Forward::Drop(DropReason::Runt);
        }
        if !self.ports.contains(&ingress) {
            return Forward::Drop(DropReason::UnknownPort);
        }
        let mut dst = [0u8; 6];
        let mut src = [0u8; 6];
        dst.copy_from_slice(&frame[0..6]);
        src.copy_from_slice(&frame[6..12]);
        if !is_group(&src) {
            self.learn(src, ingress);
        }
        if is_group(&dst) {
            return Forward::Flood;
        }
        match self.lookup(&dst) {
            Some(p) if p == ingress => Forward::Drop(DropReason::SamePort),
            Some(p) => Forward::Port(p),
            None => Forward::Flood,
        }
    }

    fn learn(&mut self, mac: Mac, port: PortId) {
        let now = self.now;
        if let Some(e) = self.table.iter_mut().find(|e| e.mac == mac) {
            // A guest may move (or claim another's address): the latest port wins.
            e.port = port;
            e.seen = now;
            return;
        }
        if self.max_entries == 0 {
            return;
        }
        if self.table.len() >= self.max_entries
            && let Some(oldest) = (0..self.table.len()).min_by_key(|&i| self.table[i].seen)
        {
            self.table.swap_remove(oldest);
            self.counters.evicted += 1;
        }
        if self.table.try_reserve(1).is_ok() {
            self.table.push(Entry {
                mac,
                port,
                seen: now,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(n: u8) -> Mac {
        [0x00, 0x16, 0x3e, 0, 0, n]
    }

    fn frame(dst: Mac, src: Mac) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&dst);
        f.extend_from_slice(&src);
        f.extend_from_slice(&[0x08, 0x00, 1, 2, 3]);
        f
    }

    fn bridge(ports: &[PortId]) -> Bridge {
        let mut b = Bridge::new(3, 8);
        for &p in ports {
            b.add_port(p).unwrap();
        }
        b
    }

    #[test]
    fn floods_unknown_and_broadcast_then_learns() {
        let mut b = bridge(&[1, 2, 3]);
        assert_eq!(b.forward(1, &frame(mac(2), mac(1))), Forward::Flood);
        assert_eq!(b.flood_ports(1).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(b.lookup(&mac(1)), Some(1));
        // The answer goes straight back, and teaches the bridge where mac(2) is.
        assert_eq!(b.forward(2, &frame(mac(1), mac(2))), Forward::Port(1));
        assert_eq!(b.forward(1, &frame(mac(2), mac(1))), Forward::Port(2));
        assert_eq!(b.forward(3, &frame(BROADCAST, mac(3))), Forward::Flood);
        assert_eq!(b.flood_ports(3).collect::<Vec<_>>(), [1, 2]);
        let multicast = [0x01, 0x00, 0x5e, 0, 0, 1];
        assert_eq!(b.forward(1, &frame(multicast, mac(1))), Forward::Flood);
        assert_eq!(b.learnt(), 3);
        let c = b.counters();
        assert_eq!((c.unicast, c.flooded, c.dropped), (2, 3, 0));
    }

    #[test]
    fn never_sends_a_frame_back_out_of_its_port() {
        let mut b = bridge(&[1, 2]);
        b.forward(1, &frame(BROADCAST, mac(1)));
        b.forward(1, &frame(BROADCAST, mac(9)));
        assert_eq!(
            b.forward(1, &frame(mac(9), mac(1))),
            Forward::Drop(DropReason::SamePort)
        );
        assert!(b.flood_ports(1).all(|p| p != 1));
    }

    #[test]
    fn drops_runts_and_frames_from_strangers_and_does_not_learn_group_sources() {
        let mut b = bridge(&[1, 2]);
        assert_eq!(b.forward(1, &[0; 13]), Forward::Drop(DropReason::Runt));
        assert_eq!(
            b.forward(7, &frame(BROADCAST, mac(7))),
            Forward::Drop(DropReason::UnknownPort)
        );
        assert_eq!(b.lookup(&mac(7)), None);
        b.forward(1, &frame(mac(2), BROADCAST));
        assert_eq!(b.learnt(), 0);
        assert_eq!(b.counters().dropped, 2);
    }

    #[test]
    fn entries_age_out_unless_refreshed() {
        let mut b = bridge(&[1, 2]);
        b.forward(1, &frame(BROADCAST, mac(1)));
        b.forward(2, &frame(BROADCAST, mac(2)));
        for _ in 0..3 {
            b.tick();
        }
        // mac(1) refreshes at tick 3; both are still there (age 3 = max_age).
        b.forward(1, &frame(mac(2), mac(1)));
        assert_eq!(b.learnt(), 2);
        b.tick();
        assert_eq!(b.lookup(&mac(2)), None);
        assert_eq!(b.lookup(&mac(1)), Some(1));
        assert_eq!(b.counters().aged, 1);
        assert_eq!(b.forward(1, &frame(mac(2), mac(1))), Forward::Flood);
    }

    #[test]
    fn a_moved_address_follows_its_new_port() {
        let mut b = bridge(&[1, 2, 3]);
        b.forward(1, &frame(BROADCAST, mac(5)));
        b.forward(2, &frame(BROADCAST, mac(5)));
        assert_eq!(b.lookup(&mac(5)), Some(2));
        assert_eq!(b.forward(3, &frame(mac(5), mac(3))), Forward::Port(2));
    }

    #[test]
    fn ports_come_and_go_with_their_addresses() {
        let mut b = bridge(&[1, 2]);
        assert_eq!(b.add_port(1), Err(PortError::Exists));
        b.forward(2, &frame(BROADCAST, mac(2)));
        assert!(b.remove_port(2));
        assert!(!b.remove_port(2));
        assert_eq!(b.lookup(&mac(2)), None);
        assert_eq!(b.ports(), [1]);
        assert_eq!(b.forward(1, &frame(mac(2), mac(1))), Forward::Flood);
        assert_eq!(b.flood_ports(1).count(), 0);
        assert_eq!(
            b.forward(2, &frame(mac(1), mac(2))),
            Forward::Drop(DropReason::UnknownPort)
        );
        b.add_port(2).unwrap();
        assert_eq!(b.forward(2, &frame(mac(1), mac(2))), Forward::Port(1));
    }

    #[test]
    fn a_full_table_forgets_the_stalest_entry() {
        let mut b = Bridge::new(100, 2);
        b.add_port(1).unwrap();
        b.add_port(2).unwrap();
        b.forward(1, &frame(BROADCAST, mac(1)));
        b.tick();
        b.forward(1, &frame(BROADCAST, mac(2)));
        b.tick();
        b.forward(2, &frame(BROADCAST, mac(3)));
        assert_eq!(b.learnt(), 2);
        assert_eq!(b.lookup(&mac(1)), None);
        assert_eq!(b.lookup(&mac(3)), Some(2));
        assert_eq!(b.counters().evicted, 1);
        // A flood of made-up source addresses never grows the table past its bound.
        for n in 0..=255 {
            b.forward(1, &frame(BROADCAST, [0x02, 0, 0, 0, 1, n]));
        }
        assert_eq!(b.learnt(), 2);
    }
}
