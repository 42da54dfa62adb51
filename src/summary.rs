//! One or two plain sentences a person reads in the editor (and the engine logs as a step's
//! failure message): what happened, what it means, and what to do next.

use crate::diagnostic::Diagnostics;
use crate::http_syntax::reason_phrase;
use crate::operation::Operation;
use crate::response::{BODY_LIMIT, Reply};
use crate::secrets::SecretSet;
use crate::template::abbreviate;
use crate::transport::{BodyEnd, TransportError, TransportErrorKind, human_duration};
use crate::url::TargetUrl;
use std::time::Duration;

/// Nothing was sent because the request has errors.
pub fn invalid(diagnostics: &Diagnostics) -> String {
    let count = diagnostics.error_count();
    let first = diagnostics
        .first_error()
        .map(|d| {
            format!(
                " First: {}: {}",
                if d.path.is_empty() {
                    "request"
                } else {
                    &d.path
                },
                d.message
            )
        })
        .unwrap_or_default();
    format!(
        "Nothing was sent: the request has {count} error{}.{first}",
        if count == 1 { "" } else { "s" }
    )
}

/// Nothing was sent because the host refused the request as written.
pub fn not_sent(error: &TransportError) -> String {
    format!(
        "Nothing was sent: the host refused the request: {}.",
        error.detail
    )
}

/// No HTTP answer at all.
pub fn no_answer(operation: &Operation, url: &TargetUrl, error: &TransportError) -> String {
    let advice = match error.kind {
        TransportErrorKind::Timeout => format!(
            "The request may have reached {}: before running it again, check whether the {} \
             exists (GET {}).",
            operation.provider, operation.resource, operation.path
        ),
        TransportErrorKind::Connection => "A retry may succeed.".to_string(),
        TransportErrorKind::Protocol => {
            "The answer could not be read as HTTP; a retry may succeed.".to_string()
        }
        TransportErrorKind::NotSent => return not_sent(error),
    };
    format!(
        "No answer from {}: {}. {advice}",
        url.authority(),
        error.detail
    )
}

/// The API answered. `retry_after` is the server's hint, when it gave one. The answer's own
/// words are masked with `secrets` before they are shortened: a cut must not leave part of a
/// secret that masking afterwards would no longer recognize.
pub fn answer(
    operation: &Operation,
    url: &TargetUrl,
    reply: &Reply<'_>,
    retry_after: Option<Duration>,
    secrets: &SecretSet,
) -> String {
    let status = reply.response.status;
    let head = status_line(status);
    let mut summary = match (status, &reply.response.body_end) {
        (_, BodyEnd::Failed(error)) => broken_body(operation, &head, status, error),
        (202, _) => accepted(operation, &head, reply),
        (200..=299, _) => succeeded(operation, &head, reply),
        (500..=599, _) => format!(
            "{head}: {} failed to process the request: {}. This may be temporary and a retry may \
             succeed, but the {} may have been created anyway: check (GET {}) before running it \
             again.",
            operation.provider,
            details(reply, secrets),
            operation.resource,
            operation.path
        ),
        _ => format!(
            "{head}: {} rejected the request: {}. {}",
            operation.provider,
            details(reply, secrets),
            rejection_advice(operation, url, reply, retry_after, secrets)
        ),
    };
    if let Some(delay) = retry_after.filter(|_| status >= 500) {
        summary.push_str(&format!(
            " The API asks to wait {} before retrying.",
            human_duration(delay)
        ));
    }
    if let Some(request_id) = reply.api_error().and_then(|e| e.request_id) {
        summary.push_str(&format!(" Request id: {request_id}."));
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
    match reason_phrase(status) {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

fn accepted(operation: &Operation, head: &str, reply: &Reply<'_>) -> String {
    let provider = operation.provider;
    let resource = reply.resource(operation);
    let mut summary = match &resource {
        Some(r) => {
            let name = r.name.map_or(String::new(), |n| format!(" `{n}`"));
            let id = r.id.unwrap_or("unknown");
            let status = r.status.unwrap_or("unknown");
            let action = if matches!(status, "new" | "provisioning") {
                "accepted the request and is provisioning"
            } else {
                "accepted the request for"
            };
            format!(
                "{head}: {provider} {action} {}{name} (id {id}, status {status}). This is not \
                 success yet: follow it with GET {} until its status is active.",
                operation.resource,
                operation.resource_path.replace("{id}", id)
            )
        }
        None => format!(
            "{head}: {provider} accepted the request. This is not success yet, and the answer does \
             not describe the new {}: look for it with GET {}.",
            operation.resource, operation.path
        ),
    };
    if reply.one_time_secret(operation).is_some() {
        summary.push_str(" A token was returned once; store it now.");
    }
    let delete = match resource.as_ref().and_then(|r| r.id) {
        Some(id) => operation.resource_path.replace("{id}", id),
        None => operation.resource_path.replace("{id}", "<its id>"),
    };
    summary.push_str(&format!(
        " This creates a real, billed {}: delete it with DELETE {delete} when it is no longer needed.",
        operation.resource
    ));
    summary
}

fn succeeded(operation: &Operation, head: &str, reply: &Reply<'_>) -> String {
    let about = reply
        .resource(operation)
        .and_then(|r| {
            Some(format!(
                " for {} `{}`",
                operation.resource,
                r.name.or(r.id)?
            ))
        })
        .unwrap_or_default();
    format!("{head}: {} reports success{about}.", operation.provider)
}

/// The status arrived but the body broke off.
fn broken_body(operation: &Operation, head: &str, status: u16, error: &TransportError) -> String {
    let mut summary = format!("{head} arrived, but the body broke off: {}.", error.detail);
    if (200..300).contains(&status) {
        summary.push_str(&format!(
            " The {} was probably created: check (GET {}) before running it again.",
            operation.resource, operation.path
        ));
    } else {
        summary.push_str(" A retry may succeed.");
    }
    summary
}

/// The API's own words when it sent its error shape, else what the body was.
fn details(reply: &Reply<'_>, secrets: &SecretSet) -> String {
    if let Some(error) = reply.api_error() {
        let message = secrets.mask_str(error.message);
        let message = abbreviate(message.trim_end_matches('.'), 300);
        return match error.id {
            Some(id) => format!("{message} ({id})"),
            None => message.into_owned(),
        };
    }
    let content_type = reply
        .response
        .header("content-type")
        .unwrap_or("no content type");
    match reply.response.body.len() {
        0 => "no details (empty body)".to_string(),
        n => format!(
            "the answer is not the API's JSON error ({}, {n} bytes)",
            abbreviate(&secrets.mask_str(content_type), 60)
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
    match reply.response.status {
        401 => format!(
            "Check the API token (the `token` secret): it must be valid and allowed `{}`.",
            operation.required_scope
        ),
        403 => format!(
            "The API token is not allowed to do this: it needs the scope `{}`.",
            operation.required_scope
        ),
        404 => format!("Check the URL {url}."),
        408 => retry("The server timed out waiting for the request"),
        415 => "Send the body as application/json (the Content-Type header).".to_string(),
        429 => retry("Too many requests"),
        300..=399 => format!(
            "Redirects are not followed; the answer points to {}.",
            abbreviate(
                &secrets.mask_str(reply.response.header("location").unwrap_or("no Location")),
                200
            )
        ),
        _ => "Fix the request: sending it unchanged will fail again.".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Diagnostics;
    use crate::operation::CREATE_DEDICATED_INFERENCE as OP;
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

    fn reply_summary(status: u16, body: &str, retry_after: Option<Duration>) -> String {
        let response = WireResponse {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
            body_end: BodyEnd::Complete,
        };
        answer(
            &OP,
            &url(),
            &Reply::new(&response),
            retry_after,
            &SecretSet::new(),
        )
    }

    #[test]
    fn accepted_says_not_success_yet_names_the_resource_and_how_to_delete_it() {
        let s = reply_summary(
            202,
            r#"{"dedicated_inference":{"id":"abc-1","name":"support-llm","status":"provisioning"},"token":{"value":"x"}}"#,
            None,
        );
        assert!(s.starts_with("202 Accepted: DigitalOcean accepted the request and is provisioning dedicated inference `support-llm` (id abc-1, status provisioning)."), "{s}");
        assert!(s.contains("This is not success yet"));
        assert!(s.contains("A token was returned once; store it now."));
        assert!(s.contains("DELETE /v2/dedicated-inferences/abc-1"));
        let s = reply_summary(
            202,
            r#"{"dedicated_inference":{"id":"i","name":"n","status":"active"}}"#,
            None,
        );
        assert!(
            s.contains("accepted the request for dedicated inference `n` (id i, status active)"),
            "{s}"
        );
        assert!(!s.contains("token"));
    }

    #[test]
    fn rejections_quote_the_api_and_advise() {
        let s = reply_summary(
            401,
            r#"{"id":"unauthorized","message":"Unable to authenticate you","request_id":"r-9"}"#,
            None,
        );
        assert_eq!(
            s,
            "401 Unauthorized: DigitalOcean rejected the request: Unable to authenticate you (unauthorized). Check the API token (the `token` secret): it must be valid and allowed `dedicated_inference:create`. Request id: r-9."
        );
        let s = reply_summary(
            429,
            r#"{"id":"too_many_requests","message":"Slow down"}"#,
            Some(Duration::from_secs(7)),
        );
        assert!(s.ends_with("Too many requests: retry after 7 s."), "{s}");
        let s = reply_summary(503, "<html>", Some(Duration::from_secs(2)));
        assert!(
            s.contains("not the API's JSON error (application/json, 6 bytes)")
                && s.contains("wait 2 s"),
            "{s}"
        );
    }

    #[test]
    fn secrets_are_masked_before_the_message_is_shortened() {
        // Found by tests/properties.rs: a secret across the 300-character cut kept its start.
        let secret = "dop_v1_0123456789abcdef0123456789";
        let mut secrets = SecretSet::new();
        secrets.add(secret);
        let message = format!("{}{secret}", "x".repeat(290));
        let response = WireResponse {
            status: 302,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                (
                    "location".into(),
                    format!("https://elsewhere/{}{secret}", "x".repeat(175)),
                ),
            ],
            body: serde_json::json!({"id": "e", "message": message})
                .to_string()
                .into_bytes(),
            body_end: BodyEnd::Complete,
        };
        let s = answer(&OP, &url(), &Reply::new(&response), None, &secrets);
        let s = secrets.mask_str(&s);
        assert!(!s.contains("dop_v1"), "{s}");
        assert!(s.contains("x••••••••") && s.contains("x•"), "{s}");
    }

    #[test]
    fn invalid_and_unreachable() {
        let mut d = Diagnostics::new();
        d.error("httpRequest.body.spec.region", "`region` is required");
        d.error("x", "y");
        assert_eq!(
            invalid(&d),
            "Nothing was sent: the request has 2 errors. First: httpRequest.body.spec.region: `region` is required"
        );
        let e = TransportError::new(
            TransportErrorKind::Timeout,
            "no first byte within 10 s (readTimeoutSeconds)",
        );
        let s = no_answer(&OP, &url(), &e);
        assert!(
            s.starts_with("No answer from api.digitalocean.com: no first byte within 10 s"),
            "{s}"
        );
        assert!(s.contains("may have reached DigitalOcean"));
    }
}
