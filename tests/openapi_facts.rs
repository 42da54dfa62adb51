//! `operation.rs` against DigitalOcean's own API description: the create operation's method,
//! server, path, summary and scope, and every body field (path, JSON type, required, documented
//! values, rules, read-only) against the create request schema in
//! `fixtures/openapi/dedicated-inferences.json` (made by `tools/gen_openapi_facts.py`, see
//! docs/api-facts.md). Drift on either side fails: a field the description gains or changes,
//! or a change to the table that the description does not back.
//!
//! What differs today is listed in `KNOWN_DISAGREEMENTS`; an entry that no longer differs fails
//! too, so that the list only shrinks as `operation.rs` is fixed.

use std::collections::{BTreeMap, BTreeSet};

use do_dedicated_inference_task::operation::{
    BodyField, CREATE_DEDICATED_INFERENCE as OP, FieldType, Note, Rule,
};
use serde_json::Value;

const FIXTURE: &str = include_str!("../fixtures/openapi/dedicated-inferences.json");

/// Where `operation.rs` disagrees with the API description today, by the key the checks below
/// report it under, with why. Remove an entry when `operation.rs` is fixed; add one only with
/// the reason the table has to differ, and say so in docs/api-facts.md.
const KNOWN_DISAGREEMENTS: &[(&str, &str)] = &[];

/// Body fields the table has on purpose although the description does not: docs/operation.md
/// asks for them. Each must really be absent from the description.
const NOT_IN_THE_DESCRIPTION_ON_PURPOSE: &[(&str, &str)] = &[
    (
        "secrets",
        "the Go client (godo) sends the Hugging Face token as `secrets`; accepted with a warning",
    ),
    (
        "spec.model_deployments[].provider_model_id",
        "the clients send it (DigitalOcean's Terraform provider documents it as required for \
         Hugging Face models); optional here, with a warning when missing for them",
    ),
];

/// A body field as the create request schema describes it.
#[derive(Debug)]
struct SchemaField<'a> {
    schema: &'a Value,
    required: bool,
}

impl SchemaField<'_> {
    fn json_type(&self) -> &str {
        self.schema["type"].as_str().unwrap_or("(none)")
    }

    fn has_members(&self) -> bool {
        self.schema.get("properties").is_some()
    }

    fn enum_values(&self) -> BTreeSet<&str> {
        self.schema
            .get("enum")
            .and_then(Value::as_array)
            .map(|values| values.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    fn read_only(&self) -> bool {
        self.schema.get("readOnly") == Some(&Value::Bool(true))
    }

    /// The table's rule this field's schema asks for.
    fn rule_holds(&self, rule: Rule) -> bool {
        let s = self.schema;
        let int = |key: &str| s.get(key).and_then(Value::as_i64);
        let expected_kinds = [
            int("minimum").is_some(),
            int("minItems").is_some(),
            s.get("pattern").is_some() || int("maxLength").is_some(),
            s["additionalProperties"]["type"] == "string",
            s["format"] == "uuid",
        ];
        let kind = match rule {
            Rule::None => return !expected_kinds.contains(&true),
            Rule::MinInteger(min) => (0, int("minimum") == Some(min)),
            Rule::MinItems(min) => (1, int("minItems") == Some(min as i64)),
            Rule::Name { min, max, extra } => (
                2,
                // `+` in the pattern means at least one character.
                s["pattern"].as_str() == Some(&format!("^[a-zA-Z0-9{extra}]+$"))
                    && int("minLength").unwrap_or(1) == min as i64
                    && int("maxLength") == Some(max as i64),
            ),
            Rule::StringValues => (3, true),
            Rule::Uuid => (4, true),
        };
        kind.1
            && expected_kinds
                .iter()
                .enumerate()
                .all(|(i, &asked)| asked == (i == kind.0))
    }
}

/// Every field of an object schema, by the table's path notation (`a.b`, `a[].b`).
fn schema_fields<'a>(schema: &'a Value, prefix: &str, out: &mut BTreeMap<String, SchemaField<'a>>) {
    let required: BTreeSet<&str> = schema["required"]
        .as_array()
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema["properties"].as_object() else {
        return;
    };
    for (name, child) in properties {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match child["type"].as_str() {
            Some("object") => schema_fields(child, &path, out),
            Some("array") => schema_fields(&child["items"], &format!("{path}[]"), out),
            _ => {}
        }
        out.insert(
            path,
            SchemaField {
                schema: child,
                required: required.contains(name.as_str()),
            },
        );
    }
}

fn fixture() -> Value {
    serde_json::from_str(FIXTURE).expect("the fixture is JSON")
}

/// Every disagreement between `operation.rs` and the description: key -> what differs.
fn disagreements(facts: &Value) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let create = &facts["operations"]["create"];
    let mut differ = |key: String, ours: String, theirs: String| {
        found.insert(
            key,
            format!("operation.rs has {ours}; the description has {theirs}"),
        );
    };
    let text = |v: &Value| v.as_str().unwrap_or("(none)").to_string();

    // The operation.
    let scopes: Vec<&str> = create["scopes"]
        .as_array()
        .map(|s| s.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let item_path =
        text(&facts["operations"]["get"]["path"]).replace("{dedicated_inference_id}", "{id}");
    for (key, ours, theirs) in [
        ("method", OP.method.to_string(), text(&create["method"])),
        ("server", OP.server.to_string(), text(&facts["server"])),
        ("path", OP.path.to_string(), text(&create["path"])),
        ("summary", OP.summary.to_string(), text(&create["summary"])),
        (
            "scope",
            OP.texts.required_scope.to_string(),
            scopes.join(" "),
        ),
        ("resource_path", OP.answer.item_path.to_string(), item_path),
    ] {
        if ours != theirs {
            differ(
                key.to_string(),
                format!("{key} {ours:?}"),
                format!("{key} {theirs:?}"),
            );
        }
    }
    let content_type = OP
        .headers
        .iter()
        .find(|h| h.name == "Content-Type")
        .and_then(|h| h.default_value);
    if content_type != create["request"]["content_type"].as_str() {
        differ(
            "content_type".into(),
            format!("Content-Type {content_type:?}"),
            format!("{}", create["request"]["content_type"]),
        );
    }
    let accepted = &create["responses"]["202"]["schema"]["properties"];
    if accepted.get(OP.answer.resource_member).is_none() {
        differ(
            "resource_member".into(),
            format!("resource_member {}", OP.answer.resource_member),
            "no such member in the 202 body".into(),
        );
    }
    if let Some(secret) = OP.answer.one_time_secret {
        let secret = secret.path;
        let pointer = format!("/{}", secret.replace('.', "/properties/"));
        if accepted.pointer(&pointer).is_none() {
            differ(
                "one_time_secret".into(),
                format!("one_time_secret {secret}"),
                "no such field in the 202 body".into(),
            );
        }
    }

    // The body fields.
    let mut theirs = BTreeMap::new();
    schema_fields(&create["request"]["schema"], "", &mut theirs);
    let on_purpose: BTreeSet<&str> = NOT_IN_THE_DESCRIPTION_ON_PURPOSE
        .iter()
        .map(|(path, _)| *path)
        .collect();
    let ours: BTreeMap<&str, &BodyField> = OP.body_fields.iter().map(|f| (f.path, f)).collect();
    for path in ours.keys() {
        if !theirs.contains_key(*path) && !on_purpose.contains(path) {
            differ(
                format!("extra:{path}"),
                format!("field `{path}`"),
                "no such field".into(),
            );
        }
    }
    for (path, schema) in &theirs {
        let Some(field) = ours.get(path.as_str()) else {
            differ(
                format!("missing:{path}"),
                "no such field".into(),
                format!("`{path}` ({})", schema.json_type()),
            );
            continue;
        };
        if field.field_type.name() != schema.json_type() {
            differ(
                format!("type:{path}"),
                format!("`{path}` of type {}", field.field_type.name()),
                format!("type {}", schema.json_type()),
            );
        }
        // Object: members listed as fields; OpenObject: free-form members.
        let listed = matches!(field.field_type, FieldType::Object);
        if schema.json_type() == "object" && listed != schema.has_members() {
            differ(
                format!("members:{path}"),
                format!("`{path}` as {:?}", field.field_type),
                if schema.has_members() {
                    "listed members".into()
                } else {
                    "free-form members".into()
                },
            );
        }
        if field.required != schema.required {
            differ(
                format!("required:{path}"),
                format!("`{path}` required: {}", field.required),
                format!("required: {}", schema.required),
            );
        }
        let allowed: BTreeSet<&str> = field.allowed_values.iter().copied().collect();
        if allowed != schema.enum_values() {
            differ(
                format!("enum:{path}"),
                format!("`{path}` values {allowed:?}"),
                format!("enum {:?}", schema.enum_values()),
            );
        }
        if !schema.rule_holds(field.rule) {
            differ(
                format!("rule:{path}"),
                format!("`{path}` rule {:?}", field.rule),
                format!("schema {}", schema.schema),
            );
        }
        if (field.note == Note::ReadOnly) != schema.read_only() {
            differ(
                format!("read-only:{path}"),
                format!("`{path}` note {:?}", field.note),
                format!("readOnly: {}", schema.read_only()),
            );
        }
    }
    for path in &on_purpose {
        if theirs.contains_key(*path) {
            differ(
                format!("on-purpose:{path}"),
                format!("`{path}` listed as absent from the description"),
                "it now describes it: drop it from NOT_IN_THE_DESCRIPTION_ON_PURPOSE".into(),
            );
        }
    }
    found
}

#[test]
fn operation_rs_agrees_with_the_description_except_the_known_disagreements() {
    let found = disagreements(&fixture());
    let known: BTreeMap<&str, &str> = KNOWN_DISAGREEMENTS.iter().copied().collect();
    let new: Vec<String> = found
        .iter()
        .filter(|(key, _)| !known.contains_key(key.as_str()))
        .map(|(key, what)| format!("  {key}: {what}"))
        .collect();
    let fixed: Vec<String> = known
        .iter()
        .filter(|(key, _)| !found.contains_key(**key))
        .map(|(key, why)| format!("  {key} ({why})"))
        .collect();
    assert!(
        new.is_empty() && fixed.is_empty(),
        "operation.rs and fixtures/openapi/dedicated-inferences.json disagree where \
         KNOWN_DISAGREEMENTS does not say so:\n{}\nlisted in KNOWN_DISAGREEMENTS but no longer \
         differing (remove them):\n{}",
        new.join("\n"),
        fixed.join("\n"),
    );
}

#[test]
fn the_walk_sees_every_documented_field() {
    // The checks above are only as good as the walk: it must reach the nested fields.
    let facts = fixture();
    let mut fields = BTreeMap::new();
    schema_fields(
        &facts["operations"]["create"]["request"]["schema"],
        "",
        &mut fields,
    );
    for path in [
        "access_tokens",
        "spec.vpc.uuid",
        "spec.model_deployments[].model_slug",
        "spec.model_deployments[].accelerators[].scale",
    ] {
        assert!(
            fields.contains_key(path),
            "{path} not found in {:?}",
            fields.keys()
        );
    }
    assert!(fields["spec.model_deployments[].accelerators[].scale"].required);
    assert!(!fields["spec.model_deployments[].accelerators"].required);
}

#[test]
fn a_drift_on_either_side_is_reported() {
    // A description that gained a field, changed a type and lost an enum value: each is found.
    let mut facts = fixture();
    let spec = &mut facts["operations"]["create"]["request"]["schema"]["properties"]["spec"];
    spec["properties"]["new_field"] = serde_json::json!({"type": "string"});
    spec["properties"]["version"]["type"] = "string".into();
    spec["properties"]["region"]["enum"] = serde_json::json!(["atl1", "nyc2"]);
    spec["required"] = serde_json::json!(["name"]);
    let found = disagreements(&facts);
    for key in [
        "missing:spec.new_field",
        "type:spec.version",
        "enum:spec.region",
        "required:spec.region",
    ] {
        assert!(found.contains_key(key), "{key} not reported: {found:?}");
    }
}

#[test]
fn the_fixture_names_its_source() {
    let source = &fixture()["source"];
    assert_eq!(
        source["repository"],
        "https://github.com/digitalocean/openapi"
    );
    let commit = source["commit"].as_str().unwrap_or_default();
    assert!(
        commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit()),
        "{commit}"
    );
    assert!(
        source["files"]
            .as_object()
            .is_some_and(|files| files.contains_key(
                "specification/resources/dedicated_inferences/dedicated_inferences_create.yml"
            ))
    );
}
