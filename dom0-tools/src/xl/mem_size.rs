//! xl's memory-size syntax (`mem-set`, `mem-max`): a number with an optional unit, in KiB.
//
// As xl's `parse_mem_size_kb`: the unit is one letter, case-insensitive: `b` bytes (rounded
// down to KiB), `k` KiB, `m` MiB (also the default with no letter), `g` GiB, `t` TiB. Unlike
// xl (which reads the number with `strtoll`), a sign, a missing number, leading blanks or a value
// that overflows are errors here.

use core::fmt;

/// A memory size that is not in xl's syntax; prints as xl does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemSizeError(pub alloc::string::String);

impl fmt::Display for MemSizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid memory size: {}", self.0)
    }
}

/// `text` in KiB.
pub fn parse_mem_size_kb(text: &str) -> Result<u64, MemSizeError> {
    let bad = || MemSizeError(alloc::string::String::from(text));
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    if number.is_empty() || unit.len() > 1 {
        return Err(bad());
    }
    let value: u64 = number.parse().map_err(|_| bad())?;
    let shift_up = |bits: u32| value.checked_mul(1u64 << bits).ok_or_else(bad);
    match unit.as_bytes().first().map(u8::to_ascii_lowercase) {
        None | Some(b'm') => shift_up(10),
        Some(b'k') => Ok(value),
        Some(b'g') => shift_up(20),
        Some(b't') => shift_up(30),
        Some(b'b') => Ok(value >> 10),
        Some(_) => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_as_xl() {
        assert_eq!(parse_mem_size_kb("128"), Ok(128 * 1024));
        assert_eq!(parse_mem_size_kb("128m"), Ok(128 * 1024));
        assert_eq!(parse_mem_size_kb("128M"), Ok(128 * 1024));
        assert_eq!(parse_mem_size_kb("64k"), Ok(64));
        assert_eq!(parse_mem_size_kb("2g"), Ok(2 * 1024 * 1024));
        assert_eq!(parse_mem_size_kb("1T"), Ok(1 << 30));
        assert_eq!(parse_mem_size_kb("4096b"), Ok(4));
        assert_eq!(parse_mem_size_kb("1023b"), Ok(0));
        assert_eq!(parse_mem_size_kb("0"), Ok(0));
    }

    #[test]
    fn rejects_what_is_not_a_size() {
        for bad in [
            "",
            "m",
            "12x",
            "12mb",
            "-5",
            "+5",
            " 5",
            "5 ",
            "99999999999999999999",
        ] {
            assert!(parse_mem_size_kb(bad).is_err(), "{bad:?}");
        }
        assert!(parse_mem_size_kb("18446744073709551615t").is_err());
        assert_eq!(
            parse_mem_size_kb("12x").unwrap_err().to_string(),
            "invalid memory size: 12x\n"
        );
    }
}
