//! SMPP 3.4's time format (§7.1.1), as `schedule_delivery_time` and `validity_period` carry it:
//! `YYMMDDhhmmsstnnp`, absolute (`p` is `+` or `-`: `nn` quarter hours ahead of or behind UTC)
//! or relative (`p` is `R`: the fields are an amount of time from now). Parsing, and writing a
//! time back in that form (query_sm_resp's `final_date`): what a time means for a message (its
//! validity, clamped to Tern's limits) is the domain's.

/// A time field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmppTime {
    /// A moment: the local time the fields give, `offset_quarter_hours` ahead of UTC (negative:
    /// behind). The year is 2000 + `YY`.
    Absolute {
        /// 2000-2099.
        year: u16,
        /// 1-12.
        month: u8,
        /// 1-31 (whether the month has that day is the caller's to check).
        day: u8,
        /// 0-23.
        hour: u8,
        /// 0-59.
        minute: u8,
        /// 0-59.
        second: u8,
        /// 0-9.
        tenths: u8,
        /// -48..=48.
        offset_quarter_hours: i8,
    },
    /// An amount of time after the submission.
    Relative {
        /// 0-99.
        years: u8,
        /// 0-99.
        months: u8,
        /// 0-99.
        days: u8,
        /// 0-99.
        hours: u8,
        /// 0-99.
        minutes: u8,
        /// 0-99.
        seconds: u8,
    },
}

/// A time field that is not 16 characters of SMPP's format, or whose fields are out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an SMPP time (YYMMDDhhmmsstnnp)")]
pub struct InvalidSmppTime(pub String);

/// Parse a time field; an empty field is `None` (no time given).
pub fn parse_time(text: &str) -> Result<Option<SmppTime>, InvalidSmppTime> {
    if text.is_empty() {
        return Ok(None);
    }
    let invalid = || InvalidSmppTime(text.to_owned());
    let octets = text.as_bytes();
    if octets.len() != 16 || !octets[..15].iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let two = |at: usize| (octets[at] - b'0') * 10 + (octets[at + 1] - b'0');
    let [yy, mo, dd, hh, mi, ss] = [0, 2, 4, 6, 8, 10].map(two);
    let tenths = octets[12] - b'0';
    let nn = two(13);
    let time = match octets[15] {
        b'R' => SmppTime::Relative {
            years: yy,
            months: mo,
            days: dd,
            hours: hh,
            minutes: mi,
            seconds: ss,
        },
        sign @ (b'+' | b'-') => {
            let valid = (1..=12).contains(&mo)
                && (1..=31).contains(&dd)
                && hh < 24
                && mi < 60
                && ss < 60
                && nn <= 48;
            if !valid {
                return Err(invalid());
            }
            let quarters = nn as i8;
            SmppTime::Absolute {
                year: 2000 + u16::from(yy),
                month: mo,
                day: dd,
                hour: hh,
                minute: mi,
                second: ss,
                tenths,
                offset_quarter_hours: if sign == b'-' { -quarters } else { quarters },
            }
        }
        _ => return Err(invalid()),
    };
    Ok(Some(time))
}

impl SmppTime {
    /// The time as a 16-character field, `YYMMDDhhmmsstnnp` (the year's last two digits).
    pub fn to_field(&self) -> String {
        match *self {
            SmppTime::Absolute {
                year,
                month,
                day,
                hour,
                minute,
                second,
                tenths,
                offset_quarter_hours,
            } => format!(
                "{:02}{month:02}{day:02}{hour:02}{minute:02}{second:02}{}{:02}{}",
                year % 100,
                tenths % 10,
                offset_quarter_hours.unsigned_abs(),
                if offset_quarter_hours < 0 { '-' } else { '+' },
            ),
            SmppTime::Relative {
                years,
                months,
                days,
                hours,
                minutes,
                seconds,
            } => format!("{years:02}{months:02}{days:02}{hours:02}{minutes:02}{seconds:02}000R"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn times_are_written_as_they_parse() {
        for field in [
            "261130093000104+",
            "261130093000032-",
            "000001023000000R",
            "010203040506000+",
        ] {
            let time = parse_time(field).unwrap().unwrap();
            assert_eq!(time.to_field(), field);
        }
    }

    #[test]
    fn absolute_and_relative_times_parse() {
        assert_eq!(parse_time(""), Ok(None));
        assert_eq!(
            parse_time("261130093000104+"),
            Ok(Some(SmppTime::Absolute {
                year: 2026,
                month: 11,
                day: 30,
                hour: 9,
                minute: 30,
                second: 0,
                tenths: 1,
                offset_quarter_hours: 4,
            }))
        );
        assert!(matches!(
            parse_time("261130093000032-"),
            Ok(Some(SmppTime::Absolute {
                offset_quarter_hours: -32,
                ..
            }))
        ));
        assert_eq!(
            parse_time("000001023000000R"),
            Ok(Some(SmppTime::Relative {
                years: 0,
                months: 0,
                days: 1,
                hours: 2,
                minutes: 30,
                seconds: 0,
            }))
        );
    }

    #[test]
    fn malformed_times_are_refused() {
        for text in [
            "26113009300010+",   // 15 characters
            "2611300930001040+", // 17
            "261130093000104X",  // unknown sign
            "261330093000104+",  // month 13
            "261100093000104+",  // day 0
            "261130243000104+",  // hour 24
            "261130096000104+",  // minute 60
            "261130093060104+",  // second 60
            "261130093000149+",  // 49 quarter hours
            "26113009300a104+",  // a letter
            "26113009300010４+", // a non-ASCII digit
        ] {
            assert_eq!(
                parse_time(text),
                Err(InvalidSmppTime(text.to_owned())),
                "{text}"
            );
        }
    }

    proptest! {
        #[test]
        fn any_text_parses_or_is_refused_without_panicking(text in ".{0,20}") {
            let _ = parse_time(&text);
        }

        #[test]
        fn any_sixteen_characters_of_the_alphabet_parse_or_are_refused(
            text in "[0-9]{15}[+R-]"
        ) {
            let _ = parse_time(&text);
        }
    }
}
