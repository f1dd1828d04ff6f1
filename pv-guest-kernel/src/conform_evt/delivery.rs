//! conform=events, delivery: pending bits, pending_sel and the upcall, with Xen's masking rules.

use hypercall_abi::domid::DOMID_SELF;
use hypercall_abi::event_channel::EvtchnPort;
use hypercall_abi::segment::FLAT_RING3_CS64;
use hypercall_abi::version::XenVersionCmd;

use super::calls::{self, failed};
use crate::arch::x86_64::hypercall;
use crate::arch::x86_64::upcall::{self, Bits};
use crate::arch::x86_64::xen;
use crate::selftest::report::{Outcome, expect_eq, expect_ret, fail};

/// The guest kernel's CS as a bounce frame from kernel mode shows it (RPL 0).
const KERNEL_CS_RPL0: u64 = (FLAT_RING3_CS64 & !3) as u64;
/// RFLAGS.IF.
const RFLAGS_IF: u64 = 1 << 9;

/// A loopback channel: `a` was allocated unbound for ourselves, `b` bound to it.
#[derive(Clone, Copy, Debug)]
pub struct Loopback {
    /// The unbound port we allocated.
    pub a: EvtchnPort,
    /// The port bind_interdomain gave us, connected to `a`.
    pub b: EvtchnPort,
}

fn word_bit(port: EvtchnPort) -> u64 {
    1 << (port / 64)
}

fn port_bit(port: EvtchnPort) -> u64 {
    1 << (port % 64)
}

/// Exactly one upcall since `before`, and it found `port` pending with its selector bit.
fn one_upcall_for(before: u32, port: EvtchnPort) -> Outcome {
    let taken = upcall::count().wrapping_sub(before);
    if taken != 1 {
        fail!("{} upcalls for port {}, expected 1", taken, port);
    }
    let u = upcall::last();
    if u.sel & word_bit(port) == 0 {
        fail!(
            "pending_sel {:#x} lacks word {} (port {})",
            u.sel,
            port / 64,
            port
        );
    }
    if port < 64 && u.word0 & port_bit(port) == 0 {
        fail!("pending word 0 {:#x} lacks port {}", u.word0, port);
    }
    Ok(())
}

/// No upcall between counts `before` and `after`.
fn no_upcall(before: u32, after: u32, why: &str) -> Outcome {
    let taken = after.wrapping_sub(before);
    if taken != 0 {
        fail!("{} upcall(s) {}", taken, why);
    }
    Ok(())
}

/// Maps shared_info and registers the event callback.
pub fn setup(shared_info: u64) -> Result<Bits, crate::selftest::report::Detail> {
    let ret = xen::map_shared_info(
        shared_info,
        super::suite::SHARED_INFO_PTE,
        super::suite::UVMF,
    );
    if ret != 0 {
        return Err(failed("update_va_mapping(shared_info)", ret));
    }
    let ret = upcall::register();
    if ret != 0 {
        return Err(failed("callback_op(register event)", ret));
    }
    let Some(bits) = Bits::get() else {
        return Err(failed("shared_info mapping", -1));
    };
    if bits.mask_byte() != 1 {
        return Err(crate::selftest::report::Detail::new(format_args!(
            "upcall mask starts at {}, expected 1",
            bits.mask_byte()
        )));
    }
    bits.quiesce();
    Ok(bits)
}

/// alloc_unbound for ourselves, then bind_interdomain to it: as in Xen, binding marks the new
/// local port pending (a notification sent to the unbound end may have been lost), and with
/// events masked that only sets pending_sel and upcall_pending; unmasking and any hypercall
/// then delivers it.
pub fn loopback(bits: &Bits) -> Result<Loopback, crate::selftest::report::Detail> {
    bits.quiesce();
    let a = calls::alloc_unbound(DOMID_SELF, DOMID_SELF)
        .map_err(|ret| failed("alloc_unbound(self, self)", ret))?;
    let before = upcall::count();
    let b = calls::bind_interdomain(DOMID_SELF, a)
        .map_err(|ret| failed("bind_interdomain(self, a)", ret))?;
    let check = || -> Outcome {
        if a == 0 || b == 0 || a == b {
            fail!("ports a {} b {}", a, b);
        }
        no_upcall(before, upcall::count(), "with events masked")?;
        if !bits.is_pending(b) || bits.is_pending(a) {
            fail!(
                "after bind: pending a {} b {}, expected only b",
                bits.is_pending(a),
                bits.is_pending(b)
            );
        }
        expect_eq("pending_sel after bind", bits.sel(), word_bit(b))?;
        expect_eq(
            "upcall_pending after bind",
            bits.upcall_is_pending().into(),
            1,
        )?;
        bits.set_mask_byte(0);
        xen::xen_version_plain(XenVersionCmd::Version as u64);
        one_upcall_for(before, b)?;
        bits.set_mask_byte(1);
        if bits.is_pending(b) {
            fail!("port b still pending after the handler");
        }
        Ok(())
    };
    check().map(|()| Loopback { a, b })
}

/// send on each end of the loopback: the upcall comes on the way out of the send, with events
/// masked on entry, the old mask (0) saved in the frame's CS and IF set in its RFLAGS, and the
/// mask is 0 again after the handler's iret.
pub fn send(bits: &Bits, lb: Loopback) -> Outcome {
    for (from, to) in [(lb.a, lb.b), (lb.b, lb.a)] {
        bits.quiesce();
        bits.set_mask_byte(0);
        let before = upcall::count();
        let ret = calls::send(from);
        let mask_after = bits.mask_byte();
        bits.set_mask_byte(1);
        expect_ret("send", ret, 0)?;
        one_upcall_for(before, to)?;
        let u = upcall::last();
        expect_eq("pending_sel", u.sel, word_bit(to))?;
        expect_eq("pending word 0", u.word0, port_bit(to))?;
        expect_eq("upcall_pending on entry", u.entry_pending.into(), 1)?;
        expect_eq("upcall mask on entry", u.entry_mask.into(), 1)?;
        expect_eq("saved mask in CS", u.saved_mask().into(), 0)?;
        expect_eq("CS in the frame", u.cs & 0xffff, KERNEL_CS_RPL0)?;
        expect_eq("RFLAGS.IF in the frame", u.rflags & RFLAGS_IF, RFLAGS_IF)?;
        expect_eq("upcall mask after the upcall", mask_after.into(), 0)?;
        let page = hypercall::page_address();
        if !(page..page + 4096).contains(&u.rip) {
            fail!("upcall RIP {:#x} outside the hypercall page", u.rip);
        }
    }
    Ok(())
}

/// A masked port becomes pending without pending_sel or an upcall; unmask delivers it on the
/// way out of the unmask hypercall.
pub fn masked_port(bits: &Bits, lb: Loopback) -> Outcome {
    bits.quiesce();
    bits.set_masked(lb.b, true);
    bits.set_mask_byte(0);
    let before = upcall::count();
    let sent = calls::send(lb.a);
    let (pending, sel, upcall_pending) =
        (bits.is_pending(lb.b), bits.sel(), bits.upcall_is_pending());
    let after_send = upcall::count();
    let unmasked = calls::unmask(lb.b);
    bits.set_mask_byte(1);
    let still_masked = bits.is_masked(lb.b);
    bits.set_masked(lb.b, false);
    expect_ret("send", sent, 0)?;
    no_upcall(before, after_send, "for a masked port")?;
    if !pending {
        fail!("masked port not pending after send");
    }
    expect_eq("pending_sel for a masked port", sel, 0)?;
    expect_eq("upcall_pending for a masked port", upcall_pending.into(), 0)?;
    expect_ret("unmask", unmasked, 0)?;
    if still_masked {
        fail!("unmask left the mask bit set");
    }
    one_upcall_for(after_send, lb.b)
}

/// With upcall_mask set, a send records pending, pending_sel and upcall_pending but no upcall;
/// clearing the mask by a plain store delivers nothing until the next hypercall, which
/// delivers it on its way out.
pub fn upcall_masked(bits: &Bits, lb: Loopback) -> Outcome {
    bits.quiesce();
    let before = upcall::count();
    let sent = calls::send(lb.a);
    let state = (bits.is_pending(lb.b), bits.sel(), bits.upcall_is_pending());
    let after_send = upcall::count();
    bits.set_mask_byte(0);
    let after_store = upcall::count();
    xen::xen_version_plain(XenVersionCmd::Version as u64);
    bits.set_mask_byte(1);
    expect_ret("send", sent, 0)?;
    no_upcall(before, after_send, "with upcall_mask set")?;
    if state != (true, word_bit(lb.b), 1) {
        fail!(
            "after send: pending {} sel {:#x} upcall_pending {}",
            state.0,
            state.1,
            state.2
        );
    }
    no_upcall(after_send, after_store, "from clearing the mask alone")?;
    one_upcall_for(after_store, lb.b)?;
    expect_eq("saved mask in CS", upcall::last().saved_mask().into(), 0)
}

/// An iret hypercall whose RFLAGS.IF re-enables events delivers a pending upcall at once: the
/// bounce frame's RIP is where the iret returns to.
pub fn iret_unmask(bits: &Bits, lb: Loopback) -> Outcome {
    bits.quiesce();
    let sent = calls::send(lb.a);
    let before = upcall::count();
    let resume = upcall::iret_enabling_events();
    let mask_after = bits.mask_byte();
    bits.set_mask_byte(1);
    expect_ret("send", sent, 0)?;
    one_upcall_for(before, lb.b)?;
    let u = upcall::last();
    expect_eq("upcall RIP", u.rip, resume)?;
    expect_eq("saved mask in CS", u.saved_mask().into(), 0)?;
    expect_eq("upcall mask on entry", u.entry_mask.into(), 1)?;
    expect_eq("upcall mask after", mask_after.into(), 0)
}

/// An IPI port signals our own vCPU: send gives the upcall.
pub fn ipi(bits: &Bits) -> Outcome {
    let port = calls::bind_ipi(0).map_err(|ret| failed("bind_ipi(0)", ret))?;
    bits.quiesce();
    bits.set_mask_byte(0);
    let before = upcall::count();
    let sent = calls::send(port);
    bits.set_mask_byte(1);
    let closed = calls::close(port);
    expect_ret("send(ipi)", sent, 0)?;
    one_upcall_for(before, port)?;
    expect_ret("close(ipi)", closed, 0)
}
