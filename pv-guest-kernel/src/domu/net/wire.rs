//! An in-memory Ethernet wire between two `NetLink` ends: what one sends, the other receives, in order, up to a bounded queue.

use alloc::collections::VecDeque;
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;

use super::device::NetLink;

/// Frames queued per direction before sends fail (a full netfront tx pool).
pub const QUEUE: usize = 16;

type Queue = Rc<RefCell<VecDeque<Vec<u8>>>>;

/// One end of a wire.
pub struct WireEnd {
    out: Queue,
    inp: Queue,
}

/// Two connected ends.
pub fn wire() -> (WireEnd, WireEnd) {
    let a: Queue = Rc::default();
    let b: Queue = Rc::default();
    (
        WireEnd {
            out: a.clone(),
            inp: b.clone(),
        },
        WireEnd { out: b, inp: a },
    )
}

impl NetLink for WireEnd {
    fn send(&mut self, frame: &[u8]) -> bool {
        let mut q = self.out.borrow_mut();
        let mut copy = Vec::new();
        if q.len() >= QUEUE || copy.try_reserve_exact(frame.len()).is_err() {
            return false;
        }
        copy.extend_from_slice(frame);
        q.push_back(copy);
        true
    }

    fn recv(&mut self, buf: &mut [u8]) -> Option<usize> {
        let frame = self.inp.borrow_mut().pop_front()?;
        let n = frame.len().min(buf.len());
        buf[..n].copy_from_slice(&frame[..n]);
        Some(n)
    }
}
