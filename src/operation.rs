//! The API operation this task performs, as data: method, server, path, headers, body fields
//! and their rules, secret subtrees, and the ready-to-edit definition the editor starts from.
//!
//! Everything DigitalOcean-specific lives here. The validator, the renderer and the reports
//! read these tables; adding a sibling operation means adding another `Operation` value.

/// JSON types a body field may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    String,
    Integer,
    Boolean,
    /// An object whose members are listed as fields of their own; others earn a warning.
    Object,
    /// An object whose members are free-form (provider tokens, workload configuration).
    OpenObject,
    /// An array whose items are objects described by `<path>[].<member>` fields.
    ArrayOfObjects,
}

impl FieldType {
    pub fn name(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Integer => "integer",
            FieldType::Boolean => "boolean",
            FieldType::Object | FieldType::OpenObject => "object",
            FieldType::ArrayOfObjects => "array",
        }
    }
}

/// A rule beyond the JSON type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    None,
    /// Integer at least this.
    MinInteger(i64),
    /// Array with at least this many items.
    MinItems(usize),
    /// String of `min..=max` characters, each ASCII alphanumeric or in `extra`.
    Name {
        min: usize,
        max: usize,
        extra: &'static str,
    },
    /// Values are strings (provider tokens).
    StringValues,
}

/// How far a documented value list binds. Documented lists grow (DigitalOcean's own examples
/// use `model_provider: "digitalocean"`), so other values warn instead of failing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Note {
    None,
    /// Read-only in the API's schema: sending it earns a warning.
    ReadOnly,
    /// Everything below is secret and masked in every output.
    Secret,
    /// Secret, accepted under a spelling other than the documented one (`alias_of`).
    SecretAlias {
        documented: &'static str,
    },
}

#[derive(Clone, Copy, Debug)]
pub struct BodyField {
    /// `spec.model_deployments[].accelerators[].scale`: `[]` stands for every array item.
    pub path: &'static str,
    pub field_type: FieldType,
    pub required: bool,
    pub description: &'static str,
    pub allowed_values: &'static [&'static str],
    pub rule: Rule,
    pub note: Note,
}

#[derive(Clone, Copy, Debug)]
pub struct HeaderField {
    pub name: &'static str,
    pub required: bool,
    pub description: &'static str,
    pub default_value: Option<&'static str>,
}

#[derive(Debug)]
pub struct Operation {
    pub method: &'static str,
    pub server: &'static str,
    /// Host of `server`: requests elsewhere (other than loopback stand-ins) earn a warning,
    /// since the API token would go to that host.
    pub host: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub description: &'static str,
    pub headers: &'static [HeaderField],
    pub body_fields: &'static [BodyField],
    /// Who answers, in sentences: "DigitalOcean".
    pub provider: &'static str,
    /// The scope the API token needs.
    pub required_scope: &'static str,
    /// The resource's name in sentences: "dedicated inference".
    pub resource: &'static str,
    /// The member of a success body that holds the new resource.
    pub resource_member: &'static str,
    /// Where a success body carries a value returned only once, as a dotted path.
    pub one_time_secret: Option<&'static str>,
    /// The new resource's own path (`{id}` is its id): GET it to follow it, DELETE it to stop
    /// paying for it.
    pub resource_path: &'static str,
    /// The engine's default timeouts when the definition sets none.
    pub default_connect_timeout_s: u64,
    pub default_read_timeout_s: u64,
    pub default_definition: &'static str,
    pub example_parameters: &'static str,
}

impl Operation {
    pub fn url(&self) -> String {
        format!("{}{}", self.server, self.path)
    }

    /// The body field at a template path (`spec.vpc.uuid`, `spec.model_deployments[].model_id`).
    pub fn body_field(&self, template_path: &str) -> Option<&BodyField> {
        self.body_fields.iter().find(|f| f.path == template_path)
    }
}

const fn field(
    path: &'static str,
    field_type: FieldType,
    required: bool,
    description: &'static str,
) -> BodyField {
    BodyField {
        path,
        field_type,
        required,
        description,
        allowed_values: &[],
        rule: Rule::None,
        note: Note::None,
    }
}

const fn with_values(mut f: BodyField, values: &'static [&'static str]) -> BodyField {
    f.allowed_values = values;
    f
}

const fn with_rule(mut f: BodyField, rule: Rule) -> BodyField {
    f.rule = rule;
    f
}

const fn with_note(mut f: BodyField, note: Note) -> BodyField {
    f.note = note;
    f
}

use FieldType::{ArrayOfObjects, Boolean, Integer, Object, OpenObject, String as Text};

/// `POST /v2/dedicated-inferences`, from DigitalOcean's API reference (see README for the
/// choices where the reference is silent).
pub static CREATE_DEDICATED_INFERENCE: Operation = Operation {
    method: "POST",
    server: "https://api.digitalocean.com",
    host: "api.digitalocean.com",
    path: "/v2/dedicated-inferences",
    summary: "Create a new Dedicated Inference",
    description: "Creates a Dedicated Inference (a GPU-backed LLM endpoint) for the caller's team. \
        The answer 202 Accepted means the request was accepted for processing: it is neither \
        success nor failure yet; the instance then moves through new/provisioning to active (or \
        error). The response carries a token that is returned only on create: store it, it can \
        never be read again. The resource is billed until it is deleted with \
        DELETE /v2/dedicated-inferences/{id}. Requires an API token with the scope \
        dedicated_inference:create.",
    headers: &[
        HeaderField {
            name: "Content-Type",
            required: true,
            description: "The media type of the body.",
            default_value: Some("application/json"),
        },
        HeaderField {
            name: "Authorization",
            required: true,
            description: "`Bearer <token>` with a DigitalOcean API token (scope \
                dedicated_inference:create); added from the credentials' `token` secret unless \
                the definition sets it.",
            default_value: None,
        },
    ],
    body_fields: &[
        with_note(
            with_rule(
                field(
                    "access_tokens",
                    OpenObject,
                    false,
                    "Provider tokens as key-value pairs, e.g. `hugging_face_token` for gated \
                     Hugging Face models. Secret.",
                ),
                Rule::StringValues,
            ),
            Note::Secret,
        ),
        with_note(
            with_rule(
                field(
                    "secrets",
                    OpenObject,
                    false,
                    "The Go client's spelling of `access_tokens`; accepted, secret.",
                ),
                Rule::StringValues,
            ),
            Note::SecretAlias {
                documented: "access_tokens",
            },
        ),
        field("spec", Object, true, "The deployment's configuration."),
        field("spec.version", Integer, true, "Spec version."),
        with_rule(
            field(
                "spec.name",
                Text,
                true,
                "1 to 255 ASCII letters, digits, `_` and `-`; unique within the team.",
            ),
            Rule::Name {
                min: 1,
                max: 255,
                extra: "_-",
            },
        ),
        with_values(
            field("spec.region", Text, true, "The region to deploy in."),
            &["atl1", "nyc2", "tor1"],
        ),
        field("spec.vpc", Object, true, "The VPC the endpoint lives in."),
        field("spec.vpc.uuid", Text, true, "The VPC's UUID."),
        field(
            "spec.enable_public_endpoint",
            Boolean,
            true,
            "Expose a public LLM endpoint.",
        ),
        with_rule(
            field(
                "spec.model_deployments",
                ArrayOfObjects,
                true,
                "The models to deploy: at least one.",
            ),
            Rule::MinItems(1),
        ),
        field(
            "spec.model_deployments[].model_id",
            Text,
            false,
            "Identifies an existing deployment when updating; empty means create new.",
        ),
        field(
            "spec.model_deployments[].model_slug",
            Text,
            false,
            "Model identifier, e.g. a Hugging Face slug.",
        ),
        with_values(
            field(
                "spec.model_deployments[].model_provider",
                Text,
                false,
                "Model provider.",
            ),
            &["hugging_face"],
        ),
        field(
            "spec.model_deployments[].workload_config",
            OpenObject,
            false,
            "Workload-specific configuration.",
        ),
        field(
            "spec.model_deployments[].accelerators",
            ArrayOfObjects,
            false,
            "The GPUs serving the model.",
        ),
        field(
            "spec.model_deployments[].accelerators[].type",
            Text,
            true,
            "Accelerator role, e.g. `prefill_decode`.",
        ),
        with_rule(
            field(
                "spec.model_deployments[].accelerators[].scale",
                Integer,
                true,
                "Number of accelerator instances, at least 1.",
            ),
            Rule::MinInteger(1),
        ),
        field(
            "spec.model_deployments[].accelerators[].accelerator_slug",
            Text,
            true,
            "A DigitalOcean GPU slug, e.g. `gpu-h100x1-80gb`.",
        ),
        with_note(
            with_values(
                field(
                    "spec.model_deployments[].accelerators[].status",
                    Text,
                    false,
                    "Read-only: set by the API.",
                ),
                &["active", "provisioning", "new"],
            ),
            Note::ReadOnly,
        ),
    ],
    provider: "DigitalOcean",
    required_scope: "dedicated_inference:create",
    resource: "dedicated inference",
    resource_member: "dedicated_inference",
    one_time_secret: Some("token.value"),
    resource_path: "/v2/dedicated-inferences/{id}",
    default_connect_timeout_s: 5,
    default_read_timeout_s: 10,
    default_definition: include_str!("../fixtures/definition.json"),
    example_parameters: include_str!("../fixtures/parameters.json"),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nested_field_has_its_parent() {
        let op = &CREATE_DEDICATED_INFERENCE;
        for f in op.body_fields {
            if let Some((parent, _)) = f.path.rsplit_once('.') {
                let parent = parent.strip_suffix("[]").unwrap_or(parent);
                let p = op
                    .body_field(parent)
                    .unwrap_or_else(|| panic!("no parent for {}", f.path));
                assert!(
                    matches!(p.field_type, Object | ArrayOfObjects),
                    "{}",
                    f.path
                );
            }
        }
    }

    #[test]
    fn example_inputs_are_json() {
        let op = &CREATE_DEDICATED_INFERENCE;
        let def: serde_json::Value = serde_json::from_str(op.default_definition).unwrap();
        assert_eq!(def["httpRequest"]["url"], op.url());
        assert!(
            serde_json::from_str::<serde_json::Value>(op.example_parameters)
                .unwrap()
                .is_object()
        );
    }
}
