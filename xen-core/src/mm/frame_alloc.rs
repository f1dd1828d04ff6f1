//! A bitmap allocator of 4 KiB machine frames, built from the boot memory map.

/// Hands out machine frames. A set bit means the frame is free.
pub struct FrameAllocator<'a> {
    bitmap: &'a mut [u64],
    free: usize,
    hint: usize,
}

impl<'a> FrameAllocator<'a> {
    /// An allocator over `bitmap.len() * 64` frames, all of them in use.
    pub fn new(bitmap: &'a mut [u64]) -> Self {
        bitmap.fill(0);
        FrameAllocator {
            bitmap,
            free: 0,
            hint: 0,
        }
    }

    /// How many frames the bitmap can describe.
    pub fn capacity(&self) -> usize {
        self.bitmap.len() * 64
    }

    /// Frames free now.
    pub fn free_frames(&self) -> usize {
        self.free
    }

    fn set(&mut self, mfn: usize, free: bool) {
        let (word, bit) = (mfn / 64, 1u64 << (mfn % 64));
        let Some(w) = self.bitmap.get_mut(word) else {
            return;
        };
        let was_free = *w & bit != 0;
        if free && !was_free {
            *w |= bit;
            self.free += 1;
        } else if !free && was_free {
            *w &= !bit;
            self.free -= 1;
        }
    }

    /// Marks frames `[start, end)` free; frames beyond the capacity are ignored.
    pub fn add_free(&mut self, start: usize, end: usize) {
        for mfn in start..end.min(self.capacity()) {
            self.set(mfn, true);
        }
    }

    /// Marks frames `[start, end)` in use (the image, boot modules, firmware areas).
    pub fn reserve(&mut self, start: usize, end: usize) {
        for mfn in start..end.min(self.capacity()) {
            self.set(mfn, false);
        }
    }

    /// Is `mfn` free?
    pub fn is_free(&self, mfn: usize) -> bool {
        self.bitmap
            .get(mfn / 64)
            .is_some_and(|w| w & (1 << (mfn % 64)) != 0)
    }

    /// Takes one free frame, lowest first from where the last search ended.
    pub fn alloc(&mut self) -> Option<usize> {
        let words = self.bitmap.len();
        for i in 0..words {
            let word = (self.hint + i) % words;
            let w = self.bitmap[word];
            if w != 0 {
                let mfn = word * 64 + w.trailing_zeros() as usize;
                self.set(mfn, false);
                self.hint = word;
                return Some(mfn);
            }
        }
        None
    }

    /// Takes `count` contiguous free frames (lowest run first) and returns the first.
    pub fn alloc_contiguous(&mut self, count: usize) -> Option<usize> {
        if count == 0 {
            return None;
        }
        let mut run_start = 0;
        let mut run_len = 0;
        for mfn in 0..self.capacity() {
            if self.is_free(mfn) {
                if run_len == 0 {
                    run_start = mfn;
                }
                run_len += 1;
                if run_len == count {
                    self.reserve(run_start, run_start + count);
                    return Some(run_start);
                }
            } else {
                run_len = 0;
            }
        }
        None
    }

    /// Gives a frame back. Freeing a free frame is a hypervisor bug and is ignored.
    pub fn free(&mut self, mfn: usize) {
        self.set(mfn, true);
        if mfn / 64 < self.hint {
            self.hint = mfn / 64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_only_free_frames() {
        let mut bits = [0u64; 4];
        let mut a = FrameAllocator::new(&mut bits);
        assert_eq!(a.capacity(), 256);
        assert_eq!(a.alloc(), None);
        a.add_free(10, 300);
        assert_eq!(a.free_frames(), 246);
        a.reserve(10, 12);
        assert_eq!(a.alloc(), Some(12));
        assert_eq!(a.alloc(), Some(13));
        assert!(!a.is_free(13));
        a.free(12);
        assert!(a.is_free(12));
        assert_eq!(a.alloc(), Some(12));
        a.free(12);
        a.free(12);
        assert_eq!(a.free_frames(), 243);
    }

    #[test]
    fn contiguous_runs() {
        let mut bits = [0u64; 2];
        let mut a = FrameAllocator::new(&mut bits);
        a.add_free(3, 6);
        a.add_free(10, 100);
        assert_eq!(a.alloc_contiguous(4), Some(10));
        assert_eq!(a.alloc_contiguous(3), Some(3));
        assert_eq!(a.alloc_contiguous(200), None);
        assert_eq!(a.alloc_contiguous(0), None);
        assert_eq!(a.free_frames(), 86);
    }

    #[test]
    fn exhausts_cleanly() {
        let mut bits = [0u64; 1];
        let mut a = FrameAllocator::new(&mut bits);
        a.add_free(60, 64);
        let got: Vec<_> = core::iter::from_fn(|| a.alloc()).collect();
        assert_eq!(got, vec![60, 61, 62, 63]);
        assert_eq!(a.free_frames(), 0);
    }
}
