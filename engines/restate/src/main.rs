//! `http-task-restate --listen 127.0.0.1:PORT --component C.wasm [--cache-dir DIR]`: the HTTP
//! Task as a Restate workflow service (docs/engine.md). It binds and answers Restate's
//! discovery at once and loads the component in the background (a precompiled copy from
//! DIR, by default `precompiled/` beside the binary, under target/).

mod attempts;
mod credentials;
mod runner;
mod seal;
mod workflow;

use restate_sdk::prelude::*;
use restate_sdk::service::IntoServiceDefinition;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

const USAGE: &str =
    "usage: http-task-restate --listen 127.0.0.1:PORT --component C.wasm [--cache-dir DIR]";

struct Args {
    listen: SocketAddr,
    component: PathBuf,
    cache_dir: PathBuf,
}

fn args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut listen, mut component, mut cache_dir) = (None, None, None);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag}: missing its value"));
        match flag.as_str() {
            "--listen" => listen = Some(value()?.parse().map_err(|e| format!("--listen: {e}"))?),
            "--component" => component = Some(PathBuf::from(value()?)),
            "--cache-dir" => cache_dir = Some(PathBuf::from(value()?)),
            "--help" | "-h" => return Err(USAGE.into()),
            other => return Err(format!("{other}: unknown argument\n{USAGE}")),
        }
    }
    let default_cache = || {
        let exe = std::env::current_exe().unwrap_or_default();
        exe.parent()
            .map(|dir| dir.join("precompiled"))
            .unwrap_or_else(|| PathBuf::from("precompiled"))
    };
    Ok(Args {
        listen: listen.ok_or(format!("--listen is required\n{USAGE}"))?,
        component: component.ok_or(format!("--component is required\n{USAGE}"))?,
        cache_dir: cache_dir.unwrap_or_else(default_cache),
    })
}

#[tokio::main]
async fn main() {
    let (args, credentials) =
        match args().and_then(|args| Ok((args, credentials::Credentials::from_env()?))) {
            Ok(ready) => ready,
            Err(error) => {
                eprintln!("http-task-restate: {error}");
                std::process::exit(2);
            }
        };
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("http-task-restate: cannot listen on {}: {error}", args.listen);
            std::process::exit(2);
        }
    };
    let shared = Arc::new(workflow::Shared::new(args.component, args.cache_dir, credentials));
    // Compile (or deserialize) while Restate discovers the service; a failure shows here and
    // again in every invocation, which Restate retries.
    let loading = shared.clone();
    tokio::spawn(async move {
        if let Err(error) = loading.runner().await {
            eprintln!("http-task-restate: {error}");
        }
    });
    let service =
        workflow::HttpTask(shared).into_service_definition().options(workflow::service_options());
    println!("LISTENING {}", listener.local_addr().map(|a| a.to_string()).unwrap_or_default());
    HttpServer::new(Endpoint::builder().bind(service).build()).serve(listener).await;
}
