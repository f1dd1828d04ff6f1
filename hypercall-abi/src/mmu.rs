//! PV MMU interface: mmu_update, mmuext_op, update_va_mapping flags and PTE bits.

use crate::errno::Errno;
use core::mem::{offset_of, size_of};

/// One request of mmu_update (`struct mmu_update`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MmuUpdate {
    /// Machine address of the entry; bits 1:0 select the `MMU_*` kind.
    pub ptr: u64,
    /// The new value.
    pub val: u64,
}
const _: () = assert!(size_of::<MmuUpdate>() == 16);
const _: () = assert!(offset_of!(MmuUpdate, ptr) == 0);
const _: () = assert!(offset_of!(MmuUpdate, val) == 8);

/// `MmuUpdate::ptr` kind: checked page-table entry write.
pub const MMU_NORMAL_PT_UPDATE: u64 = 0;
/// `MmuUpdate::ptr` kind: M2P entry update for the frame containing `ptr`.
pub const MMU_MACHPHYS_UPDATE: u64 = 1;
/// `MmuUpdate::ptr` kind: like normal, but keep the entry's A/D bits.
pub const MMU_PT_UPDATE_PRESERVE_AD: u64 = 2;
/// Mask of the kind bits in `MmuUpdate::ptr`.
pub const MMU_UPDATE_KIND_MASK: u64 = 3;

/// A decoded mmu_update request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MmuRequest {
    /// Write `value` into entry `index` of the page-table (or plain) frame `table`.
    PtUpdate {
        /// Machine frame holding the entry.
        table: u64,
        /// Entry index in the frame (0..512).
        index: usize,
        /// The new entry.
        value: u64,
        /// OR the entry's current accessed/dirty bits into `value`.
        preserve_ad: bool,
    },
    /// Set the M2P entry of machine frame `mfn` to `pfn`.
    MachPhys {
        /// Machine frame.
        mfn: u64,
        /// Its new pseudo-physical frame number.
        pfn: u64,
    },
}

/// Decodes one mmu_update request. As in Xen, the kind is `ptr & 7` (the entry address is
/// 8-byte aligned) and kinds past `MMU_PT_UPDATE_PRESERVE_AD` are -ENOSYS.
pub fn decode_mmu_update(req: MmuUpdate) -> Result<MmuRequest, Errno> {
    let kind = req.ptr & 7;
    let addr = req.ptr & !7;
    match kind {
        MMU_NORMAL_PT_UPDATE | MMU_PT_UPDATE_PRESERVE_AD => Ok(MmuRequest::PtUpdate {
            table: addr >> 12,
            index: ((addr & 0xFFF) >> 3) as usize,
            value: req.val,
            preserve_ad: kind == MMU_PT_UPDATE_PRESERVE_AD,
        }),
        MMU_MACHPHYS_UPDATE => Ok(MmuRequest::MachPhys {
            mfn: req.ptr >> 12,
            pfn: req.val,
        }),
        _ => Err(Errno::NoSys),
    }
}

/// `count` bit mmu_update and mmuext_op set on a continuation (`MMU_UPDATE_PREEMPTED`).
pub const MMU_UPDATE_PREEMPTED: u32 = 1 << 31;

/// Who a foreign mmu_update acts for: bits 15:0 name the owner of the frames mapped
/// (`DOMID_SELF` for the caller), bits 31:16 the owner of the page tables plus one (0: caller).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ForeignDom {
    /// Owner of the page tables, if not the caller.
    pub pt_owner: Option<crate::domid::DomId>,
    /// Owner of the frames mapped.
    pub pg_owner: crate::domid::DomId,
}

/// Splits mmu_update's `foreigndom` argument.
pub fn decode_foreigndom(foreigndom: u32) -> ForeignDom {
    let pt = (foreigndom >> 16) as u16;
    ForeignDom {
        pt_owner: pt.checked_sub(1),
        pg_owner: foreigndom as u16,
    }
}

/// One request of mmuext_op (`struct mmuext_op`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MmuextOp {
    /// `MMUEXT_*` command.
    pub cmd: u32,
    /// Padding (C alignment).
    pub pad: u32,
    /// mfn or linear address, per command.
    pub arg1: u64,
    /// nr_ents, vcpumask pointer or source mfn, per command.
    pub arg2: u64,
}
const _: () = assert!(size_of::<MmuextOp>() == 24);
const _: () = assert!(offset_of!(MmuextOp, cmd) == 0);
const _: () = assert!(offset_of!(MmuextOp, pad) == 4);
const _: () = assert!(offset_of!(MmuextOp, arg1) == 8);
const _: () = assert!(offset_of!(MmuextOp, arg2) == 16);

/// mmuext_op command (`MMUEXT_*`).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MmuextCmd {
    /// Pin frame `arg1` as an L1 table.
    PinL1Table = 0,
    /// Pin frame `arg1` as an L2 table.
    PinL2Table = 1,
    /// Pin frame `arg1` as an L3 table.
    PinL3Table = 2,
    /// Pin frame `arg1` as an L4 table.
    PinL4Table = 3,
    /// Unpin page-table frame `arg1`.
    Unpin = 4,
    /// Install frame `arg1` as the kernel page-table base.
    NewBaseptr = 5,
    /// Flush the local TLB.
    TlbFlushLocal = 6,
    /// Invalidate linear address `arg1` locally.
    InvlpgLocal = 7,
    /// Flush the TLBs of the vCPUs in mask `arg2`.
    TlbFlushMulti = 8,
    /// Invalidate `arg1` on the vCPUs in mask `arg2`.
    InvlpgMulti = 9,
    /// Flush all vCPUs' TLBs.
    TlbFlushAll = 10,
    /// Invalidate `arg1` on all vCPUs.
    InvlpgAll = 11,
    /// Write back and flush the cache.
    FlushCache = 12,
    /// Set the LDT to linear address `arg1`, `arg2` entries.
    SetLdt = 13,
    /// Install frame `arg1` as the user page-table base.
    NewUserBaseptr = 15,
    /// Zero frame `arg1`.
    ClearPage = 16,
    /// Copy frame `arg2` to frame `arg1`.
    CopyPage = 17,
    /// Write back and flush caches on all CPUs.
    FlushCacheGlobal = 18,
    /// Mark frame `arg1` as the head of a superpage.
    MarkSuper = 19,
    /// Unmark a superpage.
    UnmarkSuper = 20,
}

impl TryFrom<u32> for MmuextCmd {
    type Error = Errno;

    /// An unknown command is -ENOSYS, as in Xen.
    fn try_from(cmd: u32) -> Result<Self, Errno> {
        Ok(match cmd {
            0 => MmuextCmd::PinL1Table,
            1 => MmuextCmd::PinL2Table,
            2 => MmuextCmd::PinL3Table,
            3 => MmuextCmd::PinL4Table,
            4 => MmuextCmd::Unpin,
            5 => MmuextCmd::NewBaseptr,
            6 => MmuextCmd::TlbFlushLocal,
            7 => MmuextCmd::InvlpgLocal,
            8 => MmuextCmd::TlbFlushMulti,
            9 => MmuextCmd::InvlpgMulti,
            10 => MmuextCmd::TlbFlushAll,
            11 => MmuextCmd::InvlpgAll,
            12 => MmuextCmd::FlushCache,
            13 => MmuextCmd::SetLdt,
            15 => MmuextCmd::NewUserBaseptr,
            16 => MmuextCmd::ClearPage,
            17 => MmuextCmd::CopyPage,
            18 => MmuextCmd::FlushCacheGlobal,
            19 => MmuextCmd::MarkSuper,
            20 => MmuextCmd::UnmarkSuper,
            _ => return Err(Errno::NoSys),
        })
    }
}

/// update_va_mapping flush type: none.
pub const UVMF_NONE: u64 = 0;
/// update_va_mapping flush type: flush the whole TLB.
pub const UVMF_TLB_FLUSH: u64 = 1;
/// update_va_mapping flush type: invalidate the one address.
pub const UVMF_INVLPG: u64 = 2;
/// Mask of the flush type bits.
pub const UVMF_FLUSHTYPE_MASK: u64 = 3;
/// Scope: a vCPU mask pointer ORed into the flags (0 pointer = local).
pub const UVMF_MULTI: u64 = 0;
/// Scope: the local vCPU.
pub const UVMF_LOCAL: u64 = 0;
/// Scope: all vCPUs of the domain.
pub const UVMF_ALL: u64 = 4;

/// What update_va_mapping flushes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UvmFlush {
    /// Nothing.
    None,
    /// The whole TLB.
    TlbFlush,
    /// The one virtual address.
    Invlpg,
}

/// On which vCPUs update_va_mapping flushes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UvmScope {
    /// The calling vCPU.
    Local,
    /// Every vCPU of the domain.
    All,
    /// The vCPUs in the bitmap at this guest pointer.
    Multi(u64),
}

/// Splits update_va_mapping's `flags` into flush type (`flags & 3`; 3 is
/// -EINVAL) and scope (`flags & !3`: 0 local, 4 all, else a vCPU-mask pointer).
pub fn decode_uvmf(flags: u64) -> Result<(UvmFlush, UvmScope), Errno> {
    let flush = match flags & UVMF_FLUSHTYPE_MASK {
        UVMF_NONE => UvmFlush::None,
        UVMF_TLB_FLUSH => UvmFlush::TlbFlush,
        UVMF_INVLPG => UvmFlush::Invlpg,
        _ => return Err(Errno::Inval),
    };
    let scope = match flags & !UVMF_FLUSHTYPE_MASK {
        UVMF_LOCAL => UvmScope::Local,
        UVMF_ALL => UvmScope::All,
        mask_ptr => UvmScope::Multi(mask_ptr),
    };
    Ok((flush, scope))
}

bitflags::bitflags! {
    /// x86_64 page-table entry flag bits.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct PteFlags: u64 {
        /// Present.
        const PRESENT = 1 << 0;
        /// Writable.
        const RW = 1 << 1;
        /// User accessible.
        const USER = 1 << 2;
        /// Write-through.
        const PWT = 1 << 3;
        /// Cache disabled.
        const PCD = 1 << 4;
        /// Accessed.
        const ACCESSED = 1 << 5;
        /// Dirty.
        const DIRTY = 1 << 6;
        /// Large page (in L2/L3); PAT in an L1 entry.
        const PSE = 1 << 7;
        /// Global.
        const GLOBAL = 1 << 8;
        /// No execute.
        const NX = 1 << 63;
    }
}

/// The frame-address bits of a page-table entry.
pub const PTE_ADDR_MASK: u64 = 0x000F_FFFF_FFFF_F000;

#[cfg(test)]
mod tests {
    use super::*;

    const CMDS: [(MmuextCmd, u32); 20] = [
        (MmuextCmd::PinL1Table, 0),
        (MmuextCmd::PinL2Table, 1),
        (MmuextCmd::PinL3Table, 2),
        (MmuextCmd::PinL4Table, 3),
        (MmuextCmd::Unpin, 4),
        (MmuextCmd::NewBaseptr, 5),
        (MmuextCmd::TlbFlushLocal, 6),
        (MmuextCmd::InvlpgLocal, 7),
        (MmuextCmd::TlbFlushMulti, 8),
        (MmuextCmd::InvlpgMulti, 9),
        (MmuextCmd::TlbFlushAll, 10),
        (MmuextCmd::InvlpgAll, 11),
        (MmuextCmd::FlushCache, 12),
        (MmuextCmd::SetLdt, 13),
        (MmuextCmd::NewUserBaseptr, 15),
        (MmuextCmd::ClearPage, 16),
        (MmuextCmd::CopyPage, 17),
        (MmuextCmd::FlushCacheGlobal, 18),
        (MmuextCmd::MarkSuper, 19),
        (MmuextCmd::UnmarkSuper, 20),
    ];

    #[test]
    fn mmu_update_kinds_match_xen_h() {
        assert_eq!(MMU_NORMAL_PT_UPDATE, 0);
        assert_eq!(MMU_MACHPHYS_UPDATE, 1);
        assert_eq!(MMU_PT_UPDATE_PRESERVE_AD, 2);
        assert_eq!(MMU_UPDATE_KIND_MASK, 3);
    }

    #[test]
    fn mmu_update_requests_decode_like_xen() {
        let req = |ptr, val| decode_mmu_update(MmuUpdate { ptr, val });
        assert_eq!(
            req(0x1234_5ff8, 7),
            Ok(MmuRequest::PtUpdate {
                table: 0x12345,
                index: 511,
                value: 7,
                preserve_ad: false
            })
        );
        assert_eq!(
            req(0x1000 | 2, 9),
            Ok(MmuRequest::PtUpdate {
                table: 1,
                index: 0,
                value: 9,
                preserve_ad: true
            })
        );
        assert_eq!(
            req(0x5000 | 0x18 | 1, 42),
            Ok(MmuRequest::MachPhys { mfn: 5, pfn: 42 })
        );
        for kind in 3..8 {
            assert_eq!(req(0x1000 | kind, 0), Err(Errno::NoSys), "{kind}");
        }
        assert_eq!(MMU_UPDATE_PREEMPTED, 0x8000_0000);
    }

    #[test]
    fn foreigndom_splits_into_owners() {
        let self_only = decode_foreigndom(0x7FF0);
        assert_eq!(self_only.pt_owner, None);
        assert_eq!(self_only.pg_owner, 0x7FF0);
        let both = decode_foreigndom((4 << 16) | 7);
        assert_eq!(both.pt_owner, Some(3));
        assert_eq!(both.pg_owner, 7);
    }

    #[test]
    fn mmuext_cmds_match_xen_h_and_decode() {
        for (c, v) in CMDS {
            assert_eq!(c as u32, v);
            assert_eq!(MmuextCmd::try_from(v), Ok(c));
        }
        // do_mmuext_op's default case.
        for v in [14, 21, 22, 0x100, u32::MAX] {
            assert_eq!(MmuextCmd::try_from(v), Err(Errno::NoSys), "{v}");
        }
    }

    #[test]
    fn struct_layouts() {
        assert_eq!(size_of::<MmuUpdate>(), 16);
        assert_eq!(offset_of!(MmuUpdate, ptr), 0);
        assert_eq!(offset_of!(MmuUpdate, val), 8);
        assert_eq!(size_of::<MmuextOp>(), 24);
        assert_eq!(offset_of!(MmuextOp, cmd), 0);
        assert_eq!(offset_of!(MmuextOp, arg1), 8);
        assert_eq!(offset_of!(MmuextOp, arg2), 16);
    }

    #[test]
    fn uvmf_values_match_xen_h() {
        assert_eq!(UVMF_NONE, 0);
        assert_eq!(UVMF_TLB_FLUSH, 1);
        assert_eq!(UVMF_INVLPG, 2);
        assert_eq!(UVMF_FLUSHTYPE_MASK, 3);
        assert_eq!(UVMF_MULTI, 0);
        assert_eq!(UVMF_LOCAL, 0);
        assert_eq!(UVMF_ALL, 4);
    }

    #[test]
    fn uvmf_decode() {
        assert_eq!(decode_uvmf(0), Ok((UvmFlush::None, UvmScope::Local)));
        assert_eq!(decode_uvmf(1), Ok((UvmFlush::TlbFlush, UvmScope::Local)));
        assert_eq!(decode_uvmf(2), Ok((UvmFlush::Invlpg, UvmScope::Local)));
        assert_eq!(decode_uvmf(4), Ok((UvmFlush::None, UvmScope::All)));
        assert_eq!(decode_uvmf(5), Ok((UvmFlush::TlbFlush, UvmScope::All)));
        assert_eq!(decode_uvmf(6), Ok((UvmFlush::Invlpg, UvmScope::All)));
        assert_eq!(
            decode_uvmf(0x7fff_1000 | 2),
            Ok((UvmFlush::Invlpg, UvmScope::Multi(0x7fff_1000)))
        );
        assert_eq!(
            decode_uvmf(0x8 | 1),
            Ok((UvmFlush::TlbFlush, UvmScope::Multi(0x8)))
        );
        assert_eq!(decode_uvmf(3), Err(Errno::Inval));
        assert_eq!(decode_uvmf(7), Err(Errno::Inval));
        assert_eq!(decode_uvmf(0x7fff_1000 | 3), Err(Errno::Inval));
        assert_eq!(decode_uvmf(u64::MAX), Err(Errno::Inval));
    }

    #[test]
    fn pte_bits() {
        assert_eq!(PteFlags::PRESENT.bits(), 0x1);
        assert_eq!(PteFlags::RW.bits(), 0x2);
        assert_eq!(PteFlags::USER.bits(), 0x4);
        assert_eq!(PteFlags::PWT.bits(), 0x8);
        assert_eq!(PteFlags::PCD.bits(), 0x10);
        assert_eq!(PteFlags::ACCESSED.bits(), 0x20);
        assert_eq!(PteFlags::DIRTY.bits(), 0x40);
        assert_eq!(PteFlags::PSE.bits(), 0x80);
        assert_eq!(PteFlags::GLOBAL.bits(), 0x100);
        assert_eq!(PteFlags::NX.bits(), 0x8000_0000_0000_0000);
        assert_eq!(PTE_ADDR_MASK, 0x000F_FFFF_FFFF_F000);
        let pte = 0x8000_0000_1234_5067u64;
        assert_eq!(pte & PTE_ADDR_MASK, 0x1234_5000);
        let f = PteFlags::from_bits_truncate(pte);
        assert!(f.contains(PteFlags::PRESENT | PteFlags::RW | PteFlags::USER | PteFlags::NX));
        assert!(!f.contains(PteFlags::GLOBAL));
    }
}
