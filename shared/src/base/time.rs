//! Timestamps as the families write them (`2023-12-15T19:19:18.037Z`) and
//! ISO-8601 parsing for dates clients send. Kept as plain arithmetic (civil
//! calendar from Howard Hinnant's algorithms) to stay small in wasm.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch; what records store.
pub type Millis = i64;

pub fn millis(t: SystemTime) -> Millis {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `2023-12-15T19:19:18.037Z`.
pub fn format_millis(ms: Millis) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let (h, rem) = (rem / 3_600_000, rem % 3_600_000);
    let (min, rem) = (rem / 60_000, rem % 60_000);
    let (s, milli) = (rem / 1000, rem % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
}

/// `YYYY-MM-DD` of a timestamp (UTC).
pub fn format_date(ms: Millis) -> String {
    format_millis(ms)[..10].to_string()
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn digits(s: &str) -> Option<u32> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// The first and last instants a four-digit year can write
/// (0000-01-01T00:00:00Z, 9999-12-31T23:59:59.999Z): outside them
/// [`format_millis`] would not print RFC 3339, so nothing is stored there.
pub const MIN_MILLIS: Millis = -62_167_219_200_000;
pub const MAX_MILLIS: Millis = 253_402_300_799_999;

/// Parses an ISO-8601 calendar date or date-time: `YYYY-MM-DD`,
/// `YYYY-MM-DDThh:mm[:ss[.fff]]` with `Z` or `±hh:mm` (no zone means UTC), or
/// the same with a space for `T`. Returns milliseconds since the epoch, or
/// `None` outside [`MIN_MILLIS`]..=[`MAX_MILLIS`].
pub fn parse_iso8601(s: &str) -> Option<Millis> {
    let s = s.trim();
    // Every ISO-8601 form is ASCII; refusing anything else up front keeps the
    // byte-offset slicing below on character boundaries.
    if s.len() < 10 || !s.is_ascii() {
        return None;
    }
    let (date, rest) = s.split_at(10);
    let b = date.as_bytes();
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = digits(&date[0..4])? as i64;
    let m = digits(&date[5..7])?;
    let d = digits(&date[8..10])?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let mut ms = days_from_civil(y, m, d) * 86_400_000;
    if rest.is_empty() {
        return Some(ms);
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (clock, offset_ms) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else if let Some(i) = rest.rfind(['+', '-']).filter(|&i| i >= 5) {
        let (c, off) = rest.split_at(i);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let off = &off[1..];
        let (oh, om) = match off.split_once(':') {
            Some((h, m)) => (digits(h)?, digits(m)?),
            None if off.len() == 4 => (digits(&off[..2])?, digits(&off[2..])?),
            None if off.len() == 2 => (digits(off)?, 0),
            None => return None,
        };
        if oh > 23 || om > 59 {
            return None;
        }
        (c, sign * (oh as i64 * 3_600_000 + om as i64 * 60_000))
    } else {
        (rest, 0)
    };
    let (hms, frac) = match clock.split_once(['.', ',']) {
        Some((hms, frac)) => (hms, Some(frac)),
        None => (clock, None),
    };
    let parts: Vec<&str> = hms.split(':').collect();
    if parts.len() < 2 || parts.len() > 3 || parts.iter().any(|p| p.len() != 2) {
        return None;
    }
    let h = digits(parts[0])?;
    let min = digits(parts[1])?;
    let sec = parts.get(2).map(|p| digits(p)).unwrap_or(Some(0))?;
    if h > 23 || min > 59 || sec > 60 {
        return None;
    }
    let milli = match frac {
        None => 0,
        Some(f) if f.len() <= 9 && !f.is_empty() => {
            let f3: String = f.chars().chain("000".chars()).take(3).collect();
            digits(f)?;
            digits(&f3)?
        }
        Some(_) => return None,
    };
    ms += h as i64 * 3_600_000 + min as i64 * 60_000 + sec.min(59) as i64 * 1000 + milli as i64;
    // An offset can carry a four-digit year out of range (9999-12-31T23:00-05:00).
    Some(ms - offset_ms).filter(|ms| (MIN_MILLIS..=MAX_MILLIS).contains(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_the_vendor_docs() {
        let ms = parse_iso8601("2023-12-15T19:19:18.037Z").unwrap();
        assert_eq!(format_millis(ms), "2023-12-15T19:19:18.037Z");
        assert_eq!(format_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_date(ms), "2023-12-15");
    }

    #[test]
    fn parses_dates_offsets_and_rejects_nonsense() {
        assert_eq!(parse_iso8601("1970-01-02"), Some(86_400_000));
        assert_eq!(
            parse_iso8601("2024-02-29T01:00:00+01:00"),
            parse_iso8601("2024-02-29T00:00:00Z")
        );
        assert_eq!(
            parse_iso8601("2024-01-01 10:30"),
            parse_iso8601("2024-01-01T10:30:00Z")
        );
        for bad in [
            "string",
            "",
            "2023-02-29",
            "2024-13-01",
            "2024-01-01T25:00",
            "2024-01-01Tx",
            "20240101",
            "2024-01-01T10:00:00+2500",
            "١٢٣٤-01-01",
            "2024-01-01T10:00+a€",
            "2024-01-01T10:00+€",
            "2024-01-01T10:00:00.€",
            "2024-01-01T1€:00",
            "2024-é1-01",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }

    #[test]
    fn round_trips_many_days() {
        for day in (-719_000..2_900_000).step_by(997) {
            let ms = day as i64 * 86_400_000 + 12_345;
            assert_eq!(parse_iso8601(&format_millis(ms)), Some(ms));
        }
    }
}

/// The same instant `months` calendar months later (day clamped to the month's end).
pub fn add_months(ms: Millis, months: i64) -> Millis {
    let days = ms.div_euclid(86_400_000);
    let within = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let total = y * 12 + (m as i64 - 1) + months;
    let (ny, nm) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
    let nd = d.min(days_in_month(ny, nm));
    // A yearly plan starting in 9999 ends at the last writable instant.
    (days_from_civil(ny, nm, nd) * 86_400_000 + within).clamp(MIN_MILLIS, MAX_MILLIS)
}

#[cfg(test)]
mod month_tests {
    use super::*;

    #[test]
    fn instants_stay_within_four_digit_years() {
        assert_eq!(format_millis(MIN_MILLIS), "0000-01-01T00:00:00.000Z");
        assert_eq!(format_millis(MAX_MILLIS), "9999-12-31T23:59:59.999Z");
        assert_eq!(parse_iso8601("9999-12-31T23:00-05:00"), None);
        assert_eq!(parse_iso8601("0000-01-01T00:00+01:00"), None);
        assert_eq!(parse_iso8601("9999-12-31T23:59:59.999Z"), Some(MAX_MILLIS));
        let late = parse_iso8601("9999-06-01").unwrap();
        assert_eq!(add_months(late, 12), MAX_MILLIS);
    }

    #[test]
    fn adds_calendar_months() {
        let jan31 = parse_iso8601("2024-01-31T10:00:00Z").unwrap();
        assert_eq!(
            format_millis(add_months(jan31, 1)),
            "2024-02-29T10:00:00.000Z"
        );
        assert_eq!(
            format_millis(add_months(jan31, 12)),
            "2025-01-31T10:00:00.000Z"
        );
    }
}
