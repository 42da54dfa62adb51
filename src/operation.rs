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
    /// A UUID in its text form (`5a4981aa-9653-4bd1-bef5-d6bff52042e4`).
    Uuid,
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
    /// Secret, accepted under a spelling other than the documented one, for the reason `why`.
    SecretAlias {
        documented: &'static str,
        why: &'static str,
    },
    /// Optional, but expected when the sibling `field` is `value`: missing earns a warning.
    ExpectedWhen {
        field: &'static str,
        value: &'static str,
        why: &'static str,
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

impl BodyField {
    /// Everything below this field is secret.
    pub fn is_secret(&self) -> bool {
        matches!(self.note, Note::Secret | Note::SecretAlias { .. })
    }
}

#[derive(Clone, Copy, Debug)]
pub struct HeaderField {
    pub name: &'static str,
    pub required: bool,
    pub description: &'static str,
    /// Sent when the definition does not set the header.
    pub default_value: Option<&'static str>,
    /// Sent, when the definition does not set the header, as this prefix and the value of this
    /// secret (trimmed): `("token", "Bearer ")`.
    pub from_secret: Option<(&'static str, &'static str)>,
}

/// What the operation's answers look like, for reading them.
#[derive(Debug)]
pub struct Answer {
    /// The member of a success body that holds the resource: `dedicated_inference`.
    pub resource_member: &'static str,
    /// Where the resource's name is inside it, first match wins: `spec.name`, then `name`.
    pub name_paths: &'static [&'static str],
    /// The resource's own path (`{id}` is its id).
    pub item_path: &'static str,
    /// Status values that mean "still getting there" and "failed for good".
    pub pending_statuses: &'static [&'static str],
    pub failed_statuses: &'static [&'static str],
    /// A value the API returns only once, in a success answer.
    pub one_time_secret: Option<OneTimeSecret>,
    /// How the API says that a create's name is taken (a 409 or 422 whose error body says so).
    pub name_taken: NameTaken,
}

#[derive(Clone, Copy, Debug)]
pub struct OneTimeSecret {
    /// The status of the answers that carry it.
    pub status: u16,
    /// Its dotted path in the success body, also its name in `revealed-secrets`: `token.value`.
    pub path: &'static str,
    /// What it is, in sentences: "a token for the new endpoint".
    pub what: &'static str,
    /// How to get another when it was lost or left out (`{item}`: the resource's path).
    pub replace: &'static str,
}

/// A taken name is recognised by the error body, not by the status alone: 422 also means
/// "invalid body". `ids` are error ids (`{"id": "conflict"}`); a message matches when it
/// contains one of `words` and one of `subjects` (case-insensitive).
#[derive(Clone, Copy, Debug)]
pub struct NameTaken {
    pub statuses: &'static [u16],
    pub ids: &'static [&'static str],
    pub words: &'static [&'static str],
    pub subjects: &'static [&'static str],
    /// Said with every answer that refuses a taken name.
    pub sentence: &'static str,
}

/// How `"ifExists": "adopt"` finds and takes up an instance an earlier attempt made: the
/// collection is the create's own URL (its path without the query).
#[derive(Debug)]
pub struct Adoption {
    /// JSON pointer to the name in the create's body: `/spec/name`.
    pub request_name: &'static str,
    /// The member of a listing that holds the items: `dedicated_inferences`.
    pub list_member: &'static str,
    /// Items per page asked for, and how many pages at most are read.
    pub per_page: u32,
    pub max_pages: u32,
    /// Paths in the spec compared with the request's (`[]`: each item, by position). Fields
    /// the API fills in are not among them.
    pub compared: &'static [&'static str],
    /// Statuses in which an instance is never adopted.
    pub never_adopt: &'static [&'static str],
    /// Appended to the item's path to mint a token (`/tokens`), and the answer's member.
    pub mint_suffix: &'static str,
    pub mint_member: &'static str,
    /// The scopes adopting needs besides the create's.
    pub read_scope: &'static str,
    pub mint_scope: &'static str,
}

/// The operation in sentences, for summaries and messages. `{item}` stands for the resource's
/// own path with its id.
#[derive(Debug)]
pub struct Texts {
    /// Who answers: "DigitalOcean".
    pub provider: &'static str,
    /// The resource: "dedicated inference".
    pub resource: &'static str,
    /// What the operation does to it, as a past participle: "created".
    pub done: &'static str,
    /// The scope the API token needs.
    pub required_scope: &'static str,
    /// How to find the resource when its answer was lost.
    pub find: &'static str,
    /// What to do after an accepted request, with the resource's status.
    pub follow: &'static str,
    /// Said after every success: what it costs and how to undo it.
    pub after_success: Option<&'static str>,
}

#[derive(Debug)]
pub struct Operation {
    pub method: http::Method,
    /// Scheme and host of the API: requests elsewhere (other than loopback stand-ins) earn a
    /// warning, since the API token would go there.
    pub server: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub description: &'static str,
    pub headers: &'static [HeaderField],
    pub body_fields: &'static [BodyField],
    pub answer: Answer,
    /// How a create adopts what an earlier attempt made (`ifExists: adopt`), if it can.
    pub adoption: Option<Adoption>,
    pub texts: Texts,
    /// The engine's default timeouts when the definition sets none, in seconds.
    pub default_connect_timeout_s: u64,
    pub default_read_timeout_s: u64,
    pub default_deadline_s: u64,
    pub default_definition: &'static str,
    pub example_parameters: &'static str,
}

impl Operation {
    pub fn url(&self) -> String {
        format!("{}{}", self.server, self.path)
    }

    /// The host of `server`.
    pub fn host(&self) -> &'static str {
        let after_scheme = self
            .server
            .split_once("://")
            .map_or(self.server, |(_, rest)| rest);
        after_scheme
            .split(['/', ':'])
            .next()
            .unwrap_or(after_scheme)
    }

    /// The body field at a template path (`spec.vpc.uuid`, `spec.model_deployments[].model_id`).
    pub fn body_field(&self, template_path: &str) -> Option<&BodyField> {
        self.body_fields.iter().find(|f| f.path == template_path)
    }

    /// The resource's own path for `id`.
    pub fn item_path(&self, id: &str) -> String {
        self.answer.item_path.replace("{id}", id)
    }

    /// A `Texts` sentence with `{item}` filled in (`<its id>` when the id is unknown).
    pub fn say(&self, text: &str, id: Option<&str>) -> String {
        text.replace("{item}", &self.item_path(id.unwrap_or("<its id>")))
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

/// `POST /v2/dedicated-inferences`, from DigitalOcean's API reference (README, "Choices where the
/// spec is silent", for what the reference leaves open).
pub static CREATE_DEDICATED_INFERENCE: Operation = Operation {
    method: http::Method::POST,
    server: "https://api.digitalocean.com",
    path: "/v2/dedicated-inferences",
    summary: "Create a Dedicated Inference",
    description: "Creates a Dedicated Inference (a GPU-backed LLM endpoint) for the caller's team. \
        The answer 202 Accepted means the request was accepted for processing: the instance then \
        moves through new and provisioning to active, or to error, which means it failed. Follow \
        it with GET /v2/dedicated-inferences/{id}, or find it by name in GET \
        /v2/dedicated-inferences (both need the scope dedicated_inference:read). The answer \
        carries a token for the new endpoint that is returned only once: store it; a lost one is \
        replaced with POST /v2/dedicated-inferences/{id}/tokens (scope \
        dedicated_inference_tokens:create). The instance is billed until it is deleted with \
        DELETE /v2/dedicated-inferences/{id} (scope dedicated_inference:delete; answers 202, \
        then the status is deleting). Creating needs an API token with the scope \
        dedicated_inference:create. With the definition's `ifExists: adopt` (the ready \
        definition's choice), a create whose name is taken, whose answer broke off or never \
        came looks the name up and adopts an instance with the same spec, minting it a new \
        token: that also needs dedicated_inference:read and dedicated_inference_tokens:create.",
    headers: &[
        HeaderField {
            name: "Content-Type",
            required: true,
            description: "The media type of the body.",
            default_value: Some("application/json"),
            from_secret: None,
        },
        HeaderField {
            name: "Authorization",
            required: true,
            description: "`Bearer <token>` with a DigitalOcean API token (scope \
                dedicated_inference:create, and with `ifExists: adopt` also \
                dedicated_inference:read and dedicated_inference_tokens:create); added from the \
                credentials' `token` secret unless the definition sets it.",
            default_value: None,
            from_secret: Some(("token", "Bearer ")),
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
                why: "DigitalOcean's Go client sends it",
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
        with_rule(
            field("spec.vpc.uuid", Text, true, "The VPC's UUID."),
            Rule::Uuid,
        ),
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
        with_note(
            field(
                "spec.model_deployments[].provider_model_id",
                Text,
                false,
                "The model's id at its provider, e.g. the Hugging Face repository \
                 `meta-llama/Llama-3.1-8B-Instruct`.",
            ),
            Note::ExpectedWhen {
                field: "model_provider",
                value: "hugging_face",
                why: "DigitalOcean's Terraform provider documents it as required for Hugging \
                      Face models, and its Go client always sends it",
            },
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
    answer: Answer {
        resource_member: "dedicated_inference",
        name_paths: &["spec.name", "name"],
        item_path: "/v2/dedicated-inferences/{id}",
        pending_statuses: &["new", "provisioning", "updating"],
        failed_statuses: &["error"],
        one_time_secret: Some(OneTimeSecret {
            status: 202,
            path: "token.value",
            what: "a token for the new endpoint",
            replace: "mint a new one with POST {item}/tokens",
        }),
        name_taken: NameTaken {
            statuses: &[409, 422],
            ids: &["conflict", "already_exists", "name_taken"],
            words: &["already", "taken", "exists", "in use", "duplicate"],
            subjects: &["name"],
            sentence: "Names are unique within the team: the name may have been taken by an \
                       earlier attempt of this same step, so running the step again will not \
                       help.",
        },
    },
    adoption: Some(Adoption {
        request_name: "/spec/name",
        list_member: "dedicated_inferences",
        per_page: 200,
        max_pages: 50,
        compared: &[
            "region",
            "vpc.uuid",
            "enable_public_endpoint",
            "model_deployments[].model_slug",
            "model_deployments[].model_provider",
            "model_deployments[].accelerators[].type",
            "model_deployments[].accelerators[].scale",
            "model_deployments[].accelerators[].accelerator_slug",
        ],
        never_adopt: &["error", "deleting"],
        mint_suffix: "/tokens",
        mint_member: "token",
        read_scope: "dedicated_inference:read",
        mint_scope: "dedicated_inference_tokens:create",
    }),
    texts: Texts {
        provider: "DigitalOcean",
        resource: "dedicated inference",
        done: "created",
        required_scope: "dedicated_inference:create",
        find: "look for it by its spec.name with GET /v2/dedicated-inferences",
        follow: "Follow it with GET {item} until its status is active; error means it failed.",
        after_success: Some("It is billed until it is deleted with DELETE {item}."),
    },
    default_connect_timeout_s: 5,
    default_read_timeout_s: 10,
    default_deadline_s: 60,
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
        assert_eq!(op.host(), "api.digitalocean.com");
        assert!(
            serde_json::from_str::<serde_json::Value>(op.example_parameters)
                .unwrap()
                .is_object()
        );
    }
}
