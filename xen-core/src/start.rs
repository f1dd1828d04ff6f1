//! `xen_start_64`: the boot sequence in long mode, from Multiboot information to Dom0.

use heapless::String;

use alloc::boxed::Box;
use xen_core::multiboot::{self, PhysMemory};

use xen_core::domain_table::DomainTable;
use xen_core::sched::credit::Scheduler;
use xen_core::sched::params::DEFAULT_WEIGHT;
use xen_core::{cmdline, layout};

use crate::arch::x86_64::platform::{Exit, exit_machine, mask_legacy_pics};
use crate::arch::x86_64::{direct_map, fpu, gdt, heap, idt, syscall};
use crate::hypervisor::{HV, Hypervisor};
use crate::{console, dom0, memory};

unsafe extern "C" {
    static boot_stack_top: u8;
    static __image_end: u8;
}

struct BootMemory;

impl PhysMemory for BootMemory {
    fn read(&self, paddr: u64, buf: &mut [u8]) -> bool {
        // The boot page tables map the first GiB at the direct map; that is where loaders put
        // the Multiboot information.
        let end = paddr.checked_add(buf.len() as u64);
        if end.is_none_or(|e| e > 1 << 30) {
            return false;
        }
        buf.copy_from_slice(direct_map::bytes(paddr, buf.len() as u64));
        true
    }
}

/// Entered from boot.rs on the boot stack with the Multiboot registers.
#[unsafe(no_mangle)]
pub extern "C" fn xen_start_64(info_paddr: u64, magic: u64) -> ! {
    console::init();
    log::info!(
        "xen-core {} (Xen 4.17 x86_64 PV ABI) booting",
        env!("CARGO_PKG_VERSION")
    );
    let info = match multiboot::parse(&BootMemory, magic as u32, info_paddr) {
        Ok(info) => info,
        Err(e) => {
            log::error!("PANIC: fatal: unusable Multiboot information: {e:?}");
            exit_machine(Exit::Fatal)
        }
    };
    // Like Xen, drop the image name the loader puts first.
    let args = multiboot::module_args(&info.cmdline);
    log::info!("Command line: {args}");
    let options = cmdline::parse(args);

    let (stack_top, image_end) = (
        &raw const boot_stack_top as u64,
        &raw const __image_end as u64,
    );
    gdt::init(stack_top);
    idt::init();
    syscall::init();
    fpu::init();
    mask_legacy_pics();

    let mut mem = memory::init(&info, image_end - layout::DIRECTMAP_BASE);
    heap::init(&mut mem.alloc);
    crate::arch::x86_64::time_init::init();
    log::info!(
        "Memory: {} MiB managed, {} MiB free",
        (mem.nr_frames * layout::PAGE_SIZE) >> 20,
        (mem.alloc.free_frames() as u64 * layout::PAGE_SIZE) >> 20
    );
    let mut cmdline_copy = String::new();
    let _ = cmdline_copy.push_str(args);
    let mut hv = Hypervisor {
        alloc: mem.alloc,
        frames: mem.frames,
        m2p_maddr: mem.m2p_maddr,
        xen_l4_slots: mem.xen_l4_slots,
        cmdline: cmdline_copy,
        regions: info.regions.clone(),
        options,
        domains: DomainTable::new(),
        current: None,
        sched: Scheduler::new(1),
        slice_end: u64::MAX,
    };
    // The per-vCPU GDT/LDT area joins the hypervisor's slots before any guest L4 exists.
    gdt::enable_area(&mut hv.xen_l4_slots);

    if options.bench {
        crate::arch::x86_64::bench_floor::measure(&mut hv);
    }

    let Some(module) = info.modules.first() else {
        log::error!("PANIC: fatal: no Dom0 kernel given (QEMU: -initrd \"<kernel> <args>\")");
        exit_machine(Exit::Fatal)
    };
    let (dom, mut regs) = match dom0::build(&mut hv, module, info.modules.get(1)) {
        Ok(built) => built,
        Err(e) => {
            log::error!("PANIC: fatal: could not build Dom0: {e}");
            exit_machine(Exit::Fatal)
        }
    };
    // Dom0's id is reserved in the table; the domain itself runs from `current`.
    let id = dom.id;
    let dom = match hv
        .domains
        .insert(id, Box::new(dom))
        .map(|()| hv.domains.take(id))
    {
        Ok(Some(dom)) => dom,
        _ => {
            log::error!("PANIC: fatal: no room for Dom0 in the domain table");
            exit_machine(Exit::Fatal)
        }
    };
    // Dom0's vCPU joins the scheduler, runnable, and is its first choice.
    let mut dom = dom;
    let scheduled = hv
        .sched
        .add_domain(id, DEFAULT_WEIGHT, 0)
        .and_then(|()| hv.sched.add_vcpu(id, 0));
    if scheduled.is_err() {
        log::error!("PANIC: fatal: no room for Dom0 in the scheduler");
        exit_machine(Exit::Fatal)
    }
    crate::schedule::sync_runnable(&mut hv.sched, &mut dom);
    let now = crate::arch::x86_64::tsc::now_ns();
    hv.slice_end = hv.sched.schedule(0, now).deadline(now);
    HV.with(|slot| {
        // The vCPU comes onto the CPU: its FPU state first.
        let current = slot.insert(hv).current.insert(dom);
        fpu::load(&mut current.vcpu.fpu);
    });
    // Serial input goes to Dom0 from now on (Xen switches it at the end of boot too).
    crate::console_input::start();
    log::info!("Starting Dom0 (console output follows)");
    crate::trap_entry::enter_guest(&mut regs)
}
