//! callback_op: registering the guest's event, failsafe, syscall and NMI entry points.

use crate::errno::Errno;
use core::mem::{offset_of, size_of};

/// callback_op sub-operation (`CALLBACKOP_*`).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallbackOp {
    /// Register a callback (`CallbackRegister` argument).
    Register = 0,
    /// Unregister a callback (`CallbackUnregister` argument).
    Unregister = 1,
}

impl TryFrom<u64> for CallbackOp {
    type Error = Errno;

    /// Xen takes `cmd` as a C `int`: the upper 32 bits are ignored; unknown is -ENOSYS.
    fn try_from(cmd: u64) -> Result<Self, Errno> {
        match cmd as u32 {
            0 => Ok(CallbackOp::Register),
            1 => Ok(CallbackOp::Unregister),
            _ => Err(Errno::NoSys),
        }
    }
}

/// Which callback (`CALLBACKTYPE_*`).
#[repr(u16)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallbackType {
    /// Event upcall.
    Event = 0,
    /// Failsafe callback (bad segment on return to guest).
    Failsafe = 1,
    /// 64-bit `syscall` from guest user mode.
    Syscall = 2,
    /// NMI.
    Nmi = 4,
    /// `sysenter` from 32-bit guest user mode.
    Sysenter = 5,
    /// 32-bit `syscall` from guest user mode.
    Syscall32 = 7,
}

impl TryFrom<u16> for CallbackType {
    type Error = Errno;

    /// An unknown type is -ENOSYS, as Xen's register/unregister give.
    fn try_from(ty: u16) -> Result<Self, Errno> {
        match ty {
            0 => Ok(CallbackType::Event),
            1 => Ok(CallbackType::Failsafe),
            2 => Ok(CallbackType::Syscall),
            4 => Ok(CallbackType::Nmi),
            5 => Ok(CallbackType::Sysenter),
            7 => Ok(CallbackType::Syscall32),
            _ => Err(Errno::NoSys),
        }
    }
}

/// `CallbackRegister::flags` bit: mask events while the callback runs.
pub const CALLBACKF_MASK_EVENTS: u16 = 1;

/// Argument of `CALLBACKOP_register` (`struct callback_register`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallbackRegister {
    /// `CALLBACKTYPE_*`.
    pub type_: u16,
    /// `CALLBACKF_*`.
    pub flags: u16,
    /// Padding (C alignment).
    pub pad: u32,
    /// Entry point in the guest kernel.
    pub address: u64,
}
const _: () = assert!(size_of::<CallbackRegister>() == 16);
const _: () = assert!(offset_of!(CallbackRegister, type_) == 0);
const _: () = assert!(offset_of!(CallbackRegister, flags) == 2);
const _: () = assert!(offset_of!(CallbackRegister, pad) == 4);
const _: () = assert!(offset_of!(CallbackRegister, address) == 8);

/// Argument of `CALLBACKOP_unregister` (`struct callback_unregister`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallbackUnregister {
    /// `CALLBACKTYPE_*`.
    pub type_: u16,
    /// Unused.
    pub pad: u16,
}
const _: () = assert!(size_of::<CallbackUnregister>() == 4);
const _: () = assert!(offset_of!(CallbackUnregister, type_) == 0);
const _: () = assert!(offset_of!(CallbackUnregister, pad) == 2);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_values_match_callback_h() {
        assert_eq!(CallbackOp::Register as u8, 0);
        assert_eq!(CallbackOp::Unregister as u8, 1);
    }

    #[test]
    fn op_decode() {
        assert_eq!(CallbackOp::try_from(0), Ok(CallbackOp::Register));
        assert_eq!(CallbackOp::try_from(1), Ok(CallbackOp::Unregister));
        // do_callback_op's default case.
        assert_eq!(CallbackOp::try_from(2), Err(Errno::NoSys));
        assert_eq!(CallbackOp::try_from(u64::from(u32::MAX)), Err(Errno::NoSys));
        // cmd is a C int: the high half is dropped.
        assert_eq!(
            CallbackOp::try_from(0x1_0000_0001),
            Ok(CallbackOp::Unregister)
        );
    }

    #[test]
    fn type_values_match_callback_h() {
        assert_eq!(CallbackType::Event as u16, 0);
        assert_eq!(CallbackType::Failsafe as u16, 1);
        assert_eq!(CallbackType::Syscall as u16, 2);
        assert_eq!(CallbackType::Nmi as u16, 4);
        assert_eq!(CallbackType::Sysenter as u16, 5);
        assert_eq!(CallbackType::Syscall32 as u16, 7);
        assert_eq!(CALLBACKF_MASK_EVENTS, 1 << 0);
    }

    #[test]
    fn type_decode() {
        for (v, t) in [
            (0, CallbackType::Event),
            (1, CallbackType::Failsafe),
            (2, CallbackType::Syscall),
            (4, CallbackType::Nmi),
            (5, CallbackType::Sysenter),
            (7, CallbackType::Syscall32),
        ] {
            assert_eq!(CallbackType::try_from(v), Ok(t));
        }
        // register_guest_callback's default case (3 is sysenter_deprecated,
        // x86_32 only; 6 is unused; 8+ unknown).
        for v in [3, 6, 8, 0xffff] {
            assert_eq!(CallbackType::try_from(v), Err(Errno::NoSys), "{v}");
        }
    }

    #[test]
    fn struct_layouts() {
        assert_eq!(size_of::<CallbackRegister>(), 16);
        assert_eq!(offset_of!(CallbackRegister, type_), 0);
        assert_eq!(offset_of!(CallbackRegister, flags), 2);
        assert_eq!(offset_of!(CallbackRegister, address), 8);
        assert_eq!(size_of::<CallbackUnregister>(), 4);
        assert_eq!(offset_of!(CallbackUnregister, type_), 0);
        assert_eq!(offset_of!(CallbackUnregister, pad), 2);
    }
}
