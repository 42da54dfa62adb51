//! The few pieces of HTTP syntax the task checks itself. (The `http` crate did the same with
//! 20 KB of tables in the component; these rules are a few lines.)

/// RFC 9110 `token`: a valid header name.
pub fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// RFC 9110 `field-value`: visible characters, spaces, tabs and non-ASCII bytes; no control
/// characters (CR and LF least of all: they would end the header).
pub fn is_field_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// The reason phrase of the statuses this API and its proxies answer with.
pub fn reason_phrase(status: u16) -> Option<&'static str> {
    Some(match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => return None,
    })
}

/// An RFC 9110 HTTP-date as Unix seconds: IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) and
/// the two obsolete forms recipients must still accept, RFC 850
/// (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`).
pub fn parse_http_date(text: &str) -> Option<u64> {
    let (_weekday, rest) = text.trim().split_once(' ')?;
    let tokens: Vec<&str> = rest.split_whitespace().collect();
    let (day, month, year, time) = match tokens.as_slice() {
        [day, month, year, time, "GMT"] if year.len() == 4 => (*day, *month, number(year)?, *time),
        [date, time, "GMT"] => {
            let mut parts = date.split('-');
            let (day, month, year) = (parts.next()?, parts.next()?, parts.next()?);
            let year = number(year)?;
            // RFC 9110: a two-digit year more than 50 years ahead is in the past century.
            let year = if year >= 100 {
                year
            } else if year < 70 {
                2000 + year
            } else {
                1900 + year
            };
            (day, month, year, *time)
        }
        [month, day, time, year] => (*day, *month, number(year)?, *time),
        _ => return None,
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == month)? as u64 + 1;
    let day = number(day)?;
    let mut clock = time.split(':').map(number);
    let (hour, minute, second) = (clock.next()??, clock.next()??, clock.next()??);
    if clock.next().is_some()
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
        || year < 1970
    {
        return None;
    }
    let days = days_since_epoch(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

fn number(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 4 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Days from 1970-01-01 to a civil date (Howard Hinnant's `days_from_civil`), for years ≥ 1970.
fn days_since_epoch(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn http_dates_in_all_three_forms() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784111777)
        );
        assert_eq!(
            parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(784111777)
        );
        assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), Some(784111777));
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        for bad in [
            "",
            "soon",
            "Sun, 06 Nov 1994 08:49:37 PST",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:49 GMT",
            "Sun, 06 Nov 1969 08:49:37 GMT",
            "Sun, +6 Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn agrees_with_httpdate_across_the_calendar() {
        // Every ~13 days and an odd number of seconds, 1970 to 2100.
        let mut t = 0u64;
        while t < 4_102_444_800 {
            let text = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(t));
            assert_eq!(parse_http_date(&text), Some(t), "{text}");
            t += 1_123_457;
        }
    }

    #[test]
    fn tokens() {
        assert!(is_token("Content-Type") && is_token("x_y.z~1!"));
        for bad in ["", "Bad Name", "a:b", "é", "a\r\nb", "(x)"] {
            assert!(!is_token(bad), "{bad:?}");
        }
    }

    #[test]
    fn field_values() {
        assert!(is_field_value("Bearer abc\t def é"));
        assert!(is_field_value(""));
        for bad in ["a\rb", "a\nb", "a\0b", "a\u{7f}b"] {
            assert!(!is_field_value(bad), "{bad:?}");
        }
    }

    #[test]
    fn reasons() {
        assert_eq!(reason_phrase(202), Some("Accepted"));
        assert_eq!(reason_phrase(299), None);
    }
}
