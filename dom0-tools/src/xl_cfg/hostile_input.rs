//! Hostile config files: truncated, flipped, random and oversized input is an error, never a panic.

use super::{Config, DomainConfig};
use alloc::vec::Vec;

const SAMPLE: &[u8] = b"# sample\nname = \"d1\"\nkernel = '/boot/pv-guest-kernel'\n\
memory = 0x10; maxmem = 32\nvcpus = 1\nextra = \"domu=shell \\x41\\101\"\n\
on_crash = 'restart'\ndisk = [ 'phy:/dev/vg/d1,xvda,w',\n  '/img,,xvdb,ro', ]\n\
vif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0' ]\nnest = [ [ '1' ], 2 ]\n";

/// xorshift64: a fixed pseudo-random sequence, so failures repeat.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn the_sample_parses() {
    let c = DomainConfig::parse(SAMPLE).unwrap();
    assert_eq!(c.cmdline.as_deref(), Some("domu=shell AA"));
    assert_eq!((c.disks.len(), c.vifs.len()), (2, 1));
    assert_eq!(c.ignored_keys.len(), 1);
}

#[test]
fn every_truncation_parses_or_fails_cleanly() {
    let mut errors = 0;
    for len in 0..SAMPLE.len() {
        match DomainConfig::parse(&SAMPLE[..len]) {
            Ok(c) => assert_eq!(c.name, "d1"),
            Err(e) => {
                errors += 1;
                assert!(!e.message.is_empty());
                assert!(e.line <= 12, "line {} at length {len}", e.line);
            }
        }
    }
    assert!(errors > SAMPLE.len() / 2);
}

#[test]
fn byte_flips_and_random_bytes_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..SAMPLE.len() {
        for flip in [0x01u8, 0x20, 0x80, 0xff] {
            let mut text = SAMPLE.to_vec();
            text[i] ^= flip;
            let _ = DomainConfig::parse(&text);
        }
    }
    let alphabet = b"ab09x=+[],;#'\"\\\n \t\r\xff\x00-";
    for _ in 0..2000 {
        let len = (rng.next() % 64) as usize;
        let text: Vec<u8> = (0..len)
            .map(|_| alphabet[(rng.next() % alphabet.len() as u64) as usize])
            .collect();
        let _ = Config::parse(&text);
        let _ = DomainConfig::parse(&text);
    }
}

#[test]
fn unterminated_and_oversized_values_are_errors() {
    let cases: [(&[u8], &str); 7] = [
        (b"name = \"d1", "unterminated string"),
        (b"name = 'd1\nkernel = 'k'", "unterminated string"),
        (b"disk = [ 'a',\n'b'", "disk: unterminated list (no \"]\")"),
        (b"disk = [", "disk: unterminated list (no \"]\")"),
        (b"name = \"\xc3\x28\"", "quoted string is not valid UTF-8"),
        (b"name \xff= 'x'", "unexpected byte 0xff"),
        (
            b"name='a'\nkernel='k'\nmemory = 340282366920938463463374607431768211456",
            "memory: number out of range: \"340282366920938463463374607431768211456\"",
        ),
    ];
    for (text, message) in cases {
        let e = DomainConfig::parse(text).unwrap_err();
        assert_eq!(e.message, message, "{:?}", core::str::from_utf8(text));
    }
    // Deep nesting stops at the limit instead of recursing without bound.
    let mut deep = b"x = ".to_vec();
    deep.extend(core::iter::repeat_n(b'[', 100_000));
    assert!(Config::parse(&deep).unwrap_err().message.contains("nested"));
    // A long line of one string is fine; its size is bounded by the file's.
    let mut long = b"name='d1'\nkernel='k'\nextra='".to_vec();
    long.extend(core::iter::repeat_n(b'a', 100_000));
    long.push(b'\'');
    assert_eq!(
        DomainConfig::parse(&long).unwrap().cmdline.unwrap().len(),
        100_000
    );
}
