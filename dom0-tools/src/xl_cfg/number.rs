//! Reading a config value as a number the way xl does (C `strtol` with base 0).
//
// Leading white space and one sign are allowed; `0x`/`0X` starts hexadecimal, a leading `0`
// octal, anything else decimal. The whole text must be used, and the value must fit in 64 bits.

/// Why a text is not a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberError {
    /// Not a number at all, or text after it.
    Invalid,
    /// A number too large for 64 bits.
    OutOfRange,
}

/// `text` as a signed 64-bit number.
pub fn parse_long(text: &str) -> Result<i64, NumberError> {
    let s = text.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (negative, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (16, hex)
    } else if s.len() > 1 && s.starts_with('0') {
        (8, &s[1..])
    } else {
        (10, s)
    };
    if digits.is_empty() {
        return Err(NumberError::Invalid);
    }
    let mut magnitude: u64 = 0;
    for c in digits.chars() {
        let d = c.to_digit(radix).ok_or(NumberError::Invalid)?;
        magnitude = magnitude
            .checked_mul(u64::from(radix))
            .and_then(|m| m.checked_add(u64::from(d)))
            .ok_or(NumberError::OutOfRange)?;
    }
    if negative {
        0i64.checked_sub_unsigned(magnitude)
            .ok_or(NumberError::OutOfRange)
    } else {
        i64::try_from(magnitude).map_err(|_| NumberError::OutOfRange)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_decimal_hex_and_octal() {
        assert_eq!(parse_long("128"), Ok(128));
        assert_eq!(parse_long("0x10"), Ok(16));
        assert_eq!(parse_long("0XfF"), Ok(255));
        assert_eq!(parse_long("010"), Ok(8));
        assert_eq!(parse_long("0"), Ok(0));
        assert_eq!(parse_long(" -5"), Ok(-5));
        assert_eq!(parse_long("+7"), Ok(7));
        assert_eq!(parse_long("9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse_long("-9223372036854775808"), Ok(i64::MIN));
    }

    #[test]
    fn rejects_the_rest() {
        for bad in [
            "", "lots", "12abc", "0x", "08", "1 ", "--1", "1e3", "0x-1", "-",
        ] {
            assert_eq!(parse_long(bad), Err(NumberError::Invalid), "{bad:?}");
        }
        for big in [
            "9223372036854775808",
            "-9223372036854775809",
            "99999999999999999999999999",
            "0xffffffffffffffffff",
        ] {
            assert_eq!(parse_long(big), Err(NumberError::OutOfRange), "{big:?}");
        }
    }
}
