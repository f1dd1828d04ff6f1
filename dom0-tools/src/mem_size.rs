//! Memory sizes as `xl mem-set` and `xl mem-max` take them (`256`, `256m`, `1g`, `4096k`).
//!
//! xl's rule: a decimal number, then at most one unit letter, any case: `b` bytes (rounded down
//! to KiB), `k` KiB, `m` MiB, `g` GiB, `t` TiB; no letter means MiB. The result is in KiB.
//! Unlike xl (which reads an empty or negative size as a number), this refuses anything but
//! digits before the unit, and a size too large for 64 bits.

use core::fmt;

/// A size xl would not accept (xl prints "invalid memory size: TEXT").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidMemSize;

impl fmt::Display for InvalidMemSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid memory size")
    }
}

/// `text` as KiB.
pub fn parse_mem_size_kb(text: &str) -> Result<u64, InvalidMemSize> {
    let digits_end = text
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    if digits.is_empty() {
        return Err(InvalidMemSize);
    }
    let mut number: u64 = 0;
    for b in digits.bytes() {
        number = number
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or(InvalidMemSize)?;
    }
    let shift_up = match unit.as_bytes() {
        [] | [b'm' | b'M'] => 10,
        [b'k' | b'K'] => 0,
        [b'g' | b'G'] => 20,
        [b't' | b'T'] => 30,
        [b'b' | b'B'] => return Ok(number >> 10),
        _ => return Err(InvalidMemSize),
    };
    number.checked_mul(1u64 << shift_up).ok_or(InvalidMemSize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_as_xl() {
        assert_eq!(parse_mem_size_kb("256"), Ok(256 * 1024));
        assert_eq!(parse_mem_size_kb("256m"), Ok(256 * 1024));
        assert_eq!(parse_mem_size_kb("256M"), Ok(256 * 1024));
        assert_eq!(parse_mem_size_kb("4096k"), Ok(4096));
        assert_eq!(parse_mem_size_kb("1g"), Ok(1 << 20));
        assert_eq!(parse_mem_size_kb("2T"), Ok(2 << 30));
        assert_eq!(parse_mem_size_kb("1048576b"), Ok(1024));
        assert_eq!(parse_mem_size_kb("1023b"), Ok(0));
        assert_eq!(parse_mem_size_kb("0"), Ok(0));
    }

    #[test]
    fn refuses_the_rest() {
        for bad in [
            "",
            "m",
            "-1",
            "+1",
            " 1",
            "1 ",
            "1mb",
            "1x",
            "1.5g",
            "0x10",
            "lots",
            "99999999999999999999",
            "18014398509481984m",
            "18446744073709551615t",
        ] {
            assert_eq!(parse_mem_size_kb(bad), Err(InvalidMemSize), "{bad:?}");
        }
        assert_eq!(
            parse_mem_size_kb("18446744073709551615b"),
            Ok(u64::MAX >> 10)
        );
        assert_eq!(InvalidMemSize.to_string(), "invalid memory size");
    }
}
