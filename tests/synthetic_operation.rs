//! "A new API operation is mostly data": a second, synthetic operation, a `PATCH` with a secret
//! nested two objects deep and no value returned once, defined here as data only, renders,
//! validates, masks and summarises through the same code as the real one.

use do_dedicated_inference_task::diagnostic::Severity;
use do_dedicated_inference_task::operation::{
    Answer, BodyField, FieldType, HeaderField, NameTaken, Note, Operation, Rule, Texts,
};
use do_dedicated_inference_task::outcome::{FailureKind, Outcome};
use do_dedicated_inference_task::request::TaskInput;
use do_dedicated_inference_task::task;
use do_dedicated_inference_task::testkit::{ScriptedTransport, answer, api_error, input_for, now};
use serde_json::{Value, json};

const fn field(path: &'static str, field_type: FieldType, required: bool, note: Note) -> BodyField {
    BodyField {
        path,
        field_type,
        required,
        description: "",
        allowed_values: &[],
        rule: Rule::None,
        note,
    }
}

const PASSWORD: &str = "s3cret-widget-password";

static UPDATE_WIDGET: Operation = Operation {
    method: http::Method::PATCH,
    server: "https://api.example.com",
    path: "/v1/widgets/{id}",
    summary: "Update a widget",
    description: "Updates a widget's configuration.",
    headers: &[
        HeaderField {
            name: "Content-Type",
            required: true,
            description: "",
            default_value: Some("application/json"),
            from_secret: None,
        },
        HeaderField {
            name: "X-Api-Key",
            required: true,
            description: "",
            default_value: None,
            from_secret: Some(("key", "")),
        },
    ],
    body_fields: &[
        field("config", FieldType::Object, true, Note::None),
        field("config.size", FieldType::Integer, true, Note::None),
        field("config.backend", FieldType::Object, false, Note::None),
        field(
            "config.backend.password",
            FieldType::String,
            true,
            Note::Secret,
        ),
    ],
    answer: Answer {
        resource_member: "widget",
        name_paths: &["label"],
        item_path: "/v1/widgets/{id}",
        pending_statuses: &["updating"],
        failed_statuses: &["broken"],
        one_time_secret: None,
        name_taken: NameTaken {
            statuses: &[],
            ids: &[],
            words: &[],
            subjects: &[],
            sentence: "",
        },
    },
    // A sibling operation need not adopt: `ifExists: adopt` is refused for it.
    adoption: None,
    texts: Texts {
        provider: "Example",
        resource: "widget",
        done: "updated",
        required_scope: "widgets:write",
        find: "read it with GET /v1/widgets/{id}",
        follow: "Follow it with GET {item} until it is ready.",
        after_success: None,
    },
    default_connect_timeout_s: 5,
    default_read_timeout_s: 10,
    default_deadline_s: 30,
    default_definition: r#"{
        "httpRequest": {
            "url": "https://api.example.com/v1/widgets/${$.id}",
            "method": "PATCH",
            "body": {"config": {"size": "${$.size}", "backend": {"password": "${$.password}"}}}
        }
    }"#,
    example_parameters: r#"{"id": "w-1", "size": 3, "password": "s3cret-widget-password"}"#,
};

fn input(edit: impl FnOnce(&mut Value, &mut Value)) -> TaskInput {
    TaskInput {
        secrets: vec![("key".into(), "key-0123456789".into())],
        ..input_for(&UPDATE_WIDGET, edit)
    }
}

#[test]
fn it_renders_with_its_method_headers_and_url() {
    let preview = task::render(&UPDATE_WIDGET, &input(|_, _| {})).unwrap();
    assert_eq!(preview.method, "PATCH");
    assert_eq!(preview.url, "https://api.example.com/v1/widgets/w-1");
    assert!(
        preview
            .headers
            .contains(&("x-api-key".into(), "••••••••".into())),
        "{:?}",
        preview.headers
    );
    assert!(
        preview
            .headers
            .contains(&("content-type".into(), "application/json".into()))
    );
    // The nested secret is masked in the preview.
    let body: Value = serde_json::from_str(preview.body.as_deref().unwrap()).unwrap();
    assert_eq!(body["config"]["backend"]["password"], "••••••••");
    assert_eq!(body["config"]["size"], 3);
}

#[test]
fn it_validates_against_its_own_table() {
    let wrong_method = task::render(
        &UPDATE_WIDGET,
        &input(|d, _| d["httpRequest"]["method"] = json!("POST")),
    );
    let diagnostics = wrong_method.unwrap_err();
    assert_eq!(diagnostics[0].path, "httpRequest.method");
    assert!(
        diagnostics[0].message.contains("this task performs PATCH"),
        "{}",
        diagnostics[0].message
    );

    let missing = task::render(
        &UPDATE_WIDGET,
        &input(|d, _| {
            d["httpRequest"]["body"]["config"]["backend"] = json!({});
        }),
    );
    let d = &missing.unwrap_err()[0];
    assert_eq!(
        (d.severity, d.path.as_str()),
        (Severity::Error, "httpRequest.body.config.backend.password")
    );
    // A DigitalOcean URL is another host for this operation: the key would go there.
    let elsewhere = task::test_request(
        &UPDATE_WIDGET,
        &input(|d, _| d["httpRequest"]["url"] = json!("https://api.digitalocean.com/v1/widgets/w")),
        &mut ScriptedTransport::answering(Ok(answer(200, &[], b"{}"))),
        now(),
    );
    assert!(
        elsewhere
            .diagnostics
            .iter()
            .any(|d| d.message.contains("not `api.example.com`"))
    );
}

#[test]
fn its_nested_secret_is_masked_wherever_it_is_echoed() {
    let echo = format!("config.backend.password {PASSWORD} is weak");
    let mut api = ScriptedTransport::answering(Ok(api_error(422, "invalid", &echo, &[])));
    let result = task::test_request(&UPDATE_WIDGET, &input(|_, _| {}), &mut api, now());
    let failure = task::execute(&UPDATE_WIDGET, &input(|_, _| {}), &mut api, now()).unwrap_err();
    let everything = format!("{result:?} {failure:?}");
    assert!(!everything.contains(PASSWORD), "{everything}");
    assert!(
        result
            .summary
            .contains("config.backend.password •••••••• is weak"),
        "{}",
        result.summary
    );
    // What went on the wire kept it.
    let sent: Value = serde_json::from_str(&api.sent[0].body).unwrap();
    assert_eq!(sent["config"]["backend"]["password"], PASSWORD);
}

#[test]
fn it_summarises_in_its_own_words() {
    let updated = answer(
        200,
        &[("content-type", "application/json")],
        br#"{"widget":{"id":"w-1","label":"big one","status":"updating"}}"#,
    );
    let mut api = ScriptedTransport::answering(Ok(updated));
    let result = task::test_request(&UPDATE_WIDGET, &input(|_, _| {}), &mut api, now());
    assert_eq!(result.outcome, Outcome::Succeeded);
    assert_eq!(
        result.summary,
        "200 OK: the widget `big one` was updated (id w-1), status updating: not ready yet. Follow \
         it with GET /v1/widgets/w-1 until it is ready."
    );
    assert!(result.revealed_secrets.is_empty());

    let mut api = ScriptedTransport::answering(Ok(api_error(503, "down", "Unavailable", &[])));
    let failure = task::execute(&UPDATE_WIDGET, &input(|_, _| {}), &mut api, now()).unwrap_err();
    assert_eq!(
        (failure.kind, failure.retryable),
        (FailureKind::HttpStatus, true)
    );
    assert!(
        failure.message.starts_with("503 Service Unavailable: Example failed to process the request: Unavailable (down). The widget may have been updated: read it with GET /v1/widgets/{id} before running the step again."),
        "{}",
        failure.message
    );
    for word in ["DigitalOcean", "dedicated", "token", "billed"] {
        assert!(!format!("{result:?}{failure:?}").contains(word), "{word}");
    }
    let info = task::describe(&UPDATE_WIDGET);
    assert_eq!((info.method.as_str(), info.body_fields.len()), ("PATCH", 4));
}
