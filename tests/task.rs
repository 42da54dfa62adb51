//! The four calls end to end in native Rust, over the test kit's scripted transport, which
//! records every request it is asked to send. (The same behaviour through the real component,
//! each host and a real HTTP server is covered by tests/e2e.) The outcome table here is the
//! one of a single exchange, `ifExists: fail`; what `adopt` adds is in tests/adopt.rs.

use std::time::Duration;

use do_dedicated_inference_task::diagnostic::Severity;
use do_dedicated_inference_task::operation::CREATE_DEDICATED_INFERENCE as OP;
use do_dedicated_inference_task::outcome::{FailureKind, Outcome};
use do_dedicated_inference_task::request::TaskInput;
use do_dedicated_inference_task::response::{BODY_LIMIT, DISPLAY_LIMIT};
use do_dedicated_inference_task::task::{self, StepFailure, TestResult};
use do_dedicated_inference_task::testkit::{
    API_TOKEN, Answer, HF_TOKEN, RETURNED_TOKEN, ScriptedTransport, accepted, answer, api_error,
    broken, failure as transport_failure, now,
};
use do_dedicated_inference_task::transport::{BodyEnd, Delivery, TransportErrorKind};
use serde_json::{Value, json};

/// The fixture, edited, as one exchange: `ifExists: fail` (the ready definition adopts).
fn input_with(edit: impl FnOnce(&mut Value, &mut Value)) -> TaskInput {
    do_dedicated_inference_task::testkit::input_with(|d, p| {
        d["ifExists"] = json!("fail");
        edit(d, p);
    })
}

fn fixture_input() -> TaskInput {
    input_with(|_, _| {})
}

fn scripted(answer: Answer) -> ScriptedTransport {
    ScriptedTransport::answering(answer)
}

fn test_request(input: &TaskInput, api: &mut ScriptedTransport) -> TestResult {
    task::test_request(&OP, input, api, now())
}

fn execute(input: &TaskInput, api: &mut ScriptedTransport) -> Result<String, StepFailure> {
    task::execute(&OP, input, api, now())
}

fn failure(input: &TaskInput, api: &mut ScriptedTransport) -> StepFailure {
    execute(input, api).expect_err("the step should fail")
}

/// Every string of a result, for secret scans.
fn strings_of(result: &impl std::fmt::Debug) -> String {
    format!("{result:?}")
}

#[test]
fn accepted_end_to_end() {
    let mut api = scripted(Ok(accepted()));
    let result = test_request(&fixture_input(), &mut api);
    assert_eq!(api.sent.len(), 1);
    assert_eq!(result.outcome, Outcome::Accepted);
    assert!(result.summary.contains("not ready yet") && result.summary.contains("store it now"));
    assert!(
        result
            .summary
            .contains("DELETE /v2/dedicated-inferences/6b0b8f8e-8a4c-4a8b-9d5e-0c1f2a3b4c5d")
    );
    assert_eq!(result.diagnostics, vec![]);
    assert_eq!(
        result.revealed_secrets,
        vec![("token.value".to_string(), RETURNED_TOKEN.to_string())]
    );

    let request = result.request.as_ref().unwrap();
    assert_eq!(request.method, "POST");
    assert!(
        request
            .headers
            .contains(&("authorization".into(), "Bearer ••••••••".into()))
    );
    let sent_body: Value = serde_json::from_str(&api.sent[0].body).unwrap();
    assert_eq!(sent_body["access_tokens"]["hugging_face_token"], HF_TOKEN);
    let shown_body: Value = serde_json::from_str(request.body.as_deref().unwrap()).unwrap();
    assert_eq!(
        shown_body["access_tokens"]["hugging_face_token"],
        "••••••••"
    );

    let response = result.response.as_ref().unwrap();
    assert_eq!(response.status, 202);
    let shown: Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(shown["token"]["value"], "••••••••");
    assert_eq!(shown["dedicated_inference"]["spec"]["name"], "support-llm");

    // The returned token is in revealed-secrets and nowhere else.
    let mut rest = result.clone();
    rest.revealed_secrets.clear();
    let text = strings_of(&rest);
    for secret in [API_TOKEN, HF_TOKEN, RETURNED_TOKEN] {
        assert!(!text.contains(secret), "{secret} leaked");
    }
}

#[test]
fn execute_ok_keeps_the_token_for_the_workflow() {
    let mut api = scripted(Ok(accepted()));
    let output: Value =
        serde_json::from_str(&execute(&fixture_input(), &mut api).unwrap()).unwrap();
    assert_eq!(api.sent.len(), 1);
    assert_eq!(output["statusCode"], 202);
    assert_eq!(
        output["headers"]["content-type"],
        "application/json; charset=utf-8"
    );
    assert_eq!(output["body"]["token"]["value"], RETURNED_TOKEN);
    assert_eq!(
        output["body"]["dedicated_inference"]["status"],
        "provisioning"
    );
}

#[test]
fn other_2xx_succeeds() {
    let mut api = scripted(Ok(answer(200, &[("content-type", "text/plain")], b"fine")));
    let result = test_request(&fixture_input(), &mut api);
    assert_eq!(result.outcome, Outcome::Succeeded);
    let output: Value =
        serde_json::from_str(&execute(&fixture_input(), &mut api).unwrap()).unwrap();
    assert_eq!(output["body"], "fine");
}

#[test]
fn invalid_requests_are_never_sent() {
    let input = input_with(|_, p| p["model"]["scale"] = json!(0));
    let mut api = scripted(Ok(accepted()));
    let result = test_request(&input, &mut api);
    assert_eq!(result.outcome, Outcome::Invalid);
    assert!(
        result.request.is_some(),
        "validation errors keep the preview"
    );
    assert_eq!(
        result.diagnostics[0].path,
        "httpRequest.body.spec.model_deployments[0].accelerators[0].scale"
    );
    assert!(
        result
            .summary
            .starts_with("Nothing was sent: the request has 1 error.")
    );
    let f = failure(&input, &mut api);
    assert_eq!(
        (f.kind, f.retryable, f.response),
        (FailureKind::InvalidRequest, false, None)
    );
    assert_eq!(api.sent.len(), 0);

    let broken = TaskInput {
        definition: "{not json".into(),
        ..fixture_input()
    };
    let result = test_request(&broken, &mut api);
    assert_eq!(result.outcome, Outcome::Invalid);
    assert!(result.request.is_none(), "rendering failed: no preview");
    assert_eq!(result.diagnostics[0].path, "definition");
    assert_eq!(
        task::render(&OP, &broken).unwrap_err()[0].path,
        "definition"
    );
    assert_eq!(api.sent.len(), 0);
}

#[test]
fn render_returns_the_masked_preview() {
    let preview = task::render(&OP, &fixture_input()).unwrap();
    assert_eq!(
        preview.url,
        "https://api.digitalocean.com/v2/dedicated-inferences"
    );
    let text = strings_of(&preview);
    assert!(!text.contains(API_TOKEN) && !text.contains(HF_TOKEN));
    let input = input_with(|_, p| {
        p.as_object_mut()
            .unwrap()
            .remove("name")
            .map(|_| ())
            .unwrap()
    });
    let diagnostics = task::render(&OP, &input).unwrap_err();
    assert_eq!(diagnostics[0].path, "httpRequest.body.spec.name");
    assert_eq!(diagnostics[0].severity, Severity::Error);
}

/// `${secret:NAME}` takes a secret the host resolved (an engine keeps parameters in its
/// history, so a token there would be stored in clear).
#[test]
fn secret_placeholders_take_resolved_secrets() {
    let from_credentials = |secrets: &[(&str, &str)]| {
        let mut input = input_with(|d, p| {
            d["httpRequest"]["body"]["access_tokens"]["hugging_face_token"] =
                json!("${secret:hugging_face_token}");
            p.as_object_mut().unwrap().remove("huggingFaceToken");
        });
        input
            .secrets
            .extend(secrets.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        input
    };
    let field = "httpRequest.body.access_tokens.hugging_face_token";

    let input = from_credentials(&[("hugging_face_token", HF_TOKEN)]);
    let mut api = scripted(Ok(accepted()));
    let result = test_request(&input, &mut api);
    assert_eq!(
        result.outcome,
        Outcome::Accepted,
        "{:?}",
        result.diagnostics
    );
    let sent: Value = serde_json::from_str(&api.sent[0].body).unwrap();
    assert_eq!(sent["access_tokens"]["hugging_face_token"], HF_TOKEN);
    assert!(!strings_of(&result).contains(HF_TOKEN));
    let mut api = scripted(Ok(accepted()));
    assert!(!execute(&input, &mut api).unwrap().contains(HF_TOKEN));

    // Not resolved: nothing is sent, the field says why.
    let input = from_credentials(&[]);
    let mut api = scripted(Ok(accepted()));
    let result = test_request(&input, &mut api);
    assert_eq!(result.outcome, Outcome::Invalid);
    assert_eq!(api.sent.len(), 0);
    assert_eq!(result.diagnostics[0].path, field);
    assert!(result.diagnostics[0].message.contains("credentials"));
    assert_eq!(failure(&input, &mut api).kind, FailureKind::InvalidRequest);
    assert_eq!(api.sent.len(), 0);

    // The editor's live render has no secrets: it shows the field masked, with no diagnostic.
    let rendered = task::render_with_warnings(&OP, &input).unwrap();
    assert_eq!(rendered.warnings, vec![]);
    let body: Value = serde_json::from_str(rendered.request.body.as_deref().unwrap()).unwrap();
    assert_eq!(body["access_tokens"]["hugging_face_token"], "••••••••");
}

#[test]
fn statuses_follow_the_outcome_table() {
    let cases: &[(u16, &str, Outcome, bool)] = &[
        (400, "bad_request", Outcome::Rejected, false),
        (401, "unauthorized", Outcome::Rejected, false),
        (404, "not_found", Outcome::Rejected, false),
        (408, "request_timeout", Outcome::Rejected, true),
        (415, "unsupported_media_type", Outcome::Rejected, false),
        (422, "unprocessable_entity", Outcome::Rejected, false),
        (429, "too_many_requests", Outcome::Rejected, true),
        (500, "server_error", Outcome::Failed, true),
        (503, "service_unavailable", Outcome::Failed, true),
    ];
    for &(status, id, outcome, retryable) in cases {
        let mut api = scripted(Ok(api_error(status, id, &format!("{id} happened"), &[])));
        let result = test_request(&fixture_input(), &mut api);
        assert_eq!(result.outcome, outcome, "{status}");
        assert_eq!(result.response.as_ref().unwrap().status, status);
        assert!(
            result.summary.contains(&format!("{id} happened ({id})")),
            "{status}: {}",
            result.summary
        );
        let f = failure(&fixture_input(), &mut api);
        assert_eq!(
            (f.kind, f.retryable),
            (FailureKind::HttpStatus, retryable),
            "{status}"
        );
        let response: Value = serde_json::from_str(f.response.as_deref().unwrap()).unwrap();
        assert_eq!(response["statusCode"], status);
        assert_eq!(response["body"]["id"], id);
        assert_eq!(api.sent.len(), 2, "one POST per call");
    }
}

#[test]
fn retry_hints() {
    let mut api = scripted(Ok(api_error(
        429,
        "too_many_requests",
        "Slow down",
        &[("retry-after", "7")],
    )));
    assert_eq!(
        failure(&fixture_input(), &mut api).retry_after_ms,
        Some(7000)
    );
    let date = httpdate::fmt_http_date(now() + Duration::from_secs(30));
    let mut api = scripted(Ok(api_error(
        429,
        "too_many_requests",
        "Slow down",
        &[("retry-after", &date)],
    )));
    assert_eq!(
        failure(&fixture_input(), &mut api).retry_after_ms,
        Some(30_000)
    );
    let mut api = scripted(Ok(api_error(
        429,
        "too_many_requests",
        "Slow down",
        &[
            ("ratelimit-remaining", "0"),
            ("ratelimit-reset", "1800000020"),
        ],
    )));
    let f = failure(&fixture_input(), &mut api);
    assert_eq!(f.retry_after_ms, Some(20_000));
    assert!(f.message.contains("retry after 20 s"), "{}", f.message);
    let mut api = scripted(Ok(api_error(
        429,
        "too_many_requests",
        "Slow down",
        &[("ratelimit-remaining", "12")],
    )));
    assert_eq!(failure(&fixture_input(), &mut api).retry_after_ms, None);
}

#[test]
fn transport_errors_are_unreachable_and_say_whether_it_was_created() {
    use Delivery::{MaybeDelivered, NotDelivered};
    use TransportErrorKind as K;
    for (kind, delivery, expected, effect) in [
        (
            K::Timeout,
            MaybeDelivered,
            FailureKind::Timeout,
            "may have been created",
        ),
        (
            K::Connection,
            NotDelivered,
            FailureKind::Connection,
            "was not created",
        ),
        (
            K::Connection,
            MaybeDelivered,
            FailureKind::Connection,
            "may have been created",
        ),
        (
            K::Protocol,
            MaybeDelivered,
            FailureKind::Protocol,
            "may have been created",
        ),
    ] {
        let mut api = scripted(transport_failure(kind, delivery, "it broke"));
        let result = test_request(&fixture_input(), &mut api);
        assert_eq!(result.outcome, Outcome::Unreachable);
        assert!(result.response.is_none() && result.request.is_some());
        assert!(
            result
                .summary
                .starts_with("No answer from api.digitalocean.com: it broke."),
            "{}",
            result.summary
        );
        assert!(result.summary.contains(effect), "{}", result.summary);
        let f = failure(&fixture_input(), &mut api);
        assert_eq!((f.kind, f.retryable, f.response), (expected, true, None));
    }
    let mut api = scripted(transport_failure(
        K::NotSent,
        NotDelivered,
        "header `x` is forbidden by the host",
    ));
    let result = test_request(&fixture_input(), &mut api);
    assert_eq!(result.outcome, Outcome::Invalid);
    assert!(
        result
            .diagnostics
            .iter()
            .any(|d| d.message.contains("forbidden by the host"))
    );
    let f = failure(&fixture_input(), &mut api);
    assert_eq!((f.kind, f.retryable), (FailureKind::InvalidRequest, false));
    assert!(
        f.diagnostics
            .iter()
            .any(|d| d.message.contains("forbidden by the host"))
    );
}

#[test]
fn an_accepted_create_is_never_retryable() {
    // The 202's status line arrived, then the body broke off: the instance exists.
    for kind in [TransportErrorKind::Connection, TransportErrorKind::Timeout] {
        let mut api = scripted(Ok(broken(accepted(), 60, kind)));
        let result = test_request(&fixture_input(), &mut api);
        assert_eq!(result.outcome, Outcome::Unreachable);
        assert_eq!(result.response.as_ref().unwrap().body, "");
        assert!(result.revealed_secrets.is_empty());
        let s = &result.summary;
        assert!(s.contains("The dedicated inference was created."), "{s}");
        assert!(s.contains("Do not run the step again"), "{s}");
        assert!(s.contains("GET /v2/dedicated-inferences"), "{s}");
        assert!(
            s.contains("POST /v2/dedicated-inferences/<its id>/tokens"),
            "{s}"
        );
        let f = failure(&fixture_input(), &mut api);
        assert!(!f.retryable, "{kind:?}");
        assert_eq!(f.retry_after_ms, None);
    }
}

#[test]
fn a_taken_name_is_rejected_for_good() {
    for status in [409, 422] {
        let taken = api_error(
            status,
            "conflict",
            "a dedicated inference named support-llm already exists",
            &[],
        );
        let mut api = scripted(Ok(taken));
        let result = test_request(&fixture_input(), &mut api);
        assert_eq!(result.outcome, Outcome::Rejected);
        assert!(
            result.summary.contains("earlier attempt of this same step"),
            "{}",
            result.summary
        );
        let f = failure(&fixture_input(), &mut api);
        assert_eq!((f.kind, f.retryable), (FailureKind::HttpStatus, false));
    }
}

#[test]
fn an_accepted_answer_whose_token_cannot_be_read_says_so() {
    let gzip = answer(
        202,
        &[
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ],
        b"\x1f\x8b\x08",
    );
    let mut api = scripted(Ok(gzip));
    let result = test_request(&fixture_input(), &mut api);
    assert_eq!(result.outcome, Outcome::Accepted);
    assert!(result.revealed_secrets.is_empty());
    assert!(
        result
            .summary
            .contains("could not be read (the body is `gzip`-encoded"),
        "{}",
        result.summary
    );
    assert!(
        result.summary.contains("do not run the step again"),
        "{}",
        result.summary
    );
    let f = failure(&fixture_input(), &mut api);
    assert_eq!((f.kind, f.retryable), (FailureKind::Protocol, false));
}

#[test]
fn returned_token_omit_keeps_it_out_of_the_output_only() {
    let input = input_with(|d, _| d["returnedToken"] = json!("omit"));
    let mut api = scripted(Ok(accepted()));
    let output = execute(&input, &mut api).unwrap();
    assert!(!output.contains(RETURNED_TOKEN), "{output}");
    let output: Value = serde_json::from_str(&output).unwrap();
    assert!(output["omitted"].as_str().unwrap().contains("/tokens"));
    // The editor still reveals it once.
    let result = test_request(&input, &mut api);
    assert_eq!(
        result.revealed_secrets,
        vec![("token.value".into(), RETURNED_TOKEN.into())]
    );
}

#[test]
fn bodies_over_the_bound() {
    let mut over = accepted();
    over.body.resize(BODY_LIMIT, b' ');
    over.body_end = BodyEnd::OverLimit;
    let mut api = scripted(Ok(over));
    let result = test_request(&fixture_input(), &mut api);
    assert_eq!(result.outcome, Outcome::Accepted);
    let view = result.response.as_ref().unwrap();
    assert!(view.truncated && view.body.len() <= DISPLAY_LIMIT);
    assert!(
        !view.body.contains(RETURNED_TOKEN),
        "the token is never shown from a cut body"
    );
    assert!(result.summary.contains("larger than 4 MiB"));
    let f = failure(&fixture_input(), &mut api);
    assert_eq!((f.kind, f.retryable), (FailureKind::Protocol, false));
    assert!(!f.response.unwrap().contains(RETURNED_TOKEN));
}

#[test]
fn secrets_are_masked_in_failures_too() {
    // A server that echoes every secret back in its error.
    let echo = format!(r#"{{"id":"unprocessable_entity","message":"bad {API_TOKEN} {HF_TOKEN}"}}"#);
    let mut api = scripted(Ok(answer(
        422,
        &[("content-type", "application/json")],
        echo.as_bytes(),
    )));
    let f = failure(&fixture_input(), &mut api);
    let result = test_request(&fixture_input(), &mut api);
    for text in [strings_of(&f), strings_of(&result)] {
        assert!(
            !text.contains(API_TOKEN) && !text.contains(HF_TOKEN),
            "{text}"
        );
        assert!(text.contains("bad •••••••• ••••••••"), "{text}");
    }
}

#[test]
fn describe_lists_the_contract() {
    let info = task::describe(&OP);
    assert_eq!(
        (
            info.method.as_str(),
            info.server.as_str(),
            info.path.as_str()
        ),
        (
            "POST",
            "https://api.digitalocean.com",
            "/v2/dedicated-inferences"
        )
    );
    let content_type = info
        .headers
        .iter()
        .find(|h| h.path == "Content-Type")
        .unwrap();
    assert_eq!(
        content_type.default_value.as_deref(),
        Some("application/json")
    );
    let region = info
        .body_fields
        .iter()
        .find(|f| f.path == "spec.region")
        .unwrap();
    assert_eq!(region.allowed_values, ["atl1", "nyc2", "tor1"]);
    assert!(region.required);
    let scale = info
        .body_fields
        .iter()
        .find(|f| f.path == "spec.model_deployments[].accelerators[].scale")
        .unwrap();
    assert_eq!(scale.type_name, "integer");
    // The default definition renders and validates with the example parameters.
    let input = TaskInput {
        definition: info.default_definition,
        parameters: info.example_parameters,
        secrets: vec![("token".into(), API_TOKEN.into())],
    };
    assert!(task::render(&OP, &input).is_ok());
}
