//! Timestamps: parsing what the sender wrote and checking it against the tolerance.

use crate::civil;
use crate::error::Rejection;
use crate::scheme::TimestampFormat;

/// Parses a timestamp into Unix seconds.
///
/// # Errors
/// [`Rejection::TimestampMalformed`] unless the value is 1 to 18 ASCII digits (surrounding
/// spaces allowed), so no sign, exponent or overflow can sneak through, or for `rfc3339` a
/// strict RFC 3339 date-time.
pub fn parse(format: TimestampFormat, text: &[u8]) -> Result<i64, Rejection> {
    if format == TimestampFormat::Rfc3339 {
        return rfc3339(text.trim_ascii()).ok_or(Rejection::TimestampMalformed);
    }
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
        TimestampFormat::Rfc3339 => return Err(Rejection::TimestampMalformed),
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)` to Unix seconds (the fraction is
/// dropped). `T`/`Z` may be lowercase, as RFC 3339 allows. A leap second reads as :59.
pub(crate) fn rfc3339(text: &[u8]) -> Option<i64> {
    fn num(text: &[u8], at: usize, len: usize) -> Option<i64> {
        let digits = text.get(at..at + len)?;
        digits.iter().try_fold(0i64, |acc, d| {
            d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
        })
    }
    let sep = |at: usize, want: &[u8]| text.get(at).is_some_and(|b| want.contains(b));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (year, month, day) = (num(text, 0, 4)?, num(text, 5, 2)?, num(text, 8, 2)?);
    let (hour, minute, second) = (num(text, 11, 2)?, num(text, 14, 2)?, num(text, 17, 2)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let days_in_month = *month_days.get(usize::try_from(month).ok()?.checked_sub(1)?)?;
    if day < 1 || day > days_in_month || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let digits = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        rest = &fraction[digits..];
    }
    let offset = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = num(&[*h1, *h2], 0, 2)?;
            let minutes = num(&[*m1, *m2], 0, 2)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = hours * 3600 + minutes * 60;
            if *sign == b'-' { -offset } else { offset }
        }
        _ => return None,
    };
    let days = civil::days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second.min(59) - offset)
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

/// Unix seconds as an RFC 3339 UTC date-time, e.g. `2023-11-14T22:13:20Z`.
pub fn format_rfc3339(unix: i64) -> String {
    let (year, month, day) = civil::civil_from_days(unix.div_euclid(86_400));
    let secs = unix.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
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
    fn parses_rfc3339_in_every_form_senders_use() {
        let cases: [(&[u8], i64); 7] = [
            (b"1970-01-01T00:00:00Z", 0),
            (b"2023-11-14T22:13:20Z", 1_700_000_000),
            (b"2023-11-14T22:13:20.634234626Z", 1_700_000_000),
            (b"2023-11-14t22:13:20z", 1_700_000_000),
            (b"2023-11-14T14:13:20-08:00", 1_700_000_000),
            (b"2023-11-15T00:13:20+02:00", 1_700_000_000),
            (b"2024-02-29T00:00:00Z", 1_709_164_800),
        ];
        for (text, want) in cases {
            assert_eq!(
                parse(TimestampFormat::Rfc3339, text),
                Ok(want),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
        for bad in [
            &b""[..],
            b"1700000000",
            b"2023-11-14 22:13:20Z",
            b"2023-11-14T22:13:20",
            b"2023-02-29T00:00:00Z",
            b"2023-13-01T00:00:00Z",
            b"2023-11-14T24:00:00Z",
            b"2023-11-14T22:13:20.Z",
            b"2023-11-14T22:13:20+0200",
            b"2023-11-14T22:13:20+02:60",
            b"+023-11-14T22:13:20Z",
            b"2023-11-14T22:13:20Zjunk",
        ] {
            assert_eq!(
                parse(TimestampFormat::Rfc3339, bad),
                Err(Rejection::TimestampMalformed),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn rfc3339_round_trips() {
        for unix in [
            -62_167_219_200,
            -2_339_286_400,
            -1,
            0,
            951_782_400,
            1_700_000_000,
            1_709_164_800,
            4_102_444_800,
        ] {
            let text = format_rfc3339(unix);
            assert_eq!(rfc3339(text.as_bytes()), Some(unix), "{text}");
        }
        assert_eq!(format_rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
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
