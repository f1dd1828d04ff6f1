//! The DomU builder (libxenguest's job): a PV kernel image into a new, paused domain, through hypercalls.

use alloc::vec::Vec;
use core::fmt;

use hypercall_abi::domid::DomId;
use hypercall_abi::event_channel::EvtchnPort;
use hypercall_abi::shared_info::{VcpuInfo, XEN_LEGACY_MAX_VCPUS};

use dom0_tools::domain_config::{handle_for, max_memkb, pv_domu_config};
use dom0_tools::domu_plan::{DomuPlan, PageRole, PlanError, plan};
use dom0_tools::guest_pages::{PAGE_BYTES, fill_kernel_page, fill_p2m_page, fill_ramdisk_page};
use dom0_tools::initial_tables::{self, TableMemory};
use dom0_tools::start_info::{DomuBoot, domu_start_info, encode};
use dom0_tools::vcpu_context::initial_context;

use super::console_backend::ConsoleBackend;
use super::control;
use crate::arch::x86_64::foreign::ForeignPage;
use crate::arch::x86_64::toolstack_calls;
use crate::selftest::report::Ret;

/// Extents per populate_physmap call.
const POPULATE_BATCH: usize = 512;
/// The console backend's domain (us).
const BACKEND_DOMID: DomId = 0;

/// What to build.
#[derive(Clone, Copy, Debug)]
pub struct DomuSpec<'a> {
    /// The domain's memory in pages.
    pub nr_pages: u64,
    /// The kernel's command line.
    pub cmdline: &'a str,
    /// The initial ramdisk (empty: none).
    pub ramdisk: &'a [u8],
    /// The most memory the domain may have, in KiB (0: its initial memory).
    pub max_memkb: u64,
    /// Give it a xenstore event channel (the caller serves xenstore); without one its
    /// start_info says there is no xenstore (store_evtchn 0).
    pub xenstore: bool,
    /// A number that makes the domain's handle unique.
    pub serial: u32,
}

/// Why a build failed: the step, and the hypervisor's answer or the plan's complaint.
pub enum BuildError {
    /// The image or the layout was refused before anything was created.
    Plan(PlanError),
    /// A step failed with this result.
    Step(&'static str, i64),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Plan(e) => write!(f, "{e}"),
            BuildError::Step(step, ret) => write!(f, "{step}: {}", Ret(*ret)),
        }
    }
}

/// A built DomU: paused until [`Domu::start`], with its console connected.
pub struct Domu {
    /// Its id.
    pub domid: DomId,
    /// Its pages.
    pub nr_pages: u64,
    /// Its console, as served by us.
    pub console: ConsoleBackend,
    /// Machine frame of its xenstore ring page.
    pub store_mfn: u64,
    /// Its end of the xenstore event channel (unbound, for us to bind).
    pub store_port: EvtchnPort,
}

impl Domu {
    /// XEN_DOMCTL_unpausedomain: the domain runs.
    pub fn start(&self) -> i64 {
        control::unpause(self.domid)
    }
}

fn step(what: &'static str, ret: i64) -> Result<(), BuildError> {
    if ret == 0 {
        Ok(())
    } else {
        Err(BuildError::Step(what, ret))
    }
}

/// Builds `spec` from the PV kernel `elf` as libxenguest does: createdomain, max_vcpus,
/// max_mem, populate_physmap, load the image and the boot structures through foreign
/// mappings, hypercall_init, pin the L4, mask events in shared_info, setvcpucontext. The
/// domain is left paused. On failure after createdomain the domain is destroyed again.
pub fn build(elf: &[u8], spec: &DomuSpec<'_>) -> Result<Domu, BuildError> {
    let plan = plan(elf, spec.nr_pages, spec.ramdisk.len() as u64).map_err(BuildError::Plan)?;
    let domid = control::createdomain(&pv_domu_config(handle_for(spec.serial)))
        .map_err(|e| BuildError::Step("createdomain", e))?;
    match fill(elf, &plan, domid, spec) {
        Ok((console, store_mfn, store_port)) => Ok(Domu {
            domid,
            nr_pages: spec.nr_pages,
            console,
            store_mfn,
            store_port,
        }),
        Err(e) => {
            let _ = control::destroy(domid);
            Err(e)
        }
    }
}

/// Everything after createdomain; the caller destroys the domain if this fails.
fn fill(
    elf: &[u8],
    plan: &DomuPlan,
    domid: DomId,
    spec: &DomuSpec<'_>,
) -> Result<(ConsoleBackend, u64, EvtchnPort), BuildError> {
    step("max_vcpus", control::max_vcpus(domid, 1))?;
    step(
        "max_mem",
        control::max_mem(domid, max_memkb(plan.nr_pages()).max(spec.max_memkb)),
    )?;
    let p2m = populate(domid, plan.nr_pages())?;
    let mfn = |pfn: u64| p2m.get(pfn as usize).copied().unwrap_or(0);
    let info = control::getdomaininfo(domid).map_err(|e| BuildError::Step("getdomaininfo", e))?;
    let console_port = toolstack_calls::evtchn_alloc_unbound(domid, BACKEND_DOMID)
        .map_err(|e| BuildError::Step("alloc_unbound (console)", e))?;
    let store_port = if spec.xenstore {
        toolstack_calls::evtchn_alloc_unbound(domid, BACKEND_DOMID)
            .map_err(|e| BuildError::Step("alloc_unbound (xenstore)", e))?
    } else {
        0
    };
    let mut console = ConsoleBackend::connect(domid, mfn(plan.console_pfn()), console_port)
        .map_err(|(what, e)| BuildError::Step(what, e))?;

    let mut window = ForeignPage::claim().ok_or(BuildError::Step(
        "claim a foreign page",
        hypercall_abi::Errno::NoSpc.to_ret(),
    ))?;
    let cmdline = spec.cmdline.as_bytes();
    let boot = DomuBoot {
        shared_info_mfn: info.shared_info_frame,
        store_mfn: mfn(plan.xenstore_pfn()),
        store_evtchn: store_port,
        console_mfn: mfn(plan.console_pfn()),
        console_evtchn: console_port,
        cmdline,
    };
    let mut page = [0u8; PAGE_BYTES];
    for pfn in plan.built_pfns() {
        let va = plan.layout.v_start + pfn * 4096;
        match plan.role(pfn) {
            PageRole::Kernel => fill_kernel_page(&plan.image, elf, va, &mut page),
            PageRole::Ramdisk { offset } => fill_ramdisk_page(spec.ramdisk, offset, &mut page),
            PageRole::P2m { first_entry } => fill_p2m_page(&p2m, first_entry, &mut page),
            PageRole::StartInfo => {
                page.fill(0);
                let bytes = encode(&domu_start_info(plan, &boot));
                page[..bytes.len()].copy_from_slice(&bytes);
            }
            PageRole::Zeroed => page.fill(0),
            PageRole::Untouched => continue,
        }
        step(
            "map a DomU frame (mmu_update, foreign)",
            window.map(domid, mfn(pfn)),
        )?;
        if !window.write_page(&page) {
            return Err(BuildError::Step("write a DomU frame", -1));
        }
    }

    // The initial page tables, in the frames the layout reserved (zeroed above).
    let mut tables = ForeignTables {
        domid,
        window: &mut window,
        failed: None,
    };
    let built = initial_tables::build(&plan.layout, &mfn, &[], &mut tables);
    if let Some(ret) = tables.failed {
        return Err(BuildError::Step("write the page tables", ret));
    }
    let built = built.ok_or(BuildError::Step(
        "lay out the page tables",
        hypercall_abi::Errno::Inval.to_ret(),
    ))?;
    // No writable mapping of ours may remain on a page-table frame when it is pinned.
    step("unmap the window", window.unmap())?;

    if let Some(pfn) = plan.hypercall_pfn() {
        step("hypercall_init", control::hypercall_init(domid, mfn(pfn)))?;
    }
    step(
        "pin the L4 (mmuext_op, foreign)",
        toolstack_calls::pin_table(domid, built.l4_mfn, 4),
    )?;

    // shared_info: every vCPU starts with events masked, as libxenguest leaves it.
    step(
        "map shared_info (mmu_update, foreign)",
        window.map(domid, info.shared_info_frame),
    )?;
    for v in 0..XEN_LEGACY_MAX_VCPUS {
        let mask = v * core::mem::size_of::<VcpuInfo>()
            + core::mem::offset_of!(VcpuInfo, evtchn_upcall_mask);
        dom0_tools::console_ring::RingMemory::write_u8(&mut window, mask, 1);
    }
    step("unmap shared_info", window.unmap())?;

    let ctx = initial_context(plan, built.l4_mfn);
    step(
        "setvcpucontext",
        toolstack_calls::set_vcpu_context(domid, 0, &ctx),
    )?;
    console.watch("pv-guest-kernel: booting as DomU");
    Ok((console, mfn(plan.xenstore_pfn()), store_port))
}

/// populate_physmap for pfns 0..nr_pages of `domid`: the P2M list (machine frames).
fn populate(domid: DomId, nr_pages: u64) -> Result<Vec<u64>, BuildError> {
    let n = usize::try_from(nr_pages).map_err(|_| BuildError::Step("p2m size", -1))?;
    let mut p2m = Vec::new();
    p2m.try_reserve_exact(n).map_err(|_| {
        BuildError::Step(
            "allocate the P2M list",
            hypercall_abi::Errno::NoMem.to_ret(),
        )
    })?;
    p2m.extend(0..nr_pages);
    for chunk in p2m.chunks_mut(POPULATE_BATCH) {
        let ret = toolstack_calls::populate_physmap(domid, chunk);
        if ret != chunk.len() as i64 {
            return Err(BuildError::Step("populate_physmap", ret));
        }
    }
    Ok(p2m)
}

/// Page-table writes into the DomU's frames through the window, remapped as the frame changes.
struct ForeignTables<'a> {
    domid: DomId,
    window: &'a mut ForeignPage,
    failed: Option<i64>,
}

impl TableMemory for ForeignTables<'_> {
    fn write_entry(&mut self, mfn: u64, index: usize, value: u64) {
        if self.failed.is_some() {
            return;
        }
        if self.window.mapping() != Some((self.domid, mfn)) {
            let ret = self.window.map(self.domid, mfn);
            if ret != 0 {
                self.failed = Some(ret);
                return;
            }
        }
        if !self.window.write_u64(index * 8, value) {
            self.failed = Some(hypercall_abi::Errno::Inval.to_ret());
        }
    }
}
