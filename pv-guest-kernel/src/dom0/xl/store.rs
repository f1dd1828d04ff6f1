//! xenstored in Dom0: each DomU's ring page and event channel served by the daemon core, and the toolstack's writes.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use hypercall_abi::domid::DomId;
use hypercall_abi::event_channel::EvtchnPort;

use dom0_tools::domain_paths::{Access, NewDomain, domain_path, entries, uuid_text};
use dom0_tools::xenstored::perms::Access as XsAccess;
use dom0_tools::xenstored::{ConnId, Perm, Perms, Xenstored};
use dom0_tools::xs_ring;

use super::toolstack::Toolstack;
use crate::arch::x86_64::foreign::ForeignPage;
use crate::arch::x86_64::toolstack_calls;

/// Bytes moved between a ring and the daemon at once.
const CHUNK: usize = 1024;
/// Request bytes taken from a ring but not yet accepted by the daemon, at most.
const MAX_PENDING: usize = 8192;

/// Our end of one DomU's xenstore ring.
pub struct StoreRing {
    page: ForeignPage,
    port: EvtchnPort,
    conn: ConnId,
    /// Request bytes read from the ring that the daemon has not taken yet (it holds back
    /// while a client leaves its replies unread).
    pending: Vec<u8>,
    /// Handle as UUID text, for the /vm path.
    uuid: String,
}

/// The daemon with Dom0's own nodes in place.
pub fn new_daemon() -> Xenstored {
    let mut xs = Xenstored::new(Default::default());
    let mut c = xs.dom0();
    let _ = c.write("/local/domain/0/name", b"Domain-0");
    let _ = c.write("/local/domain/0/domid", b"0");
    let _ = c.mkdir("/vm");
    let _ = c.mkdir("/libxl");
    xs
}

fn perms_for(access: Access, domid: DomId) -> Perms {
    let list = match access {
        Access::GuestReads => vec![
            Perm::new(0, XsAccess::None),
            Perm::new(domid, XsAccess::Read),
        ],
        Access::GuestWrites => vec![Perm::new(domid, XsAccess::None)],
        Access::Dom0Only => vec![Perm::new(0, XsAccess::None)],
    };
    Perms::new(list).unwrap_or_else(|_| Perms::owned_by(0, XsAccess::None))
}

/// Maps `domid`'s ring, binds its port, writes its nodes and introduces it to the daemon.
pub fn introduce(ts: &mut Toolstack, domid: DomId) -> Result<(), String> {
    let fail = |what: &str, e: i64| {
        format!("libxl: error: xenstore for domain {domid}: {what} failed ({e})\n")
    };
    let Some(d) = ts.domain(domid) else {
        return Err(format!("domain {domid} is not managed here\n"));
    };
    let (store_mfn, store_port) = (d.store_mfn, d.store_port);
    let handle = crate::dom0::control::handle(domid).unwrap_or([0; 16]);
    let uuid = uuid_text(&handle);
    let node = NewDomain {
        domid,
        name: &d.name,
        uuid: &uuid,
        vcpus: 1,
        target_kib: d.target_kib,
        max_kib: d.max_kib,
        store_mfn,
        store_port,
        console_mfn: d.console.mfn(),
        console_port: d.console.remote_port(),
    };
    let list = entries(&node);
    let mut page = ForeignPage::claim().ok_or_else(|| fail("claiming a foreign page", -28))?;
    match page.map(domid, store_mfn) {
        0 => {}
        e => return Err(fail("mapping the ring page", e)),
    }
    let port = toolstack_calls::evtchn_bind_interdomain(domid, store_port)
        .map_err(|e| fail("binding the event channel", e))?;
    {
        let mut c = ts.xs.dom0();
        for e in &list {
            let ok = c.write(&e.path, e.value.as_bytes()).is_ok()
                && c.set_perms(&e.path, perms_for(e.access, domid)).is_ok();
            if !ok {
                let _ = toolstack_calls::evtchn_close(port);
                return Err(fail("writing the domain's nodes", -12));
            }
        }
    }
    let conn = match ts.xs.introduce(domid, store_mfn, store_port) {
        Ok(conn) => conn,
        Err(e) => {
            let _ = toolstack_calls::evtchn_close(port);
            return Err(fail("introducing the domain", e.to_ret()));
        }
    };
    ts.extra_ports.push(port);
    if let Some(d) = ts.domain(domid) {
        d.store = Some(StoreRing {
            page,
            port,
            conn,
            pending: Vec::new(),
            uuid,
        });
    }
    Ok(())
}

/// Disconnects `domid`'s ring, tells the daemon, and removes its nodes as libxl does.
pub fn release(ts: &mut Toolstack, domid: DomId) {
    let Some(mut ring) = ts.domain(domid).and_then(|d| d.store.take()) else {
        return;
    };
    let _ = ring.page.unmap();
    let _ = toolstack_calls::evtchn_close(ring.port);
    ts.extra_ports.retain(|&p| p != ring.port);
    let _ = ts.xs.release(domid);
    let mut c = ts.xs.dom0();
    let _ = c.rm(&domain_path(domid));
    let _ = c.rm(&format!("/vm/{}", ring.uuid));
    let _ = c.rm(&format!("/libxl/{domid}"));
}

/// Moves requests from every ring into the daemon and its replies and watch events back.
pub fn pump(ts: &mut Toolstack) {
    let Toolstack { domains, xs, .. } = ts;
    for d in domains.iter_mut() {
        let Some(ring) = d.store.as_mut() else {
            continue;
        };
        let mut moved = false;
        let mut buf = [0u8; CHUNK];
        loop {
            // Offer what is pending first; read more only when the daemon took it all.
            if !ring.pending.is_empty() {
                match xs.feed(ring.conn, &ring.pending) {
                    Ok(n) => {
                        ring.pending.drain(..n.min(ring.pending.len()));
                    }
                    Err(_) => ring.pending.clear(),
                }
                if !ring.pending.is_empty() {
                    break;
                }
            }
            let n = xs_ring::read_request(&mut ring.page, &mut buf).unwrap_or(0);
            if n == 0 {
                break;
            }
            moved = true;
            if ring.pending.len() + n > MAX_PENDING || ring.pending.try_reserve(n).is_err() {
                break;
            }
            ring.pending.extend_from_slice(&buf[..n]);
        }
        while let Some(out) = xs.next_output(ring.conn) {
            let n = xs_ring::write_response(&mut ring.page, out).unwrap_or(0);
            if n == 0 {
                break;
            }
            moved = true;
            xs.consume_output(ring.conn, n);
        }
        if moved {
            let _ = toolstack_calls::evtchn_send(ring.port);
        }
    }
}

/// Writes `value` at `domid`'s relative `path`; the domain must be connected.
fn write_domain(ts: &mut Toolstack, domid: DomId, path: &str, value: &str) -> Result<(), String> {
    if ts.domain(domid).and_then(|d| d.store.as_ref()).is_none() {
        return Err(format!(
            "libxl: error: domain {domid}: PV control interface not available\n"
        ));
    }
    ts.xs
        .dom0()
        .write(&format!("{}/{path}", domain_path(domid)), value.as_bytes())
        .map_err(|e| {
            format!(
                "libxl: error: writing {path} of domain {domid} failed ({})\n",
                e.to_ret()
            )
        })
}

/// Asks `domid` to shut down (`poweroff`) or reboot, through `control/shutdown`.
pub fn request_shutdown(ts: &mut Toolstack, domid: DomId, what: &str) -> Result<(), String> {
    write_domain(ts, domid, "control/shutdown", what)
}

/// `xl mem-set`: the new balloon target.
pub fn set_target(ts: &mut Toolstack, domid: DomId, kib: u64) -> Result<(), String> {
    let max = ts.domain(domid).map(|d| d.max_kib);
    if let Some(max) = max
        && kib > max
    {
        return Err(format!(
            "libxl: error: memory_dynamic_max must be less than or equal to memory_static_max ({kib} > {max} KiB)\n"
        ));
    }
    write_domain(ts, domid, "memory/target", &format!("{kib}"))?;
    if let Some(d) = ts.domain(domid) {
        d.target_kib = kib;
    }
    Ok(())
}

/// `xl rename`: the name nodes follow.
pub fn write_name(ts: &mut Toolstack, domid: DomId, name: &str) {
    let uuid = ts
        .domain(domid)
        .and_then(|d| d.store.as_ref())
        .map(|r| r.uuid.clone());
    let mut c = ts.xs.dom0();
    let _ = c.write(&format!("{}/name", domain_path(domid)), name.as_bytes());
    if let Some(uuid) = uuid {
        let _ = c.write(&format!("/vm/{uuid}/name"), name.as_bytes());
    }
}
