//! The credit scheduler's priorities (Xen's `CSCHED_PRI_*`), ordered lowest to highest.

/// A vCPU's scheduling priority. `Ord` follows Xen's numbers: `Idle < Over < Under < Boost`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// The idle vCPU (`CSCHED_PRI_IDLE`, -64): runs when nothing else can.
    Idle,
    /// Has used more than its credits (`CSCHED_PRI_TS_OVER`, -2).
    Over,
    /// Has credits left (`CSCHED_PRI_TS_UNDER`, -1).
    Under,
    /// Just woke from blocking with credits left (`CSCHED_PRI_TS_BOOST`, 0).
    Boost,
}

impl Priority {
    /// Xen's number for the priority.
    pub const fn xen_value(self) -> i32 {
        match self {
            Priority::Idle => -64,
            Priority::Over => -2,
            Priority::Under => -1,
            Priority::Boost => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_matches_xen_numbers() {
        let all = [
            Priority::Idle,
            Priority::Over,
            Priority::Under,
            Priority::Boost,
        ];
        for a in all {
            for b in all {
                assert_eq!(a.cmp(&b), a.xen_value().cmp(&b.xen_value()));
            }
        }
        assert_eq!(Priority::Boost.xen_value(), 0);
        assert_eq!(Priority::Idle.xen_value(), -64);
    }
}
