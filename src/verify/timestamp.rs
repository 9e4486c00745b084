//! Timestamps: parsing what the sender wrote and checking it against the tolerance.

use crate::error::Rejection;
use crate::scheme::TimestampFormat;

/// Parses a timestamp into Unix seconds.
///
/// # Errors
/// [`Rejection::TimestampMalformed`] unless the value is 1 to 18 ASCII digits (surrounding
/// spaces allowed), so no sign, exponent or overflow can sneak through.
pub(crate) fn parse(format: TimestampFormat, text: &[u8]) -> Result<i64, Rejection> {
    let digits = text.trim_ascii();
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(Rejection::TimestampMalformed);
    }
    let value = digits
        .iter()
        .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
    Ok(match format {
        TimestampFormat::Unix => value,
        TimestampFormat::UnixMs => value / 1000,
    })
}

/// Checks `timestamp` is within `tolerance` seconds of `now`, past or future.
///
/// # Errors
/// [`Rejection::TimestampOutOfTolerance`] otherwise.
pub(crate) fn check(timestamp: i64, now: i64, tolerance: u64) -> Result<(), Rejection> {
    if now.abs_diff(timestamp) <= tolerance {
        Ok(())
    } else {
        Err(Rejection::TimestampOutOfTolerance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_seconds_and_milliseconds() {
        assert_eq!(
            parse(TimestampFormat::Unix, b"1700000000"),
            Ok(1_700_000_000)
        );
        assert_eq!(
            parse(TimestampFormat::Unix, b" 1700000000 "),
            Ok(1_700_000_000)
        );
        assert_eq!(
            parse(TimestampFormat::UnixMs, b"1700000000999"),
            Ok(1_700_000_000)
        );
    }

    #[test]
    fn refuses_anything_but_digits() {
        for bad in [
            &b""[..],
            b"-1",
            b"+1",
            b"1e9",
            b"0x10",
            b"12 34",
            b"9999999999999999999",
            b"\xff",
        ] {
            assert_eq!(
                parse(TimestampFormat::Unix, bad),
                Err(Rejection::TimestampMalformed)
            );
        }
    }

    #[test]
    fn tolerance_is_inclusive_both_ways() {
        assert!(check(1000, 1300, 300).is_ok());
        assert!(check(1600, 1300, 300).is_ok());
        assert_eq!(
            check(999, 1300, 300),
            Err(Rejection::TimestampOutOfTolerance)
        );
        assert_eq!(
            check(1601, 1300, 300),
            Err(Rejection::TimestampOutOfTolerance)
        );
        assert_eq!(
            check(0, i64::MAX, 300),
            Err(Rejection::TimestampOutOfTolerance)
        );
    }
}
