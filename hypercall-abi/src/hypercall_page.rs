//! The hypercall page: 128 stubs of 32 bytes that the domain builder writes for a PV guest.

use crate::hypercall::Hypercall;

/// Bytes per stub; stub `i` starts at `i * HYPERCALL_STUB_SIZE`.
pub const HYPERCALL_STUB_SIZE: usize = 32;
/// Number of stubs in the 4 KiB page.
pub const HYPERCALL_PAGE_STUBS: usize = 128;

/// Filler for the unused tail of each stub: `int3`.
const INT3: u8 = 0xcc;

/// The 32 bytes of stub `nr`.
///
/// A normal stub is `push %rcx; push %r11; mov $nr,%eax; syscall; pop %r11;
/// pop %rcx; ret`. The iret stub (23) is `push %rcx; push %r11; push %rax;
/// mov $23,%eax; syscall` and never returns. The rest is `int3`.
pub fn stub(nr: u8) -> [u8; HYPERCALL_STUB_SIZE] {
    let mut s = [INT3; HYPERCALL_STUB_SIZE];
    let imm = u32::from(nr).to_le_bytes();
    if nr == Hypercall::Iret as u8 {
        let code = [
            0x51, // push %rcx
            0x41, 0x53, // push %r11
            0x50, // push %rax
            0xb8, imm[0], imm[1], imm[2], imm[3], // mov $nr,%eax
            0x0f, 0x05, // syscall
        ];
        s[..code.len()].copy_from_slice(&code);
    } else {
        let code = [
            0x51, // push %rcx
            0x41, 0x53, // push %r11
            0xb8, imm[0], imm[1], imm[2], imm[3], // mov $nr,%eax
            0x0f, 0x05, // syscall
            0x41, 0x5b, // pop %r11
            0x59, // pop %rcx
            0xc3, // ret
        ];
        s[..code.len()].copy_from_slice(&code);
    }
    s
}

/// Fills a whole hypercall page: stub `i` for every `i` below [`HYPERCALL_PAGE_STUBS`].
pub fn fill(page: &mut [u8; 4096]) {
    for (nr, chunk) in (0u8..).zip(page.chunks_exact_mut(HYPERCALL_STUB_SIZE)) {
        chunk.copy_from_slice(&stub(nr));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(HYPERCALL_STUB_SIZE, 32);
        assert_eq!(HYPERCALL_PAGE_STUBS, 128);
        assert_eq!(HYPERCALL_STUB_SIZE * HYPERCALL_PAGE_STUBS, 4096);
    }

    #[test]
    fn normal_stub_bytes() {
        let s = stub(29);
        let want: [u8; 14] = [
            0x51, 0x41, 0x53, 0xb8, 29, 0, 0, 0, 0x0f, 0x05, 0x41, 0x5b, 0x59, 0xc3,
        ];
        assert_eq!(&s[..14], &want);
        assert!(s[14..].iter().all(|&b| b == 0xcc));
    }

    #[test]
    fn stub_zero_and_high_number() {
        assert_eq!(&stub(0)[..8], &[0x51, 0x41, 0x53, 0xb8, 0, 0, 0, 0]);
        assert_eq!(&stub(127)[3..8], &[0xb8, 127, 0, 0, 0]);
    }

    #[test]
    fn iret_stub_bytes() {
        let s = stub(23);
        let want: [u8; 11] = [0x51, 0x41, 0x53, 0x50, 0xb8, 23, 0, 0, 0, 0x0f, 0x05];
        assert_eq!(&s[..11], &want);
        assert!(s[11..].iter().all(|&b| b == 0xcc));
    }

    #[test]
    fn fill_writes_every_stub() {
        let mut page = [0u8; 4096];
        fill(&mut page);
        for i in 0..HYPERCALL_PAGE_STUBS {
            let at = i * HYPERCALL_STUB_SIZE;
            assert_eq!(
                page[at..at + HYPERCALL_STUB_SIZE],
                stub(i as u8),
                "stub {i}"
            );
        }
        assert_eq!(page[23 * 32 + 3], 0x50);
        assert_eq!(page[24 * 32 + 13], 0xc3);
    }
}
