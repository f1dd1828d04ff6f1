//! A set of physical CPUs (at most 64): whom the scheduler asks to reschedule.

/// Largest number of physical CPUs the scheduler handles.
pub const MAX_PCPUS: usize = 64;

/// A set of physical CPU numbers `0..MAX_PCPUS`.
#[must_use = "the CPUs in the mask must call `Scheduler::schedule`"]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuMask(u64);

impl CpuMask {
    /// No CPU.
    pub const fn empty() -> Self {
        CpuMask(0)
    }

    /// Only `cpu` (empty when `cpu` is out of range).
    pub const fn only(cpu: usize) -> Self {
        if cpu < MAX_PCPUS {
            CpuMask(1 << cpu)
        } else {
            CpuMask(0)
        }
    }

    /// Adds `cpu` (ignored when out of range).
    pub fn insert(&mut self, cpu: usize) {
        *self = self.union(CpuMask::only(cpu));
    }

    /// Both sets together.
    pub const fn union(self, other: CpuMask) -> Self {
        CpuMask(self.0 | other.0)
    }

    /// Is `cpu` in the set?
    pub const fn contains(self, cpu: usize) -> bool {
        cpu < MAX_PCPUS && self.0 & (1 << cpu) != 0
    }

    /// Is the set empty?
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The bits, CPU n at bit n.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// The CPUs in the set, lowest first.
    pub fn iter(self) -> impl Iterator<Item = usize> {
        (0..MAX_PCPUS).filter(move |&c| self.contains(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations() {
        let mut m = CpuMask::empty();
        assert!(m.is_empty());
        m.insert(3);
        m.insert(0);
        m.insert(64); // out of range: ignored
        assert!(m.contains(0) && m.contains(3) && !m.contains(1) && !m.contains(64));
        assert_eq!(m.bits(), 0b1001);
        assert_eq!(m.iter().collect::<Vec<_>>(), [0, 3]);
        assert_eq!(CpuMask::only(1).union(CpuMask::only(2)).bits(), 0b110);
        assert!(CpuMask::only(99).is_empty());
    }
}
