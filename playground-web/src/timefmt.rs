//! Session clock: parsing the server's RFC 3339 times and showing time left.

/// Show the expiry warning when less than this many seconds are left.
pub const WARN_SECS: i64 = 5 * 60;

/// Parses an RFC 3339 time (`2026-11-22T08:30:00Z`, optional fraction,
/// `Z` or `+hh:mm`/`-hh:mm`) into Unix milliseconds.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut rest = &s[19..];
    let mut millis = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let ms: String = frac[..digits]
            .chars()
            .chain("000".chars())
            .take(3)
            .collect();
        millis = ms.parse().ok()?;
        rest = &frac[digits..];
    }
    let offset_secs = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && rest.as_bytes()[3] == b':' => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let h: i64 = rest[1..3].parse().ok()?;
            let m: i64 = rest[4..6].parse().ok()?;
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset_secs;
    Some(secs * 1000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `1:02:03`, `12:05` or `0:09` for a count of seconds left (negative shows as 0:00).
pub fn format_left(secs: i64) -> String {
    let secs = secs.max(0);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// Words for a screen reader: "about 12 minutes left".
pub fn describe_left(secs: i64) -> String {
    match secs.max(0) {
        0 => "the session has ended".into(),
        s if s < 60 => format!("{s} seconds left"),
        s if s < 7200 => format!("about {} minutes left", (s + 59) / 60),
        s => format!("about {} hours left", s / 3600),
    }
}

/// How long ago something happened, `secs` seconds back: "just now",
/// "42 s ago", "5 min ago", "2 h ago".
pub fn ago(secs: i64) -> String {
    match secs.max(0) {
        s if s < 5 => "just now".into(),
        s if s < 60 => format!("{s} s ago"),
        s if s < 3600 => format!("{} min ago", s / 60),
        s => format!("{} h ago", s / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_server_times() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ms("2026-11-22T08:30:00Z"),
            Some(1_795_336_200_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2026-11-22T09:30:00.5+01:00"),
            Some(1_795_336_200_500)
        );
        assert_eq!(
            parse_rfc3339_ms("2000-02-29T12:00:00Z"),
            Some(951_825_600_000)
        );
        assert_eq!(parse_rfc3339_ms("yesterday"), None);
        assert_eq!(parse_rfc3339_ms("2026-13-01T00:00:00Z"), None);
    }

    #[test]
    fn formats_time_left() {
        assert_eq!(format_left(9), "0:09");
        assert_eq!(format_left(725), "12:05");
        assert_eq!(format_left(3723), "1:02:03");
        assert_eq!(format_left(-5), "0:00");
        assert_eq!(describe_left(90), "about 2 minutes left");
        assert_eq!(describe_left(30), "30 seconds left");
    }

    #[test]
    fn formats_time_ago() {
        assert_eq!(ago(-3), "just now");
        assert_eq!(ago(42), "42 s ago");
        assert_eq!(ago(300), "5 min ago");
        assert_eq!(ago(7300), "2 h ago");
    }
}
