//! Boot-time memory setup: the frame allocator, the hypervisor's page tables, M2P, frame table.

use heapless::Vec;
use spin::Mutex;

use hypercall_abi::layout::MACH2PHYS_VIRT_START;
use xen_core::layout::*;
use xen_core::mm::frame_alloc::FrameAllocator;
use xen_core::mm::frame_table::{FrameInfo, FrameTable, Owner};
use xen_core::multiboot::BootInfo;

use crate::arch::x86_64::{apic, cpu, direct_map};

const BITMAP_WORDS: usize = MAX_MACHINE_FRAMES / 64;
static BITMAP: Mutex<[u64; BITMAP_WORDS]> = Mutex::new([0; BITMAP_WORDS]);

/// Present | writable.
const PW: u64 = 0x3;
/// Present | writable | user (the M2P's upper levels; its L1 entries are read-only).
const PWU: u64 = 0x7;
/// 2 MiB page, global.
const LARGE_GLOBAL: u64 = (1 << 7) | (1 << 8);
/// No-execute.
const NX: u64 = 1 << 63;
/// Page-level write-through and cache disable: PAT entry 3, UC with the power-on PAT.
const UNCACHED: u64 = (1 << 3) | (1 << 4);

/// What the memory setup produced.
pub struct Memory {
    /// The allocator.
    pub alloc: FrameAllocator<'static>,
    /// The frame table.
    pub frames: FrameTable<'static>,
    /// Machine address of the M2P array.
    pub m2p_maddr: u64,
    /// L4 entries every address space carries.
    pub xen_l4_slots: Vec<(usize, u64), 16>,
    /// Machine frames managed.
    pub nr_frames: u64,
}

fn alloc_zeroed(alloc: &mut FrameAllocator<'_>) -> u64 {
    let mfn = alloc
        .alloc()
        .expect("out of memory while setting up xen-core") as u64;
    direct_map::zero_frame(mfn);
    mfn
}

fn write_entry(table_mfn: u64, index: usize, value: u64) {
    direct_map::write_u64(table_mfn * PAGE_SIZE + index as u64 * 8, value);
}

/// Maps the 2 MiB of machine addresses around `maddr` (below 512 GiB) at their direct-map
/// address, uncached (PCD|PWT: UC with the power-on PAT), replacing any RAM mapping there.
fn map_uncached_2m(alloc: &mut FrameAllocator<'_>, direct_l3: u64, maddr: u64) {
    let base = maddr & !((2 << 20) - 1);
    let va = maddr_to_virt(base);
    let l3e = direct_map::read_u64(direct_l3 * PAGE_SIZE + table_index(va, 3) as u64 * 8);
    let l2 = if l3e & 1 != 0 {
        (l3e & 0x000f_ffff_ffff_f000) / PAGE_SIZE
    } else {
        let l2 = alloc_zeroed(alloc);
        write_entry(direct_l3, table_index(va, 3), (l2 << 12) | PW);
        l2
    };
    write_entry(l2, table_index(va, 2), base | PW | LARGE_GLOBAL | UNCACHED);
}

/// Sets up memory from the boot information. `image_end` is the physical end of xen-core.
pub fn init(info: &BootInfo, image_end: u64) -> Memory {
    let top = info
        .regions
        .iter()
        .filter(|r| r.usable)
        .map(|r| r.base.saturating_add(r.len))
        .max()
        .unwrap_or(0)
        .min(MAX_MACHINE_MEMORY);
    // The direct map is built from 2 MiB pages: round up so every frame is covered.
    let mapped = (top + (2 << 20) - 1) & !((2 << 20) - 1);
    let nr_frames = mapped / PAGE_SIZE;

    let bitmap = spin::MutexGuard::leak(BITMAP.lock());
    let mut alloc = FrameAllocator::new(&mut bitmap[..]);
    for r in info.regions.iter().filter(|r| r.usable) {
        let start = r.base.div_ceil(PAGE_SIZE) as usize;
        let end = (r.base.saturating_add(r.len) / PAGE_SIZE) as usize;
        alloc.add_free(start, end);
    }
    // Low memory (firmware, the Multiboot information), xen-core itself, the boot modules.
    alloc.reserve(0, (IMAGE_LOAD_BASE / PAGE_SIZE) as usize);
    alloc.reserve(
        (IMAGE_LOAD_BASE / PAGE_SIZE) as usize,
        image_end.div_ceil(PAGE_SIZE) as usize,
    );
    for m in &info.modules {
        alloc.reserve(
            (m.start / PAGE_SIZE) as usize,
            m.end.div_ceil(PAGE_SIZE) as usize,
        );
    }
    // Anything past what the direct map will cover is not ours to hand out.
    alloc.reserve(nr_frames as usize, alloc.capacity());

    // The boot page tables map the first GiB; everything allocated here must sit below it.
    let l4 = alloc_zeroed(&mut alloc);
    let direct_l3 = alloc_zeroed(&mut alloc);
    let gib = mapped.div_ceil(1 << 30);
    for g in 0..gib {
        let l2 = alloc_zeroed(&mut alloc);
        write_entry(direct_l3, g as usize, (l2 << 12) | PW);
        for i in 0..512u64 {
            let maddr = (g << 30) + (i << 21);
            if maddr < mapped {
                write_entry(l2, i as usize, maddr | PW | LARGE_GLOBAL);
            }
        }
    }
    // The local APIC's registers (MMIO, never RAM): their 2 MiB of the direct map, uncached.
    // Without an APIC, time_init stops the boot with the reason.
    if let Ok(apic) = apic::mmio_base() {
        map_uncached_2m(&mut alloc, direct_l3, apic);
    }
    write_entry(l4, DIRECTMAP_L4_SLOT, (direct_l3 << 12) | PW);

    // The M2P: one u64 per machine frame, all invalid (!0) until a domain owns the frame.
    let m2p_frames = (nr_frames * 8).div_ceil(PAGE_SIZE);
    let m2p_first = alloc
        .alloc_contiguous(m2p_frames as usize)
        .expect("no memory for the M2P") as u64;
    // SAFETY: m2p_frames frames just taken from the allocator for the M2P alone; u64 accepts
    // any bits.
    let m2p: &mut [u64] = unsafe { direct_map::table(m2p_first * PAGE_SIZE, nr_frames as usize) };
    m2p.fill(u64::MAX);
    let m2p_l3 = alloc_zeroed(&mut alloc);
    let mut l2 = 0;
    let mut l1 = 0;
    for i in 0..m2p_frames {
        let va = MACH2PHYS_VIRT_START + i * PAGE_SIZE;
        if i % (512 * 512) == 0 {
            l2 = alloc_zeroed(&mut alloc);
            write_entry(m2p_l3, table_index(va, 3), (l2 << 12) | PWU);
        }
        if i % 512 == 0 {
            l1 = alloc_zeroed(&mut alloc);
            write_entry(l2, table_index(va, 2), (l1 << 12) | PWU);
        }
        // Read-only, user-readable, no-execute: guests read the M2P directly.
        write_entry(l1, table_index(va, 1), ((m2p_first + i) << 12) | 0x5 | NX);
    }
    write_entry(l4, M2P_L4_SLOT, (m2p_l3 << 12) | PWU);

    // The frame table.
    let ft_frames = (nr_frames * core::mem::size_of::<FrameInfo>() as u64).div_ceil(PAGE_SIZE);
    let ft_first = alloc
        .alloc_contiguous(ft_frames as usize)
        .expect("no memory for the frame table") as u64;
    // SAFETY: frames just taken for the frame table alone; FrameTable::new overwrites every
    // entry with a valid default before use.
    let ft: &mut [FrameInfo] =
        unsafe { direct_map::table(ft_first * PAGE_SIZE, nr_frames as usize) };
    let mut frames = FrameTable::new(ft);
    for mfn in 0..nr_frames {
        if !alloc.is_free(mfn as usize) {
            let _ = frames.assign(mfn, Owner::Xen);
        }
    }

    // Switch to the new tables (the identity map of the first GiB goes away) and enable
    // global pages, SSE for guests, and SMEP when the CPU has it.
    let mut cr4 = cpu::read_cr4() | (1 << 7) | (1 << 9) | (1 << 10);
    if cpu::cpuid(7, 0)[1] & (1 << 7) != 0 {
        cr4 |= 1 << 20;
    }
    // SAFETY: the new L4 maps the direct map (where xen-core runs, with its stack and data)
    // exactly as the boot tables did; CR4 gains only features CPUID reported (PGE, OSFXSR and
    // OSXMMEXCPT exist on every x86_64 CPU).
    unsafe {
        cpu::write_cr3(l4 * PAGE_SIZE);
        cpu::write_cr4(cr4);
    }
    direct_map::set_limit(mapped);

    let mut xen_l4_slots = Vec::new();
    let _ = xen_l4_slots.push((M2P_L4_SLOT, (m2p_l3 << 12) | PWU));
    let _ = xen_l4_slots.push((DIRECTMAP_L4_SLOT, (direct_l3 << 12) | PW));
    Memory {
        alloc,
        frames,
        m2p_maddr: m2p_first * PAGE_SIZE,
        xen_l4_slots,
        nr_frames,
    }
}
