//! The version protocol of guest-visible time records: odd while Xen writes, even after.
//!
//! A writer makes the version odd, writes the record, then makes it even again, with store
//! fences between the steps; a reader takes the version, the record, and the version again,
//! and keeps the record only when both versions are equal and even. The version counter is
//! kept here, in the hypervisor, rather than read back from the guest's page (as Xen does),
//! so a guest writing to its own page cannot make us publish a version twice.

/// A guest-visible record under the version protocol (the binary maps it; tests mock it).
pub trait SeqArea {
    /// The fields other than the version.
    type Body;

    /// Stores the version word (one 32-bit store).
    fn store_version(&mut self, version: u32);

    /// Stores the other fields (in any order, in any number of stores).
    fn store_body(&mut self, body: &Self::Body);

    /// Makes every store before it visible before any store after it (`smp_wmb`).
    fn store_fence(&mut self);
}

/// The writer's side: the last version published.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeqWriter {
    version: u32,
}

impl SeqWriter {
    /// A writer that has published nothing (version 0).
    pub const fn new() -> Self {
        SeqWriter { version: 0 }
    }

    /// The version after the last update (even).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Publishes `body` in `area`: version made odd (`(v + 1) | 1`), fence, body, fence,
    /// version made even (one more).
    pub fn publish<A: SeqArea>(&mut self, area: &mut A, body: &A::Body) {
        let odd = self.version.wrapping_add(1) | 1;
        area.store_version(odd);
        area.store_fence();
        area.store_body(body);
        area.store_fence();
        let even = odd.wrapping_add(1);
        area.store_version(even);
        self.version = even;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records stores in order; fields are stored one by one, last field first.
    struct Log {
        stores: Vec<(usize, u64)>,
    }

    const VERSION: usize = 0;

    impl SeqArea for Log {
        type Body = [u64; 3];
        fn store_version(&mut self, version: u32) {
            self.stores.push((VERSION, u64::from(version)));
        }
        fn store_body(&mut self, body: &[u64; 3]) {
            for (i, &f) in body.iter().enumerate().rev() {
                self.stores.push((i + 1, f));
            }
        }
        fn store_fence(&mut self) {}
    }

    #[test]
    fn versions_go_odd_then_even() {
        let mut w = SeqWriter::new();
        let mut log = Log { stores: Vec::new() };
        w.publish(&mut log, &[1, 2, 3]);
        assert_eq!(w.version(), 2);
        assert_eq!(log.stores.first(), Some(&(VERSION, 1)));
        assert_eq!(log.stores.last(), Some(&(VERSION, 2)));
        w.publish(&mut log, &[4, 5, 6]);
        assert_eq!(w.version(), 4);
        // Wrap-around keeps the rule.
        let mut w = SeqWriter {
            version: u32::MAX - 1,
        };
        w.publish(&mut log, &[0; 3]);
        assert_eq!(w.version(), 0);
        assert_eq!(
            log.stores[log.stores.len() - 5],
            (VERSION, u64::from(u32::MAX))
        );
    }

    /// A reader racing the writer at every possible interleaving never accepts a torn record.
    #[test]
    fn reader_never_accepts_torn_data() {
        let mut w = SeqWriter::new();
        let mut log = Log { stores: Vec::new() };
        let records = [[1u64, 2, 3], [10, 20, 30], [100, 200, 300]];
        for r in &records {
            w.publish(&mut log, r);
        }
        // Memory after the first `n` stores, starting from the first record fully published.
        let first = records[0];
        let first_len = log.stores.len() / records.len();
        let state = |n: usize| {
            let mut m = [u64::from(2u32), first[0], first[1], first[2]];
            for &(field, value) in &log.stores[first_len..first_len + n] {
                m[field] = value;
            }
            m
        };
        let total = log.stores.len() - first_len;
        let mut accepted = 0;
        // The reader loads version, field 1, field 2, field 3, version at points p0..=p4.
        for p0 in 0..=total {
            for p1 in p0..=total {
                for p2 in p1..=total {
                    for p3 in p2..=total {
                        for p4 in p3..=total {
                            let v1 = state(p0)[0];
                            let got = [state(p1)[1], state(p2)[2], state(p3)[3]];
                            let v2 = state(p4)[0];
                            if v1 == v2 && v1 % 2 == 0 {
                                accepted += 1;
                                // Version 2n was published with record n - 1.
                                let want = records[(v1 / 2 - 1) as usize];
                                assert_eq!(got, want, "torn read at version {v1}");
                            }
                        }
                    }
                }
            }
        }
        assert!(accepted > 0);
    }
}
