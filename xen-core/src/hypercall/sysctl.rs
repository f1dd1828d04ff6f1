//! sysctl: the control domain's questions about the whole machine (Xen 4.17's layouts).

use hypercall_abi::Errno;
use hypercall_abi::domctl::{XEN_SCHEDULER_CREDIT, XenDomctlGetdomaininfo};
use hypercall_abi::sysctl::{
    SysctlCmd, XEN_SYSCTL_PHYSCAP_GNTTAB_V1, XEN_SYSCTL_PHYSCAP_PV, XenSysctl,
    XenSysctlGetdomaininfolist, XenSysctlPhysinfo, XenSysctlReadconsole, XenSysctlSchedId,
};

use crate::arch::x86_64::uaccess::{copy_to_guest, read_guest, write_guest};
use crate::arch::x86_64::{cpu, tsc};
use crate::console;
use crate::hypervisor::with_state;

/// A decoded sysctl.
enum Request {
    ReadConsole(XenSysctlReadconsole),
    Physinfo,
    SchedId,
    GetDomainInfoList(XenSysctlGetdomaininfolist),
}

fn decode(cmd: SysctlCmd, op: &XenSysctl) -> Result<Request, Errno> {
    Ok(match cmd {
        SysctlCmd::Readconsole => Request::ReadConsole(op.payload()),
        SysctlCmd::Physinfo => Request::Physinfo,
        SysctlCmd::SchedId => Request::SchedId,
        SysctlCmd::Getdomaininfolist => Request::GetDomainInfoList(op.payload()),
        _ => return Err(Errno::NoSys),
    })
}

/// Handles sysctl(op): the interface version first (-EACCES), then the caller's control
/// capability (-EPERM), as Xen checks them. The struct is written back on success.
pub fn sysctl(arg: u64) -> Result<u64, Errno> {
    let mut op = read_guest::<XenSysctl>(arg)?;
    let cmd = op.decode()?;
    if !with_state(|st| st.dom.is_control()) {
        return Err(Errno::Perm);
    }
    match decode(cmd, &op)? {
        Request::ReadConsole(mut rc) => {
            read_console(&mut rc)?;
            op.set_payload(&rc);
        }
        Request::Physinfo => op.set_payload(&physinfo()),
        Request::SchedId => op.set_payload(&XenSysctlSchedId {
            sched_id: XEN_SCHEDULER_CREDIT,
        }),
        Request::GetDomainInfoList(mut list) => {
            list.num_domains = domain_info_list(&list)?;
            op.set_payload(&list);
        }
    }
    write_guest(arg, &op)?;
    Ok(0)
}

/// Copies the console history to the guest buffer in pieces: `count` becomes the bytes
/// copied, `index` where an incremental reader goes on.
fn read_console(rc: &mut XenSysctlReadconsole) -> Result<(), Errno> {
    let mut chunk = [0u8; 256];
    let (mut index, mut done) = (rc.index, 0u32);
    let mut incremental = rc.incremental != 0;
    while done < rc.count {
        let want = chunk.len().min((rc.count - done) as usize);
        let got = console::read_history(&mut chunk[..want], incremental, index, false);
        copy_to_guest(rc.buffer.wrapping_add(u64::from(done)), &chunk[..got.count])?;
        done += got.count as u32;
        index = got.next_index;
        // Later pieces continue from where this one stopped.
        incremental = true;
        if got.count < want {
            break;
        }
    }
    if rc.clear != 0 {
        console::read_history(&mut [], false, 0, true);
    }
    rc.count = done;
    if rc.incremental != 0 {
        rc.index = index;
    }
    Ok(())
}

/// The machine as Xen describes it: one CPU, one node, PV with grant tables v1.
fn physinfo() -> XenSysctlPhysinfo {
    let (total, free, max_mfn) = with_state(|st| {
        let total = st.frames.len() as u64;
        (
            total,
            st.alloc.free_frames() as u64,
            total.saturating_sub(1),
        )
    });
    let [_, _, ecx, edx] = cpu::cpuid(1, 0);
    let [_, ebx7, ecx7, _] = cpu::cpuid(7, 0);
    let [_, _, ecx_ext, edx_ext] = cpu::cpuid(0x8000_0001, 0);
    XenSysctlPhysinfo {
        threads_per_core: 1,
        cores_per_socket: 1,
        nr_cpus: 1,
        max_cpu_id: 0,
        nr_nodes: 1,
        max_node_id: 0,
        cpu_khz: u32::try_from(tsc::tsc_hz() / 1000).unwrap_or(u32::MAX),
        capabilities: XEN_SYSCTL_PHYSCAP_PV | XEN_SYSCTL_PHYSCAP_GNTTAB_V1,
        total_pages: total,
        free_pages: free,
        max_mfn,
        // Xen's featureset words 0-7: 1.edx, 1.ecx, e1.edx, e1.ecx, 0xd:1.eax (left 0), 7.ebx,
        // 7.ecx, e7.edx (left 0); 7.edx is word 9, past hw_cap.
        hw_cap: [edx, ecx, edx_ext, ecx_ext, 0, ebx7, ecx7, 0],
        ..XenSysctlPhysinfo::default()
    }
}

/// Fills the guest's array with the domains from `first_domain` up, at most `max_domains`;
/// returns how many.
fn domain_info_list(list: &XenSysctlGetdomaininfolist) -> Result<u32, Errno> {
    let infos = with_state(|mut st| {
        let mut out: alloc::vec::Vec<XenDomctlGetdomaininfo> = alloc::vec::Vec::new();
        let ids: alloc::vec::Vec<_> = st.domains.ids().collect();
        for id in ids {
            if id < list.first_domain || out.len() as u32 >= list.max_domains {
                continue;
            }
            let running = id == st.dom.id;
            let cpu_time = st.sched.domain_runtime_ns(id, tsc::now_ns()).ok();
            if let Some(d) = st.lookup(id) {
                d.cpu_time = cpu_time.unwrap_or(d.cpu_time);
                if out.try_reserve(1).is_err() {
                    return Err(Errno::NoMem);
                }
                out.push(d.info(running));
            }
        }
        Ok(out)
    })?;
    let size = core::mem::size_of::<XenDomctlGetdomaininfo>() as u64;
    for (i, info) in infos.iter().enumerate() {
        write_guest(list.buffer.wrapping_add(i as u64 * size), info)?;
    }
    Ok(infos.len() as u32)
}
