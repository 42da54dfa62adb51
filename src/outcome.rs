//! The outcome table: what a status or a transport error means for the editor (`Outcome`),
//! for the engine (`FailureKind`, retryable, retry hint), and for the resource (`Effect`: was
//! it created?). A create must never happen twice: once a 2xx status line has arrived,
//! nothing is retryable.

use std::time::{Duration, SystemTime};

use crate::operation::Operation;
use crate::response::{OneTime, Reply};
use crate::transport::{BodyEnd, Delivery, TransportError, TransportErrorKind, WireResponse};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Accepted,
    Rejected,
    Failed,
    Unreachable,
    Invalid,
    /// The editor's test request found an instance it would adopt on a real API: nothing
    /// minted until the person confirms.
    NeedsConfirmation,
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

/// What the exchange did to the resource, as far as anyone can tell from this side. Every
/// summary says it in one sentence (`summary::effect`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// A 2xx status line arrived: the operation happened.
    Done,
    /// The request may have reached the API and no 2xx came back (no answer, a 5xx).
    Maybe,
    /// It certainly did not happen: nothing was sent, or the API refused.
    NotDone,
    /// The API refused a create because the name is taken: perhaps by an earlier attempt.
    NameTaken,
}

/// Where an exchange ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub outcome: Outcome,
    /// None for a success.
    pub failure: Option<Failure>,
    pub effect: Effect,
}

fn failed(outcome: Outcome, kind: FailureKind, retryable: bool, effect: Effect) -> Verdict {
    Verdict {
        outcome,
        failure: Some(Failure { kind, retryable }),
        effect,
    }
}

/// Nothing was sent: rendering or validation failed, or the host refused the request.
pub const INVALID: Verdict = Verdict {
    outcome: Outcome::Invalid,
    failure: Some(Failure {
        kind: FailureKind::InvalidRequest,
        retryable: false,
    }),
    effect: Effect::NotDone,
};

/// No HTTP answer: retryable (the API refuses a second create of the same name), unless the
/// host refused the request as written.
pub fn classify_transport(error: &TransportError) -> Verdict {
    let kind = match error.kind {
        TransportErrorKind::Timeout => FailureKind::Timeout,
        TransportErrorKind::Connection => FailureKind::Connection,
        TransportErrorKind::Protocol => FailureKind::Protocol,
        TransportErrorKind::NotSent => return INVALID,
    };
    let effect = match error.delivery {
        Delivery::NotDelivered => Effect::NotDone,
        Delivery::MaybeDelivered => Effect::Maybe,
    };
    failed(Outcome::Unreachable, kind, true, effect)
}

/// An answer arrived.
pub fn classify_answer(operation: &Operation, reply: &Reply<'_>) -> Verdict {
    let response = reply.response;
    let status = response.status;
    let http_status =
        |outcome, retryable, effect| failed(outcome, FailureKind::HttpStatus, retryable, effect);
    let by_status = match status {
        202 => Verdict {
            outcome: Outcome::Accepted,
            failure: None,
            effect: Effect::Done,
        },
        200..=299 => Verdict {
            outcome: Outcome::Succeeded,
            failure: None,
            effect: Effect::Done,
        },
        // Redirects are not followed (wasi:http does not); the request was not carried out.
        300..=399 => http_status(Outcome::Rejected, false, Effect::NotDone),
        _ if name_taken(operation, reply) => {
            http_status(Outcome::Rejected, false, Effect::NameTaken)
        }
        408 | 429 => http_status(Outcome::Rejected, true, Effect::NotDone),
        400..=499 => http_status(Outcome::Rejected, false, Effect::NotDone),
        500..=599 => http_status(Outcome::Failed, true, Effect::Maybe),
        // Not an HTTP status at all (a final 1xx, 600 and above): the answer is malformed.
        _ => {
            return failed(
                Outcome::Unreachable,
                FailureKind::Protocol,
                true,
                Effect::Maybe,
            );
        }
    };
    let success = by_status.failure.is_none();
    match &response.body_end {
        // After a 2xx nothing is retryable: the resource exists, a retry would make another.
        BodyEnd::Failed(error) if success => {
            let kind = classify_transport(error)
                .failure
                .map_or(FailureKind::Protocol, |f| f.kind);
            failed(Outcome::Unreachable, kind, false, Effect::Done)
        }
        // No answer of this API is that large (response.rs: BODY_LIMIT).
        BodyEnd::OverLimit => Verdict {
            failure: Some(Failure {
                kind: FailureKind::Protocol,
                retryable: false,
            }),
            ..by_status
        },
        BodyEnd::Complete if success && matches!(reply.one_time, OneTime::Unreadable(_)) => {
            Verdict {
                failure: Some(Failure {
                    kind: FailureKind::Protocol,
                    retryable: false,
                }),
                ..by_status
            }
        }
        _ => by_status,
    }
}

/// A 409 or 422 whose error body says the name is taken (422 alone also means "invalid").
fn name_taken(operation: &Operation, reply: &Reply<'_>) -> bool {
    let taken = &operation.answer.name_taken;
    if !taken.statuses.contains(&reply.response.status) {
        return false;
    }
    let Some(error) = reply.api_error() else {
        return false;
    };
    let id = error.id.unwrap_or_default().to_ascii_lowercase();
    let message = error.message.to_ascii_lowercase();
    taken.ids.contains(&id.as_str())
        || (taken.words.iter().any(|w| message.contains(w))
            && taken.subjects.iter().any(|s| message.contains(s)))
}

/// Below this, a `ratelimit-reset` is read as seconds from now rather than a Unix time (the
/// IETF RateLimit draft uses seconds from now; DigitalOcean documents Unix seconds).
const UNIX_TIME_THRESHOLD: u64 = 1_000_000_000;

/// The earliest retry the server asked for: `Retry-After` (seconds or HTTP date), else
/// `ratelimit-reset` when `ratelimit-remaining` is 0. Only for 408, 429 and 5xx.
pub fn retry_after(response: &WireResponse, now: SystemTime) -> Option<Duration> {
    if !matches!(response.status, 408 | 429 | 500..=599) {
        return None;
    }
    let until = |at: SystemTime| at.duration_since(now).unwrap_or_default();
    if let Some(value) = response.header("retry-after") {
        let value = value.trim();
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        if let Ok(date) = httpdate::parse_http_date(value) {
            return Some(until(date));
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
            Some(until(SystemTime::UNIX_EPOCH + Duration::from_secs(reset)))
        }
        Some(seconds) if exhausted => Some(Duration::from_secs(seconds)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operation::CREATE_DEDICATED_INFERENCE as OP;
    use crate::secrets::SecretSet;
    use crate::testkit::{accepted, answer, api_error, broken, now};
    use Effect::*;
    use FailureKind::*;
    use Outcome::*;
    use std::time::UNIX_EPOCH;

    fn verdict(response: &WireResponse) -> Verdict {
        classify_answer(&OP, &Reply::new(&OP, response, &mut SecretSet::new()))
    }

    fn row(outcome: Outcome, failure: Option<(FailureKind, bool)>, effect: Effect) -> Verdict {
        Verdict {
            outcome,
            failure: failure.map(|(kind, retryable)| Failure { kind, retryable }),
            effect,
        }
    }

    #[test]
    fn the_outcome_table_by_status() {
        let error = |status| verdict(&api_error(status, "e", "m", &[]));
        assert_eq!(verdict(&accepted()), row(Accepted, None, Done));
        assert_eq!(
            verdict(&answer(200, &[], b"{}")),
            row(Succeeded, None, Done)
        );
        assert_eq!(verdict(&answer(201, &[], b"")), row(Succeeded, None, Done));
        assert_eq!(error(408), row(Rejected, Some((HttpStatus, true)), NotDone));
        assert_eq!(error(429), row(Rejected, Some((HttpStatus, true)), NotDone));
        assert_eq!(
            error(401),
            row(Rejected, Some((HttpStatus, false)), NotDone)
        );
        assert_eq!(
            error(422),
            row(Rejected, Some((HttpStatus, false)), NotDone)
        );
        assert_eq!(
            error(302),
            row(Rejected, Some((HttpStatus, false)), NotDone)
        );
        assert_eq!(error(500), row(Failed, Some((HttpStatus, true)), Maybe));
        assert_eq!(error(503), row(Failed, Some((HttpStatus, true)), Maybe));
        // Not HTTP statuses: a malformed answer, not a rejection.
        for status in [0, 99, 101, 600, 999] {
            assert_eq!(
                error(status),
                row(Unreachable, Some((Protocol, true)), Maybe),
                "{status}"
            );
        }
    }

    #[test]
    fn nothing_after_a_2xx_is_retryable() {
        let cut = broken(accepted(), 40, TransportErrorKind::Connection);
        assert_eq!(
            verdict(&cut),
            row(Unreachable, Some((Connection, false)), Done)
        );
        let stalled = broken(accepted(), 40, TransportErrorKind::Timeout);
        assert_eq!(
            verdict(&stalled),
            row(Unreachable, Some((Timeout, false)), Done)
        );
        let mut large = accepted();
        large.body_end = BodyEnd::OverLimit;
        assert_eq!(
            verdict(&large),
            row(Accepted, Some((Protocol, false)), Done)
        );
        // Complete, but the one-time token cannot be read.
        let gzip = answer(202, &[("content-encoding", "gzip")], b"\x1f\x8b\x08\x00");
        assert_eq!(verdict(&gzip), row(Accepted, Some((Protocol, false)), Done));
    }

    #[test]
    fn a_taken_name_is_recognised_by_the_body_not_the_status() {
        for (status, id, message) in [
            (
                409,
                "conflict",
                "a dedicated inference with this name already exists",
            ),
            (
                422,
                "unprocessable_entity",
                "spec.name: 'x' is already in use",
            ),
            (422, "already_exists", "whatever"),
        ] {
            assert_eq!(
                verdict(&api_error(status, id, message, &[])),
                row(Rejected, Some((HttpStatus, false)), NameTaken),
                "{status} {message}"
            );
        }
        // A 422 about something else, and a 400 that mentions a name, are not.
        let other = verdict(&api_error(
            422,
            "unprocessable_entity",
            "spec.region: bad",
            &[],
        ));
        assert_eq!(other.effect, NotDone);
        let wrong_status = verdict(&api_error(400, "bad_request", "name already taken", &[]));
        assert_eq!(wrong_status.effect, NotDone);
    }

    #[test]
    fn transport_errors_say_whether_the_request_may_have_arrived() {
        let error = |kind, delivery| TransportError::new(kind, delivery, "x");
        use Delivery::*;
        use TransportErrorKind as K;
        assert_eq!(
            classify_transport(&error(K::Connection, NotDelivered)),
            row(Unreachable, Some((Connection, true)), NotDone)
        );
        assert_eq!(
            classify_transport(&error(K::Timeout, MaybeDelivered)),
            row(Unreachable, Some((Timeout, true)), Maybe)
        );
        assert_eq!(
            classify_transport(&error(K::Protocol, MaybeDelivered)),
            row(Unreachable, Some((Protocol, true)), Maybe)
        );
        assert_eq!(
            classify_transport(&error(K::NotSent, NotDelivered)),
            INVALID
        );
    }

    fn with(status: u16, headers: &[(&str, &str)]) -> WireResponse {
        answer(status, headers, b"")
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = now();
        assert_eq!(
            retry_after(&with(429, &[("retry-after", " 7 ")]), now),
            Some(Duration::from_secs(7))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            retry_after(&with(429, &[("retry-after", &date)]), now),
            Some(Duration::from_secs(30))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(
            retry_after(&with(408, &[("retry-after", &past)]), now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_after(&with(503, &[("retry-after", "2")]), now),
            Some(Duration::from_secs(2))
        );
        // The two obsolete date forms RFC 9110 still asks recipients to read.
        for obsolete in ["Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"] {
            let then = UNIX_EPOCH + Duration::from_secs(784_111_777 - 10);
            assert_eq!(
                retry_after(&with(429, &[("retry-after", obsolete)]), then),
                Some(Duration::from_secs(10)),
                "{obsolete}"
            );
        }
    }

    #[test]
    fn retry_after_from_ratelimit_reset_only_when_exhausted() {
        let now = now();
        let reset = "1800000020";
        let exhausted = with(
            429,
            &[("ratelimit-remaining", "0"), ("ratelimit-reset", reset)],
        );
        assert_eq!(retry_after(&exhausted, now), Some(Duration::from_secs(20)));
        let left = with(
            429,
            &[("ratelimit-remaining", "3"), ("ratelimit-reset", reset)],
        );
        assert_eq!(retry_after(&left, now), None);
        let delta = with(
            429,
            &[("ratelimit-remaining", "0"), ("ratelimit-reset", "15")],
        );
        assert_eq!(retry_after(&delta, now), Some(Duration::from_secs(15)));
        assert_eq!(
            retry_after(&with(429, &[("retry-after", "soon")]), now),
            None
        );
    }

    #[test]
    fn no_hint_for_statuses_that_are_not_retryable() {
        let now = now();
        assert_eq!(retry_after(&with(422, &[("retry-after", "5")]), now), None);
        assert_eq!(retry_after(&with(202, &[("retry-after", "5")]), now), None);
    }
}
