//! The outcome table of `http-task.md`: what a status or a transport error means for the
//! editor (`Outcome`) and for the engine (`FailureKind`, retryable, retry hint).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::http_syntax::parse_http_date;
use crate::transport::{TransportErrorKind, WireResponse};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Accepted,
    Rejected,
    Failed,
    Unreachable,
    Invalid,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    InvalidRequest,
    HttpStatus,
    Timeout,
    Connection,
    Protocol,
}

/// How the engine should treat a failed step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub retryable: bool,
}

/// What a status means. 2xx is no failure; 3xx (wasi:http does not follow redirects) and
/// other unexpected statuses are rejections that a retry will not change.
pub fn classify_status(status: u16) -> (Outcome, Option<Failure>) {
    let http_status = |retryable| {
        Some(Failure {
            kind: FailureKind::HttpStatus,
            retryable,
        })
    };
    match status {
        202 => (Outcome::Accepted, None),
        200..=299 => (Outcome::Succeeded, None),
        408 | 429 => (Outcome::Rejected, http_status(true)),
        500..=599 => (Outcome::Failed, http_status(true)),
        _ => (Outcome::Rejected, http_status(false)),
    }
}

/// What a transport error means: no HTTP answer, retryable, unless nothing was sent because
/// the host refused the request as written.
pub fn classify_transport(kind: TransportErrorKind) -> (Outcome, Failure) {
    let (outcome, kind, retryable) = match kind {
        TransportErrorKind::Timeout => (Outcome::Unreachable, FailureKind::Timeout, true),
        TransportErrorKind::Connection => (Outcome::Unreachable, FailureKind::Connection, true),
        TransportErrorKind::Protocol => (Outcome::Unreachable, FailureKind::Protocol, true),
        TransportErrorKind::NotSent => (Outcome::Invalid, FailureKind::InvalidRequest, false),
    };
    (outcome, Failure { kind, retryable })
}

fn since_epoch(now: SystemTime) -> Duration {
    now.duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// Below this, a `ratelimit-reset` is read as seconds from now rather than a Unix time (the
/// IETF RateLimit draft uses seconds from now; DigitalOcean documents Unix seconds).
const UNIX_TIME_THRESHOLD: u64 = 1_000_000_000;

/// The earliest retry the server asked for: `Retry-After` (seconds or HTTP date), else
/// `ratelimit-reset` when `ratelimit-remaining` is 0. Only for retryable statuses.
pub fn retry_after(response: &WireResponse, now: SystemTime) -> Option<Duration> {
    if !matches!(
        classify_status(response.status).1,
        Some(Failure {
            retryable: true,
            ..
        })
    ) {
        return None;
    }
    if let Some(value) = response.header("retry-after").map(str::trim) {
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        if let Some(date) = parse_http_date(value) {
            return Some(Duration::from_secs(date).saturating_sub(since_epoch(now)));
        }
    }
    let exhausted = response
        .header("ratelimit-remaining")
        .is_some_and(|v| v.trim() == "0");
    let reset = response
        .header("ratelimit-reset")
        .and_then(|v| v.trim().parse::<u64>().ok());
    match reset {
        Some(reset) if exhausted && reset >= UNIX_TIME_THRESHOLD => {
            Some(Duration::from_secs(reset).saturating_sub(since_epoch(now)))
        }
        Some(seconds) if exhausted => Some(Duration::from_secs(seconds)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::BodyEnd;

    fn response(status: u16, headers: &[(&str, &str)]) -> WireResponse {
        WireResponse {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: vec![],
            body_end: BodyEnd::Complete,
        }
    }

    #[test]
    fn the_outcome_table() {
        use FailureKind::*;
        use Outcome::*;
        let f = |kind, retryable| Some(Failure { kind, retryable });
        assert_eq!(classify_status(202), (Accepted, None));
        assert_eq!(classify_status(200), (Succeeded, None));
        assert_eq!(classify_status(201), (Succeeded, None));
        assert_eq!(classify_status(408), (Rejected, f(HttpStatus, true)));
        assert_eq!(classify_status(429), (Rejected, f(HttpStatus, true)));
        assert_eq!(classify_status(401), (Rejected, f(HttpStatus, false)));
        assert_eq!(classify_status(422), (Rejected, f(HttpStatus, false)));
        assert_eq!(classify_status(302), (Rejected, f(HttpStatus, false)));
        assert_eq!(classify_status(500), (Failed, f(HttpStatus, true)));
        assert_eq!(classify_status(503), (Failed, f(HttpStatus, true)));
        let t = |k| classify_transport(k);
        assert_eq!(
            t(TransportErrorKind::Timeout),
            (
                Unreachable,
                Failure {
                    kind: Timeout,
                    retryable: true
                }
            )
        );
        assert_eq!(
            t(TransportErrorKind::Connection),
            (
                Unreachable,
                Failure {
                    kind: Connection,
                    retryable: true
                }
            )
        );
        assert_eq!(
            t(TransportErrorKind::Protocol),
            (
                Unreachable,
                Failure {
                    kind: Protocol,
                    retryable: true
                }
            )
        );
        assert_eq!(
            t(TransportErrorKind::NotSent),
            (
                Invalid,
                Failure {
                    kind: InvalidRequest,
                    retryable: false
                }
            )
        );
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(
            retry_after(&response(429, &[("retry-after", " 7 ")]), now),
            Some(Duration::from_secs(7))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            retry_after(&response(429, &[("retry-after", &date)]), now),
            Some(Duration::from_secs(30))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(
            retry_after(&response(408, &[("retry-after", &past)]), now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_after(&response(503, &[("retry-after", "2")]), now),
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn retry_after_from_ratelimit_reset_only_when_exhausted() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let reset = "1800000020";
        let exhausted = response(
            429,
            &[("ratelimit-remaining", "0"), ("ratelimit-reset", reset)],
        );
        assert_eq!(retry_after(&exhausted, now), Some(Duration::from_secs(20)));
        let left = response(
            429,
            &[("ratelimit-remaining", "3"), ("ratelimit-reset", reset)],
        );
        assert_eq!(retry_after(&left, now), None);
        let delta = response(
            429,
            &[("ratelimit-remaining", "0"), ("ratelimit-reset", "15")],
        );
        assert_eq!(retry_after(&delta, now), Some(Duration::from_secs(15)));
        assert_eq!(
            retry_after(&response(429, &[("retry-after", "soon")]), now),
            None
        );
    }

    #[test]
    fn no_hint_for_statuses_that_are_not_retryable() {
        let now = SystemTime::now();
        assert_eq!(
            retry_after(&response(422, &[("retry-after", "5")]), now),
            None
        );
        assert_eq!(
            retry_after(&response(202, &[("retry-after", "5")]), now),
            None
        );
    }
}
