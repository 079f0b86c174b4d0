//! CM's `validity` field: absolute times (`2017-04-20 11:50:05 GMT`, `…+8`, `…-07:00`, no zone =
//! CE(S)T, CM's local time) or a relative offset (`2h`, `30m`). Default 24 hours, at most 72.

use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp, civil::DateTime};

/// The default validity.
pub const DEFAULT_VALIDITY: SignedDuration = SignedDuration::from_hours(24);
/// The longest validity; later times are brought back to it.
pub const MAX_VALIDITY: SignedDuration = SignedDuration::from_hours(72);

/// A validity text that matches none of the documented forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "validity '{0}' is not a valid time: use e.g. '2017-04-20 11:50:05 GMT', '2017-04-20 11:50:05+8', '2h' or '30m'"
)]
pub struct InvalidValidity(pub String);

/// When a message submitted at `now` stops being deliverable.
pub fn valid_until(validity: Option<&str>, now: Timestamp) -> Result<Timestamp, InvalidValidity> {
    let latest = now + MAX_VALIDITY;
    let Some(text) = validity.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(now + DEFAULT_VALIDITY);
    };
    let invalid = || InvalidValidity(text.to_owned());
    let until = match relative(text) {
        Some(offset) => now.checked_add(offset).map_err(|_| invalid())?,
        None => absolute(text).ok_or_else(invalid)?,
    };
    Ok(until.min(latest))
}

/// When a message submitted over SMPP at `now` stops being deliverable, from its
/// `validity_period` field (SMPP's `YYMMDDhhmmsstnnp`, absolute or relative): `None` when the
/// field is empty (the default applies). The submission's rules then refuse a time already
/// past and bring a later one back to [`MAX_VALIDITY`], as for CM's `validity`.
pub fn smpp_valid_until(field: &str, now: Timestamp) -> Result<Option<Timestamp>, InvalidValidity> {
    use tern_proto::smpp::{SmppTime, parse_time};
    let invalid = || InvalidValidity(field.to_owned());
    let until = match parse_time(field).map_err(|_| invalid())? {
        None => return Ok(None),
        Some(SmppTime::Relative {
            years,
            months,
            days,
            hours,
            minutes,
            seconds,
        }) => {
            let span = jiff::Span::new()
                .years(i64::from(years))
                .months(i64::from(months))
                .days(i64::from(days))
                .hours(i64::from(hours))
                .minutes(i64::from(minutes))
                .seconds(i64::from(seconds));
            let later = TimeZone::UTC
                .to_datetime(now)
                .checked_add(span)
                .map_err(|_| invalid())?;
            Offset::UTC.to_timestamp(later).map_err(|_| invalid())?
        }
        Some(SmppTime::Absolute {
            year,
            month,
            day,
            hour,
            minute,
            second,
            tenths,
            offset_quarter_hours,
        }) => {
            let local = DateTime::new(
                year as i16,
                month as i8,
                day as i8,
                hour as i8,
                minute as i8,
                second as i8,
                i32::from(tenths) * 100_000_000,
            )
            .map_err(|_| invalid())?;
            let offset = Offset::from_seconds(i32::from(offset_quarter_hours) * 15 * 60)
                .map_err(|_| invalid())?;
            offset.to_timestamp(local).map_err(|_| invalid())?
        }
    };
    Ok(Some(until))
}

fn relative(text: &str) -> Option<SignedDuration> {
    // The unit is the last character, which may be any character (split on its boundary).
    let unit = text.chars().next_back()?;
    let number = &text[..text.len() - unit.len_utf8()];
    let amount: i64 = number.trim().parse().ok().filter(|n| *n >= 0)?;
    match unit {
        'h' | 'H' => Some(SignedDuration::from_hours(amount.min(10_000))),
        'm' | 'M' => Some(SignedDuration::from_mins(amount.min(1_000_000))),
        _ => None,
    }
}

fn absolute(text: &str) -> Option<Timestamp> {
    // Split "date time" from a trailing zone: " GMT", " UTC", "Z", "+8", "+08", "-07:00", "+0800".
    let mut text = text.to_owned();
    // Byte 10 is 'T' (ASCII), so 10..11 is a character of its own.
    if text.as_bytes().get(10) == Some(&b'T') {
        text.replace_range(10..11, " ");
    }
    let (civil, zone) = split_zone(&text);
    let datetime = parse_civil(civil.trim())?;
    let timestamp = match zone {
        Some(offset) => offset.to_timestamp(datetime).ok()?,
        None => {
            let cm_local = TimeZone::get("Europe/Amsterdam").ok()?;
            cm_local
                .to_ambiguous_timestamp(datetime)
                .compatible()
                .ok()?
        }
    };
    Some(timestamp)
}

fn split_zone(text: &str) -> (&str, Option<Offset>) {
    let trimmed = text.trim_end();
    for suffix in [" GMT", " UTC", "Z", " Z", "GMT", "UTC"] {
        if let Some(civil) = trimmed.strip_suffix(suffix) {
            return (civil, Some(Offset::UTC));
        }
    }
    // A sign after the time part (the date has '-' at fixed places 4 and 7).
    if let Some(position) = trimmed.rfind(['+', '-']).filter(|p| *p > 10) {
        let (civil, zone) = trimmed.split_at(position);
        if let Some(offset) = parse_offset(zone) {
            return (civil, Some(offset));
        }
    }
    (trimmed, None)
}

fn parse_offset(zone: &str) -> Option<Offset> {
    // `zone` starts with the ASCII sign it was split at.
    let sign: i32 = if zone.starts_with('-') { -1 } else { 1 };
    let digits = zone.get(1..)?.trim().replace(':', "");
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes): (i32, i32) = if digits.len() <= 2 {
        (digits.parse().ok()?, 0)
    } else {
        let split = digits.len() - 2;
        (digits[..split].parse().ok()?, digits[split..].parse().ok()?)
    };
    if hours > 14 || minutes > 59 {
        return None;
    }
    Offset::from_seconds(sign * (hours * 3600 + minutes * 60)).ok()
}

fn parse_civil(text: &str) -> Option<DateTime> {
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(datetime) = DateTime::strptime(format, text) {
            return Some(datetime);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn smpp_validity_periods_become_moments() {
        let now = at("2026-11-30T09:00:00Z");
        let cases = [
            ("", None),
            // Absolute, with the offset in quarter hours: 04+ is UTC+1, 32- is UTC-8.
            ("261130103000104+", Some("2026-11-30T09:30:00.1Z")),
            ("261130013000032-", Some("2026-11-30T09:30:00Z")),
            ("261130093000000+", Some("2026-11-30T09:30:00Z")),
            // Relative: one day, two hours and thirty minutes; one month (calendar).
            ("000001023000000R", Some("2026-12-01T11:30:00Z")),
            ("000100000000000R", Some("2026-12-30T09:00:00Z")),
        ];
        for (field, expected) in cases {
            assert_eq!(
                smpp_valid_until(field, now),
                Ok(expected.map(at)),
                "{field}"
            );
        }
        // A day the month does not have, and text that is no SMPP time.
        for field in ["260230093000000+", "2h", "261130093000104X"] {
            assert_eq!(
                smpp_valid_until(field, now),
                Err(InvalidValidity(field.to_owned()))
            );
        }
    }

    #[test]
    fn documented_forms_parse() {
        let now = at("2017-04-19T12:00:00Z");
        assert_eq!(
            valid_until(Some("2017-04-20 11:50 GMT"), now).unwrap(),
            at("2017-04-20T11:50:00Z")
        );
        assert_eq!(
            valid_until(Some("2017-04-20 11:50:05 GMT"), now).unwrap(),
            at("2017-04-20T11:50:05Z")
        );
        assert_eq!(
            valid_until(Some("2017-04-20 11:50:05+8"), now).unwrap(),
            at("2017-04-20T03:50:05Z")
        );
        assert_eq!(
            valid_until(Some("2017-04-20 11:55:05-07:00"), now).unwrap(),
            at("2017-04-20T18:55:05Z")
        );
        // No zone: CEST in April (UTC+2).
        assert_eq!(
            valid_until(Some("2017-04-20 11:50:05"), now).unwrap(),
            at("2017-04-20T09:50:05Z")
        );
        assert_eq!(
            valid_until(Some("2h"), now).unwrap(),
            at("2017-04-19T14:00:00Z")
        );
        assert_eq!(
            valid_until(Some("30m"), now).unwrap(),
            at("2017-04-19T12:30:00Z")
        );
        assert_eq!(valid_until(None, now).unwrap(), at("2017-04-20T12:00:00Z"));
    }

    #[test]
    fn longer_than_72_hours_is_capped_and_garbage_rejected() {
        let now = at("2017-04-19T12:00:00Z");
        assert_eq!(
            valid_until(Some("100h"), now).unwrap(),
            at("2017-04-22T12:00:00Z")
        );
        assert!(valid_until(Some("2h30m"), now).is_err());
        assert!(valid_until(Some("tomorrow"), now).is_err());
        assert!(valid_until(Some("2017-13-40 11:50"), now).is_err());
    }

    #[test]
    fn a_multi_byte_last_character_is_invalid_not_a_panic() {
        let now = at("2017-04-19T12:00:00Z");
        for text in [
            "2é",
            "é",
            "2€",
            "2017-04-20 11:50:05+é",
            "2017-04-20T11:50:05€",
        ] {
            assert_eq!(
                valid_until(Some(text), now),
                Err(InvalidValidity(text.to_owned())),
                "{text}"
            );
        }
    }
}
