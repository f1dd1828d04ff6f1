//! A DomU's start_info page: its contents (as libxenguest fills it) and its bytes.

use hypercall_abi::start_info::{MAX_GUEST_CMDLINE, START_INFO_MAGIC, StartInfo};

use crate::domu_plan::DomuPlan;

/// Bytes of `struct start_info` (x86_64).
pub const START_INFO_BYTES: usize = core::mem::size_of::<StartInfo>();

/// What the builder learned while building, for the start_info page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DomuBoot<'a> {
    /// Frame of the domain's shared_info page (getdomaininfo's `shared_info_frame`).
    pub shared_info_mfn: u64,
    /// Machine frame of the xenstore ring page.
    pub store_mfn: u64,
    /// The DomU's event channel for xenstore (0: none yet).
    pub store_evtchn: u32,
    /// Machine frame of the console ring page.
    pub console_mfn: u64,
    /// The DomU's event channel for its console (an unbound port Dom0 connects to).
    pub console_evtchn: u32,
    /// The kernel command line (cut to 1023 bytes).
    pub cmdline: &'a [u8],
}

/// The start_info a PV DomU gets: no SIF flags, its rings, the boot layout of `plan`.
pub fn domu_start_info(plan: &DomuPlan, boot: &DomuBoot<'_>) -> StartInfo {
    let mut si = StartInfo::default();
    si.magic[..START_INFO_MAGIC.len()].copy_from_slice(START_INFO_MAGIC);
    si.nr_pages = plan.nr_pages();
    si.shared_info = boot.shared_info_mfn << 12;
    si.flags = 0;
    si.store_mfn = boot.store_mfn;
    si.store_evtchn = boot.store_evtchn;
    si.console_mfn = boot.console_mfn;
    si.console_evtchn = boot.console_evtchn;
    si.pt_base = plan.layout.page_tables;
    si.nr_pt_frames = plan.layout.nr_pt_frames;
    si.mfn_list = plan.layout.p2m;
    if let Some(va) = plan.layout.initrd {
        si.mod_start = va;
        si.mod_len = plan.layout.initrd_len;
    }
    let n = boot.cmdline.len().min(MAX_GUEST_CMDLINE - 1);
    si.cmd_line[..n].copy_from_slice(&boot.cmdline[..n]);
    si
}

/// `si` as the bytes of the C struct (little endian, at the C offsets).
pub fn encode(si: &StartInfo) -> [u8; START_INFO_BYTES] {
    let mut out = [0u8; START_INFO_BYTES];
    let mut put = |at: usize, bytes: &[u8]| out[at..at + bytes.len()].copy_from_slice(bytes);
    put(0, &si.magic);
    put(32, &si.nr_pages.to_le_bytes());
    put(40, &si.shared_info.to_le_bytes());
    put(48, &si.flags.to_le_bytes());
    put(52, &si.pad0.to_le_bytes());
    put(56, &si.store_mfn.to_le_bytes());
    put(64, &si.store_evtchn.to_le_bytes());
    put(68, &si.pad1.to_le_bytes());
    put(72, &si.console_mfn.to_le_bytes());
    put(80, &si.console_evtchn.to_le_bytes());
    put(84, &si.pad2.to_le_bytes());
    put(88, &si.pt_base.to_le_bytes());
    put(96, &si.nr_pt_frames.to_le_bytes());
    put(104, &si.mfn_list.to_le_bytes());
    put(112, &si.mod_start.to_le_bytes());
    put(120, &si.mod_len.to_le_bytes());
    put(128, &si.cmd_line);
    put(1152, &si.first_p2m_pfn.to_le_bytes());
    put(1160, &si.nr_p2m_frames.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domu_plan::plan;
    use crate::guest_pages::tests::test_kernel;
    use core::mem::offset_of;

    fn boot(cmdline: &[u8]) -> DomuBoot<'_> {
        DomuBoot {
            shared_info_mfn: 0x1234,
            store_mfn: 0x5000,
            store_evtchn: 0,
            console_mfn: 0x5001,
            console_evtchn: 3,
            cmdline,
        }
    }

    #[test]
    fn a_domu_start_info_names_its_rings_and_layout() {
        let plan = plan(&test_kernel(), 1024, 0).unwrap();
        let si = domu_start_info(&plan, &boot(b"domu=hello"));
        assert!(si.magic_ok());
        assert_eq!(si.nr_pages, 1024);
        assert_eq!(si.shared_info, 0x1234 << 12);
        assert_eq!(si.flags, 0);
        assert_eq!((si.store_mfn, si.store_evtchn), (0x5000, 0));
        assert_eq!((si.console_mfn, si.console_evtchn), (0x5001, 3));
        assert_eq!(si.pt_base, plan.layout.page_tables);
        assert_eq!(si.nr_pt_frames, plan.layout.nr_pt_frames);
        assert_eq!(si.mfn_list, plan.layout.p2m);
        assert_eq!((si.mod_start, si.mod_len), (0, 0));
        assert_eq!(si.cmdline(), b"domu=hello");
    }

    #[test]
    fn long_command_lines_are_cut_and_terminated() {
        let plan = plan(&test_kernel(), 1024, 0).unwrap();
        let long = [b'x'; 2000];
        let si = domu_start_info(&plan, &boot(&long));
        assert_eq!(si.cmdline().len(), MAX_GUEST_CMDLINE - 1);
        assert_eq!(si.cmd_line[MAX_GUEST_CMDLINE - 1], 0);
    }

    #[test]
    fn encoding_follows_the_c_offsets() {
        let plan = plan(&test_kernel(), 1024, 0).unwrap();
        let si = domu_start_info(&plan, &boot(b"a b"));
        let bytes = encode(&si);
        let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap());
        let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
        assert_eq!(&bytes[..14], b"xen-3.0-x86_64");
        assert_eq!(u64_at(offset_of!(StartInfo, nr_pages)), 1024);
        assert_eq!(u64_at(offset_of!(StartInfo, shared_info)), 0x1234 << 12);
        assert_eq!(u64_at(offset_of!(StartInfo, store_mfn)), 0x5000);
        assert_eq!(u64_at(offset_of!(StartInfo, console_mfn)), 0x5001);
        assert_eq!(u32_at(offset_of!(StartInfo, console_evtchn)), 3);
        assert_eq!(u64_at(offset_of!(StartInfo, pt_base)), si.pt_base);
        assert_eq!(u64_at(offset_of!(StartInfo, nr_pt_frames)), si.nr_pt_frames);
        assert_eq!(u64_at(offset_of!(StartInfo, mfn_list)), si.mfn_list);
        assert_eq!(&bytes[128..132], b"a b\0");
        assert_eq!(u64_at(offset_of!(StartInfo, nr_p2m_frames)), 0);
    }
}
