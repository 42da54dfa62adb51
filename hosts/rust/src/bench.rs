//! `rust-host bench COMPONENT.wasm URL [CALLS]`: what a call costs an engine that embeds
//! wasmtime from Rust, against the stand-in at URL (`python3 standin/standin.py --port 0`).
//!
//! In one run: compiling the component (once), instantiating it (a fresh Store and instance
//! from the pre-instantiated component, as per step), `render` on a fresh instance, and
//! CALLS rounds of `execute` and `test-request` on fresh instances, each paired with a direct
//! POST of the same request from Rust without the component (a new TCP connection per
//! request, as wasi:http makes one per request). The members of a pair run back to back, in
//! alternating order, so that the ratios compare calls made under the same load. Prints one
//! JSON object of figures (medians, p99s, ratios). Every POST gets a name of its own, since
//! the stand-in refuses a name already taken.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rust_host::{Diagnostic, Outcome, Rendered, TaskInput, TaskRunner};
use serde_json::{Value, json};

pub const DEFAULT_CALLS: usize = 200;
const WARM_UP: usize = 10;
const DEFINITION: &str = include_str!("../../../fixtures/definition.json");
const PARAMETERS: &str = include_str!("../../../fixtures/parameters.json");
/// The stand-in accepts any `dop_v1_` token with 8 or more further characters.
const TOKEN: &str = "dop_v1_bench000000000000000000000000000000000000000000000000000000000";
/// What the component writes in place of a secret.
const MASK: &str = "••••••••";

pub fn run(wasm: &Path, url: &str, calls: usize) -> Result<(), String> {
    let target = Target::parse(url)?;
    let component_bytes =
        std::fs::metadata(wasm).map_err(|error| format!("{}: {error}", wasm.display()))?.len();

    let started = Instant::now();
    let runner = TaskRunner::new(wasm)
        .map_err(|error| format!("cannot load {}: {error:?}", wasm.display()))?;
    let compile = started.elapsed();

    let mut bench = Bench::new(runner, target, url)?;
    for round in 0..WARM_UP {
        bench.round(round)?;
    }
    bench.clear();

    let mut instantiate = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        let instance =
            bench.runner.instantiate(None).map_err(|error| format!("instantiate: {error:?}"))?;
        instantiate.push(started.elapsed());
        drop(instance);
    }
    let mut render = Vec::with_capacity(calls);
    for _ in 0..calls {
        let input = bench.input("render-only");
        let started = Instant::now();
        let rendered = bench.render(&input)?;
        render.push(started.elapsed());
        if rendered.is_err() {
            return Err("the fixture did not render".into());
        }
    }
    let rounds_started = Instant::now();
    for round in 0..calls {
        bench.round(round)?;
    }
    let rounds_elapsed = rounds_started.elapsed();

    let b = &bench.figures;
    let report = json!({
        "host": crate::adapter::HOST,
        "calls": calls,
        "component-bytes": component_bytes,
        "compile-ms": ms(compile),
        "instantiate-us": stats_us(&instantiate),
        "render-fresh-instance-us": stats_us(&render),
        "execute-ms": stats_ms(&b.execute),
        "execute-instantiate-us": stats_us(&b.execute_instantiate),
        "direct-post-paired-with-execute-ms": stats_ms(&b.direct_execute),
        "test-request-ms": stats_ms(&b.test_request),
        "direct-post-paired-with-test-request-ms": stats_ms(&b.direct_test_request),
        "ratios": {
            "execute/direct p50": ratio(median(&b.execute), median(&b.direct_execute)),
            "execute/direct p99": ratio(p99(&b.execute), p99(&b.direct_execute)),
            "execute/direct p50, without instantiate": ratio(
                median(&b.execute_call), median(&b.direct_execute)),
            "test-request/direct p50": ratio(median(&b.test_request), median(&b.direct_test_request)),
            "test-request/direct p99": ratio(p99(&b.test_request), p99(&b.direct_test_request)),
        },
        "posts-per-second": round2(4.0 * calls as f64 / rounds_elapsed.as_secs_f64()),
        "answers-not-202": b.not_202,
    });
    println!("{report:#}");
    if b.not_202 > 0 {
        return Err(format!("{} calls were not answered 202", b.not_202));
    }
    Ok(())
}

#[derive(Default)]
struct Figures {
    execute: Vec<Duration>,
    execute_instantiate: Vec<Duration>,
    execute_call: Vec<Duration>,
    direct_execute: Vec<Duration>,
    test_request: Vec<Duration>,
    direct_test_request: Vec<Duration>,
    not_202: usize,
}

struct Bench {
    runner: TaskRunner,
    target: Target,
    definition: String,
    parameters: Value,
    /// The rendered request (masked), with `NAME` where the name goes.
    preview_body: String,
    content_type: String,
    hf_token: String,
    /// Names are `bench-<run>-<n>`: unique within the run and, by the run's stamp, across runs.
    run: String,
    serial: usize,
    figures: Figures,
}

const NAME: &str = "bench-name-placeholder";

impl Bench {
    fn new(runner: TaskRunner, target: Target, url: &str) -> Result<Self, String> {
        let mut definition: Value =
            serde_json::from_str(DEFINITION).map_err(|error| error.to_string())?;
        definition["httpRequest"]["url"] =
            format!("{}/v2/dedicated-inferences", url.trim_end_matches('/')).into();
        let parameters: Value =
            serde_json::from_str(PARAMETERS).map_err(|error| error.to_string())?;
        let hf_token = parameters["huggingFaceToken"].as_str().unwrap_or_default().to_string();
        let stamp =
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
        let mut bench = Bench {
            runner,
            target,
            definition: definition.to_string(),
            parameters,
            preview_body: String::new(),
            content_type: String::new(),
            hf_token,
            run: format!("{stamp:x}-{}", std::process::id()),
            serial: 0,
            figures: Figures::default(),
        };
        // The direct POST sends what the component sends: its rendered request, unmasked.
        let preview = match bench.render(&bench.input_named(NAME))? {
            Ok(rendered) => rendered.request,
            Err(diagnostics) => {
                return Err(format!(
                    "the fixture did not render: {} diagnostics",
                    diagnostics.len()
                ));
            }
        };
        bench.preview_body = preview.body.unwrap_or_default();
        bench.content_type = preview
            .headers
            .iter()
            .find(|header| header.name.eq_ignore_ascii_case("content-type"))
            .map(|header| header.value.clone())
            .unwrap_or_else(|| "application/json".into());
        Ok(bench)
    }

    /// `render` on a fresh instance.
    fn render(&self, input: &TaskInput) -> Result<Result<Rendered, Vec<Diagnostic>>, String> {
        let (mut store, task) =
            self.runner.instantiate(None).map_err(|error| format!("instantiate: {error:?}"))?;
        task.workflow_http_task_task()
            .call_render(&mut store, input)
            .map_err(|error| format!("render trapped: {error:?}"))
    }

    fn clear(&mut self) {
        self.figures = Figures::default();
    }

    fn next_name(&mut self, kind: &str) -> String {
        self.serial += 1;
        format!("bench-{}-{kind}-{}", self.run, self.serial)
    }

    fn input(&mut self, kind: &str) -> TaskInput {
        let name = self.next_name(kind);
        self.input_named(&name)
    }

    fn input_named(&self, name: &str) -> TaskInput {
        let mut parameters = self.parameters.clone();
        parameters["name"] = name.into();
        TaskInput {
            definition: self.definition.clone(),
            parameters: parameters.to_string(),
            secrets: vec![("token".into(), TOKEN.into())],
        }
    }

    /// One round: execute and test-request on fresh instances, each paired with a direct POST,
    /// the pair's order alternating from round to round.
    fn round(&mut self, round: usize) -> Result<(), String> {
        let component_first = round.is_multiple_of(2);
        let ((execute, instantiate), direct) = if component_first {
            let execute = self.execute()?;
            (execute, self.direct()?)
        } else {
            let direct = self.direct()?;
            (self.execute()?, direct)
        };
        self.figures.execute.push(execute);
        self.figures.execute_instantiate.push(instantiate);
        self.figures.execute_call.push(execute.saturating_sub(instantiate));
        self.figures.direct_execute.push(direct);
        let (test_request, direct) = if component_first {
            let test_request = self.test_request()?;
            (test_request, self.direct()?)
        } else {
            let direct = self.direct()?;
            (self.test_request()?, direct)
        };
        self.figures.test_request.push(test_request);
        self.figures.direct_test_request.push(direct);
        Ok(())
    }

    /// The whole call as an engine makes it (fresh instance + execute), and its instantiation.
    fn execute(&mut self) -> Result<(Duration, Duration), String> {
        let input = self.input("execute");
        let started = Instant::now();
        let (mut store, task) =
            self.runner.instantiate(None).map_err(|error| format!("instantiate: {error:?}"))?;
        let instantiated = started.elapsed();
        let result = task
            .workflow_http_task_task()
            .call_execute(&mut store, &input)
            .map_err(|error| format!("execute trapped: {error:?}"))?;
        drop(store);
        let elapsed = started.elapsed();
        let accepted = result
            .ok()
            .and_then(|output| serde_json::from_str::<Value>(&output).ok())
            .is_some_and(|output| output["statusCode"] == 202);
        if !accepted {
            self.figures.not_202 += 1;
        }
        Ok((elapsed, instantiated))
    }

    fn test_request(&mut self) -> Result<Duration, String> {
        let input = self.input("test");
        let started = Instant::now();
        let (mut store, task) =
            self.runner.instantiate(None).map_err(|error| format!("instantiate: {error:?}"))?;
        let result = task
            .workflow_http_task_task()
            .call_test_request(&mut store, &input)
            .map_err(|error| format!("test-request trapped: {error:?}"))?;
        drop(store);
        let elapsed = started.elapsed();
        if result.outcome != Outcome::Accepted {
            self.figures.not_202 += 1;
        }
        Ok(elapsed)
    }

    /// The same request, POSTed from Rust without the component: a new connection, the
    /// request written, the head and the Content-Length body read.
    fn direct(&mut self) -> Result<Duration, String> {
        let name = self.next_name("direct");
        let body = self.preview_body.replacen(NAME, &name, 1).replacen(MASK, &self.hf_token, 1);
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: {authority}\r\ncontent-type: {content_type}\r\nauthorization: Bearer {TOKEN}\r\ncontent-length: {length}\r\n\r\n",
            path = self.target.path,
            authority = self.target.authority,
            content_type = self.content_type,
            length = body.len(),
        );
        let started = Instant::now();
        let status = post(&self.target.authority, head.as_bytes(), body.as_bytes())
            .map_err(|error| format!("direct POST to {}: {error}", self.target.authority))?;
        let elapsed = started.elapsed();
        if status != 202 {
            self.figures.not_202 += 1;
        }
        Ok(elapsed)
    }
}

/// `http://host:port` (the stand-in: plain HTTP on loopback).
struct Target {
    authority: String,
    path: String,
}

impl Target {
    fn parse(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("URL must be http://HOST:PORT, not {url}"))?;
        let authority = rest.split('/').next().unwrap_or_default().to_string();
        if authority.is_empty() {
            return Err(format!("URL has no host: {url}"));
        }
        Ok(Target { authority, path: "/v2/dedicated-inferences".into() })
    }
}

/// One HTTP/1.1 exchange on a new connection; the status code.
fn post(authority: &str, head: &[u8], body: &[u8]) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(authority)?;
    stream.set_nodelay(true)?;
    stream.write_all(&[head, body].concat())?;
    let mut received = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            return Err(std::io::Error::other("the connection closed before the head"));
        }
        received.extend_from_slice(&chunk[..read]);
        if let Some(end) = received.windows(4).position(|window| window == b"\r\n\r\n") {
            break end + 4;
        }
    };
    let head = String::from_utf8_lossy(&received[..header_end]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))?;
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok())?
        })
        .ok_or_else(|| std::io::Error::other("no Content-Length"))?;
    let mut have = received.len() - header_end;
    while have < length {
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            return Err(std::io::Error::other("the body broke off"));
        }
        have += read;
    }
    Ok(status)
}

fn sorted(samples: &[Duration]) -> Vec<Duration> {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted
}

fn median(samples: &[Duration]) -> Duration {
    let sorted = sorted(samples);
    match sorted.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
    }
}

/// The nearest-rank 99th percentile.
fn p99(samples: &[Duration]) -> Duration {
    let sorted = sorted(samples);
    let rank = (sorted.len() * 99).div_ceil(100);
    sorted.get(rank.saturating_sub(1)).copied().unwrap_or_default()
}

fn ms(duration: Duration) -> f64 {
    round2(duration.as_secs_f64() * 1e3)
}

fn us(duration: Duration) -> f64 {
    round2(duration.as_secs_f64() * 1e6)
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

fn ratio(a: Duration, b: Duration) -> f64 {
    if b.is_zero() { 0.0 } else { round2(a.as_secs_f64() / b.as_secs_f64()) }
}

fn stats_ms(samples: &[Duration]) -> Value {
    json!({ "p50": ms(median(samples)), "p99": ms(p99(samples)) })
}

fn stats_us(samples: &[Duration]) -> Value {
    json!({ "p50": us(median(samples)), "p99": us(p99(samples)) })
}
