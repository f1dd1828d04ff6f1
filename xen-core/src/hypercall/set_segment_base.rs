//! set_segment_base: the guest's FS and GS bases (64-bit PV has no other way to set them).

use hypercall_abi::Errno;
use hypercall_abi::layout::is_canonical;
use hypercall_abi::segment::{FLAT_RING3_DS32, SegBase};

use crate::arch::x86_64::segments;

/// Handles set_segment_base(which, value). Hypercalls come from guest kernel mode, so the
/// active GS base is the kernel's and the shadow one is the user's.
pub fn set_segment_base(which: u64, value: u64) -> Result<u64, Errno> {
    match SegBase::try_from(which)? {
        SegBase::Fs | SegBase::GsKernel | SegBase::GsUser if !is_canonical(value) => {
            Err(Errno::Inval)
        }
        SegBase::Fs => {
            segments::set_fs_base(value);
            Ok(0)
        }
        SegBase::GsKernel => {
            segments::set_active_gs_base(value);
            Ok(0)
        }
        SegBase::GsUser => {
            segments::set_shadow_gs_base(value);
            Ok(0)
        }
        SegBase::GsUserSel => {
            // Only the null selector and the flat data selector exist until set_gdt arrives.
            let sel = value as u16;
            if sel & !3 != 0 && sel | 3 != FLAT_RING3_DS32 {
                return Err(Errno::Inval);
            }
            segments::load_user_gs_selector(if sel & !3 == 0 { 0 } else { FLAT_RING3_DS32 });
            Ok(0)
        }
    }
}
