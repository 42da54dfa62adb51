//! Retried steps with `"ifExists": "adopt"`, judged from the API's side: an engine-like driver
//! (test code) calls `execute` up to `maxAttempts` times (3 to 5), again only when the
//! component said `retryable`, against `testkit::FakeApi` (create, list, get and mint routes,
//! its own log and clock), with a fault on each attempt's create drawn at random per schedule:
//! refused, a timeout before the API saw it, a timeout or a reset after it created, a 202 whose
//! body broke off, a slow create that finishes only after the client gave up, a 429, a 500, a
//! concurrent creator of the same name, or none. Four API modes, `ADOPT_SCHEDULES=<n>`
//! schedules each (1,000 by default): names unique (as documented), duplicates accepted (a
//! test mode: what adopt alone prevents), every lookup refused with 403, every mint refused
//! with 403. Asserted for every schedule:
//!
//! 1. One create POST per `execute`, never two (from the fake's log).
//! 2. Zero stranded workflows: a step that ends failed is one whose lookup was refused for
//!    scope (final at once, naming `dedicated_inference:read`), or one whose every attempt
//!    had a fault (no fault-free attempt within `maxAttempts`).
//! 3. A step that ends Ok names the one instance of its name the fake holds (unique names),
//!    and its `body.token.value` is a token the fake issued; where the mint is refused, an
//!    adopted step is Ok with `token: null`, saying why (naming the scope).
//! 4. With unique names, at most one instance per name, ever.
//! 5. With duplicates accepted, a second instance only ever comes from a create that
//!    completed after the lookup that looked for it (the slow create), or from another
//!    client's create of the same name: counted.
//!
//! target/reliability/adopt-retries.md gets the table (schedules, outcomes, instances,
//! duplicates, stranded workflows).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use do_dedicated_inference_task::operation::CREATE_DEDICATED_INFERENCE as OP;
use do_dedicated_inference_task::task;
use do_dedicated_inference_task::testkit::{
    CreateFault, FakeApi, Rng, input_with, now, write_report,
};
use serde_json::{Value, json};

const FAULTS: &[Option<CreateFault>] = &[
    None,
    Some(CreateFault::Refused),
    Some(CreateFault::TimeoutBeforeReceiving),
    Some(CreateFault::TimeoutAfterCreating),
    Some(CreateFault::ResetAfterCreating),
    Some(CreateFault::ResetInThe202Body),
    Some(CreateFault::SlowCreate),
    Some(CreateFault::RateLimited),
    Some(CreateFault::ServerError),
    Some(CreateFault::ConcurrentCreator),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Mode {
    UniqueNames,
    DuplicatesAccepted,
    LookupRefused,
    MintRefused,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::UniqueNames => "unique names",
            Mode::DuplicatesAccepted => "duplicates accepted",
            Mode::LookupRefused => "lookup refused (403)",
            Mode::MintRefused => "mint refused (403)",
        }
    }

    fn api(self) -> FakeApi {
        FakeApi {
            unique_names: self != Mode::DuplicatesAccepted,
            lookup_status: (self == Mode::LookupRefused).then_some(403),
            mint_status: (self == Mode::MintRefused).then_some(403),
            ..FakeApi::default()
        }
    }
}

#[derive(Default)]
struct Tally {
    schedules: u64,
    ok_fresh: u64,
    ok_adopted: u64,
    ok_adopted_without_token: u64,
    failed_scope: u64,
    failed_all_faulty: u64,
    stranded: u64,
    instances: usize,
    duplicates: usize,
    creates: usize,
    lookups: usize,
    mints: usize,
    endings: BTreeMap<String, u64>,
}

fn run(mode: Mode, schedules: u64) -> Tally {
    let mut tally = Tally {
        schedules,
        ..Tally::default()
    };
    for seed in 1..=schedules {
        let mut rng = Rng::for_schedule(seed);
        let max_attempts = 3 + rng.below(3);
        let faults: Vec<Option<CreateFault>> = (0..max_attempts)
            .map(|_| FAULTS[rng.below(FAULTS.len())])
            .collect();
        let name = format!("wf-{seed}");
        let input = input_with(|d, p| {
            d["ifExists"] = json!("adopt");
            d["httpRequest"]["url"] = json!("http://127.0.0.1:8080/v2/dedicated-inferences");
            d["retry"] =
                json!({"maxAttempts": max_attempts, "intervalSeconds": 1, "backoffRate": 2.0});
            p["name"] = json!(name);
        });
        let mut api = mode.api();
        api.create_faults = faults.iter().copied().collect();
        let context = |api: &FakeApi| {
            format!(
                "{}, schedule {seed}: {faults:?}; the fake's log: {:#?}",
                mode.label(),
                api.log
            )
        };

        let mut results = vec![];
        for _ in 0..max_attempts {
            let creates_before = creates(&api);
            let result = task::execute(&OP, &input, &mut api, now());
            // 1. One create per call.
            assert_eq!(creates(&api), creates_before + 1, "{}", context(&api));
            let again = matches!(&result, Err(f) if f.retryable);
            results.push(result);
            if !again {
                break;
            }
        }
        let last = results.last().unwrap();
        let fault_free_within = faults.iter().any(Option::is_none);
        let ending = match last {
            Ok(text) => {
                let out: Value = serde_json::from_str(text).unwrap();
                let adopted = out["adopted"] == true;
                let id = out["body"]["dedicated_inference"]["id"]
                    .as_str()
                    .unwrap_or("");
                // 3. The instance of its name, and a token the fake issued.
                assert!(
                    api.instances.iter().any(|i| i.id == id && i.name == name),
                    "{id}: {}",
                    context(&api)
                );
                match out["body"]["token"]["value"].as_str() {
                    Some(token) => {
                        assert!(api.tokens.iter().any(|t| t == token), "{}", context(&api))
                    }
                    None => {
                        assert!(adopted && mode == Mode::MintRefused, "{}", context(&api));
                        let why = out["tokenNotMinted"].as_str().unwrap_or("");
                        assert!(why.contains("dedicated_inference_tokens:create"), "{why}");
                        tally.ok_adopted_without_token += 1;
                    }
                }
                if adopted {
                    tally.ok_adopted += 1;
                    "Ok, adopted".to_string()
                } else {
                    tally.ok_fresh += 1;
                    "Ok, created".to_string()
                }
            }
            Err(failure) => {
                // 2. Never stranded.
                let scope = mode == Mode::LookupRefused
                    && !failure.retryable
                    && failure.message.contains("dedicated_inference:read");
                if scope {
                    tally.failed_scope += 1;
                } else if !fault_free_within {
                    tally.failed_all_faulty += 1;
                } else {
                    tally.stranded += 1;
                }
                assert!(
                    scope || !fault_free_within,
                    "stranded: {} ({:?}): {}",
                    failure.message,
                    failure.kind,
                    context(&api)
                );
                format!(
                    "{:?}, {}",
                    failure.kind,
                    if failure.retryable {
                        "retryable, attempts spent"
                    } else {
                        "final"
                    }
                )
            }
        };
        *tally.endings.entry(ending).or_default() += 1;
        let held = api.count(&name);
        // 4. Unique names: one instance at most.
        if mode != Mode::DuplicatesAccepted {
            assert!(held <= 1, "{}", context(&api));
        }
        // 5. Duplicates come only from creates that finished after their lookup (the slow
        // create), or from another client's create of the same name (which, with duplicates
        // accepted, nothing refuses).
        let made_elsewhere = faults[..results.len()]
            .iter()
            .filter(|f| {
                matches!(
                    f,
                    Some(CreateFault::SlowCreate | CreateFault::ConcurrentCreator)
                )
            })
            .count();
        let extra = held.saturating_sub(1);
        assert!(extra <= made_elsewhere, "{extra} extra: {}", context(&api));
        tally.instances += held;
        tally.duplicates += extra;
        tally.creates += creates(&api);
        tally.lookups += api.log.iter().filter(|r| r.method == "GET").count();
        tally.mints += api
            .log
            .iter()
            .filter(|r| r.path.ends_with("/tokens"))
            .count();
    }
    tally
}

fn creates(api: &FakeApi) -> usize {
    api.log
        .iter()
        .filter(|r| r.method == "POST" && !r.path.ends_with("/tokens"))
        .count()
}

#[test]
fn adopting_steps_are_never_stranded_and_never_create_twice() {
    let schedules: u64 = std::env::var("ADOPT_SCHEDULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let modes = [
        Mode::UniqueNames,
        Mode::DuplicatesAccepted,
        Mode::LookupRefused,
        Mode::MintRefused,
    ];
    let tallies: Vec<(Mode, Tally)> = std::thread::scope(|scope| {
        let runs: Vec<_> = modes
            .into_iter()
            .map(|mode| scope.spawn(move || (mode, run(mode, schedules))))
            .collect();
        runs.into_iter()
            .map(|r| r.join().expect("a mode's assertions failed (above)"))
            .collect()
    });

    let mut text = format!(
        "{schedules} schedules per API mode (3-5 attempts, a fault per attempt's create, random \
         per schedule; ADOPT_SCHEDULES=<n> for more), `ifExists: adopt`. Asserted: one create \
         per call; no stranded workflow (a failed step either had a refused lookup, final and \
         naming the scope, or no fault-free attempt); Ok names the instance and a token the API \
         issued; one instance per name with unique names; with duplicates accepted, a second \
         instance only from a slow create that finished after its lookup, or another client's create of the name.\n\n\
         | API mode | schedules | Ok, created | Ok, adopted | of which without a token | failed: lookup refused | failed: every attempt faulty | stranded | instances | duplicates | creates | lookups | mints |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    );
    for (mode, t) in &tallies {
        let _ = writeln!(
            text,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            mode.label(),
            t.schedules,
            t.ok_fresh,
            t.ok_adopted,
            t.ok_adopted_without_token,
            t.failed_scope,
            t.failed_all_faulty,
            t.stranded,
            t.instances,
            t.duplicates,
            t.creates,
            t.lookups,
            t.mints
        );
    }
    text.push_str("\n| how the step ended | API mode | schedules |\n|---|---|---:|\n");
    for (mode, t) in &tallies {
        for (ending, count) in &t.endings {
            let _ = writeln!(text, "| {ending} | {} | {count} |", mode.label());
        }
    }
    write_report("adopt-retries", &text);
}
