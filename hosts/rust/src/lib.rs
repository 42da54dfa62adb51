//! The embedding an engine integrator writes to run the HTTP Task component: wasmtime 50 with
//! wasmtime-wasi-http, the component compiled once and pre-instantiated, and a fresh `Store`
//! (and so a fresh instance) for every step, as a workflow engine runs each step.
//!
//! The region between the snippet markers is what docs/embedding.md shows (the README links it)
//! (tools/readme.py writes it there; tests/e2e/test_readme.py checks that they are the same).
//!
//! [`json`] turns the WIT values into the JSON of the conformance kit (docs/conformance.md).

pub mod json;
pub mod read_ahead;

use std::path::Path;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Result, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use read_ahead::ReadAhead;

wasmtime::component::bindgen!({ path: "../../wit", world: "http-task" }); // wit/world.wit
pub use workflow::http_task::types::*; // TaskInput, TestResult, StepFailure, ...

/// What one step's `Store` holds: WASI, wasi:http (its hooks read response bodies ahead of
/// the guest: src/read_ahead.rs), their resources and the memory cap.
pub struct StepState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: ReadAhead,
    table: ResourceTable,
    limits: StoreLimits,
}

impl WasiView for StepState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}
impl WasiHttpView for StepState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

// snippet:start
/// The component compiled once and pre-instantiated (imports resolved): build it at start-up
/// and share it between steps and threads.
pub struct TaskRunner {
    engine: Engine,
    pre: HttpTaskPre<StepState>,
}

impl TaskRunner {
    pub fn new(wasm_path: &Path) -> Result<Self> {
        let engine = Engine::default();
        let component = Component::from_file(&engine, wasm_path)?;
        Self::from_component(engine, &component)
    }

    /// The same from a component already compiled with `engine` (one deserialized from a
    /// cache of `Component::serialize`, say).
    pub fn from_component(engine: Engine, component: &Component) -> Result<Self> {
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)?;
        let pre = HttpTaskPre::new(linker.instantiate_pre(component)?)?;
        Ok(Self { engine, pre })
    }

    /// A fresh Store and instance for one step, its linear memory capped at `max_bytes` (a
    /// guest that needs more sees its allocation fail, and traps).
    pub fn instantiate(&self, max_bytes: Option<usize>) -> Result<(Store<StepState>, HttpTask)> {
        let limits = StoreLimitsBuilder::new().memory_size(max_bytes.unwrap_or(usize::MAX)).build();
        let wasi = WasiCtx::builder().inherit_stderr().build(); // no files, env or arguments
        let (http, hooks, table) = (WasiHttpCtx::new(), ReadAhead, ResourceTable::new());
        let state = StepState { wasi, http, hooks, table, limits };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        let task = self.pre.instantiate(&mut store)?;
        Ok((store, task))
    }

    /// One step of a workflow. The outer `Err` is a trap: the engine gets no result. Inner Ok is
    /// the step output (JSON, masked but for the token the API returns once); on inner Err,
    /// retry only if `failure.retryable`, and not before `failure.retry_after_ms`.
    pub fn execute(&self, input: &TaskInput) -> Result<Result<String, StepFailure>> {
        self.execute_capped(input, None)
    }

    /// `execute` with the instance's linear memory capped at `max_bytes`.
    pub fn execute_capped(
        &self,
        input: &TaskInput,
        max_bytes: Option<usize>,
    ) -> Result<Result<String, StepFailure>> {
        let (mut store, task) = self.instantiate(max_bytes)?;
        task.workflow_http_task_task().call_execute(&mut store, input)
    }
}
// snippet:end

impl TaskRunner {
    /// `render` (nothing is sent) on a fresh instance capped at `max_bytes`: what an engine
    /// checks before it lets a step send anything (the URL's host, say).
    pub fn render(
        &self,
        input: &TaskInput,
        max_bytes: Option<usize>,
    ) -> Result<Result<Rendered, Vec<Diagnostic>>> {
        let (mut store, task) = self.instantiate(max_bytes)?;
        task.workflow_http_task_task().call_render(&mut store, input)
    }

    /// The engine the component was compiled with (to serialize it for a cache).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}
