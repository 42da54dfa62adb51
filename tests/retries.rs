//! A retried step never creates a second billed resource. An engine-like driver (test code,
//! not product) applies the definition's `retry` policy (`maxAttempts`, `intervalSeconds`,
//! `backoffRate`, honouring `retry-after-ms`) over `execute`, against a fake API that keeps the
//! names it created (names are unique within a team), with a fault injected at every point of
//! an exchange, over thousands of randomized fault schedules. For every schedule:
//!
//! - a call that received a 2xx is never retryable;
//! - every failure says truthfully whether the create was accepted, may have been, or
//!   certainly was not (compared with what the fake API really did);
//! - the number of POSTs equals the number of attempts the policy allowed;
//! - at most one resource is ever created.
//!
//! The counts go to target/reliability/retries.md. `RETRY_SCHEDULES=<n>` runs more.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::time::Duration;

use do_dedicated_inference_task::operation::CREATE_DEDICATED_INFERENCE as OP;
use do_dedicated_inference_task::request::TaskInput;
use do_dedicated_inference_task::task::{self, StepFailure};
use do_dedicated_inference_task::testkit::{
    accepted, api_error, broken, fixture_input, input_with, now,
};
use do_dedicated_inference_task::transport::{
    Delivery, Transport, TransportError, TransportErrorKind, WireRequest, WireResponse,
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
    /// The 202 arrived, then its body broke off.
    ResetInThe202Body,
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
    Fault::RateLimited,
    Fault::ServerErrorBeforeCreating,
    Fault::ServerErrorAfterCreating,
    Fault::Forbidden,
    Fault::None,
];

/// What one attempt did to the API, as the API knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Truth {
    Created,
    NotCreated,
    /// Refused because the name was taken (by an earlier attempt).
    Taken,
}

/// The fake API: a team's names, a fault per attempt, and what each attempt really did.
struct Api {
    names: HashSet<String>,
    schedule: Vec<Fault>,
    taken_status: u16,
    truths: Vec<Truth>,
    created: usize,
}

impl Api {
    fn create(&mut self, name: &str) -> Truth {
        if self.names.insert(name.to_owned()) {
            self.created += 1;
            Truth::Created
        } else {
            Truth::Taken
        }
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
            .get(self.truths.len())
            .copied()
            .unwrap_or(Fault::None);
        use TransportErrorKind::{Connection, Protocol, Timeout};
        let (truth, answer) = match fault {
            Fault::RefusedBeforeSending => (
                Truth::NotCreated,
                Err(error(Connection, Delivery::NotDelivered)),
            ),
            Fault::TimeoutBeforeReceiving => (
                Truth::NotCreated,
                Err(error(Timeout, Delivery::MaybeDelivered)),
            ),
            Fault::TimeoutAfterCreating => (
                self.create(&name),
                Err(error(Timeout, Delivery::MaybeDelivered)),
            ),
            Fault::ResetAfterCreating => (
                self.create(&name),
                Err(error(Protocol, Delivery::MaybeDelivered)),
            ),
            Fault::RateLimited => (
                Truth::NotCreated,
                Ok(api_error(
                    429,
                    "too_many_requests",
                    "API rate limit exceeded.",
                    &[("retry-after", "3")],
                )),
            ),
            Fault::ServerErrorBeforeCreating => (
                Truth::NotCreated,
                Ok(api_error(
                    500,
                    "server_error",
                    "Unexpected server-side error",
                    &[],
                )),
            ),
            Fault::ServerErrorAfterCreating => (
                self.create(&name),
                Ok(api_error(
                    500,
                    "server_error",
                    "Unexpected server-side error",
                    &[],
                )),
            ),
            Fault::Forbidden => (
                Truth::NotCreated,
                Ok(api_error(
                    403,
                    "forbidden",
                    "You do not have access for the attempted action.",
                    &[],
                )),
            ),
            Fault::ResetInThe202Body | Fault::None => match self.create(&name) {
                Truth::Taken => (
                    Truth::Taken,
                    Ok(api_error(
                        self.taken_status,
                        "unprocessable_entity",
                        &format!("spec.name: '{name}' is already in use"),
                        &[],
                    )),
                ),
                truth if fault == Fault::ResetInThe202Body => {
                    (truth, Ok(broken(accepted(), 40, Connection)))
                }
                truth => (truth, Ok(accepted())),
            },
        };
        self.truths.push(truth);
        answer
    }
}

/// The engine's retry policy, as the definition's `retry` says.
#[derive(Clone, Copy, Debug)]
struct Policy {
    max_attempts: u32,
    interval: Duration,
    backoff_rate: f64,
}

/// What the driver saw for one attempt.
struct Attempt {
    result: Result<String, StepFailure>,
    /// The wait before the next attempt (the larger of the policy's and the API's).
    wait: Option<Duration>,
}

/// Runs the step as an engine does: attempts until Ok, a failure that is not retryable, or
/// the policy's attempts are spent.
fn run_step(input: &TaskInput, policy: Policy, api: &mut Api) -> Vec<Attempt> {
    let mut attempts = Vec::new();
    let mut interval = policy.interval;
    for n in 1..=policy.max_attempts {
        let result = task::execute(&OP, input, api, now());
        let retry = match &result {
            Err(failure) if failure.retryable && n < policy.max_attempts => {
                let asked = Duration::from_millis(failure.retry_after_ms.unwrap_or(0));
                Some(interval.max(asked))
            }
            _ => None,
        };
        interval = interval.mul_f64(policy.backoff_rate);
        let stop = retry.is_none();
        attempts.push(Attempt {
            result,
            wait: retry,
        });
        if stop {
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

/// A small deterministic generator (xorshift), seeded per schedule: no dependency, and a
/// failing schedule is reproduced by its number.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn a_retried_step_never_creates_twice_and_always_tells_the_truth() {
    let schedules: u64 = std::env::var("RETRY_SCHEDULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    // (fault, claim) -> count, for the report.
    let mut claims: BTreeMap<(String, &'static str), usize> = BTreeMap::new();
    let mut endings: BTreeMap<String, usize> = BTreeMap::new();
    let (mut posts, mut attempts_total, mut created_total) = (0, 0, 0);
    for seed in 1..=schedules {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let policy = Policy {
            max_attempts: 1 + rng.below(5) as u32,
            interval: Duration::from_secs(1 + rng.below(3) as u64),
            backoff_rate: [1.0, 1.5, 2.0][rng.below(3)],
        };
        let schedule: Vec<Fault> = (0..policy.max_attempts)
            .map(|_| FAULTS[rng.below(FAULTS.len())])
            .collect();
        let mut api = Api {
            names: HashSet::new(),
            schedule: schedule.clone(),
            taken_status: [409, 422][rng.below(2)],
            truths: vec![],
            created: 0,
        };
        // The definition carries the policy, as an engine would read it.
        let input = if seed % 2 == 0 {
            fixture_input()
        } else {
            input_with(|d, _| {
                d["retry"] = json!({"maxAttempts": policy.max_attempts,
                    "intervalSeconds": policy.interval.as_secs(), "backoffRate": policy.backoff_rate});
            })
        };
        let attempts = run_step(&input, policy, &mut api);
        let context = format!("schedule {seed}: {schedule:?} with {policy:?}");

        // One POST per attempt, and as many attempts as the policy allowed.
        assert_eq!(api.truths.len(), attempts.len(), "{context}");
        let last = attempts.last().expect("at least one attempt");
        let spent = attempts.len() as u32 == policy.max_attempts;
        let retryable_last = matches!(&last.result, Err(f) if f.retryable);
        assert!(
            spent || !retryable_last,
            "{context}: stopped early with a retryable failure"
        );
        // At most one resource, ever.
        assert!(
            api.created <= 1,
            "{context}: {} resources created",
            api.created
        );

        for (i, (attempt, truth)) in attempts.iter().zip(&api.truths).enumerate() {
            let fault = schedule.get(i).copied().unwrap_or(Fault::None);
            let said = match &attempt.result {
                Ok(output) => {
                    let output: Value = serde_json::from_str(output).unwrap();
                    assert_eq!(output["statusCode"], 202, "{context}");
                    assert_eq!(*truth, Truth::Created, "{context}: Ok without a create");
                    "Ok"
                }
                Err(failure) => {
                    let said = claim(&failure.message);
                    // The truth, as far as the component could know it.
                    let truthful = match (said, truth) {
                        ("created", Truth::Created) => true,
                        ("not created", Truth::NotCreated) => true,
                        ("taken", Truth::Taken) => true,
                        // The component could not know: every outcome is possible.
                        ("maybe", _) => matches!(
                            fault,
                            Fault::TimeoutBeforeReceiving
                                | Fault::TimeoutAfterCreating
                                | Fault::ResetAfterCreating
                                | Fault::ServerErrorBeforeCreating
                                | Fault::ServerErrorAfterCreating
                        ),
                        _ => false,
                    };
                    assert!(
                        truthful,
                        "{context}, attempt {}: says {said:?} but {truth:?}: {}",
                        i + 1,
                        failure.message
                    );
                    // A 2xx status arrived: never retryable.
                    if fault == Fault::ResetInThe202Body && *truth == Truth::Created {
                        assert!(!failure.retryable, "{context}: {}", failure.message);
                    }
                    if failure.retryable {
                        assert!(attempt.wait.is_some() || spent, "{context}");
                    }
                    if let (Some(wait), Some(asked)) = (attempt.wait, failure.retry_after_ms) {
                        assert!(
                            wait >= Duration::from_millis(asked),
                            "{context}: Retry-After not honoured"
                        );
                    }
                    said
                }
            };
            *claims.entry((format!("{fault:?}"), said)).or_default() += 1;
        }
        let ending = match &last.result {
            Ok(_) => "Ok".to_string(),
            Err(f) => format!(
                "{:?}, {}",
                f.kind,
                if f.retryable {
                    "retryable (attempts spent)"
                } else {
                    "final"
                }
            ),
        };
        *endings.entry(ending).or_default() += 1;
        posts += api.truths.len();
        attempts_total += attempts.len();
        created_total += api.created;
    }

    let mut text = format!(
        "{schedules} schedules of 1-5 attempts (policy and faults random per schedule; \
         RETRY_SCHEDULES=<n> for more): {attempts_total} attempts, {posts} POSTs, \
         {created_total} resources created, never two in one schedule.\n\n\
         | fault injected | what the failure said | attempts |\n|---|---|---:|\n"
    );
    for ((fault, said), count) in &claims {
        let _ = writeln!(text, "| {fault} | {said} | {count} |");
    }
    text.push_str("\n| how the step ended | schedules |\n|---|---:|\n");
    for (ending, count) in &endings {
        let _ = writeln!(text, "| {ending} | {count} |");
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/reliability");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("retries.md"), &text).unwrap();
    println!("{text}");
}
