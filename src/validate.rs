//! Checks a rendered body against the operation's field table (`operation.rs`), and finds the
//! secrets in it (every value under a secret field, at any depth). The rules are all data;
//! this walker knows nothing about DigitalOcean.

use serde_json::{Map, Value};

use crate::diagnostic::{Diagnostics, join_index, join_key};
use crate::json::json_text;
use crate::operation::{BodyField, FieldType, Note, Operation, Rule};
use crate::secrets::SecretSet;
use crate::template::{abbreviate, json_kind};

/// One walk over the body: what it checks against and what it collects.
struct Walk<'a> {
    operation: &'a Operation,
    diagnostics: &'a mut Diagnostics,
    secrets: &'a mut SecretSet,
}

/// Validates `body` and registers its secrets; every problem is a diagnostic whose path starts
/// with `prefix` (`httpRequest.body`).
pub fn validate_body(
    operation: &Operation,
    body: &Value,
    prefix: &str,
    diagnostics: &mut Diagnostics,
    secrets: &mut SecretSet,
) {
    let mut walk = Walk {
        operation,
        diagnostics,
        secrets,
    };
    match body {
        Value::Object(members) => walk.object(members, "", prefix),
        other => walk.diagnostics.error(
            prefix,
            format!(
                "the body must be a JSON object, found {}",
                describe_found(other, false)
            ),
        ),
    }
}

impl Walk<'_> {
    /// `template` is the table's path of this object (`spec.model_deployments[]`), `path` the
    /// concrete one (`httpRequest.body.spec.model_deployments[0]`).
    fn object(&mut self, members: &Map<String, Value>, template: &str, path: &str) {
        // The table's fields directly under `template`, with their keys, found once per object:
        // searching the table again for every member was a third of a large render's time.
        let children: Vec<(&BodyField, &str)> = self
            .operation
            .body_fields
            .iter()
            .filter_map(|f| Some((f, child_key(f.path, template)?)))
            .collect();
        for &(field, key) in &children {
            let member_path = join_key(path, key);
            match members.get(key) {
                // An optional null is what "absent" looks like after `omitempty`-style rendering.
                None | Some(Value::Null) if !field.required => {
                    if let Note::ExpectedWhen {
                        field: sibling,
                        value,
                        why,
                    } = field.note
                        && members.get(sibling).and_then(Value::as_str) == Some(value)
                    {
                        self.diagnostics.warning(
                        &member_path,
                        format!(
                            "`{key}` is expected when `{sibling}` is `{value}` ({why}); the API \
                             may refuse the request without it"
                        ),
                    );
                    }
                }
                None => self.diagnostics.error(&member_path, missing_message(field)),
                Some(value) => self.field(field, value, &member_path),
            }
        }
        for key in members.keys() {
            if !children.iter().any(|&(_, child)| child == key) {
                let within = if template.is_empty() {
                    "the body".to_string()
                } else {
                    format!("`{template}`")
                };
                self.diagnostics.warning(
                join_key(path, key),
                format!(
                    "`{key}` is not a documented field of {within}; the API may ignore or reject it"
                ),
            );
            }
        }
    }

    fn field(&mut self, field: &BodyField, value: &Value, path: &str) {
        let secret = field.is_secret();
        if secret && let Err(refused) = self.secrets.add_leaves(value) {
            self.diagnostics.error(path, format!("the value {refused}"));
        }
        if !has_type(value, field.field_type) {
            self.diagnostics.error(
                path,
                format!(
                    "expected {} {}, found {}",
                    article(field.field_type.name()),
                    field.field_type.name(),
                    describe_found(value, secret)
                ),
            );
            return;
        }
        check_rule(field, value, path, self.diagnostics);
        if let Value::String(s) = value
            && !field.allowed_values.is_empty()
            && !field.allowed_values.contains(&s.as_str())
        {
            self.diagnostics.warning(
            path,
            format!(
                "`{}` is not a documented value ({}); the documented list grows, so it is sent as is",
                abbreviate(s, 60),
                field.allowed_values.join(", ")
            ),
        );
        }
        match field.note {
            Note::ReadOnly => self.diagnostics.warning(
                path,
                format!(
                    "`{}` is read-only: the API sets it, remove it from the request",
                    last_key(field.path)
                ),
            ),
            Note::SecretAlias { documented, why } => self.diagnostics.warning(
                path,
                format!(
                    "`{}` is accepted ({why}) and kept secret, but the documented key is \
                 `{documented}`",
                    last_key(field.path)
                ),
            ),
            Note::None | Note::Secret | Note::ExpectedWhen { .. } => {}
        }
        match (field.field_type, value) {
            (FieldType::Object, Value::Object(members)) => self.object(members, field.path, path),
            (FieldType::ArrayOfObjects, Value::Array(items)) => {
                let item_template = format!("{}[]", field.path);
                for (i, item) in items.iter().enumerate() {
                    let item_path = join_index(path, i);
                    match item {
                        Value::Object(members) => self.object(members, &item_template, &item_path),
                        other => self.diagnostics.error(
                            item_path,
                            format!("expected an object, found {}", describe_found(other, false)),
                        ),
                    }
                }
            }
            _ => {}
        }
    }
}

fn check_rule(field: &BodyField, value: &Value, path: &str, diagnostics: &mut Diagnostics) {
    match (field.rule, value) {
        (Rule::MinInteger(min), Value::Number(n)) if n.as_i64().is_some_and(|v| v < min) => {
            diagnostics.error(path, format!("must be at least {min}, found {n}"));
        }
        (Rule::MinItems(min), Value::Array(items)) if items.len() < min => {
            diagnostics.error(
                path,
                format!(
                    "needs at least {min} item{}, found {}",
                    plural(min),
                    items.len()
                ),
            );
        }
        (Rule::Name { min, max, extra }, Value::String(s)) => {
            let length = s.chars().count();
            let bad = s
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || extra.contains(*c)));
            let allowed = format!(
                "{min} to {max} characters of ASCII letters, digits{}",
                extra
                    .chars()
                    .map(|c| format!(", `{c}`"))
                    .collect::<String>()
            );
            if length < min || length > max {
                diagnostics.error(
                    path,
                    format!("must be {allowed}; found {length} characters"),
                );
            } else if let Some(bad) = bad {
                diagnostics.error(
                    path,
                    format!(
                        "must be {allowed}; `{}` contains `{bad}`",
                        abbreviate(s, 60)
                    ),
                );
            }
        }
        (Rule::Uuid, Value::String(s)) if !is_uuid(s) => {
            diagnostics.error(
                path,
                format!(
                    "must be a UUID (8-4-4-4-12 hexadecimal digits), found `{}`",
                    abbreviate(s, 60)
                ),
            );
        }
        (Rule::StringValues, Value::Object(members)) => {
            for (key, member) in members {
                if !member.is_string() {
                    diagnostics.error(
                        join_key(path, key),
                        format!("expected a string, found {}", describe_found(member, true)),
                    );
                }
            }
        }
        _ => {}
    }
}

/// RFC 9562's text form: 8-4-4-4-12 hexadecimal digits.
fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn has_type(value: &Value, field_type: FieldType) -> bool {
    match field_type {
        FieldType::String => value.is_string(),
        FieldType::Integer => value.is_i64() || value.is_u64(),
        FieldType::Boolean => value.is_boolean(),
        FieldType::Object | FieldType::OpenObject => value.is_object(),
        FieldType::ArrayOfObjects => value.is_array(),
    }
}

fn missing_message(field: &BodyField) -> String {
    let mut message = format!(
        "`{}` is required: {} {} ({})",
        last_key(field.path),
        article(field.field_type.name()),
        field.field_type.name(),
        field.description.trim_end_matches('.')
    );
    if !field.allowed_values.is_empty() {
        message.push_str(&format!(
            "; documented values: {}",
            field.allowed_values.join(", ")
        ));
    }
    message
}

/// "a string (\"2\")": the kind, plus the value itself when it is short and not secret.
fn describe_found(value: &Value, secret: bool) -> String {
    let kind = json_kind(value);
    if secret || value.is_null() || value.is_object() || value.is_array() {
        return kind.to_string();
    }
    format!("{kind} ({})", abbreviate(&json_text(value), 40))
}

/// The last key of `path` when its parent (all before its last `.`, "" when it has none) is
/// `template`: a prefix test and one `memchr`, cheaper than splitting the path from the end.
fn child_key<'p>(path: &'p str, template: &str) -> Option<&'p str> {
    let key = if template.is_empty() {
        path
    } else {
        path.strip_prefix(template)?.strip_prefix('.')?
    };
    (!key.as_bytes().contains(&b'.')).then_some(key)
}

fn last_key(path: &str) -> &str {
    path.rsplit_once('.').map_or(path, |(_, key)| key)
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::{Diagnostic, Severity};
    use crate::operation::CREATE_DEDICATED_INFERENCE;
    use serde_json::json;

    #[test]
    fn child_key_is_the_last_key_under_the_parent() {
        let parent = |path: &'static str| path.rsplit_once('.').map_or("", |(p, _)| p);
        let fields = CREATE_DEDICATED_INFERENCE.body_fields;
        for template in std::iter::once("").chain(fields.iter().map(|f| f.path)) {
            for field in fields {
                for template in [template.to_string(), format!("{template}[]")] {
                    let expected = (parent(field.path) == template).then(|| last_key(field.path));
                    assert_eq!(
                        child_key(field.path, &template),
                        expected,
                        "{} in {template}",
                        field.path
                    );
                }
            }
        }
        assert_eq!(child_key("spec.vpcx", "spec.vpc"), None);
        assert_eq!(child_key("spec", ""), Some("spec"));
    }

    fn valid() -> Value {
        json!({
            "spec": {
                "version": 1, "name": "support-llm", "region": "tor1",
                "vpc": {"uuid": "5a4981aa-9653-4bd1-bef5-d6bff52042e4"},
                "enable_public_endpoint": true,
                "model_deployments": [{
                    "model_slug": "meta-llama/Llama-3.1-8B-Instruct", "model_provider": "hugging_face",
                    "provider_model_id": "meta-llama/Llama-3.1-8B-Instruct",
                    "accelerators": [{"type": "prefill_decode", "scale": 1, "accelerator_slug": "gpu-h100x1-80gb"}]
                }]
            },
            "access_tokens": {"hugging_face_token": "hf_x"}
        })
    }

    fn check(body: &Value) -> Vec<Diagnostic> {
        let mut d = Diagnostics::new();
        validate_body(
            &CREATE_DEDICATED_INFERENCE,
            body,
            "httpRequest.body",
            &mut d,
            &mut SecretSet::new(),
        );
        d.to_vec()
    }

    fn only(body: &Value) -> Diagnostic {
        let d = check(body);
        assert_eq!(d.len(), 1, "{d:#?}");
        d.into_iter().next().unwrap()
    }

    #[test]
    fn the_documented_example_is_valid() {
        assert_eq!(check(&valid()), vec![]);
    }

    #[test]
    fn missing_required_fields_name_their_path() {
        let mut b = valid();
        b["spec"].as_object_mut().unwrap().remove("region");
        let d = only(&b);
        assert_eq!(
            (d.severity, d.path.as_str()),
            (Severity::Error, "httpRequest.body.spec.region")
        );
        assert!(d.message.contains("atl1, nyc2, tor1"), "{}", d.message);

        let mut b = valid();
        b["spec"]["model_deployments"][0]["accelerators"][0]
            .as_object_mut()
            .unwrap()
            .remove("scale");
        assert_eq!(
            only(&b).path,
            "httpRequest.body.spec.model_deployments[0].accelerators[0].scale"
        );
        assert_eq!(only(&json!({})).path, "httpRequest.body.spec");
    }

    #[test]
    fn wrong_types_say_what_was_found() {
        let mut b = valid();
        b["spec"]["model_deployments"][0]["accelerators"][0]["scale"] = json!("2");
        let d = only(&b);
        assert_eq!(d.message, "expected an integer, found a string (\"2\")");
        b["spec"]["model_deployments"][0]["accelerators"][0]["scale"] = json!(1.5);
        assert_eq!(
            only(&b).message,
            "expected an integer, found a number (1.5)"
        );
        b["spec"]["model_deployments"][0]["accelerators"][0]["scale"] = json!(0);
        assert_eq!(only(&b).message, "must be at least 1, found 0");
        let mut b = valid();
        b["spec"]["enable_public_endpoint"] = json!("true");
        assert_eq!(
            only(&b).path,
            "httpRequest.body.spec.enable_public_endpoint"
        );
        assert!(
            check(&json!([]))
                .first()
                .unwrap()
                .message
                .contains("must be a JSON object")
        );
    }

    #[test]
    fn empty_deployments_and_bad_items() {
        let mut b = valid();
        b["spec"]["model_deployments"] = json!([]);
        assert_eq!(only(&b).message, "needs at least 1 item, found 0");
        b["spec"]["model_deployments"] = json!(["x"]);
        assert_eq!(only(&b).path, "httpRequest.body.spec.model_deployments[0]");
    }

    #[test]
    fn vpc_uuid_must_be_a_uuid() {
        let mut b = valid();
        b["spec"]["vpc"]["uuid"] = json!("my-vpc");
        let d = only(&b);
        assert_eq!(
            (d.severity, d.path.as_str()),
            (Severity::Error, "httpRequest.body.spec.vpc.uuid")
        );
        assert!(d.message.contains("must be a UUID"), "{}", d.message);
        b["spec"]["vpc"]["uuid"] = json!("5A4981AA-9653-4BD1-BEF5-D6BFF52042E4");
        assert!(check(&b).is_empty());
    }

    #[test]
    fn name_pattern_and_length() {
        let mut b = valid();
        b["spec"]["name"] = json!("support llm");
        assert!(only(&b).message.contains("contains ` `"));
        b["spec"]["name"] = json!("");
        assert!(only(&b).message.contains("found 0 characters"));
        b["spec"]["name"] = json!("a".repeat(256));
        assert!(only(&b).message.contains("found 256 characters"));
        b["spec"]["name"] = json!("a".repeat(255));
        assert!(check(&b).is_empty());
    }

    #[test]
    fn undocumented_values_warn_and_read_only_warns() {
        let mut b = valid();
        b["spec"]["region"] = json!("fra1");
        b["spec"]["model_deployments"][0]["model_provider"] = json!("digitalocean");
        b["spec"]["model_deployments"][0]["accelerators"][0]["status"] = json!("active");
        let d = check(&b);
        assert!(d.iter().all(|d| d.severity == Severity::Warning), "{d:#?}");
        assert_eq!(d.len(), 3);
        assert!(
            d.iter()
                .any(|d| d.path.ends_with("accelerators[0].status")
                    && d.message.contains("read-only"))
        );
    }

    #[test]
    fn secrets_alias_warns_and_unknown_fields_warn() {
        let mut b = valid();
        b.as_object_mut().unwrap().remove("access_tokens");
        b["secrets"] = json!({"hugging_face_token": "hf_x"});
        b["spec"]["regoin"] = json!("tor1");
        let d = check(&b);
        assert_eq!(d.len(), 2, "{d:#?}");
        assert!(
            d.iter()
                .any(|d| d.path == "httpRequest.body.secrets"
                    && d.message.contains("`access_tokens`"))
        );
        assert!(
            d.iter().any(
                |d| d.path == "httpRequest.body.spec.regoin" && d.severity == Severity::Warning
            )
        );
    }

    #[test]
    fn provider_model_id_is_expected_for_hugging_face_models() {
        let mut b = valid();
        b["spec"]["model_deployments"][0]
            .as_object_mut()
            .unwrap()
            .remove("provider_model_id");
        let d = only(&b);
        assert_eq!(
            (d.severity, d.path.as_str()),
            (
                Severity::Warning,
                "httpRequest.body.spec.model_deployments[0].provider_model_id"
            )
        );
        assert!(
            d.message
                .contains("when `model_provider` is `hugging_face`"),
            "{}",
            d.message
        );
        b["spec"]["model_deployments"][0]["model_provider"] = json!("digitalocean");
        assert_eq!(
            only(&b).path,
            "httpRequest.body.spec.model_deployments[0].model_provider"
        );
    }

    #[test]
    fn secrets_are_collected_at_any_depth() {
        let mut secrets = SecretSet::new();
        let mut d = Diagnostics::new();
        let mut b = valid();
        b["secrets"] = json!({"hugging_face_token": "hf_go_spelling"});
        validate_body(
            &CREATE_DEDICATED_INFERENCE,
            &b,
            "body",
            &mut d,
            &mut secrets,
        );
        assert_eq!(
            secrets.mask_str("hf_x and hf_go_spelling"),
            "•••••••• and ••••••••"
        );
        // A secret that cannot be masked reliably is refused where it is.
        b["access_tokens"]["huge"] = json!("x".repeat(5000));
        let mut d = Diagnostics::new();
        validate_body(
            &CREATE_DEDICATED_INFERENCE,
            &b,
            "body",
            &mut d,
            &mut SecretSet::new(),
        );
        assert!(
            d.to_vec()
                .iter()
                .any(|d| d.path == "body.access_tokens" && d.severity == Severity::Error)
        );
    }

    #[test]
    fn secret_values_are_never_quoted() {
        let mut b = valid();
        b["access_tokens"]["hugging_face_token"] = json!(12345);
        let d = only(&b);
        assert_eq!(d.path, "httpRequest.body.access_tokens.hugging_face_token");
        assert_eq!(d.message, "expected a string, found an integer");
    }

    #[test]
    fn optional_null_is_absent_required_null_is_an_error() {
        let mut b = valid();
        b["spec"]["model_deployments"][0]["model_id"] = Value::Null;
        assert!(check(&b).is_empty());
        b["spec"]["name"] = Value::Null;
        assert_eq!(only(&b).message, "expected a string, found null");
    }
}
