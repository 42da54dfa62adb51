//! The engine benchmark's floor (bench/engine.py, in `scripts/bench`): the same Restate
//! workflow shape as `HttpTask` (one workflow, handler `run`, one named `ctx.run` journaling
//! the answer), whose step is a plain native POST instead of the component. What Restate and
//! one HTTP request cost by themselves, so that `HttpTask`'s workflows per second can be read
//! against it. Not a product: a cargo example, never in the shipped binary.
//!
//! `native_floor --listen 127.0.0.1:PORT`, with `NATIVE_FLOOR_TOKEN` in the environment (sent
//! as `Authorization: Bearer …`; the bearer never passes through Restate, as with `HttpTask`).
//! Input `{"url": "http://127.0.0.1:PORT/path", "headers": {name: value}, "body": "<JSON
//! text, already rendered>"}`; output `{"statusCode", "headers", "body"}` with the body parsed
//! and `body.token.value` removed, as `HttpTask` journals it. Like the component (wasi:http),
//! each POST opens a new connection; only plain `http://` URLs.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use restate_sdk::prelude::*;
use restate_sdk::service::IntoServiceDefinition;
use serde_json::{Map, Value};
use std::time::Duration;

/// The journaled answer's cap on the request: the fixture's `readTimeoutSeconds`.
const TIMEOUT: Duration = Duration::from_secs(10);

struct NativeFloor {
    token: String,
}

#[restate_sdk::workflow]
impl NativeFloor {
    #[handler]
    async fn run(
        &self,
        ctx: WorkflowContext<'_>,
        input: Json<Value>,
    ) -> Result<Json<Value>, HandlerError> {
        let input = input.into_inner();
        let token = self.token.clone();
        let output = ctx
            .run(|| async move {
                match tokio::time::timeout(TIMEOUT, post(&input, &token)).await {
                    Ok(Ok(output)) => Ok(Json(output)),
                    Ok(Err(error)) => Err(TerminalError::new(error).into()),
                    Err(_) => Err(TerminalError::new("the POST timed out").into()),
                }
            })
            .name("attempt 1")
            .await?;
        Ok(output)
    }
}

/// One POST of the input's body on a new connection; the answer as `HttpTask` journals it.
async fn post(input: &Value, token: &str) -> Result<Value, String> {
    let url: hyper::Uri =
        input["url"].as_str().unwrap_or_default().parse().map_err(|e| format!("url: {e}"))?;
    let body = input["body"].as_str().ok_or("body: expected the JSON text")?.to_string();
    let authority = url.authority().ok_or("url: no host")?.clone();
    let stream =
        tokio::net::TcpStream::connect(authority.as_str()).await.map_err(|e| e.to_string())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let mut request = hyper::Request::post(url.path()).header("host", authority.as_str());
    for (name, value) in input["headers"].as_object().into_iter().flatten() {
        request = request.header(name.as_str(), value.as_str().unwrap_or_default());
    }
    let request = request
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let headers: Map<String, Value> = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (name.to_string(), Value::String(String::from_utf8_lossy(value.as_bytes()).into()))
        })
        .collect();
    let bytes = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    let mut body: Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    if let Some(token) = body.pointer_mut("/token").and_then(Value::as_object_mut) {
        token.remove("value");
    }
    Ok(serde_json::json!({"statusCode": status, "headers": headers, "body": body}))
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let listen = match (args.next().as_deref(), args.next()) {
        (Some("--listen"), Some(address)) => address,
        _ => {
            eprintln!("usage: native_floor --listen 127.0.0.1:PORT (NATIVE_FLOOR_TOKEN set)");
            std::process::exit(2);
        }
    };
    let token = std::env::var("NATIVE_FLOOR_TOKEN").unwrap_or_default();
    let listener = tokio::net::TcpListener::bind(&listen).await.unwrap_or_else(|error| {
        eprintln!("native_floor: cannot listen on {listen}: {error}");
        std::process::exit(2);
    });
    println!("LISTENING {}", listener.local_addr().map(|a| a.to_string()).unwrap_or_default());
    let endpoint =
        Endpoint::builder().bind(NativeFloor { token }.into_service_definition()).build();
    HttpServer::new(endpoint).serve(listener).await;
}
