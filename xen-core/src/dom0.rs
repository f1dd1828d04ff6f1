//! Building Dom0 from the first boot module (and its ramdisk, the second), as Xen's dom0 builder lays it out.

use core::fmt;

use hypercall_abi::segment::{FLAT_KERNEL_CS64, FLAT_KERNEL_SS64};
use hypercall_abi::start_info::{SIF_INITDOMAIN, SIF_PRIVILEGED, START_INFO_MAGIC, StartInfo};
use hypercall_abi::{hypercall_page, shared_info::XEN_LEGACY_MAX_VCPUS};
use xen_core::builder::boot_layout::{self, BootLayout, LayoutError};
use xen_core::builder::image::{self, ImageError, KernelImage};
use xen_core::builder::initial_tables::{self, TableMemory};
use xen_core::guest_regs::GuestRegs;
use xen_core::layout::PAGE_SIZE;
use xen_core::mm::frame_table::PageType;
use xen_core::mm::page_type::Mm;
use xen_core::multiboot::{Module, module_args};
use xen_core::vcpu::VcpuState;

use crate::arch::x86_64::uaccess::bytes_of;
use crate::arch::x86_64::{direct_map, paging, tsc};
use crate::domain::{Caps, Domain};
use crate::event_glue;
use crate::grant_glue;
use crate::hypervisor::Hypervisor;

/// Why Dom0 could not be built.
#[derive(Debug)]
pub enum BuildError {
    /// The kernel image is not a usable Xen PV kernel.
    Image(ImageError),
    /// Its layout does not fit.
    Layout(LayoutError),
    /// Not enough free memory.
    NoMemory(u64),
    /// The initial page tables did not fit the frames reserved for them.
    Tables,
    /// The heap has no room for its event channel table.
    Events,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Image(e) => write!(f, "bad Dom0 kernel: {e}"),
            BuildError::Layout(LayoutError::TooLittleMemory { needed, given }) => {
                write!(
                    f,
                    "Dom0 needs {needed} pages for its initial mapping but has {given}: raise dom0_mem"
                )
            }
            BuildError::Layout(LayoutError::Overflow) => {
                write!(f, "the Dom0 kernel's addresses overflow")
            }
            BuildError::NoMemory(pages) => write!(f, "no {pages} contiguous free pages for Dom0"),
            BuildError::Tables => write!(f, "Dom0's initial page tables do not fit"),
            BuildError::Events => write!(f, "no heap for Dom0's event channels"),
        }
    }
}

struct GuestTables;

impl TableMemory for GuestTables {
    fn write_entry(&mut self, mfn: u64, index: usize, value: u64) {
        direct_map::write_u64(mfn * PAGE_SIZE + index as u64 * 8, value);
    }
}

/// Writes `bytes` at guest virtual address `va` of a domain whose memory is contiguous from
/// `first_mfn` and mapped from `v_start`.
fn write_guest_va(layout: &BootLayout, first_mfn: u64, va: u64, bytes: &[u8]) {
    let maddr = first_mfn * PAGE_SIZE + (va - layout.v_start);
    direct_map::write_bytes(maddr, bytes);
}

fn log_layout(img: &KernelImage, l: &BootLayout, first_mfn: u64) {
    log::info!("*** LOADING DOMAIN 0 ***");
    log::info!(
        "Dom0 kernel: 64-bit, \"{}\", [{:#x}, {:#x}), entry {:#x}",
        img.guest_os,
        img.kern_start,
        img.kern_end,
        img.entry
    );
    log::info!("Dom0 has {} pages from mfn {:#x}", l.nr_pages, first_mfn);
    log::info!("VIRTUAL MEMORY ARRANGEMENT:");
    log::info!(
        " Loaded kernel: {:#018x}->{:#018x}",
        l.kern_start,
        l.kern_end
    );
    if let Some(initrd) = l.initrd {
        log::info!(
            " Init. ramdisk: {:#018x}->{:#018x}",
            initrd,
            initrd + l.initrd_len
        );
    }
    log::info!(
        " Phys-Mach map: {:#018x}->{:#018x}",
        l.p2m,
        l.p2m + l.nr_pages * 8
    );
    log::info!(
        " Start info:    {:#018x}->{:#018x}",
        l.start_info,
        l.start_info + PAGE_SIZE
    );
    log::info!(
        " Page tables:   {:#018x}->{:#018x}",
        l.page_tables,
        l.page_tables + l.nr_pt_frames * PAGE_SIZE
    );
    log::info!(
        " Boot stack:    {:#018x}->{:#018x}",
        l.stack,
        l.stack + PAGE_SIZE
    );
    log::info!(" TOTAL:         {:#018x}->{:#018x}", l.v_start, l.v_end);
}

/// Builds Dom0 from `module` (the kernel, whose command line Dom0 gets) and `initrd` (the
/// next boot module, if any) and returns it with its first registers.
///
/// The ramdisk is mapped right after the kernel and named by start_info's `mod_start`
/// (virtual address) and `mod_len`, as Xen 4.17 does for a kernel that does not ask for an
/// unmapped one. Xen hands the module's own frames to Dom0; xen-core copies the bytes into
/// Dom0's contiguous memory instead, which Dom0 cannot tell apart (its pages count among the
/// `dom0_mem` pages either way).
pub fn build(
    hv: &mut Hypervisor,
    module: &Module,
    initrd: Option<&Module>,
) -> Result<(Domain, GuestRegs), BuildError> {
    let bytes = direct_map::bytes(module.start, module.end - module.start);
    let img = image::parse(bytes).map_err(BuildError::Image)?;
    let initrd_bytes = initrd
        .filter(|m| m.end > m.start)
        .map(|m| direct_map::bytes(m.start, m.end - m.start));
    let initrd_len = initrd_bytes.map_or(0, |b| b.len() as u64);
    let nr_pages = hv.options.dom0_mem / PAGE_SIZE;
    let layout = boot_layout::compute(
        img.virt_base,
        img.kern_start,
        img.kern_end,
        initrd_len,
        nr_pages,
        false,
    )
    .map_err(BuildError::Layout)?;

    let first_mfn = hv
        .alloc
        .alloc_contiguous(nr_pages as usize)
        .ok_or(BuildError::NoMemory(nr_pages))? as u64;
    log_layout(&img, &layout, first_mfn);
    for pfn in 0..nr_pages {
        let mfn = first_mfn + pfn;
        direct_map::zero_frame(mfn);
        hv.set_m2p(mfn, pfn);
    }
    {
        let (mut mem, frames) = hv.memory();
        let mut mm = Mm::new(frames, &mut mem);
        for mfn in first_mfn..first_mfn + nr_pages {
            mm.allocate(0, mfn).map_err(|_| BuildError::Tables)?;
        }
    }

    // The kernel's segments, then its hypercall page.
    for seg in &img.segments {
        let data = &bytes[seg.offset as usize..(seg.offset + seg.file_size) as usize];
        write_guest_va(&layout, first_mfn, seg.vaddr, data);
    }
    if let Some(va) = img.hypercall_page {
        let mut page = [0u8; 4096];
        hypercall_page::fill(&mut page);
        write_guest_va(&layout, first_mfn, va, &page);
    }
    if let (Some(va), Some(data)) = (layout.initrd, initrd_bytes) {
        write_guest_va(&layout, first_mfn, va, data);
    }

    // The P2M list.
    for pfn in 0..nr_pages {
        write_guest_va(
            &layout,
            first_mfn,
            layout.p2m + pfn * 8,
            &(first_mfn + pfn).to_le_bytes(),
        );
    }

    // The shared_info page: xen-core's, shared with Dom0; every vCPU starts with events masked.
    let shared_info_mfn = hv.alloc.alloc().ok_or(BuildError::NoMemory(1))? as u64;
    direct_map::zero_frame(shared_info_mfn);
    // xen-core keeps a reference of its own, so Dom0 unmapping it never frees it.
    {
        let (mut mem, frames) = hv.memory();
        Mm::new(frames, &mut mem)
            .share_with(0, shared_info_mfn)
            .map_err(|_| BuildError::Tables)?;
    }
    for v in 0..XEN_LEGACY_MAX_VCPUS as u64 {
        direct_map::write_bytes(shared_info_mfn * PAGE_SIZE + v * 64 + 1, &[1]);
    }

    // start_info.
    let mut si = StartInfo::default();
    si.magic[..START_INFO_MAGIC.len()].copy_from_slice(START_INFO_MAGIC);
    si.nr_pages = nr_pages;
    si.shared_info = shared_info_mfn * PAGE_SIZE;
    si.flags = SIF_PRIVILEGED | SIF_INITDOMAIN;
    si.pt_base = layout.page_tables;
    si.nr_pt_frames = layout.nr_pt_frames;
    si.mfn_list = layout.p2m;
    if let Some(va) = layout.initrd {
        si.mod_start = va;
        si.mod_len = layout.initrd_len;
    }
    let args = module_args(&module.cmdline).as_bytes();
    let n = args.len().min(si.cmd_line.len() - 1);
    si.cmd_line[..n].copy_from_slice(&args[..n]);
    write_guest_va(&layout, first_mfn, layout.start_info, bytes_of(&si));

    // The initial page tables, and the frame types they imply.
    let mfn_of = |pfn: u64| first_mfn + pfn;
    let built = initial_tables::build(&layout, &mfn_of, &hv.xen_l4_slots, &mut GuestTables)
        .ok_or(BuildError::Tables)?;
    // Xen pins Dom0's L4 and makes it the vCPU's root: validating it takes every reference the
    // tables imply (writable mappings, page-table types), as for any guest's tables.
    {
        let (mut mem, frames) = hv.memory();
        let mut mm = Mm::new(frames, &mut mem);
        mm.pin(0, built.l4_mfn, 4).map_err(|_| BuildError::Tables)?;
        mm.get_page_and_type(built.l4_mfn, 0, PageType::PageTable(4))
            .map_err(|_| BuildError::Tables)?;
    }

    // Its grant table: one shared frame, Xen's default limits.
    let grants = {
        let (mut mem, frames) = hv.memory();
        grant_glue::new_grants(&mut Mm::new(frames, &mut mem), 0)
            .map_err(|_| BuildError::NoMemory(1))?
    };

    let vcpu = VcpuState {
        kernel_l4: built.l4_mfn,
        ..VcpuState::default()
    };
    let caps = Caps::CONTROL | Caps::HARDWARE;
    // Xen gives Dom0 no limit on event channel ports.
    let events = event_glue::new_port_table(0, caps, u32::MAX).map_err(|_| BuildError::Events)?;
    let mut dom = Domain::new(0, caps, shared_info_mfn, events, grants, tsc::now_ns());
    dom.vcpu = vcpu;
    dom.tot_pages = nr_pages;
    // Xen leaves Dom0's reservation unbounded (its maximum reads as 2^32 - 1).
    dom.max_pages = u64::from(u32::MAX);
    dom.online = true;
    event_glue::load_vcpu(&dom);
    // Its wall clock and vcpu_time_info; its vCPU runs from the start (and its timers with it).
    crate::time_glue::init_domain(&mut dom);
    crate::time_glue::schedule_in(&mut dom);
    let regs = GuestRegs {
        rip: img.entry,
        rsi: layout.start_info,
        rsp: layout.stack + PAGE_SIZE,
        rflags: 0x202,
        cs: u64::from(FLAT_KERNEL_CS64),
        ss: u64::from(FLAT_KERNEL_SS64),
        ..GuestRegs::default()
    };
    paging::load_guest_l4(built.l4_mfn);
    log::info!(
        "Dom0 built: start_info {:#x}, L4 mfn {:#x}, entry {:#x}",
        layout.start_info,
        built.l4_mfn,
        img.entry
    );
    Ok((dom, regs))
}
