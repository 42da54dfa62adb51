//! One or two plain sentences a person reads in the editor (and the engine logs as a step's
//! failure message): what happened, whether the resource was created, and what to do next.
//! Every sentence about the operation comes from its `Texts`; text from the server is quoted
//! through `quoted`.

use std::time::Duration;

use crate::diagnostic::Diagnostics;
use crate::operation::Operation;
use crate::outcome::{Effect, Verdict};
use crate::response::{BODY_LIMIT, OneTime, Reply};
use crate::secrets::SecretSet;
use crate::template::abbreviate;
use crate::transport::{BodyEnd, Delivery, TransportError, TransportErrorKind, human_duration};
use crate::url::TargetUrl;

/// The most characters a string from the server adds to a summary.
const MAX_QUOTED_CHARS: usize = 200;

/// Nothing was sent because the request has errors.
pub fn invalid(operation: &Operation, diagnostics: &Diagnostics) -> String {
    let count = diagnostics.error_count();
    let first = diagnostics
        .first_error()
        .map(|d| {
            let path = if d.path.is_empty() {
                "request"
            } else {
                &d.path
            };
            format!(" First: {path}: {}", d.message)
        })
        .unwrap_or_default();
    format!(
        "Nothing was sent: the request has {count} error{}. {}{first}",
        if count == 1 { "" } else { "s" },
        effect(operation, Effect::NotDone, None)
    )
}

/// No HTTP answer at all.
pub fn no_answer(
    operation: &Operation,
    url: &TargetUrl,
    error: &TransportError,
    effect_now: Effect,
) -> String {
    if error.kind == TransportErrorKind::NotSent {
        return format!(
            "Nothing was sent: the host refused the request: {}. {}",
            error.detail,
            effect(operation, Effect::NotDone, None)
        );
    }
    let advice = match (error.kind, error.delivery) {
        (TransportErrorKind::Protocol, _) => " The answer could not be read as HTTP.",
        (_, Delivery::NotDelivered) => " A retry may succeed.",
        _ => "",
    };
    format!(
        "No answer from {}: {}. {}{advice}",
        url.authority(),
        error.detail,
        effect(operation, effect_now, None)
    )
}

/// An earlier attempt's instance was adopted (`ifExists: adopt`).
pub fn adopted(operation: &Operation, id: &str, token_missing: Option<&str>) -> String {
    let t = &operation.texts;
    let token = match token_missing {
        None => "A new token was minted for it (shown once).".to_string(),
        Some(reason) => format!("No token was minted for it: {reason}."),
    };
    format!(
        "Adopted the existing {} {id}: its name and spec match this request (an earlier attempt of this step made it, or another workflow that uses the same name). {token} {}",
        t.resource,
        operation.say(t.follow, Some(id))
    )
}

/// The editor's first answer when it would adopt on a real API: nothing minted yet.
pub fn would_adopt(operation: &Operation, id: &str) -> String {
    format!(
        "Would adopt the existing {} {id} (its name and spec match) and mint a token for it. Nothing was minted: confirm to go on.",
        operation.texts.resource
    )
}

/// What the exchange did to the resource, in one sentence (see `Effect`).
pub fn effect(operation: &Operation, effect: Effect, id: Option<&str>) -> String {
    let t = &operation.texts;
    match effect {
        Effect::Done => match id {
            Some(id) => format!("The {} was {} (id {id}).", t.resource, t.done),
            None => format!("The {} was {}.", t.resource, t.done),
        },
        Effect::Maybe => format!(
            "The {} may have been {}: {} before running the step again.",
            t.resource, t.done, t.find
        ),
        Effect::NotDone => format!("The {} was not {}.", t.resource, t.done),
        Effect::NameTaken => format!(
            "The {} was not {} by this request. {} To find it, {}.",
            t.resource, t.done, operation.answer.name_taken.sentence, t.find
        ),
    }
}

/// The API answered. `retry_after` is the server's hint, when it gave one.
pub fn answer(
    operation: &Operation,
    url: &TargetUrl,
    reply: &Reply<'_>,
    verdict: &Verdict,
    retry_after: Option<Duration>,
    secrets: &SecretSet,
) -> String {
    let status = reply.response.status;
    let head = status_line(status);
    let provider = operation.texts.provider;
    let mut summary = match (status, &reply.response.body_end) {
        (200..=299, BodyEnd::Failed(error)) => broken_success(operation, &head, error),
        (200..=299, _) => success(operation, &head, reply, secrets),
        (100..=599, _) => {
            let (verb, advice) = if status >= 500 {
                (
                    "failed to process",
                    " This may be temporary and a retry may succeed.".to_owned(),
                )
            } else {
                (
                    "rejected",
                    format!(
                        " {}",
                        rejection_advice(operation, url, reply, retry_after, secrets)
                    ),
                )
            };
            format!(
                "{head}: {provider} {verb} the request: {}. {}{advice}",
                details(reply, secrets),
                effect(operation, verdict.effect, None)
            )
        }
        _ => format!(
            "The answer's status {status} is not an HTTP status: the answer cannot be trusted. {}",
            effect(operation, verdict.effect, None)
        ),
    };
    if let Some(delay) = retry_after.filter(|_| status >= 500) {
        summary.push_str(&format!(
            " The API asks to wait {} before retrying.",
            human_duration(delay)
        ));
    }
    if let Some(request_id) = reply.api_error().and_then(|e| e.request_id) {
        summary.push_str(&format!(" Request id: {}.", quoted(&request_id, secrets)));
    }
    if let (BodyEnd::Failed(error), false) =
        (&reply.response.body_end, (200..300).contains(&status))
    {
        summary.push_str(&format!(" The body broke off: {}.", error.detail));
    }
    if reply.response.body_end == BodyEnd::OverLimit {
        summary.push_str(&format!(
            " The body was larger than {} MiB and was not read further; no answer of this API is \
             that large.",
            BODY_LIMIT / (1024 * 1024)
        ));
    }
    summary
}

fn status_line(status: u16) -> String {
    match http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

/// A 2xx whose body arrived whole (or up to the read bound).
fn success(operation: &Operation, head: &str, reply: &Reply<'_>, secrets: &SecretSet) -> String {
    let t = &operation.texts;
    let resource = reply.resource(operation).unwrap_or_default();
    let id = resource.id.as_deref().map(|id| quoted(id, secrets));
    let name = resource
        .name
        .as_deref()
        .map_or(String::new(), |n| format!(" `{}`", quoted(n, secrets)));
    let id_note = id
        .as_deref()
        .map_or(String::new(), |id| format!(" (id {id})"));
    let state = match resource.status.as_deref().map(|s| quoted(s, secrets)) {
        Some(status) if operation.answer.pending_statuses.contains(&status.as_str()) => format!(
            ", status {status}: not ready yet. {}",
            operation.say(t.follow, id.as_deref())
        ),
        Some(status) if operation.answer.failed_statuses.contains(&status.as_str()) => {
            format!(", but its status is {status}: it failed; {}.", t.find)
        }
        Some(status) => format!(", status {status}."),
        None => ".".into(),
    };
    let mut summary = format!(
        "{head}: the {}{name} was {}{id_note}{state}",
        t.resource, t.done
    );
    if let Some(secret) = operation.answer.one_time_secret {
        match &reply.one_time {
            OneTime::Read(_) => summary.push_str(&format!(
                " The answer carries {}, returned only once: store it now (if it is lost, {}).",
                secret.what,
                operation.say(secret.replace, id.as_deref())
            )),
            OneTime::Unreadable(why) => summary.push_str(&format!(
                " The answer should carry {}, but it could not be read ({}), so it is not shown: \
                 do not run the step again; {}.",
                secret.what,
                quoted(why, secrets),
                operation.say(secret.replace, id.as_deref())
            )),
            OneTime::Absent => {}
        }
    }
    if let Some(after) = t.after_success {
        summary.push(' ');
        summary.push_str(&operation.say(after, id.as_deref()));
    }
    summary
}

/// A 2xx status arrived but the body broke off: the resource exists, its answer is lost.
fn broken_success(operation: &Operation, head: &str, error: &TransportError) -> String {
    let t = &operation.texts;
    let mut summary = format!(
        "{head} arrived, but the body broke off: {}. {} Do not run the step again: {}",
        error.detail,
        effect(operation, Effect::Done, None),
        t.find
    );
    if let Some(secret) = operation.answer.one_time_secret {
        summary.push_str(&format!(", then {}", operation.say(secret.replace, None)));
    }
    summary.push('.');
    summary
}

/// The API's own words when it sent its error shape, else what the body was.
fn details(reply: &Reply<'_>, secrets: &SecretSet) -> String {
    if let Some(error) = reply.api_error() {
        let message = quoted(error.message.trim_end_matches('.'), secrets);
        return match error.id {
            Some(id) => format!("{message} ({})", quoted(&id, secrets)),
            None => message,
        };
    }
    let content_type = reply
        .response
        .header("content-type")
        .unwrap_or_else(|| "no content type".into());
    match reply.response.body.len() {
        0 => "no details (empty body)".to_string(),
        n => format!(
            "the answer is not the API's JSON error ({}, {n} bytes)",
            quoted(&content_type, secrets)
        ),
    }
}

fn rejection_advice(
    operation: &Operation,
    url: &TargetUrl,
    reply: &Reply<'_>,
    retry_after: Option<Duration>,
    secrets: &SecretSet,
) -> String {
    let retry = |what: &str| match retry_after {
        Some(delay) => format!("{what}: retry after {}.", human_duration(delay)),
        None => format!("{what}: retry later."),
    };
    let scope = operation.texts.required_scope;
    match reply.response.status {
        401 => format!(
            "Check the API token (the `token` secret): it must be valid and allowed `{scope}`."
        ),
        403 => format!("The API token is not allowed to do this: it needs the scope `{scope}`."),
        404 => format!("Check the URL {url}."),
        408 => retry("The server timed out waiting for the request"),
        415 => "Send the body as application/json (the Content-Type header).".to_string(),
        429 => retry("Too many requests"),
        300..=399 => format!(
            "Redirects are not followed; the answer points to {}.",
            quoted(
                &reply
                    .response
                    .header("location")
                    .unwrap_or_else(|| "no Location".into()),
                secrets
            )
        ),
        _ => "Fix the request: sending it unchanged will fail again.".to_string(),
    }
}

/// Text from the server as a summary may quote it: secrets masked first (a cut must not
/// leave part of one), control characters escaped (CR, LF and ANSI escapes would forge lines
/// or colours in a log), at most `MAX_QUOTED_CHARS` characters. Only a prefix long enough to
/// hold any secret's spelling is masked: a 3 MB message costs no more than a short one.
pub fn quoted(text: &str, secrets: &SecretSet) -> String {
    const SCANNED: usize = 64 * 1024;
    let prefix = crate::response::cut_at_char_boundary(text, SCANNED);
    let masked = if prefix.len() < text.len() {
        secrets.mask_cut_str(prefix)
    } else {
        secrets.mask_str(prefix)
    };
    let mut escaped = String::with_capacity(masked.len().min(4 * MAX_QUOTED_CHARS));
    for c in masked.chars().take(MAX_QUOTED_CHARS + 1) {
        if c.is_control() {
            escaped.extend(c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    abbreviate(&escaped, MAX_QUOTED_CHARS).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Diagnostics;
    use crate::operation::CREATE_DEDICATED_INFERENCE as OP;
    use crate::outcome::classify_answer;
    use crate::testkit::{accepted, answer as reply_of, api_error};
    use crate::transport::WireResponse;
    use crate::url::Scheme;

    fn url() -> TargetUrl {
        TargetUrl {
            scheme: Scheme::Https,
            host: "api.digitalocean.com".into(),
            port: None,
            path_with_query: OP.path.into(),
        }
    }

    fn summary_with(
        response: &WireResponse,
        retry_after: Option<Duration>,
        secrets: &mut SecretSet,
    ) -> String {
        let reply = Reply::new(&OP, response, secrets);
        let verdict = classify_answer(&OP, &reply);
        answer(&OP, &url(), &reply, &verdict, retry_after, secrets)
    }

    fn summary_of(response: &WireResponse, retry_after: Option<Duration>) -> String {
        summary_with(response, retry_after, &mut SecretSet::new())
    }

    #[test]
    fn accepted_says_created_not_ready_where_the_token_goes_and_how_to_delete() {
        let s = summary_of(&accepted(), None);
        let item = "/v2/dedicated-inferences/6b0b8f8e-8a4c-4a8b-9d5e-0c1f2a3b4c5d";
        assert_eq!(
            s,
            format!(
                "202 Accepted: the dedicated inference `support-llm` was created (id \
                 6b0b8f8e-8a4c-4a8b-9d5e-0c1f2a3b4c5d), status provisioning: not ready yet. \
                 Follow it with GET {item} until its status is active; error means it failed. \
                 The answer carries a token for the new endpoint, returned only once: store it \
                 now (if it is lost, mint a new one with POST {item}/tokens). It is billed until \
                 it is deleted with DELETE {item}."
            )
        );
        let failed = reply_of(
            202,
            &[],
            br#"{"dedicated_inference":{"id":"i","status":"error"}}"#,
        );
        let s = summary_of(&failed, None);
        assert!(
            s.contains("was created (id i), but its status is error: it failed;"),
            "{s}"
        );
        assert!(!s.contains("token"), "{s}");
    }

    #[test]
    fn rejections_quote_the_api_and_say_nothing_was_created() {
        let s = summary_of(
            &api_error(401, "unauthorized", "Unable to authenticate you", &[]),
            None,
        );
        assert_eq!(
            s,
            "401 Unauthorized: DigitalOcean rejected the request: Unable to authenticate you (unauthorized). The dedicated inference was not created. Check the API token (the `token` secret): it must be valid and allowed `dedicated_inference:create`. Request id: req-1."
        );
        let s = summary_of(
            &api_error(429, "too_many_requests", "Slow down", &[]),
            Some(Duration::from_secs(7)),
        );
        assert!(s.contains("Too many requests: retry after 7 s."), "{s}");
        let s = summary_of(
            &reply_of(503, &[("content-type", "text/html")], b"<html>"),
            Some(Duration::from_secs(2)),
        );
        assert!(
            s.contains("not the API's JSON error (text/html, 6 bytes)") && s.contains("wait 2 s"),
            "{s}"
        );
        assert!(s.contains("may have been created: look for it"), "{s}");
    }

    #[test]
    fn a_taken_name_says_it_may_be_an_earlier_attempt() {
        let s = summary_of(
            &api_error(409, "conflict", "name already exists", &[]),
            None,
        );
        assert!(s.contains("was not created by this request"), "{s}");
        assert!(s.contains("earlier attempt of this same step"), "{s}");
    }

    #[test]
    fn server_text_is_masked_escaped_and_capped() {
        let secret = "dop_v1_0123456789abcdef0123456789";
        let mut secrets = SecretSet::new();
        secrets.add(secret).unwrap();
        // A secret across the 200-character cut keeps no part of itself.
        let message = format!(
            "{}{secret}\r\nX-Forged: \u{1b}[31mred{}",
            "x".repeat(190),
            "y".repeat(3_000_000)
        );
        let response = api_error(400, "bad", &message, &[]);
        let s = summary_with(&response, None, &mut secrets);
        assert!(!s.contains("dop_v1"), "{s}");
        assert!(
            !s.contains('\r') && !s.contains('\n') && !s.contains('\u{1b}'),
            "{s}"
        );
        assert!(s.len() < 2000, "{}", s.len());
    }

    #[test]
    fn a_status_that_is_not_http_is_no_rejection() {
        let s = summary_of(&reply_of(999, &[], b""), None);
        assert!(
            s.starts_with("The answer's status 999 is not an HTTP status"),
            "{s}"
        );
        assert!(s.contains("may have been created"), "{s}");
    }

    #[test]
    fn invalid_and_unreachable() {
        let mut d = Diagnostics::new();
        d.error("httpRequest.body.spec.region", "`region` is required");
        d.error("x", "y");
        assert_eq!(
            invalid(&OP, &d),
            "Nothing was sent: the request has 2 errors. The dedicated inference was not created. First: httpRequest.body.spec.region: `region` is required"
        );
        let e = TransportError::new(
            TransportErrorKind::Timeout,
            Delivery::MaybeDelivered,
            "no answer within 10 s (readTimeoutSeconds)",
        );
        let s = no_answer(&OP, &url(), &e, Effect::Maybe);
        assert!(
            s.starts_with("No answer from api.digitalocean.com: no answer within 10 s"),
            "{s}"
        );
        assert!(s.contains("may have been created: look for it"), "{s}");
        let refused = TransportError::new(
            TransportErrorKind::Connection,
            Delivery::NotDelivered,
            "the connection was refused",
        );
        let s = no_answer(&OP, &url(), &refused, Effect::NotDone);
        assert!(s.contains("was not created. A retry may succeed."), "{s}");
    }
}
