//! What a retried step does to the API without adopt (`ifExists: fail`), judged from the
//! API's side (`tests/adopt_retries.rs`: with adopt). An engine-like driver (test
//! code, not product) calls `execute` up to the definition's `maxAttempts` times, again only
//! when the component said `retryable` (time is not simulated: waiting would change nothing the
//! fake does). The fake API logs every request it receives: the fault it injected, what it did
//! (created an instance, refused the name as taken, nothing) and what reached the client (a
//! status line and whether the body was whole, or a transport error and whether the request
//! may have been delivered). It runs in two modes over the same randomized fault schedules
//! (the same seeds, `RETRY_SCHEDULES=<n>` each, 2,000 by default):
//!
//! - **unique names**, as the API documents: a create whose name is taken is refused (409 or
//!   422 saying so). At most one instance per workflow follows from this, not from the
//!   component, so it is not asserted;
//! - **duplicates accepted**: every create makes another instance of the same name, so the
//!   log shows what the component's retries alone would do.
//!
//! Asserted for every schedule, in both modes; each fails when the component misbehaves as its
//! item says (each was seen failing under such a change to src/):
//!
//! 1. Each `execute` sends exactly one request: the fake's log grows by one per call (a
//!    component that retried inside a call, or skipped a valid request, fails), and every
//!    request of the workflow carries the same `spec.name`.
//! 2. From the fake's log alone: no POST follows a delivered 2xx (a 2xx status line reached the
//!    client, whatever became of the body). A later POST means the component called a 2xx
//!    retryable.
//! 3. A failure whose exchange delivered a 2xx status line says `retryable: false`, on the last
//!    attempt too, where no later POST could show it (the body broke off, stalled, or was over
//!    the bound).
//! 4. From the fake's log alone: no POST follows a delivered 403 or a name-taken refusal
//!    (retrying cannot change either).
//! 5. A transient failure (a transport error, 429, 5xx) is retried while attempts remain: the
//!    fake's log holds a next POST (the component called it `retryable`).
//! 6. A 429's `Retry-After: 3` comes back as `retry-after-ms` 3000.
//! 7. Ok only for a whole 2xx that created an instance, with the status the fake sent.
//! 8. Every failure's message says truthfully what the fake did: "was created" only if it
//!    created, "was not created" only if it did nothing, "was not created by this request"
//!    only if it refused a taken name, "may have been created" only when the client could not
//!    know (a transport error after the request may have been delivered, or a 5xx).
//! 9. From the fake's log: a request that meets an instance of the workflow (duplicates mode:
//!    creates a second, third, ... instance; unique mode: is refused as taken) only ever
//!    follows an ambiguous failure of the attempt that created the previous one: the fake
//!    created it and no 2xx status line reached the client (a timeout or reset after sending, a
//!    500 after creating). The duplicates are the component's retries doing what its
//!    classification allows: counted by that fault, not forbidden. (The fake's only non-2xx
//!    answers after creating are ambiguous ones, so this cannot fail unless 2 does; it is
//!    checked on its own to attribute each such retry to its fault.)
//!
//! target/reliability/retries.md gets, per mode: POSTs, POSTs after a delivered 2xx,
//! instances, workflows with a second instance, what each retry after an ambiguous create met
//! (by fault), what each failure said, and how each step ended ("says taken" is the workflow
//! stranded without its instance's id, which `ifExists: adopt` is to take up).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use do_dedicated_inference_task::operation::CREATE_DEDICATED_INFERENCE as OP;
use do_dedicated_inference_task::request::TaskInput;
use do_dedicated_inference_task::task::{self, StepFailure};
use do_dedicated_inference_task::testkit::{
    Rng, accepted, api_error, broken, input_with, now, write_report,
};
use do_dedicated_inference_task::transport::{
    BodyEnd, Delivery, Transport, TransportError, TransportErrorKind, WireRequest, WireResponse,
};
use serde_json::{Value, json};

/// Where in an exchange a fault strikes, and what the API did before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    /// The connection was refused: nothing reached the API.
    RefusedBeforeSending,
    /// No status within the timeout; the API had not received the request yet.
    TimeoutBeforeReceiving,
    /// No status within the timeout; the API had created the resource.
    TimeoutAfterCreating,
    /// The connection was reset after the request went out; the API had created it.
    ResetAfterCreating,
    /// The 202 arrived, then its body broke off (connection reset).
    ResetInThe202Body,
    /// The 202 arrived, then its body stalled past the read timeout.
    StalledIn202Body,
    /// The 202 arrived with a body over the bound the component reads.
    OverLimit202Body,
    /// 429 from the burst limit, with Retry-After.
    RateLimited,
    /// 500; the API may or may not have created it first.
    ServerErrorBeforeCreating,
    ServerErrorAfterCreating,
    /// 403: the token lacks the scope.
    Forbidden,
    /// No fault: the API does what it does (creates, or refuses a taken name).
    None,
}

const FAULTS: &[Fault] = &[
    Fault::RefusedBeforeSending,
    Fault::TimeoutBeforeReceiving,
    Fault::TimeoutAfterCreating,
    Fault::ResetAfterCreating,
    Fault::ResetInThe202Body,
    Fault::StalledIn202Body,
    Fault::OverLimit202Body,
    Fault::RateLimited,
    Fault::ServerErrorBeforeCreating,
    Fault::ServerErrorAfterCreating,
    Fault::Forbidden,
    Fault::None,
];

/// The `Retry-After` the fake's 429 carries.
const RETRY_AFTER: &str = "3";

/// How the fake API treats a name it already holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Names {
    /// As the API documents: refused (409 or 422 saying the name is in use).
    Unique,
    /// Created again: a second instance of the same name.
    Duplicates,
}

impl Names {
    fn label(self) -> &'static str {
        match self {
            Names::Unique => "unique names",
            Names::Duplicates => "duplicates accepted",
        }
    }
}

/// What one request did to the API, as the API knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Did {
    /// Created the instance with this number (0 first).
    Created(usize),
    /// Refused because the name was taken (by an earlier attempt).
    RefusedTaken,
    Nothing,
}

/// What reached the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delivered {
    /// A transport error, no status line.
    NoStatus(Delivery),
    /// A status line, and whether the body after it arrived whole.
    Status { status: u16, whole_body: bool },
}

impl Delivered {
    fn status(self) -> Option<u16> {
        match self {
            Delivered::Status { status, .. } => Some(status),
            Delivered::NoStatus(_) => None,
        }
    }

    fn is_2xx(self) -> bool {
        self.status().is_some_and(|s| (200..300).contains(&s))
    }

    /// The client cannot tell whether the create happened.
    fn ambiguous(self) -> bool {
        match self {
            Delivered::NoStatus(delivery) => delivery == Delivery::MaybeDelivered,
            Delivered::Status { status, .. } => (500..600).contains(&status),
        }
    }

    /// A failure that may pass: a transport error, 429, 5xx.
    fn transient(self) -> bool {
        match self {
            Delivered::NoStatus(_) => true,
            Delivered::Status { status, .. } => status == 429 || (500..600).contains(&status),
        }
    }
}

/// One line of the fake's log: a request it received and what it did and answered.
#[derive(Clone, Debug)]
struct Received {
    name: String,
    fault: Fault,
    did: Did,
    delivered: Delivered,
    retry_after: Option<&'static str>,
}

impl Received {
    /// A delivered 403, or a delivered refusal of the taken name (a 500 or a timeout after the
    /// API refused the name reaches the client as what it is).
    fn final_refusal(&self) -> bool {
        let status = self.delivered.status();
        status == Some(403) || (self.did == Did::RefusedTaken && matches!(status, Some(409 | 422)))
    }
}

/// The fake API of one team, for one workflow: its instances (by name), a fault per request,
/// and its log.
struct Api {
    names: Names,
    instances: Vec<String>,
    schedule: Vec<Fault>,
    taken_status: u16,
    log: Vec<Received>,
}

impl Api {
    fn create(&mut self, name: &str) -> Did {
        if self.names == Names::Unique && self.instances.iter().any(|n| n == name) {
            return Did::RefusedTaken;
        }
        self.instances.push(name.to_owned());
        Did::Created(self.instances.len() - 1)
    }
}

fn error(kind: TransportErrorKind, delivery: Delivery) -> TransportError {
    TransportError::new(kind, delivery, "injected")
}

impl Transport for Api {
    fn send(&mut self, request: &WireRequest, _: usize) -> Result<WireResponse, TransportError> {
        let body: Value = serde_json::from_str(&request.body).expect("the task sends JSON");
        let name = body["spec"]["name"].as_str().unwrap_or_default().to_owned();
        let fault = self
            .schedule
            .get(self.log.len())
            .copied()
            .unwrap_or(Fault::None);
        use TransportErrorKind::{Connection, Protocol, Timeout};
        let server_error = || api_error(500, "server_error", "Unexpected server-side error", &[]);
        let (did, answer) = match fault {
            Fault::RefusedBeforeSending => {
                (Did::Nothing, Err(error(Connection, Delivery::NotDelivered)))
            }
            Fault::TimeoutBeforeReceiving => {
                (Did::Nothing, Err(error(Timeout, Delivery::MaybeDelivered)))
            }
            Fault::TimeoutAfterCreating => (
                self.create(&name),
                Err(error(Timeout, Delivery::MaybeDelivered)),
            ),
            Fault::ResetAfterCreating => (
                self.create(&name),
                Err(error(Protocol, Delivery::MaybeDelivered)),
            ),
            Fault::RateLimited => (
                Did::Nothing,
                Ok(api_error(
                    429,
                    "too_many_requests",
                    "API rate limit exceeded.",
                    &[("retry-after", RETRY_AFTER)],
                )),
            ),
            Fault::ServerErrorBeforeCreating => (Did::Nothing, Ok(server_error())),
            Fault::ServerErrorAfterCreating => (self.create(&name), Ok(server_error())),
            Fault::Forbidden => (
                Did::Nothing,
                Ok(api_error(
                    403,
                    "forbidden",
                    "You do not have access for the attempted action.",
                    &[],
                )),
            ),
            Fault::ResetInThe202Body
            | Fault::StalledIn202Body
            | Fault::OverLimit202Body
            | Fault::None => match self.create(&name) {
                Did::RefusedTaken => (
                    Did::RefusedTaken,
                    Ok(api_error(
                        self.taken_status,
                        "unprocessable_entity",
                        &format!("spec.name: '{name}' is already in use"),
                        &[],
                    )),
                ),
                did => (
                    did,
                    Ok(match fault {
                        Fault::ResetInThe202Body => broken(accepted(), 40, Connection),
                        Fault::StalledIn202Body => broken(accepted(), 40, Timeout),
                        Fault::OverLimit202Body => WireResponse {
                            body_end: BodyEnd::OverLimit,
                            ..accepted()
                        },
                        _ => accepted(),
                    }),
                ),
            },
        };
        let delivered = match &answer {
            Err(error) => Delivered::NoStatus(error.delivery),
            Ok(response) => Delivered::Status {
                status: response.status,
                whole_body: response.body_end == BodyEnd::Complete,
            },
        };
        let retry_after = match &answer {
            Ok(response) if response.header("retry-after").is_some() => Some(RETRY_AFTER),
            _ => None,
        };
        self.log.push(Received {
            name,
            fault,
            did,
            delivered,
            retry_after,
        });
        answer
    }
}

/// What the driver saw for one `execute`, and how far the fake's log had grown after it.
struct Attempt {
    result: Result<String, StepFailure>,
    log_len: usize,
}

/// Runs the step as an engine does: attempts until Ok, a failure that is not retryable, or
/// `max_attempts` are spent.
fn run_step(input: &TaskInput, max_attempts: u32, api: &mut Api) -> Vec<Attempt> {
    let mut attempts = Vec::new();
    for _ in 0..max_attempts {
        let result = task::execute(&OP, input, api, now());
        let again = matches!(&result, Err(f) if f.retryable);
        attempts.push(Attempt {
            result,
            log_len: api.log.len(),
        });
        if !again {
            break;
        }
    }
    attempts
}

/// What a failure's message says about the create.
fn claim(message: &str) -> &'static str {
    if message.contains("was not created by this request") {
        "taken"
    } else if message.contains("may have been created") {
        "maybe"
    } else if message.contains("was not created") {
        "not created"
    } else if message.contains("was created") {
        "created"
    } else {
        "nothing said"
    }
}

/// Schedule `seed`: the attempts allowed, the definition's retry policy, a fault per attempt
/// and the status of a taken name. The same in both modes.
struct Schedule {
    max_attempts: u32,
    input: TaskInput,
    faults: Vec<Fault>,
    taken_status: u16,
}

fn schedule(seed: u64) -> Schedule {
    let mut rng = Rng::for_schedule(seed);
    let max_attempts = 1 + rng.below(5) as u32;
    let interval = 1 + rng.below(3) as u64;
    let backoff_rate = [1.0, 1.5, 2.0][rng.below(3)];
    let faults = (0..max_attempts)
        .map(|_| FAULTS[rng.below(FAULTS.len())])
        .collect();
    let taken_status = [409, 422][rng.below(2)];
    // The definition carries a policy, as an engine would read it (the fixture's own, or this).
    // `ifExists: fail`: what a step does without adopt (tests/adopt_retries.rs has adopt's).
    let input = input_with(|d, _| {
        d["ifExists"] = json!("fail");
        if seed % 2 == 1 {
            d["retry"] = json!({"maxAttempts": max_attempts,
                "intervalSeconds": interval, "backoffRate": backoff_rate});
        }
    });
    Schedule {
        max_attempts,
        input,
        faults,
        taken_status,
    }
}

/// The counts of one mode, for the report.
#[derive(Default)]
struct Tally {
    schedules: u64,
    posts: usize,
    /// POSTs whose previous request in the workflow was answered with a 2xx status line.
    posts_after_2xx: usize,
    instances: usize,
    /// Workflows that hold more than one instance, and the instances beyond the first.
    duplicated_workflows: usize,
    extra_instances: usize,
    /// Workflows that hold an instance but ended failed.
    stranded: usize,
    /// A retry after an ambiguous create, by the fault of that create: what it met.
    after_ambiguous: BTreeMap<(Fault, &'static str), usize>,
    /// (fault, what the failure said) -> attempts.
    claims: BTreeMap<(Fault, &'static str), usize>,
    endings: BTreeMap<String, usize>,
}

fn run_mode(names: Names, schedules: u64) -> Tally {
    let mut tally = Tally {
        schedules,
        ..Tally::default()
    };
    for seed in 1..=schedules {
        let Schedule {
            max_attempts,
            input,
            faults,
            taken_status,
        } = schedule(seed);
        let mut api = Api {
            names,
            instances: vec![],
            schedule: faults.clone(),
            taken_status,
            log: vec![],
        };
        let attempts = run_step(&input, max_attempts, &mut api);
        let log = &api.log;
        let context = format!(
            "{}, schedule {seed}: {faults:?}, maxAttempts {max_attempts}; the fake's log: {log:#?}",
            names.label()
        );

        // 1. One request per execute.
        for (i, attempt) in attempts.iter().enumerate() {
            assert_eq!(attempt.log_len, i + 1, "{context}: execute #{}", i + 1);
        }
        // 2 and 4, from the log alone: nothing follows a delivered 2xx, 403 or taken name.
        for (i, received) in log.iter().enumerate().take(log.len() - 1) {
            tally.posts_after_2xx += usize::from(received.delivered.is_2xx());
            assert!(
                !received.delivered.is_2xx(),
                "{context}: POST #{} after a delivered 2xx (#{})",
                i + 2,
                i + 1
            );
            assert!(
                !received.final_refusal(),
                "{context}: POST #{} after a final refusal (#{})",
                i + 2,
                i + 1
            );
        }
        // 5. Transient failures are retried while attempts remain.
        for (i, received) in log.iter().enumerate() {
            if received.delivered.transient() && i + 1 < max_attempts as usize {
                assert!(
                    log.len() > i + 1,
                    "{context}: not retried after #{} ({:?})",
                    i + 1,
                    received.fault
                );
            }
        }

        for (attempt, received) in attempts.iter().zip(log) {
            let said = match &attempt.result {
                Ok(output) => {
                    // 7. Ok only for a whole 2xx that created.
                    let output: Value = serde_json::from_str(output).unwrap();
                    let whole_2xx = matches!(received.delivered,
                        Delivered::Status { status, whole_body: true } if (200..300).contains(&status));
                    assert!(
                        whole_2xx && matches!(received.did, Did::Created(_)),
                        "{context}: Ok for {received:?}"
                    );
                    assert_eq!(
                        output["statusCode"].as_u64(),
                        received.delivered.status().map(u64::from),
                        "{context}"
                    );
                    "Ok"
                }
                Err(failure) => {
                    // 3. A delivered 2xx is never retryable.
                    if received.delivered.is_2xx() {
                        assert!(!failure.retryable, "{context}: {}", failure.message);
                    }
                    // 6. The 429's hint, passed on.
                    if let Some(seconds) = received.retry_after {
                        let ms = seconds.parse::<u64>().unwrap() * 1000;
                        assert_eq!(failure.retry_after_ms, Some(ms), "{context}");
                    }
                    // 8. The truth, as far as the component could know it.
                    let said = claim(&failure.message);
                    let truthful = match said {
                        "created" => matches!(received.did, Did::Created(_)),
                        "not created" => received.did == Did::Nothing,
                        "taken" => received.did == Did::RefusedTaken,
                        "maybe" => received.delivered.ambiguous(),
                        _ => false,
                    };
                    assert!(
                        truthful,
                        "{context}: says {said:?} for {received:?}: {}",
                        failure.message
                    );
                    said
                }
            };
            *tally.claims.entry((received.fault, said)).or_default() += 1;
        }

        // 9. What each retry after an ambiguous create met, and (duplicates mode) every
        // instance after the first follows an ambiguous create.
        let mut previous_create: Option<&Received> = None;
        for received in log {
            if let Some(earlier) = previous_create {
                let met = match received.did {
                    Did::Created(_) => "a second instance",
                    Did::RefusedTaken => "the taken name (refused)",
                    Did::Nothing => continue,
                };
                assert!(
                    earlier.delivered.ambiguous(),
                    "{context}: {met} after {earlier:?}"
                );
                *tally
                    .after_ambiguous
                    .entry((earlier.fault, met))
                    .or_default() += 1;
            }
            if matches!(received.did, Did::Created(_)) {
                previous_create = Some(received);
            }
        }
        let step_name = &log[0].name;
        assert!(log.iter().all(|r| &r.name == step_name), "{context}");

        let last = attempts.last().expect("at least one attempt");
        let ending = match &last.result {
            Ok(_) => "Ok".to_string(),
            Err(f) => format!(
                "{:?}, {} (says {})",
                f.kind,
                if f.retryable {
                    "retryable, attempts spent"
                } else {
                    "final"
                },
                claim(&f.message)
            ),
        };
        *tally.endings.entry(ending).or_default() += 1;
        let held = api.instances.len();
        tally.posts += log.len();
        tally.instances += held;
        if held > 1 {
            tally.duplicated_workflows += 1;
            tally.extra_instances += held - 1;
        }
        if held > 0 && last.result.is_err() {
            tally.stranded += 1;
        }
    }
    tally
}

#[test]
fn retries_follow_only_ambiguous_failures_and_never_a_delivered_2xx() {
    let schedules: u64 = std::env::var("RETRY_SCHEDULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    // The two modes on the machine's two cores.
    let tallies: Vec<(Names, Tally)> = std::thread::scope(|scope| {
        let runs: Vec<_> = [Names::Unique, Names::Duplicates]
            .into_iter()
            .map(|names| scope.spawn(move || (names, run_mode(names, schedules))))
            .collect();
        runs.into_iter()
            .map(|run| run.join().expect("a mode's assertions failed (above)"))
            .collect()
    });

    let mut text = format!(
        "{schedules} schedules per API mode, the same in both (1-5 attempts, a fault per \
         attempt, random per schedule; RETRY_SCHEDULES=<n> for more). The fake API either \
         refuses a taken name, as DigitalOcean documents, or accepts duplicates. Asserted from \
         the fake's own log, in both modes: no POST after a delivered 2xx; a second instance \
         only after an ambiguous failure (the fake created it, no 2xx status line reached the \
         component).\n\n\
         | API mode | schedules | POSTs | POSTs after a delivered 2xx | instances | workflows \
         with a second instance | instances beyond the first | workflows with an instance \
         that ended failed |\n|---|---:|---:|---:|---:|---:|---:|---:|\n"
    );
    for (names, t) in &tallies {
        let _ = writeln!(
            text,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            names.label(),
            t.schedules,
            t.posts,
            t.posts_after_2xx,
            t.instances,
            t.duplicated_workflows,
            t.extra_instances,
            t.stranded
        );
    }
    text.push_str(
        "\nA retry after an ambiguous create, by the fault of that create: what the retry \
         met.\n\n| fault of the earlier create | API mode | the retry met | retries |\n\
         |---|---|---|---:|\n",
    );
    for (names, t) in &tallies {
        for ((fault, met), count) in &t.after_ambiguous {
            let _ = writeln!(text, "| {fault:?} | {} | {met} | {count} |", names.label());
        }
    }
    text.push_str(
        "\n| fault injected | API mode | what the failure said | attempts |\n|---|---|---|---:|\n",
    );
    for (names, t) in &tallies {
        for ((fault, said), count) in &t.claims {
            let _ = writeln!(text, "| {fault:?} | {} | {said} | {count} |", names.label());
        }
    }
    text.push_str("\n| how the step ended | API mode | schedules |\n|---|---|---:|\n");
    for (names, t) in &tallies {
        for (ending, count) in &t.endings {
            let _ = writeln!(text, "| {ending} | {} | {count} |", names.label());
        }
    }
    write_report("retries", &text);
}
