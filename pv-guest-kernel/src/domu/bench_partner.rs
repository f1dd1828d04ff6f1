//! domu=bench: Dom0's benchmark partner: grants a page to Dom0, echoes its events, yields while told to.
// Dom0 (the builder) opens two event channels to us before we run: the first (lower port) is
// echoed by the upcall, for the round-trip figure; the second is echoed too, and every event
// on it toggles us between blocking (even count) and yielding in a loop (odd count), for the
// domain-switch figure. We tell Dom0 we are ready by one event on the first port.

use hypercall_abi::domid::{DOMID_SELF, DomId};
use hypercall_abi::event_channel::{EVTCHNSTAT_INTERDOMAIN, EvtchnPort, EvtchnStatus};
use hypercall_abi::grant_table::{GTF_PERMIT_ACCESS, GrantRef};
use hypercall_abi::vcpu::VcpuOp;

use crate::arch::x86_64::conform::time;
use crate::arch::x86_64::grant_calls::{self, SharedTable};
use crate::arch::x86_64::window::Slot;
use crate::arch::x86_64::{boot, event_bench, event_calls, frames, traps, xen};
use crate::console::kprintln;

/// The grant reference of the page we grant to Dom0.
pub const BENCH_GREF: GrantRef = 8;
/// The domain we grant to and talk with.
const DOM0: DomId = 0;
/// Ports looked at for Dom0's channels.
const MAX_PORT: EvtchnPort = 64;
/// Window page the grant table is mapped at.
const TABLE_SLOT: usize = 7;
/// Window page the granted frame is filled through.
const FILL_SLOT: usize = 0;

/// Word `i` of the granted page (Dom0 checks what it copied and mapped).
pub fn pattern(i: usize) -> u64 {
    0xbe4c_0000_0000_0000 | i as u64
}

/// Our two channels to Dom0.
struct Ports {
    echo: EvtchnPort,
    mode: EvtchnPort,
}

/// Sets up, tells Dom0, then serves until destroyed.
pub fn run() -> ! {
    match prepare() {
        Ok(ports) => serve(ports),
        Err(why) => {
            kprintln!("bench-partner: not ready: {}", why);
            xen::crash()
        }
    }
}

fn prepare() -> Result<Ports, &'static str> {
    // No timer interrupts while Dom0 measures (the periodic timer runs from boot, as in Xen).
    if time::vcpu_op_plain(VcpuOp::StopPeriodicTimer, 0) != 0 {
        return Err("stop_periodic_timer refused");
    }
    traps::install().map_err(|_| "set_trap_table refused")?;
    grant_page()?;
    let ports = find_ports()?;
    event_bench::setup(&[ports.echo, ports.mode], true).map_err(|e| e.0)?;
    kprintln!(
        "bench-partner: ready: gref {} for d0, echo port {}, mode port {}",
        BENCH_GREF,
        ports.echo,
        ports.mode
    );
    event_bench::enable_events();
    if event_bench::send(ports.echo) != 0 {
        return Err("the ready event could not be sent");
    }
    Ok(ports)
}

/// Our grant table's first frame mapped, one free frame filled with [`pattern`] and granted
/// (read-write) to Dom0 as [`BENCH_GREF`].
fn grant_page() -> Result<(), &'static str> {
    let (table_slot, fill_slot) = match (Slot::get(TABLE_SLOT), Slot::get(FILL_SLOT)) {
        (Some(t), Some(f)) => (t, f),
        _ => return Err("no window page"),
    };
    let mut list = [0u64; 1];
    match grant_calls::setup_table(DOMID_SELF, 1, &mut list) {
        Ok((0, op)) if op.status == 0 => {}
        _ => return Err("setup_table refused"),
    }
    let table = SharedTable::map(table_slot, list[0]).ok_or("the grant table did not map")?;
    let frame = frames::take_free().ok_or("no free frame")?;
    if fill_slot.map_frame(frame.mfn, true) != 0 || !fill_slot.fill(pattern) {
        return Err("the granted frame could not be filled");
    }
    if fill_slot.unmap() != 0 {
        return Err("the fill window did not unmap");
    }
    if !table.grant(BENCH_GREF, GTF_PERMIT_ACCESS, DOM0, frame.mfn) {
        return Err("the grant entry could not be written");
    }
    Ok(())
}

/// Our interdomain ports to Dom0 other than the console's, lowest first: echo, then mode.
fn find_ports() -> Result<Ports, &'static str> {
    let console = boot::start_info().console_evtchn;
    let mut found = [0; 2];
    let mut n = 0;
    for port in 1..MAX_PORT {
        let mut status = EvtchnStatus {
            dom: DOMID_SELF,
            port,
            ..EvtchnStatus::default()
        };
        let ret = event_calls::evtchn_op(&mut status);
        if ret == 0
            && status.status == EVTCHNSTAT_INTERDOMAIN
            && status.u[0] == u32::from(DOM0)
            && port != console
        {
            found[n] = port;
            n += 1;
            if n == found.len() {
                return Ok(Ports {
                    echo: found[0],
                    mode: found[1],
                });
            }
        }
    }
    Err("Dom0 did not open two event channels to us")
}

/// Blocks while the mode port's count is even, yields while it is odd; the upcall echoes.
/// After each yielding stretch, says how many yields it made.
fn serve(ports: Ports) -> ! {
    let mut yields = 0u64;
    loop {
        if event_bench::count(ports.mode) % 2 == 1 {
            let _ = xen::sched_yield();
            yields += 1;
        } else {
            if yields != 0 {
                kprintln!("bench-partner: yielded {} times", yields);
                yields = 0;
            }
            let _ = time::block();
        }
    }
}
