//! A checked VIRQ number and whether Xen treats it as global or per-vCPU.

use hypercall_abi::event_channel::{
    NR_VIRQS, VIRQ_CONSOLE, VIRQ_DEBUG, VIRQ_DOM_EXC, VIRQ_TIMER, VIRQ_XENOPROF, VIRQ_XENPMU,
};

/// A VIRQ number below `NR_VIRQS`; only [`Virq::new`] makes one from a raw value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Virq(u8);

impl Virq {
    /// `VIRQ_TIMER` (per vCPU).
    pub const TIMER: Virq = Virq(VIRQ_TIMER as u8);
    /// `VIRQ_DEBUG` (per vCPU).
    pub const DEBUG: Virq = Virq(VIRQ_DEBUG as u8);
    /// `VIRQ_CONSOLE` (global).
    pub const CONSOLE: Virq = Virq(VIRQ_CONSOLE as u8);
    /// `VIRQ_DOM_EXC` (global): a domain changed state.
    pub const DOM_EXC: Virq = Virq(VIRQ_DOM_EXC as u8);

    /// Number of VIRQ slots per vCPU.
    pub const COUNT: usize = NR_VIRQS as usize;

    /// `Some` when `raw < NR_VIRQS`.
    pub const fn new(raw: u32) -> Option<Virq> {
        if raw < NR_VIRQS {
            Some(Virq(raw as u8))
        } else {
            None
        }
    }

    /// The VIRQ number.
    pub const fn raw(self) -> u32 {
        self.0 as u32
    }

    /// Index into a per-vCPU table of `Virq::COUNT` slots.
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// Global VIRQs are bound on vCPU 0 and may be moved with bind_vcpu; the
    /// others (timer, debug, xenoprof, xenpmu) are bound once per vCPU. On
    /// x86 Xen 4.17 treats the architecture VIRQs as global too.
    pub const fn is_global(self) -> bool {
        !matches!(
            self.0 as u32,
            VIRQ_TIMER | VIRQ_DEBUG | VIRQ_XENOPROF | VIRQ_XENPMU
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hypercall_abi::event_channel::{VIRQ_ARCH_0, VIRQ_CON_RING, VIRQ_TBUF};

    #[test]
    fn range_is_checked() {
        assert_eq!(Virq::new(0), Some(Virq::TIMER));
        assert_eq!(Virq::new(NR_VIRQS - 1).map(Virq::raw), Some(23));
        assert_eq!(Virq::new(NR_VIRQS), None);
        assert_eq!(Virq::new(u32::MAX), None);
        assert_eq!(Virq::new(256), None);
        assert_eq!(Virq::COUNT, 24);
    }

    #[test]
    fn per_vcpu_and_global_classes_follow_xen() {
        let per_vcpu = [VIRQ_TIMER, VIRQ_DEBUG, VIRQ_XENOPROF, VIRQ_XENPMU];
        for raw in 0..NR_VIRQS {
            let v = Virq::new(raw).unwrap();
            assert_eq!(v.is_global(), !per_vcpu.contains(&raw), "virq {raw}");
        }
        assert!(Virq::DOM_EXC.is_global());
        assert!(Virq::CONSOLE.is_global());
        assert!(Virq::new(VIRQ_TBUF).unwrap().is_global());
        assert!(Virq::new(VIRQ_CON_RING).unwrap().is_global());
        assert!(Virq::new(VIRQ_ARCH_0).unwrap().is_global());
        assert!(!Virq::TIMER.is_global());
        assert!(!Virq::DEBUG.is_global());
    }
}
