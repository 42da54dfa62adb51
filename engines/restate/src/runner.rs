//! The component for the service: compiled once per component (a precompiled copy cached by
//! its SHA-256, so a restart deserializes instead of compiling), and every call on a fresh
//! instance with its memory capped, on tokio's blocking pool (wasmtime-wasi's sync bindings
//! panic on a tokio worker thread).

use rust_host::{Rendered, StepFailure, TaskInput, TaskRunner};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wasmtime::Engine;
use wasmtime::component::Component;

/// Each instance's linear memory cap.
pub const MEMORY_CAP_BYTES: usize = 64 << 20;

/// Where the precompiled copy of `wasm` lives in `cache_dir`: named by the component's hash
/// and the wasmtime version (a precompiled file works only with the wasmtime that made it).
pub fn cache_path(wasm: &[u8], cache_dir: &Path) -> PathBuf {
    let digest = Sha256::digest(wasm);
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    cache_dir.join(format!("{hex}-wasmtime-50.0.1.cwasm"))
}

/// Loads the component: the cached precompiled copy when there is one that loads, else
/// compiles it and writes the copy (atomically: a crash never leaves half a file).
pub fn load(wasm_path: &Path, cache_dir: &Path) -> Result<(TaskRunner, bool), String> {
    let wasm = std::fs::read(wasm_path)
        .map_err(|error| format!("cannot read {}: {error}", wasm_path.display()))?;
    let engine = Engine::default();
    let cached = cache_path(&wasm, cache_dir);
    // SAFETY: the file is one this service wrote under target/ with this very wasmtime (its
    // name carries the component's hash and the version); wasmtime checks the header and
    // refuses a file built by another version or configuration.
    if let Ok(component) = unsafe { Component::deserialize_file(&engine, &cached) } {
        let runner =
            TaskRunner::from_component(engine, &component).map_err(|e| format!("{e:?}"))?;
        return Ok((runner, true));
    }
    let component = Component::new(&engine, &wasm)
        .map_err(|error| format!("cannot compile {}: {error:?}", wasm_path.display()))?;
    if let Ok(bytes) = component.serialize() {
        let temporary = cached.with_extension(format!("tmp{}", std::process::id()));
        let written = std::fs::create_dir_all(cache_dir)
            .and_then(|()| std::fs::write(&temporary, bytes))
            .and_then(|()| std::fs::rename(&temporary, &cached));
        if let Err(error) = written {
            eprintln!("http-task-restate: not caching the compiled component: {error}");
        }
    }
    let runner = TaskRunner::from_component(engine, &component).map_err(|e| format!("{e:?}"))?;
    Ok((runner, false))
}

/// `execute` on the blocking pool. Err: the call itself failed (a trap), with wasmtime's text.
pub async fn execute(
    runner: Arc<TaskRunner>,
    input: TaskInput,
) -> Result<Result<String, StepFailure>, String> {
    tokio::task::spawn_blocking(move || runner.execute_capped(&input, Some(MEMORY_CAP_BYTES)))
        .await
        .map_err(|error| format!("the call did not finish: {error}"))?
        .map_err(|error| format!("{error:?}"))
}

/// `render` on the blocking pool (nothing is sent).
pub async fn render(
    runner: Arc<TaskRunner>,
    input: TaskInput,
) -> Result<Result<Rendered, Vec<rust_host::Diagnostic>>, String> {
    tokio::task::spawn_blocking(move || runner.render(&input, Some(MEMORY_CAP_BYTES)))
        .await
        .map_err(|error| format!("the call did not finish: {error}"))?
        .map_err(|error| format!("{error:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_name_follows_the_component_bytes() {
        let dir = Path::new("/cache");
        assert_eq!(cache_path(b"a", dir), cache_path(b"a", dir));
        assert_ne!(cache_path(b"a", dir), cache_path(b"b", dir));
        assert!(cache_path(b"a", dir).starts_with(dir));
    }
}
