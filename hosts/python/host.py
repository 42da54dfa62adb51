"""Runs the HTTP Task component in-process, as a workflow engine does, through `wasmtime`.

`TaskHost` compiles the component once and calls the four exports of
`workflow:http-task/task@0.2.0`, turning what wasmtime-py returns into plain data: records
become dicts keyed by the WIT field names with `-` replaced by `_`, enums their case name,
options the value or None, lists lists, tuples tuples, and results `{"ok": value}` or
`{"err": value}`.

Facts measured with wasmtime 50.0.1 on the project's 2-core machine:

- Per-call instantiation (new Store with WASI and wasi:http, then `Linker.instantiate`) takes
  0.03-0.09 ms (median) for the real component (350 KB); a whole `render` call 0.36 ms, a
  `test_request` to a loopback stand-in 1.4 ms. Compiling takes 0.15 s, once per `TaskHost`. wasmtime-py has no `InstancePre` for components (only for
  core modules) and its `Config` does not expose the pooling allocator (through the raw FFI it
  was no faster); `Component.serialize`/`deserialize` exist but only save compile time, so the
  per-call path here is `Linker.instantiate` with the export indexes resolved once.
- Threads: one `TaskHost` may be used from many threads at once. Engine, Component, Linker and
  the export indexes are shared read-only and every call with `fresh_instance=True` has its own
  Store. libwasmtime is loaded with `ctypes.CDLL`, which releases the GIL for the whole call,
  including while the guest blocks in wasi:http: 32 threads each calling `execute` on a fresh
  instance against a server answering after 0.5 s all finished in 0.55 s, and a pure-Python
  thread kept counting during the guest's wait. wasmtime-py's module-level state (the last
  Python exception, callback slabs) serves Python-defined host functions, which are not used
  here. With `fresh_instance=False` calls take turns on the one instance, under a lock.
- Outgoing wasi:http to `http://127.0.0.1:<port>` works, and the guest's request options are
  honoured: a 1 s connect timeout against a loopback port whose accept queue is full fails
  with `connection-timeout` after 1.0 s, a 1 s first-byte timeout with
  `connection-read-timeout` after 1.0 s. A 1 s between-bytes timeout also stops the read after
  1.0 s, but it reaches the guest as a body-stream error for which `http-error-code` returns
  none (its debug text is "connection read timeout").
- A trapped instance refuses every later call ("cannot enter component instance").
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Generic, Literal, NotRequired, TypedDict, TypeVar

from wasmtime import Engine, Store, WasiConfig, WasmtimeError
from wasmtime.component import (
    F32,
    F64,
    S8,
    S16,
    S32,
    S64,
    U8,
    U16,
    U32,
    U64,
    Bool,
    Char,
    Component,
    ComponentInstanceType,
    EnumType,
    ExportIndex,
    FuncType,
    Instance,
    Linker,
    ListType,
    OptionType,
    RecordType,
    ResultType,
    String,
    TupleType,
    ValType,
)

INTERFACE = "workflow:http-task/task@0.2.0"

# The WIT types, as this module returns them.
Severity = Literal["error", "warning"]
Outcome = Literal[
    "succeeded", "accepted", "rejected", "failed", "unreachable", "invalid", "needs-confirmation"
]
FailureKind = Literal["invalid-request", "http-status", "timeout", "connection", "protocol"]


class Header(TypedDict):
    name: str
    value: str


class Diagnostic(TypedDict):
    severity: Severity
    path: str
    message: str


class RequestPreview(TypedDict):
    method: str
    url: str
    headers: list[Header]
    body: str | None


class ResponseView(TypedDict):
    status: int
    headers: list[Header]
    body: str
    truncated: bool


class Exchange(TypedDict):
    """One exchange of a call, masked: the create, then `ifExists: adopt`'s lookups and mint."""

    request: RequestPreview
    response: ResponseView | None
    error: str | None


class Rendered(TypedDict):
    """`render`'s Ok value: the masked request and the warnings it would be sent with."""

    request: RequestPreview
    warnings: list[Diagnostic]


class RequestTestResult(TypedDict):
    """WIT `test-result`; its name does not start with `Test` so that pytest leaves it alone."""

    outcome: Outcome
    summary: str
    request: RequestPreview | None
    response: ResponseView | None
    diagnostics: list[Diagnostic]
    elapsed_ms: int
    revealed_secrets: list[tuple[str, str]]
    exchanges: list[Exchange]


class StepFailure(TypedDict):
    kind: FailureKind
    retryable: bool
    retry_after_ms: int | None
    message: str
    diagnostics: list[Diagnostic]
    response: str | None


class FieldInfo(TypedDict):
    path: str
    type_name: str
    required: bool
    description: str
    allowed_values: list[str]
    default_value: str | None


class OperationInfo(TypedDict):
    method: str
    server: str
    path: str
    summary: str
    description: str
    headers: list[FieldInfo]
    body_fields: list[FieldInfo]
    default_definition: str
    example_parameters: str


T = TypeVar("T")
E = TypeVar("E")


class Ok(TypedDict, Generic[T]):
    ok: T


class Err(TypedDict, Generic[E]):
    err: E


class TaskInput(TypedDict):
    """WIT `task-input`. A str is passed verbatim (so tests can send malformed JSON), any
    other value is JSON-encoded; `secrets` is a name → value mapping or (name, value) pairs."""

    definition: Any
    parameters: Any
    secrets: NotRequired[Mapping[str, str] | Iterable[tuple[str, str]]]


class ComponentTrap(Exception):
    """The component trapped, or wasmtime failed to instantiate or call it."""


class TaskHost:
    """The component, compiled once, with one method per export of `INTERFACE`.

    With `fresh_instance=True` every call gets a new Store and instance, as a workflow engine
    runs each step; with False, one instance serves every call (and is replaced after a trap).
    """

    def __init__(self, wasm_path: str | Path, *, fresh_instance: bool = True) -> None:
        self._engine = Engine()
        self._component = Component.from_file(self._engine, wasm_path)
        self._linker = Linker(self._engine)
        self._linker.add_wasip2()
        self._linker.add_wasi_http()
        self._exports = _resolve_exports(self._engine, self._component)
        self._fresh_instance = fresh_instance
        #: Cap on each new instance's linear memory, in bytes (None: no cap). A guest that
        #: needs more fails to grow its memory and traps: proof that a call stays bounded.
        self.memory_limit_bytes: int | None = None
        self._shared: tuple[Store, Instance] | None = None
        self._shared_lock = threading.Lock()
        # Per thread, so that concurrent callers each read the time of their own last call.
        self._per_thread = threading.local()

    @property
    def last_instantiate_s(self) -> float:
        """Seconds the calling thread's last call spent creating its Store and instance
        (0.0 when it reused the shared instance)."""
        return float(getattr(self._per_thread, "instantiate_s", 0.0))

    def describe(self) -> OperationInfo:
        result: OperationInfo = self._call("describe")
        return result

    def render(self, task_input: TaskInput) -> Ok[Rendered] | Err[list[Diagnostic]]:
        result: Ok[Rendered] | Err[list[Diagnostic]] = self._call(
            "render", _lower_task_input(task_input)
        )
        return result

    def test_request(self, task_input: TaskInput) -> RequestTestResult:
        result: RequestTestResult = self._call("test-request", _lower_task_input(task_input))
        return result

    def execute(self, task_input: TaskInput) -> Ok[str] | Err[StepFailure]:
        result: Ok[str] | Err[StepFailure] = self._call("execute", _lower_task_input(task_input))
        return result

    def _call(self, export: str, *args: object) -> Any:
        index, lift = self._exports[export]
        if self._fresh_instance:
            return lift(_invoke(self._instantiate(), index, args))
        with self._shared_lock:
            if self._shared is None:
                self._shared = self._instantiate()
            else:
                self._per_thread.instantiate_s = 0.0
            try:
                return lift(_invoke(self._shared, index, args))
            except ComponentTrap:
                self._shared = None
                raise

    def _instantiate(self) -> tuple[Store, Instance]:
        started = time.perf_counter()
        store = Store(self._engine)
        wasi = WasiConfig()
        wasi.inherit_stdout()
        wasi.inherit_stderr()
        try:
            store.set_wasi(wasi)
            store.set_wasi_http()
            if self.memory_limit_bytes is not None:
                store.set_limits(memory_size=self.memory_limit_bytes)
            instance = self._linker.instantiate(store, self._component)
        except WasmtimeError as error:
            raise ComponentTrap(str(error)) from error
        self._per_thread.instantiate_s = time.perf_counter() - started
        return store, instance


Lift = Callable[[Any], Any]


def _resolve_exports(engine: Engine, component: Component) -> dict[str, tuple[ExportIndex, Lift]]:
    """Each export's index (valid for every instance of `component`, so looked up once) and
    the converter of its result."""
    interface_index = component.get_export_index(INTERFACE)
    interface_type = component.type.exports(engine).get(INTERFACE)
    if interface_index is None or interface_type is None:
        raise ValueError(f"the component does not export {INTERFACE}")
    interface = interface_type.ty
    assert isinstance(interface, ComponentInstanceType)
    exports = {}
    for name, item in interface.exports(engine).items():
        func = item.ty
        if not isinstance(func, FuncType):
            continue  # the interface's types
        index = component.get_export_index(name, interface_index)
        assert index is not None and func.result is not None
        exports[name] = (index, _lifter(func.result))
    return exports


def _invoke(session: tuple[Store, Instance], index: ExportIndex, args: tuple[object, ...]) -> Any:
    store, instance = session
    func = instance.get_func(store, index)
    assert func is not None, "the index was resolved from this component"
    try:
        return func(store, *args)
    except WasmtimeError as error:
        raise ComponentTrap(str(error)) from error


def _lower_task_input(task_input: TaskInput) -> SimpleNamespace:
    # wasmtime-py lowers a record from any object with the fields as attributes.
    secrets = task_input.get("secrets", {})
    pairs = secrets.items() if isinstance(secrets, Mapping) else secrets
    return SimpleNamespace(
        definition=_json_text(task_input["definition"]),
        parameters=_json_text(task_input["parameters"]),
        secrets=[(name, value) for name, value in pairs],
    )


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


_AS_IS = (Bool, S8, S16, S32, S64, U8, U16, U32, U64, F32, F64, Char, String, EnumType)


def _lifter(ty: ValType) -> Lift:
    """The converter, built once per export, from wasmtime-py's value of type `ty` to plain
    data. wasmtime-py gives records as `Record` objects with kebab-case attributes and enums
    as their case name."""
    if isinstance(ty, RecordType):
        fields = [(name, name.replace("-", "_"), _lifter(field)) for name, field in ty.fields]
        return lambda record: {key: lift(getattr(record, name)) for name, key, lift in fields}
    if isinstance(ty, ListType):
        lift_element = _lifter(ty.element)
        return lambda elements: [lift_element(element) for element in elements]
    if isinstance(ty, TupleType):
        lifts = [_lifter(element) for element in ty.elements]
        return lambda values: tuple(lift(value) for lift, value in zip(lifts, values))
    if isinstance(ty, OptionType):
        pick_option = _case_picker([("none", None), ("some", ty.payload)])
        return lambda value: pick_option(value)[1]
    if isinstance(ty, ResultType):
        pick_result = _case_picker([("ok", ty.ok), ("err", ty.err)])
        return lambda value: dict([pick_result(value)])
    if isinstance(ty, _AS_IS):
        return _as_is
    raise TypeError(f"no conversion for WIT type {type(ty).__name__}")


def _as_is(value: Any) -> Any:
    return value


def _case_picker(cases: list[tuple[str, ValType | None]]) -> Callable[[Any], tuple[str, Any]]:
    """Tells which case of an option or result wasmtime-py returned, and lifts its payload.

    wasmtime-py tags the value (`Variant(tag, payload)`) only when two cases lift to a common
    Python class; otherwise it returns the bare payload (None for a case without one), so
    `result<rendered, list<diagnostic>>` comes back as a `Record` or a `list`, and
    `result<string, step-failure>` as a `str` or a `Record`. This applies the same rule,
    through the same `add_classes`, to know which form to expect.
    """
    classes = [_python_classes(ty) for _, ty in cases]
    lifts = {name: _as_is if ty is None else _lifter(ty) for name, ty in cases}
    tagged = any(a & b for i, a in enumerate(classes) for b in classes[i + 1 :])
    if tagged:
        return lambda variant: (variant.tag, lifts[variant.tag](variant.payload))

    def pick_untagged(value: Any) -> tuple[str, Any]:
        for (name, ty), case_classes in zip(cases, classes):
            if value is None if ty is None else isinstance(value, tuple(case_classes)):
                return name, lifts[name](value)
        raise TypeError(f"{value!r} matches no case of {[name for name, _ in cases]}")

    return pick_untagged


def _python_classes(ty: ValType | None) -> set[type]:
    if ty is None:
        return {object}  # wasmtime-py's class for a case without payload
    classes: set[type] = set()
    ty.add_classes(classes)
    return classes
