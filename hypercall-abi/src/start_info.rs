//! `start_info`: the page a PV guest finds at RSI when it starts.

use core::mem::{offset_of, size_of};

/// Length of the command line in `StartInfo::cmd_line`.
pub const MAX_GUEST_CMDLINE: usize = 1024;
/// The 64-bit PV magic at the start of `StartInfo::magic` (NUL-padded there).
pub const START_INFO_MAGIC: &[u8; 14] = b"xen-3.0-x86_64";
/// `StartInfo::flags`: the domain is privileged.
pub const SIF_PRIVILEGED: u32 = 1 << 0;
/// `StartInfo::flags`: the domain is the initial control domain.
pub const SIF_INITDOMAIN: u32 = 1 << 1;
/// `StartInfo::flags`: `mod_start` is a multiboot module list.
pub const SIF_MULTIBOOT_MOD: u32 = 1 << 2;
/// `StartInfo::flags`: `mod_start` is a PFN, not a virtual address.
pub const SIF_MOD_START_PFN: u32 = 1 << 3;
/// `StartInfo::flags`: tools understand a virtually mapped P2M.
pub const SIF_VIRT_P2M_4TOOLS: u32 = 1 << 4;

/// `struct start_info` for x86_64.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StartInfo {
    /// `"xen-3.0-x86_64"`, NUL-padded.
    pub magic: [u8; 32],
    /// Pages allocated to the domain.
    pub nr_pages: u64,
    /// Machine address of the shared_info page.
    pub shared_info: u64,
    /// `SIF_*` flags.
    pub flags: u32,
    /// Padding (C alignment).
    pub pad0: u32,
    /// Machine frame of the xenstore ring page.
    pub store_mfn: u64,
    /// Event channel for xenstore.
    pub store_evtchn: u32,
    /// Padding (C alignment).
    pub pad1: u32,
    /// DomU: machine frame of the console ring page (`console.domU.mfn`).
    /// Dom0: low half `console.dom0.info_off`, high half `info_size`.
    pub console_mfn: u64,
    /// DomU: event channel for the console (`console.domU.evtchn`).
    pub console_evtchn: u32,
    /// Padding (C alignment).
    pub pad2: u32,
    /// Virtual address of the initial L4 table.
    pub pt_base: u64,
    /// Number of initial page-table frames.
    pub nr_pt_frames: u64,
    /// Virtual address of the P2M list.
    pub mfn_list: u64,
    /// Virtual address (or PFN) of the initial module.
    pub mod_start: u64,
    /// Size in bytes of the initial module.
    pub mod_len: u64,
    /// NUL-terminated command line.
    pub cmd_line: [u8; MAX_GUEST_CMDLINE],
    /// First PFN of the initial P2M frames.
    pub first_p2m_pfn: u64,
    /// Number of initial P2M frames.
    pub nr_p2m_frames: u64,
}
const _: () = assert!(size_of::<StartInfo>() == 1168);
const _: () = assert!(offset_of!(StartInfo, magic) == 0);
const _: () = assert!(offset_of!(StartInfo, nr_pages) == 32);
const _: () = assert!(offset_of!(StartInfo, shared_info) == 40);
const _: () = assert!(offset_of!(StartInfo, flags) == 48);
const _: () = assert!(offset_of!(StartInfo, pad0) == 52);
const _: () = assert!(offset_of!(StartInfo, store_mfn) == 56);
const _: () = assert!(offset_of!(StartInfo, store_evtchn) == 64);
const _: () = assert!(offset_of!(StartInfo, pad1) == 68);
const _: () = assert!(offset_of!(StartInfo, console_mfn) == 72);
const _: () = assert!(offset_of!(StartInfo, console_evtchn) == 80);
const _: () = assert!(offset_of!(StartInfo, pad2) == 84);
const _: () = assert!(offset_of!(StartInfo, pt_base) == 88);
const _: () = assert!(offset_of!(StartInfo, nr_pt_frames) == 96);
const _: () = assert!(offset_of!(StartInfo, mfn_list) == 104);
const _: () = assert!(offset_of!(StartInfo, mod_start) == 112);
const _: () = assert!(offset_of!(StartInfo, mod_len) == 120);
const _: () = assert!(offset_of!(StartInfo, cmd_line) == 128);
const _: () = assert!(offset_of!(StartInfo, first_p2m_pfn) == 1152);
const _: () = assert!(offset_of!(StartInfo, nr_p2m_frames) == 1160);

impl Default for StartInfo {
    fn default() -> Self {
        StartInfo {
            magic: [0; 32],
            nr_pages: 0,
            shared_info: 0,
            flags: 0,
            pad0: 0,
            store_mfn: 0,
            store_evtchn: 0,
            pad1: 0,
            console_mfn: 0,
            console_evtchn: 0,
            pad2: 0,
            pt_base: 0,
            nr_pt_frames: 0,
            mfn_list: 0,
            mod_start: 0,
            mod_len: 0,
            cmd_line: [0; MAX_GUEST_CMDLINE],
            first_p2m_pfn: 0,
            nr_p2m_frames: 0,
        }
    }
}

impl StartInfo {
    /// The command line up to its first NUL (all 1024 bytes if there is none).
    pub fn cmdline(&self) -> &[u8] {
        let end = self
            .cmd_line
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.cmd_line.len());
        &self.cmd_line[..end]
    }

    /// Whether `magic` starts with [`START_INFO_MAGIC`].
    pub fn magic_ok(&self) -> bool {
        self.magic.starts_with(START_INFO_MAGIC)
    }

    /// Dom0 view of the console union: `(info_off, info_size)`.
    pub const fn dom0_console_info(&self) -> (u32, u32) {
        (self.console_mfn as u32, (self.console_mfn >> 32) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_xen_h() {
        assert_eq!(size_of::<StartInfo>(), 1168);
        assert_eq!(offset_of!(StartInfo, magic), 0);
        assert_eq!(offset_of!(StartInfo, nr_pages), 32);
        assert_eq!(offset_of!(StartInfo, shared_info), 40);
        assert_eq!(offset_of!(StartInfo, flags), 48);
        assert_eq!(offset_of!(StartInfo, store_mfn), 56);
        assert_eq!(offset_of!(StartInfo, store_evtchn), 64);
        assert_eq!(offset_of!(StartInfo, console_mfn), 72);
        assert_eq!(offset_of!(StartInfo, console_evtchn), 80);
        assert_eq!(offset_of!(StartInfo, pt_base), 88);
        assert_eq!(offset_of!(StartInfo, nr_pt_frames), 96);
        assert_eq!(offset_of!(StartInfo, mfn_list), 104);
        assert_eq!(offset_of!(StartInfo, mod_start), 112);
        assert_eq!(offset_of!(StartInfo, mod_len), 120);
        assert_eq!(offset_of!(StartInfo, cmd_line), 128);
        assert_eq!(offset_of!(StartInfo, first_p2m_pfn), 1152);
        assert_eq!(offset_of!(StartInfo, nr_p2m_frames), 1160);
    }

    #[test]
    fn constants_match_xen_h() {
        assert_eq!(MAX_GUEST_CMDLINE, 1024);
        assert_eq!(START_INFO_MAGIC, b"xen-3.0-x86_64");
        assert_eq!(SIF_PRIVILEGED, 1);
        assert_eq!(SIF_INITDOMAIN, 2);
        assert_eq!(SIF_MULTIBOOT_MOD, 4);
        assert_eq!(SIF_MOD_START_PFN, 8);
        assert_eq!(SIF_VIRT_P2M_4TOOLS, 16);
    }

    #[test]
    fn cmdline_stops_at_nul() {
        let mut si = StartInfo::default();
        assert_eq!(si.cmdline(), b"");
        si.cmd_line[..9].copy_from_slice(b"console=x");
        assert_eq!(si.cmdline(), b"console=x");
        si.cmd_line[20] = b'y';
        assert_eq!(si.cmdline(), b"console=x");
        si.cmd_line = [b'a'; MAX_GUEST_CMDLINE];
        assert_eq!(si.cmdline().len(), MAX_GUEST_CMDLINE);
    }

    #[test]
    fn magic_and_dom0_console() {
        let mut si = StartInfo::default();
        assert!(!si.magic_ok());
        si.magic[..14].copy_from_slice(START_INFO_MAGIC);
        assert!(si.magic_ok());
        si.console_mfn = (0x40 << 32) | 0x800;
        assert_eq!(si.dom0_console_info(), (0x800, 0x40));
    }
}
