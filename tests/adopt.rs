//! `"ifExists": "adopt"`, one behaviour per test, against `testkit::FakeApi` (the API's
//! create, list, get and token routes): when a create may have gone through, the step looks
//! the name up and adopts an instance with the same spec, minting it a new token; it never
//! sends a second create, and says what it did.

use do_dedicated_inference_task::operation::CREATE_DEDICATED_INFERENCE as OP;
use do_dedicated_inference_task::outcome::{FailureKind, Outcome};
use do_dedicated_inference_task::request::TaskInput;
use do_dedicated_inference_task::task;
use do_dedicated_inference_task::testkit::{API_TOKEN, CreateFault, FakeApi, input_with, now};
use serde_json::{Value, json};
use std::time::Duration;

const NAME: &str = "support-llm";
const STAND_IN: &str = "http://127.0.0.1:8080/v2/dedicated-inferences";

/// The fixture with `ifExists` set, aimed at a loopback stand-in.
fn adopting(edit: impl FnOnce(&mut Value)) -> TaskInput {
    input_with(|d, _| {
        d["ifExists"] = json!("adopt");
        d["httpRequest"]["url"] = json!(STAND_IN);
        edit(d);
    })
}

/// The spec the fixture sends, as the API keeps it.
fn fixture_spec() -> Value {
    let input = adopting(|_| {});
    let mut api = FakeApi::default();
    let _ = task::execute(&OP, &input, &mut api, now());
    api.instances[0].spec.clone()
}

/// An API where an earlier attempt already made the fixture's instance.
fn api_with_earlier_instance() -> (FakeApi, String) {
    let mut api = FakeApi::default();
    let id = api.create_directly(NAME, fixture_spec());
    (api, id)
}

fn creates(api: &FakeApi) -> usize {
    api.log
        .iter()
        .filter(|r| r.method == "POST" && !r.path.ends_with("/tokens"))
        .count()
}

fn output(result: Result<String, task::StepFailure>) -> Value {
    serde_json::from_str(&result.expect("the step is Ok")).unwrap()
}

#[test]
fn a_taken_name_with_the_same_spec_is_adopted_with_a_new_token() {
    let (mut api, id) = api_with_earlier_instance();
    let out = output(task::execute(&OP, &adopting(|_| {}), &mut api, now()));
    assert_eq!(out["adopted"], true);
    assert_eq!(out["body"]["dedicated_inference"]["id"], id.as_str());
    let minted = api.tokens.last().unwrap();
    assert_eq!(out["body"]["token"]["value"], minted.as_str());
    assert_eq!(creates(&api), 1, "{:?}", api.log);
    assert_eq!(api.count(NAME), 1);
}

#[test]
fn the_minted_token_is_named_for_the_step() {
    let (mut api, _) = api_with_earlier_instance();
    let out = output(task::execute(&OP, &adopting(|_| {}), &mut api, now()));
    let name = out["body"]["token"]["name"].as_str().unwrap();
    assert!(name.starts_with("support-llm-adopted-"), "{name}");
}

#[test]
fn without_if_exists_a_taken_name_stays_a_final_failure_and_nothing_is_looked_up() {
    let (mut api, _) = api_with_earlier_instance();
    let input = input_with(|d, _| {
        d.as_object_mut().unwrap().remove("ifExists");
        d["httpRequest"]["url"] = json!(STAND_IN);
    });
    let failure = task::execute(&OP, &input, &mut api, now()).unwrap_err();
    assert_eq!(
        (failure.kind, failure.retryable),
        (FailureKind::HttpStatus, false)
    );
    assert_eq!(api.log.len(), 1, "{:?}", api.log);
}

#[test]
fn if_exists_fail_is_the_same_as_absent() {
    let (mut api, _) = api_with_earlier_instance();
    let input = adopting(|d| d["ifExists"] = json!("fail"));
    assert!(task::execute(&OP, &input, &mut api, now()).is_err());
    assert_eq!(api.log.len(), 1);
}

#[test]
fn a_different_spec_is_rejected_naming_each_difference() {
    let mut api = FakeApi::default();
    let mut spec = fixture_spec();
    spec["region"] = json!("nyc2");
    spec["model_deployments"][0]["accelerators"][0]["scale"] = json!(2);
    api.create_directly(NAME, spec);
    let failure = task::execute(&OP, &adopting(|_| {}), &mut api, now()).unwrap_err();
    assert!(!failure.retryable);
    assert!(
        failure
            .message
            .contains("spec.region: \"tor1\" requested, \"nyc2\" found"),
        "{}",
        failure.message
    );
    assert!(
        failure
            .message
            .contains("spec.model_deployments[0].accelerators[0].scale: 1 requested, 2 found"),
        "{}",
        failure.message
    );
    assert_eq!(api.tokens.len(), 0, "nothing minted");
}

#[test]
fn fields_the_api_fills_in_or_the_instance_lacks_are_not_differences() {
    let mut api = FakeApi::default();
    let mut spec = fixture_spec();
    spec["model_deployments"][0]["model_id"] = json!("another-model-id");
    spec["model_deployments"][0]["accelerators"][0]["status"] = json!("active");
    spec.as_object_mut().unwrap().remove("vpc");
    api.create_directly(NAME, spec);
    let out = output(task::execute(&OP, &adopting(|_| {}), &mut api, now()));
    assert_eq!(out["adopted"], true);
}

#[test]
fn an_instance_in_error_or_deleting_is_never_adopted() {
    for status in ["error", "deleting"] {
        let (mut api, _) = api_with_earlier_instance();
        api.instances[0].status = status.into();
        let failure = task::execute(&OP, &adopting(|_| {}), &mut api, now()).unwrap_err();
        assert!(!failure.retryable, "{status}");
        assert!(
            failure.message.contains(&format!("its status is {status}")),
            "{}",
            failure.message
        );
    }
}

#[test]
fn a_taken_name_the_listing_does_not_show_is_retryable() {
    // The name is taken, but the listing shows nothing (just deleted, or another team's).
    let mut api = FakeApi {
        page_size: 0,
        ..FakeApi::default()
    };
    api.create_directly(NAME, fixture_spec());
    let failure = task::execute(&OP, &adopting(|_| {}), &mut api, now()).unwrap_err();
    assert!(failure.retryable, "{}", failure.message);
    assert!(failure.message.contains("is listed"), "{}", failure.message);
}

#[test]
fn a_refused_lookup_is_final_and_names_the_read_scope() {
    for status in [401, 403] {
        let (mut api, _) = api_with_earlier_instance();
        api.lookup_status = Some(status);
        let failure = task::execute(&OP, &adopting(|_| {}), &mut api, now()).unwrap_err();
        assert!(!failure.retryable);
        assert!(
            failure.message.contains("dedicated_inference:read"),
            "{}",
            failure.message
        );
    }
}

#[test]
fn a_refused_mint_still_adopts_without_a_token_and_says_why() {
    let (mut api, id) = api_with_earlier_instance();
    api.mint_status = Some(403);
    let out = output(task::execute(&OP, &adopting(|_| {}), &mut api, now()));
    assert_eq!(out["adopted"], true);
    assert_eq!(out["body"]["dedicated_inference"]["id"], id.as_str());
    assert_eq!(out["body"]["token"], Value::Null);
    let reason = out["tokenNotMinted"].as_str().unwrap();
    assert!(
        reason.contains("dedicated_inference_tokens:create"),
        "{reason}"
    );
}

#[test]
fn a_202_whose_body_broke_off_is_adopted() {
    let mut api = FakeApi::default();
    api.create_faults
        .push_back(Some(CreateFault::ResetInThe202Body));
    let out = output(task::execute(&OP, &adopting(|_| {}), &mut api, now()));
    assert_eq!(out["adopted"], true);
    assert_eq!(creates(&api), 1);
    assert_eq!(api.count(NAME), 1);
}

#[test]
fn a_timeout_after_the_create_is_adopted_when_the_deadline_leaves_time() {
    for fault in [
        CreateFault::TimeoutAfterCreating,
        CreateFault::ResetAfterCreating,
    ] {
        let mut api = FakeApi::default();
        api.create_faults.push_back(Some(fault));
        let out = output(task::execute(&OP, &adopting(|_| {}), &mut api, now()));
        assert_eq!(out["adopted"], true, "{fault:?}");
        assert_eq!(creates(&api), 1);
    }
}

#[test]
fn a_timeout_before_the_api_saw_the_create_is_retryable_and_creates_nothing() {
    let mut api = FakeApi::default();
    api.create_faults
        .push_back(Some(CreateFault::TimeoutBeforeReceiving));
    let failure = task::execute(&OP, &adopting(|_| {}), &mut api, now()).unwrap_err();
    assert!(failure.retryable, "{}", failure.message);
    // The message still says which limit fired.
    assert!(
        failure.message.contains("(readTimeoutSeconds)"),
        "{}",
        failure.message
    );
    assert_eq!(creates(&api), 1, "never a second create in one call");
    assert_eq!(api.count(NAME), 0);
}

#[test]
fn no_time_left_is_retryable_and_says_the_next_attempt_adopts() {
    let mut api = FakeApi::default();
    api.create_faults
        .push_back(Some(CreateFault::TimeoutAfterCreating));
    // The read timeout (10 s) eats the whole deadline (10 s).
    let input = adopting(|d| d["deadlineSeconds"] = json!(10));
    let failure = task::execute(&OP, &input, &mut api, now()).unwrap_err();
    assert!(failure.retryable);
    assert!(
        failure.message.contains("next attempt will adopt"),
        "{}",
        failure.message
    );
    assert_eq!(api.log.len(), 1, "no lookup: {:?}", api.log);
    // And the next attempt does.
    let out = output(task::execute(&OP, &input, &mut api, now()));
    assert_eq!(out["adopted"], true);
}

#[test]
fn every_exchange_gets_what_the_deadline_has_left_and_none_starts_past_it() {
    let (mut api, _) = api_with_earlier_instance();
    api.step = Duration::from_secs(6);
    let input = adopting(|d| d["deadlineSeconds"] = json!(20));
    let out = output(task::execute(&OP, &input, &mut api, now()));
    // The create at 0 s, the listing at 6 s, the item at 12 s; at 18 s, 2 s are left for the
    // mint; a step later nothing could start.
    let sent: Vec<(u64, u64)> = api
        .log
        .iter()
        .map(|r| (r.at.as_secs(), r.deadline.as_secs()))
        .collect();
    assert_eq!(sent, [(0, 20), (6, 14), (12, 8), (18, 2)]);
    assert_eq!(out["adopted"], true);

    let (mut api, _) = api_with_earlier_instance();
    api.step = Duration::from_secs(7);
    let out = output(task::execute(&OP, &input, &mut api, now()));
    assert_eq!(
        api.log.len(),
        3,
        "no mint with under a second left: {:?}",
        api.log
    );
    let reason = out["tokenNotMinted"].as_str().unwrap();
    assert!(reason.contains("deadlineSeconds"), "{reason}");
}

#[test]
fn a_concurrent_creator_of_the_same_spec_is_adopted() {
    let mut api = FakeApi::default();
    api.create_faults
        .push_back(Some(CreateFault::ConcurrentCreator));
    let out = output(task::execute(&OP, &adopting(|_| {}), &mut api, now()));
    assert_eq!(out["adopted"], true);
    assert_eq!(api.count(NAME), 1);
}

#[test]
fn the_name_is_found_on_a_later_page() {
    let mut api = FakeApi {
        page_size: 2,
        ..FakeApi::default()
    };
    for i in 0..5 {
        api.create_directly(&format!("other-{i}"), fixture_spec());
    }
    let id = api.create_directly(NAME, fixture_spec());
    let out = output(task::execute(&OP, &adopting(|_| {}), &mut api, now()));
    assert_eq!(out["body"]["dedicated_inference"]["id"], id.as_str());
    let pages: Vec<_> = api
        .log
        .iter()
        .filter(|r| r.path.contains("page="))
        .collect();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(pages.iter().all(|r| r.path.contains("per_page=200")));
}

#[test]
fn a_next_link_to_another_origin_is_never_followed() {
    let mut api = FakeApi {
        page_size: 1,
        foreign_next: true,
        ..FakeApi::default()
    };
    api.create_directly("other", fixture_spec());
    api.create_directly(NAME, fixture_spec());
    let failure = task::execute(&OP, &adopting(|_| {}), &mut api, now()).unwrap_err();
    assert!(failure.retryable);
    let lookups: Vec<_> = api.log.iter().filter(|r| r.method == "GET").collect();
    assert_eq!(lookups.len(), 1, "only the first page: {lookups:?}");
}

#[test]
fn returned_token_omit_applies_to_the_minted_token() {
    let (mut api, _) = api_with_earlier_instance();
    let input = adopting(|d| d["returnedToken"] = json!("omit"));
    let text = task::execute(&OP, &input, &mut api, now()).unwrap();
    let minted = api.tokens.last().unwrap();
    assert!(!text.contains(minted.as_str()), "{text}");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["adopted"],
        true
    );
}

#[test]
fn test_request_shows_every_exchange_in_order_and_reveals_the_minted_token_once() {
    let (mut api, id) = api_with_earlier_instance();
    let result = task::test_request(&OP, &adopting(|_| {}), &mut api, now());
    assert_eq!(result.outcome, Outcome::Accepted, "{}", result.summary);
    assert!(result.summary.contains("Adopted"), "{}", result.summary);
    assert!(!result.summary.contains("  "), "{}", result.summary);
    let shown: Vec<(String, String)> = result
        .exchanges
        .iter()
        .map(|e| (e.request.method.clone(), e.request.url.clone()))
        .collect();
    let base = "http://127.0.0.1:8080/v2/dedicated-inferences";
    assert_eq!(
        shown,
        [
            ("POST".to_string(), base.to_string()),
            ("GET".into(), format!("{base}?per_page=200&page=1")),
            ("GET".into(), format!("{base}/{id}")),
            ("POST".into(), format!("{base}/{id}/tokens")),
        ]
    );
    let minted = api.tokens.last().unwrap();
    assert_eq!(
        result.revealed_secrets,
        [("token.value".to_string(), minted.clone())]
    );
    let everything_else = format!("{:?} {:?}", result.exchanges, result.summary);
    assert!(!everything_else.contains(minted.as_str()));
    assert!(!everything_else.contains(API_TOKEN));
}

#[test]
fn test_request_on_a_real_api_asks_before_minting() {
    let (mut api, id) = api_with_earlier_instance();
    let real = input_with(|d, _| d["ifExists"] = json!("adopt"));
    let result = task::test_request(&OP, &real, &mut api, now());
    assert_eq!(result.outcome, Outcome::NeedsConfirmation);
    assert!(!result.summary.contains("  "), "{}", result.summary);
    assert!(result.summary.contains(&format!(
        "Would adopt the existing dedicated inference {id}"
    )));
    assert!(
        api.log.iter().all(|r| !r.path.ends_with("/tokens")),
        "{:?}",
        api.log
    );

    let confirmed = input_with(|d, _| {
        d["ifExists"] = json!("adopt");
        d["confirmAdopt"] = json!(id);
    });
    let result = task::test_request(&OP, &confirmed, &mut api, now());
    assert_eq!(result.outcome, Outcome::Accepted, "{}", result.summary);
    assert_eq!(api.tokens.len(), 1, "minted once, after the confirmation");
}

#[test]
fn a_confirmation_of_another_id_mints_nothing() {
    let (mut api, _) = api_with_earlier_instance();
    let input = input_with(|d, _| {
        d["ifExists"] = json!("adopt");
        d["confirmAdopt"] = json!("some-other-id");
    });
    let result = task::test_request(&OP, &input, &mut api, now());
    assert_eq!(result.outcome, Outcome::NeedsConfirmation);
}

#[test]
fn a_misspelled_if_exists_gets_a_did_you_mean() {
    let input = input_with(|d, _| d["ifexists"] = json!("adopt"));
    let result = task::render_with_warnings(&OP, &input).unwrap();
    assert!(
        result
            .warnings
            .iter()
            .any(|w| w.path == "ifexists" && w.message.contains("ifExists")),
        "{:?}",
        result.warnings
    );
}

#[test]
fn an_unknown_if_exists_value_is_an_error_at_its_path() {
    let input = input_with(|d, _| d["ifExists"] = json!("reuse"));
    let diagnostics = task::render(&OP, &input).unwrap_err();
    assert_eq!(diagnostics[0].path, "ifExists");
    assert!(diagnostics[0].message.contains("`fail` or `adopt`"));
}

#[test]
fn describe_lists_if_exists_with_its_values_and_the_ready_definition_adopts() {
    let info = task::describe(&OP);
    let field = info
        .definition_fields
        .iter()
        .find(|f| f.path == "ifExists")
        .unwrap();
    assert_eq!(field.allowed_values, ["fail", "adopt"]);
    assert_eq!(field.default_value.as_deref(), Some("fail"));
    assert!(field.description.contains("dedicated_inference:read"));
    assert!(
        info.description
            .contains("dedicated_inference_tokens:create")
    );
    let ready: Value = serde_json::from_str(&info.default_definition).unwrap();
    assert_eq!(ready["ifExists"], "adopt");
}

#[test]
fn a_hostile_listing_ends_retryable_without_a_trap() {
    use do_dedicated_inference_task::testkit::{Replying, answer, api_error};
    let bodies = [
        "[".repeat(100_000),
        "not json".to_string(),
        r#"{"dedicated_inferences": "no list"}"#.to_string(),
        r#"{"dedicated_inferences": [{"spec": {"name": 5}}, {"name": null}, 7]}"#.to_string(),
    ];
    for body in bodies {
        let mut api = Replying(|r: &do_dedicated_inference_task::transport::WireRequest| {
            Ok(if r.method == "POST" {
                api_error(409, "conflict", "name already in use", &[])
            } else {
                answer(
                    200,
                    &[("content-type", "application/json")],
                    body.as_bytes(),
                )
            })
        });
        let failure = task::execute(&OP, &adopting(|_| {}), &mut api, now()).unwrap_err();
        assert!(failure.retryable, "{}", failure.message);
    }
}
