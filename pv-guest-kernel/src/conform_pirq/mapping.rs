//! conform=pirq, mapping: map_pirq/unmap_pirq/eoi/irq_status_query and bind_pirq, their errors as Xen 4.17 gives them.

use hypercall_abi::Errno;
use hypercall_abi::domid::DOMID_SELF;
use hypercall_abi::event_channel::{EVTCHNSTAT_CLOSED, EVTCHNSTAT_PIRQ, EvtchnPort};
use hypercall_abi::physdev::{
    MAP_PIRQ_TYPE_MSI, MAP_PIRQ_TYPE_UNKNOWN, PhysdevMapPirq, XENIRQSTAT_NEEDS_EOI,
};

use crate::arch::x86_64::pirq_calls::{self, gsi_request, map_pirq_raw};
use crate::conform_evt::calls::{self as evt, failed};
use crate::console::kprintln;
use crate::selftest::report::{Detail, Outcome, Ret, expect_eq, expect_errno, expect_ret, fail};

/// The primary IDE channel's GSI (ISA IRQ 14).
pub const DISK_GSI: u32 = 14;
/// Bad type, GSI or PIRQ number: -EINVAL (Xen 4.17's map_pirq).
const BAD_ARG_ERRNO: Errno = Errno::Inval;
/// A domain that does not exist: -ESRCH.
const NO_DOMAIN_ERRNO: Errno = Errno::Srch;
/// The GSI already mapped to another PIRQ: -EEXIST.
const OTHER_PIRQ_ERRNO: Errno = Errno::Exist;
/// unmap/eoi of a PIRQ in range that is not mapped: -EINVAL.
const UNMAPPED_ERRNO: Errno = Errno::Inval;
/// bind_pirq twice: -EEXIST.
const BOUND_TWICE_ERRNO: Errno = Errno::Exist;
/// bind_pirq of a PIRQ nobody mapped: -EPERM (the domain has no access to IRQ 0).
const BIND_UNMAPPED_ERRNO: Errno = Errno::Perm;
/// Mapping a GSI again while its old PIRQ was unmapped but is still bound: -EBUSY.
const STILL_BOUND_ERRNO: Errno = Errno::Busy;
/// Mapping a GSI again once it was unmapped: -EPERM (unmapping took the domain's access to
/// the IRQ away; observed on Xen 4.17).
const REMAP_ERRNO: Errno = Errno::Perm;
/// The GSI map_any uses (an ISA line nothing on the machine drives).
const ANY_GSI: u32 = 5;
/// The GSI unmap_bound uses (another).
const STALE_GSI: u32 = 3;
/// A domain id no domain has.
const NO_SUCH_DOMAIN: u16 = 0x1234;
/// The PIRQ a GSI gets when we let the hypervisor choose: the first above the ISA range.
const FIRST_FREE_GSI_PIRQ: u32 = 16;
/// A PIRQ in range (Dom0 has at least the 24 static ones and more) that we never map.
const SPARE_PIRQ: u32 = 20;

fn expect_map_errno(what: &str, request: PhysdevMapPirq, want: Errno) -> Outcome {
    let (ret, out) = map_pirq_raw(request);
    if ret == 0 {
        // Do not leave it mapped for the later checks.
        pirq_calls::unmap_in(request.domid, out.pirq);
        fail!(
            "{} mapped PIRQ {}, expected {}",
            what,
            out.pirq,
            want.name()
        );
    }
    expect_errno(what, ret, want)
}

/// A type map_pirq does not know: -EINVAL.
pub fn bad_type() -> Outcome {
    for type_ in [MAP_PIRQ_TYPE_UNKNOWN, 7, -1] {
        let request = PhysdevMapPirq {
            type_,
            ..gsi_request(DOMID_SELF, DISK_GSI as i32, -1)
        };
        expect_map_errno("map_pirq(bad type)", request, BAD_ARG_ERRNO)?;
    }
    // An MSI with an index that is a GSI's IRQ.
    let request = PhysdevMapPirq {
        type_: MAP_PIRQ_TYPE_MSI,
        ..gsi_request(DOMID_SELF, 5, -1)
    };
    expect_map_errno("map_pirq(MSI, irq 5)", request, BAD_ARG_ERRNO)
}

/// GSIs out of range: -EINVAL.
pub fn bad_gsi() -> Outcome {
    for gsi in [-1, 24, 4096, i32::MAX] {
        expect_map_errno(
            "map_pirq(bad GSI)",
            gsi_request(DOMID_SELF, gsi, -1),
            BAD_ARG_ERRNO,
        )?;
    }
    Ok(())
}

/// PIRQs out of the domain's range: -EINVAL.
pub fn bad_pirq() -> Outcome {
    for pirq in [100_000, i32::MAX] {
        expect_map_errno(
            "map_pirq(GSI 14, bad PIRQ)",
            gsi_request(DOMID_SELF, DISK_GSI as i32, pirq),
            BAD_ARG_ERRNO,
        )?;
    }
    Ok(())
}

/// A domain that does not exist: -ESRCH for map and unmap.
pub fn no_domain() -> Outcome {
    expect_map_errno(
        "map_pirq(no such domain)",
        gsi_request(NO_SUCH_DOMAIN, DISK_GSI as i32, -1),
        NO_DOMAIN_ERRNO,
    )?;
    expect_errno(
        "unmap_pirq(no such domain)",
        pirq_calls::unmap_in(NO_SUCH_DOMAIN, DISK_GSI as i32),
        NO_DOMAIN_ERRNO,
    )
}

/// PIRQs nobody mapped, and out of range: unmap, eoi, bind and status_query.
pub fn unmapped() -> Outcome {
    expect_errno(
        "unmap_pirq(-1)",
        pirq_calls::unmap_in(DOMID_SELF, -1),
        BAD_ARG_ERRNO,
    )?;
    expect_errno(
        "unmap_pirq(unmapped)",
        pirq_calls::unmap(SPARE_PIRQ),
        UNMAPPED_ERRNO,
    )?;
    expect_errno(
        "eoi(out of range)",
        pirq_calls::eoi(u32::MAX),
        BAD_ARG_ERRNO,
    )?;
    expect_errno("eoi(unmapped)", pirq_calls::eoi(SPARE_PIRQ), UNMAPPED_ERRNO)?;
    match pirq_calls::status_query(u32::MAX) {
        Ok(flags) => fail!("irq_status_query(-1) gave flags {:#x}", flags),
        Err(ret) => expect_errno("irq_status_query(-1)", ret, BAD_ARG_ERRNO)?,
    }
    match pirq_calls::bind_pirq(SPARE_PIRQ) {
        Ok(port) => fail!("bind_pirq(unmapped) gave port {}", port),
        Err(ret) => expect_errno("bind_pirq(unmapped)", ret, BIND_UNMAPPED_ERRNO),
    }
}

/// What the GSIs the hypervisor keeps for itself give: the timer's (0), the PIC cascade (2)
/// and COM1's (4). Printed too, for the record.
pub fn kept_gsis() -> Outcome {
    for (gsi, want) in KEPT_GSIS {
        let result = pirq_calls::map_gsi(gsi);
        kprintln!("pirq: map_pirq(GSI {}) -> {:?}", gsi, result);
        match (result, want) {
            (Ok(pirq), Ok(())) => {
                // Mapped, as Xen does; binding it must then fail.
                let bound = pirq_calls::bind_pirq(pirq);
                kprintln!("pirq: bind_pirq({}) (GSI {}) -> {:?}", pirq, gsi, bound);
                let unmapped = pirq_calls::unmap(pirq);
                match bound {
                    Ok(port) => {
                        evt::close(port);
                        fail!("GSI {} (PIRQ {}) could be bound", gsi, pirq);
                    }
                    Err(ret) => expect_errno("bind_pirq(kept GSI)", ret, KEPT_BIND_ERRNO)?,
                }
                expect_ret("unmap_pirq(kept GSI)", unmapped, 0)?;
            }
            (Ok(pirq), Err(errno)) => {
                pirq_calls::unmap(pirq);
                fail!(
                    "GSI {} mapped to PIRQ {}, expected {}",
                    gsi,
                    pirq,
                    errno.name()
                );
            }
            (Err(ret), Ok(())) => fail!("map_pirq(GSI {}) returned {}", gsi, Ret(ret)),
            (Err(ret), Err(errno)) => expect_errno("map_pirq(kept GSI)", ret, errno)?,
        }
    }
    Ok(())
}

/// Per GSI the hypervisor keeps: `Ok` if mapping it succeeds (and binding then fails with
/// [`KEPT_BIND_ERRNO`]), else the errno of the map.
const KEPT_GSIS: [(u32, Result<(), Errno>); 3] = [(0, Err(Errno::Perm)), (2, Ok(())), (4, Ok(()))];
/// Binding a kept GSI that could be mapped: -EBUSY (the hypervisor's own handler holds it).
const KEPT_BIND_ERRNO: Errno = Errno::Busy;

/// A GSI with "any PIRQ": the first free one above the ISA range; again: the same; to
/// another PIRQ: -EEXIST; unmapped twice: 0 then -EINVAL; mapped again: -EPERM.
pub fn map_any() -> Outcome {
    let pirq = pirq_calls::map_gsi(ANY_GSI).map_err(|ret| failed("map_pirq(GSI 5, any)", ret))?;
    let check = || -> Outcome {
        expect_eq(
            "PIRQ chosen for GSI 5",
            pirq.into(),
            FIRST_FREE_GSI_PIRQ.into(),
        )?;
        let again = pirq_calls::map_gsi(ANY_GSI)
            .map_err(|ret| failed("map_pirq(GSI 5, any) again", ret))?;
        expect_eq("PIRQ of GSI 5 mapped again", again.into(), pirq.into())?;
        match pirq_calls::map_gsi_to(ANY_GSI, SPARE_PIRQ as i32) {
            Ok(other) => fail!("GSI 5 mapped to a second PIRQ {}", other),
            Err(ret) => expect_errno("map_pirq(GSI 5, other PIRQ)", ret, OTHER_PIRQ_ERRNO),
        }
    };
    let checked = check();
    let first = pirq_calls::unmap(pirq);
    let second = pirq_calls::unmap(pirq);
    checked?;
    expect_ret("unmap_pirq(GSI 5's PIRQ)", first, 0)?;
    expect_errno("unmap_pirq twice", second, UNMAPPED_ERRNO)?;
    expect_remap_refused(ANY_GSI)
}

/// Mapping `gsi` once more is refused: the unmap took the access away.
fn expect_remap_refused(gsi: u32) -> Outcome {
    match pirq_calls::map_gsi(gsi) {
        Ok(pirq) => {
            pirq_calls::unmap(pirq);
            fail!("GSI {} mapped again (PIRQ {}) after its unmap", gsi, pirq)
        }
        Err(ret) => expect_errno("map_pirq after unmap", ret, REMAP_ERRNO),
    }
}

/// GSI 14 to PIRQ 14, as Linux maps ISA IRQs; it stays mapped for the next checks.
pub fn map_fixed() -> Outcome {
    let pirq = pirq_calls::map_gsi_to(DISK_GSI, DISK_GSI as i32)
        .map_err(|ret| failed("map_pirq(GSI 14, PIRQ 14)", ret))?;
    expect_eq("PIRQ of GSI 14", pirq.into(), DISK_GSI.into())?;
    let again = pirq_calls::map_gsi_to(DISK_GSI, DISK_GSI as i32)
        .map_err(|ret| failed("map_pirq(GSI 14, PIRQ 14) again", ret))?;
    expect_eq("PIRQ of GSI 14 mapped again", again.into(), DISK_GSI.into())
}

/// irq_status_query: every PIRQ in range, mapped or not, reports that it needs an EOI (Xen
/// asks every guest that does not use the EOI bitmap to EOI).
pub fn status_query() -> Outcome {
    for pirq in [DISK_GSI, SPARE_PIRQ] {
        let flags =
            pirq_calls::status_query(pirq).map_err(|ret| failed("irq_status_query", ret))?;
        expect_eq(
            "irq_status_query flags",
            flags.into(),
            XENIRQSTAT_NEEDS_EOI.into(),
        )?;
    }
    expect_ret("eoi(mapped, unbound)", pirq_calls::eoi(DISK_GSI), 0)
}

/// bind_pirq(14): a port with status pirq 14 on vCPU 0; a second bind: -EEXIST.
pub fn bind() -> Result<EvtchnPort, Detail> {
    let port = pirq_calls::bind_pirq(DISK_GSI).map_err(|ret| failed("bind_pirq(14)", ret))?;
    let check = || -> Outcome {
        let s = evt::status(port).map_err(|ret| failed("status(PIRQ port)", ret))?;
        expect_eq(
            "status of the PIRQ port",
            s.status.into(),
            EVTCHNSTAT_PIRQ.into(),
        )?;
        expect_eq("its PIRQ", s.irq().into(), DISK_GSI.into())?;
        expect_eq("its vCPU", s.vcpu.into(), 0)?;
        match pirq_calls::bind_pirq(DISK_GSI) {
            Ok(other) => fail!("bind_pirq(14) twice gave port {}", other),
            Err(ret) => expect_errno("bind_pirq(14) twice", ret, BOUND_TWICE_ERRNO),
        }
    };
    match check() {
        Ok(()) => Ok(port),
        Err(detail) => {
            evt::close(port);
            Err(detail)
        }
    }
}

/// Closing the PIRQ's port: it reads closed, and the PIRQ can be bound again.
pub fn close(port: EvtchnPort) -> Outcome {
    expect_ret("close(PIRQ port)", evt::close(port), 0)?;
    let s = evt::status(port).map_err(|ret| failed("status(closed port)", ret))?;
    expect_eq(
        "status of the closed port",
        s.status.into(),
        EVTCHNSTAT_CLOSED.into(),
    )?;
    let again =
        pirq_calls::bind_pirq(DISK_GSI).map_err(|ret| failed("bind_pirq(14) again", ret))?;
    expect_ret("close(PIRQ port) again", evt::close(again), 0)
}

/// Unmapping PIRQ 14: then it cannot be bound, EOIed, unmapped or mapped again.
pub fn unmap() -> Outcome {
    expect_ret("unmap_pirq(14)", pirq_calls::unmap(DISK_GSI), 0)?;
    expect_errno(
        "unmap_pirq(14) twice",
        pirq_calls::unmap(DISK_GSI),
        UNMAPPED_ERRNO,
    )?;
    expect_errno(
        "eoi(14) unmapped",
        pirq_calls::eoi(DISK_GSI),
        UNMAPPED_ERRNO,
    )?;
    match pirq_calls::bind_pirq(DISK_GSI) {
        Ok(port) => {
            evt::close(port);
            fail!("bind_pirq(14) after unmap gave port {}", port)
        }
        Err(ret) => expect_errno("bind_pirq(14) after unmap", ret, BIND_UNMAPPED_ERRNO)?,
    }
    expect_remap_refused(DISK_GSI)
}

/// Unmapping a PIRQ that is still bound succeeds; the port stays, and its GSI cannot be
/// mapped again (-EBUSY) until the port is closed (then -EPERM, as after any unmap).
pub fn unmap_bound() -> Outcome {
    let pirq = pirq_calls::map_gsi_to(STALE_GSI, STALE_GSI as i32)
        .map_err(|ret| failed("map_pirq(GSI 3, PIRQ 3)", ret))?;
    let port = pirq_calls::bind_pirq(pirq).map_err(|ret| {
        pirq_calls::unmap(pirq);
        failed("bind_pirq(3)", ret)
    })?;
    let unmapped = pirq_calls::unmap(pirq);
    let remap = pirq_calls::map_gsi(STALE_GSI);
    let status = evt::status(port);
    let eoi = pirq_calls::eoi(pirq);
    let closed = evt::close(port);
    kprintln!(
        "pirq: unmap while bound -> {}, map again -> {:?}, eoi -> {}, close -> {}",
        unmapped,
        remap,
        eoi,
        closed
    );
    expect_ret("unmap_pirq(bound)", unmapped, 0)?;
    match remap {
        Ok(p) => {
            pirq_calls::unmap(p);
            fail!("GSI 3 mapped to PIRQ {} while its old PIRQ was bound", p)
        }
        Err(ret) => expect_errno("map_pirq(GSI 3) while bound", ret, STILL_BOUND_ERRNO)?,
    }
    let s = status.map_err(|ret| failed("status(port of the unmapped PIRQ)", ret))?;
    expect_eq("its status", s.status.into(), EVTCHNSTAT_PIRQ.into())?;
    expect_ret("eoi(unmapped, bound PIRQ)", eoi, 0)?;
    expect_ret("close(port of the unmapped PIRQ)", closed, 0)?;
    expect_remap_refused(STALE_GSI)
}
