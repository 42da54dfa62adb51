//! The HTTP Task component for DigitalOcean's `POST /v2/dedicated-inferences`.
//!
//! This file is the component boundary only: WIT bindings and conversions. The logic is in
//! plain modules that build and test natively.

// No unsafe code: denied everywhere but the module wit-bindgen generates (ABI glue, unsafe by
// nature) and `jsonata::GuardedAllocator` (a global allocator has no safe interface).
#![deny(unsafe_code)]
#![deny(unreachable_pub)]
// A trap kills a workflow step with no explanation: outside tests, nothing may panic.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod adopt;
pub mod diagnostic;
pub mod iregexp;
pub mod json;
pub mod jsonata;
pub mod jsonata_suite;
pub mod jsonpath;
pub mod jsonpath_cts;
pub mod operation;
pub mod outcome;
pub mod request;
pub mod response;
pub mod secrets;
pub mod summary;
pub mod task;
pub mod template;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod transport;
pub mod url;
pub mod validate;

#[cfg(target_arch = "wasm32")]
mod wasi_http;

/// Counts live heap bytes, so that a JSONata evaluation is cancelled at its memory limit before
/// the host's memory runs out (`jsonata::DEFAULT_LIMITS`).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: jsonata::GuardedAllocator = jsonata::GuardedAllocator;

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod component {
    use std::time::SystemTime;

    use crate::diagnostic::{Diagnostic, Severity};
    use crate::operation::CREATE_DEDICATED_INFERENCE as OPERATION;
    use crate::outcome::{FailureKind, Outcome};
    use crate::request::TaskInput;
    use crate::response::ResponseView;
    use crate::task::{
        self, ExchangeView, FieldInfo, OperationInfo, Rendered, RequestPreview, StepFailure,
        TestResult,
    };
    use crate::wasi_http::WasiHttp;

    // The world's WASI imports are the `wasip2` crate's bindings (the same WIT), so that the
    // transport uses one set of types.
    wit_bindgen::generate!({
        path: "wit",
        world: "http-task",
        with: {
            "wasi:http/types@0.2.12": wasip2::http::types,
            "wasi:http/outgoing-handler@0.2.12": wasip2::http::outgoing_handler,
            "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
            "wasi:io/poll@0.2.12": wasip2::io::poll,
            "wasi:io/streams@0.2.12": wasip2::io::streams,
            "wasi:io/error@0.2.12": wasip2::io::error,
        },
    });

    use exports::workflow::http_task::task::Guest;
    use workflow::http_task::types as wit;

    struct Component;
    export!(Component);

    impl Guest for Component {
        fn describe() -> wit::OperationInfo {
            task::describe(&OPERATION).into()
        }

        fn render(input: wit::TaskInput) -> Result<wit::Rendered, Vec<wit::Diagnostic>> {
            task::render_with_warnings(&OPERATION, &input.into())
                .map(Into::into)
                .map_err(diagnostics)
        }

        fn test_request(input: wit::TaskInput) -> wit::TestResult {
            task::test_request(&OPERATION, &input.into(), &mut WasiHttp, SystemTime::now()).into()
        }

        fn execute(input: wit::TaskInput) -> Result<String, wit::StepFailure> {
            task::execute(&OPERATION, &input.into(), &mut WasiHttp, SystemTime::now())
                .map_err(Into::into)
        }
    }

    fn headers(list: Vec<(String, String)>) -> Vec<wit::Header> {
        list.into_iter()
            .map(|(name, value)| wit::Header { name, value })
            .collect()
    }

    fn diagnostics(list: Vec<Diagnostic>) -> Vec<wit::Diagnostic> {
        list.into_iter().map(Into::into).collect()
    }

    impl From<wit::TaskInput> for TaskInput {
        fn from(i: wit::TaskInput) -> Self {
            TaskInput {
                definition: i.definition,
                parameters: i.parameters,
                secrets: i.secrets,
            }
        }
    }

    impl From<Diagnostic> for wit::Diagnostic {
        fn from(d: Diagnostic) -> Self {
            let severity = match d.severity {
                Severity::Error => wit::Severity::Error,
                Severity::Warning => wit::Severity::Warning,
            };
            wit::Diagnostic {
                severity,
                path: d.path,
                message: d.message,
            }
        }
    }

    impl From<RequestPreview> for wit::RequestPreview {
        fn from(r: RequestPreview) -> Self {
            wit::RequestPreview {
                method: r.method,
                url: r.url,
                headers: headers(r.headers),
                body: r.body,
            }
        }
    }

    impl From<ResponseView> for wit::ResponseView {
        fn from(r: ResponseView) -> Self {
            wit::ResponseView {
                status: r.status,
                headers: headers(r.headers),
                body: r.body,
                truncated: r.truncated,
            }
        }
    }

    impl From<Rendered> for wit::Rendered {
        fn from(r: Rendered) -> Self {
            wit::Rendered {
                request: r.request.into(),
                warnings: diagnostics(r.warnings),
            }
        }
    }

    impl From<ExchangeView> for wit::Exchange {
        fn from(e: ExchangeView) -> Self {
            wit::Exchange {
                request: e.request.into(),
                response: e.response.map(Into::into),
                error: e.error,
            }
        }
    }

    impl From<TestResult> for wit::TestResult {
        fn from(r: TestResult) -> Self {
            let outcome = match r.outcome {
                Outcome::Succeeded => wit::Outcome::Succeeded,
                Outcome::Accepted => wit::Outcome::Accepted,
                Outcome::Rejected => wit::Outcome::Rejected,
                Outcome::Failed => wit::Outcome::Failed,
                Outcome::Unreachable => wit::Outcome::Unreachable,
                Outcome::Invalid => wit::Outcome::Invalid,
                Outcome::NeedsConfirmation => wit::Outcome::NeedsConfirmation,
            };
            wit::TestResult {
                outcome,
                summary: r.summary,
                request: r.request.map(Into::into),
                response: r.response.map(Into::into),
                diagnostics: diagnostics(r.diagnostics),
                elapsed_ms: r.elapsed_ms,
                revealed_secrets: r.revealed_secrets,
                exchanges: r.exchanges.into_iter().map(Into::into).collect(),
            }
        }
    }

    impl From<StepFailure> for wit::StepFailure {
        fn from(f: StepFailure) -> Self {
            let kind = match f.kind {
                FailureKind::InvalidRequest => wit::FailureKind::InvalidRequest,
                FailureKind::HttpStatus => wit::FailureKind::HttpStatus,
                FailureKind::Timeout => wit::FailureKind::Timeout,
                FailureKind::Connection => wit::FailureKind::Connection,
                FailureKind::Protocol => wit::FailureKind::Protocol,
            };
            wit::StepFailure {
                kind,
                retryable: f.retryable,
                retry_after_ms: f.retry_after_ms,
                message: f.message,
                diagnostics: diagnostics(f.diagnostics),
                response: f.response,
            }
        }
    }

    impl From<FieldInfo> for wit::FieldInfo {
        fn from(f: FieldInfo) -> Self {
            wit::FieldInfo {
                path: f.path,
                type_name: f.type_name,
                required: f.required,
                description: f.description,
                allowed_values: f.allowed_values,
                default_value: f.default_value,
            }
        }
    }

    impl From<OperationInfo> for wit::OperationInfo {
        fn from(o: OperationInfo) -> Self {
            wit::OperationInfo {
                method: o.method,
                server: o.server,
                path: o.path,
                summary: o.summary,
                description: o.description,
                headers: o.headers.into_iter().map(Into::into).collect(),
                body_fields: o.body_fields.into_iter().map(Into::into).collect(),
                definition_fields: o.definition_fields.into_iter().map(Into::into).collect(),
                default_definition: o.default_definition,
                example_parameters: o.example_parameters,
            }
        }
    }
}
