//! UTC civil time for the worker's built-in services (`requetetype1` answers the time,
//! `requetetype2` the date) and the gateway's Judge0 timestamps: Howard Hinnant's days-to-civil algorithm, a dozen lines, exact for every date the
//! services can meet, so no calendar crate is pulled in for it.

use crate::clock::unix_ms;

/// A UTC calendar date and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

/// Converts seconds since the Unix epoch to a UTC date and time (proleptic Gregorian).
pub fn civil_from_unix(secs: i64) -> Civil {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: (rem / 3600) as u32,
        minute: (rem % 3600 / 60) as u32,
        second: (rem % 60) as u32,
    }
}

/// The current UTC date and time.
pub fn now_utc() -> Civil {
    civil_from_unix((unix_ms() / 1000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates_convert_exactly() {
        assert_eq!(
            civil_from_unix(0),
            Civil {
                year: 1970,
                month: 1,
                day: 1,
                hour: 0,
                minute: 0,
                second: 0
            }
        );
        // 2000-02-29 12:34:56 UTC, a leap day.
        assert_eq!(
            civil_from_unix(951_827_696),
            Civil {
                year: 2000,
                month: 2,
                day: 29,
                hour: 12,
                minute: 34,
                second: 56
            }
        );
        // 2026-11-22 23:59:59 UTC.
        assert_eq!(
            civil_from_unix(1_795_391_999),
            Civil {
                year: 2026,
                month: 11,
                day: 22,
                hour: 23,
                minute: 59,
                second: 59
            }
        );
    }
}
