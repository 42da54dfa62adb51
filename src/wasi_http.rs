//! `Transport` over the host's `wasi:http/outgoing-handler`: the component has no sockets of
//! its own; connecting, TLS and timeouts are the host's, configured per request.

use std::time::Duration;

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, HeaderError, IncomingResponse, Method, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme,
};
use wasip2::io::streams::StreamError;

use crate::transport::{
    BodyEnd, Timeouts, Transport, TransportError, TransportErrorKind, WireRequest, WireResponse,
    human_duration,
};
use crate::url::Scheme as UrlScheme;

/// wasi:http streams accept at most 4096 bytes per blocking write.
const WRITE_CHUNK: usize = 4096;
const READ_CHUNK: u64 = 64 * 1024;

pub struct WasiHttp;

impl Transport for WasiHttp {
    fn send(
        &mut self,
        request: &WireRequest,
        body_limit: usize,
    ) -> Result<WireResponse, TransportError> {
        let outgoing = build_request(request)?;
        let body = outgoing
            .body()
            .map_err(|()| internal("the request body was already taken"))?;
        let options = request_options(&request.timeouts);
        let future = outgoing_handler::handle(outgoing, Some(options))
            .map_err(|code| error_from_code(&code, &request.timeouts, Phase::Headers))?;

        // A body write fails when the connection does: the response future then says why.
        let written = write_body(&body, request.body.as_bytes());
        let finished = written.and_then(|()| OutgoingBody::finish(body, None).map_err(|_| ()));

        let ready = future.subscribe();
        ready.block();
        drop(ready);
        let response = match future.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(code))) => {
                return Err(error_from_code(&code, &request.timeouts, Phase::Headers));
            }
            Some(Err(())) | None => return Err(internal("the response was lost by the host")),
        };
        if finished.is_err() {
            return Err(TransportError::new(
                TransportErrorKind::Connection,
                "the connection closed while the request body was being sent",
            ));
        }
        read_response(&response, &request.timeouts, body_limit)
    }
}

fn build_request(request: &WireRequest) -> Result<OutgoingRequest, TransportError> {
    let headers = Fields::new();
    for (name, value) in &request.headers {
        headers.append(name, value.as_bytes()).map_err(|e| {
            let why = match e {
                HeaderError::Forbidden => "is forbidden by the host",
                HeaderError::InvalidSyntax => "is invalid for the host",
                HeaderError::Immutable => "cannot be set",
            };
            TransportError::new(
                TransportErrorKind::NotSent,
                format!("header `{name}` {why}"),
            )
        })?;
    }
    let outgoing = OutgoingRequest::new(headers);
    let not_sent = |what: &str| {
        TransportError::new(
            TransportErrorKind::NotSent,
            format!("the host refused the {what}"),
        )
    };
    let method = match request.method.as_str() {
        "POST" => Method::Post,
        other => Method::Other(other.to_string()),
    };
    outgoing
        .set_method(&method)
        .map_err(|()| not_sent("method"))?;
    let scheme = match request.url.scheme {
        UrlScheme::Http => Scheme::Http,
        UrlScheme::Https => Scheme::Https,
    };
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|()| not_sent("scheme"))?;
    outgoing
        .set_authority(Some(&request.url.authority()))
        .map_err(|()| not_sent("host"))?;
    outgoing
        .set_path_with_query(Some(&request.url.path_with_query))
        .map_err(|()| not_sent("path"))?;
    Ok(outgoing)
}

fn request_options(timeouts: &Timeouts) -> RequestOptions {
    let options = RequestOptions::new();
    let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    // A host that does not support a timeout says so; the others still apply.
    let _ = options.set_connect_timeout(Some(nanos(timeouts.connect)));
    let _ = options.set_first_byte_timeout(Some(nanos(timeouts.first_byte)));
    let _ = options.set_between_bytes_timeout(Some(nanos(timeouts.between_bytes)));
    options
}

fn write_body(body: &OutgoingBody, bytes: &[u8]) -> Result<(), ()> {
    let stream = body.write()?;
    for chunk in bytes.chunks(WRITE_CHUNK) {
        stream.blocking_write_and_flush(chunk).map_err(|_| ())?;
    }
    Ok(())
}

fn read_response(
    response: &IncomingResponse,
    timeouts: &Timeouts,
    body_limit: usize,
) -> Result<WireResponse, TransportError> {
    let status = response.status();
    let headers: Vec<(String, String)> = {
        let fields = response.headers();
        fields
            .entries()
            .into_iter()
            .map(|(name, value)| {
                (
                    name.to_ascii_lowercase(),
                    String::from_utf8_lossy(&value).into_owned(),
                )
            })
            .collect()
    };
    let announced = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.trim().parse::<u64>().ok());
    let mut wire = WireResponse {
        status,
        headers,
        body: Vec::new(),
        body_end: BodyEnd::Complete,
    };
    let incoming = response
        .consume()
        .map_err(|()| internal("the response body was already taken"))?;
    {
        // The stream must be dropped before its body: wasi:http resources are parent/child.
        let stream = incoming
            .stream()
            .map_err(|()| internal("the response body stream was already taken"))?;
        wire.body
            .reserve(announced.map_or(0, |n| n.min(body_limit as u64 + 1) as usize));
        loop {
            let room = (body_limit + 1).saturating_sub(wire.body.len()) as u64;
            if room == 0 {
                wire.body.truncate(body_limit);
                wire.body_end = BodyEnd::OverLimit;
                break;
            }
            match stream.blocking_read(room.min(READ_CHUNK)) {
                Ok(chunk) => wire.body.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(error)) => {
                    let failure = match wasip2::http::types::http_error_code(&error) {
                        Some(code) => error_from_code(&code, timeouts, Phase::Body),
                        None => body_error_from_text(&error.to_debug_string(), timeouts),
                    };
                    wire.body_end = BodyEnd::Failed(failure);
                    break;
                }
            }
        }
    }
    drop(incoming);
    Ok(wire)
}

/// wasmtime reports a between-bytes timeout as a plain stream error whose only trace is its
/// debug text ("connection read timeout"), without an `http-error-code`.
fn body_error_from_text(text: &str, timeouts: &Timeouts) -> TransportError {
    let lower = text.to_ascii_lowercase();
    if lower.contains("timeout") || lower.contains("timed out") {
        error_from_code(&ErrorCode::ConnectionReadTimeout, timeouts, Phase::Body)
    } else {
        TransportError::new(
            TransportErrorKind::Connection,
            format!("the connection failed mid-body ({text})"),
        )
    }
}

/// Where an error happened, to say which timeout fired.
#[derive(Clone, Copy)]
enum Phase {
    Headers,
    Body,
}

fn internal(detail: &str) -> TransportError {
    TransportError::new(TransportErrorKind::Protocol, detail)
}

/// wasi:http's error codes, in the outcome table's terms.
fn error_from_code(code: &ErrorCode, timeouts: &Timeouts, phase: Phase) -> TransportError {
    use TransportErrorKind::{Connection, Protocol, Timeout};
    let (kind, detail) = match code {
        ErrorCode::ConnectionTimeout => (
            Timeout,
            format!(
                "could not connect within {} (connectionTimeoutSeconds)",
                human_duration(timeouts.connect)
            ),
        ),
        ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout => match phase {
            Phase::Headers => (
                Timeout,
                format!(
                    "no answer within {} (readTimeoutSeconds)",
                    human_duration(timeouts.first_byte)
                ),
            ),
            Phase::Body => (
                Timeout,
                format!(
                    "the body stalled for more than {} (readTimeoutSeconds)",
                    human_duration(timeouts.between_bytes)
                ),
            ),
        },
        ErrorCode::DnsTimeout => (Timeout, "the host name lookup timed out".into()),
        ErrorCode::ConnectionWriteTimeout => (Timeout, "sending the request timed out".into()),
        ErrorCode::DnsError(payload) => (
            Connection,
            format!(
                "the host name could not be resolved ({})",
                payload.rcode.as_deref().unwrap_or("DNS error")
            ),
        ),
        ErrorCode::DestinationNotFound => (Connection, "the host name does not exist".into()),
        ErrorCode::DestinationUnavailable => (Connection, "the host is unavailable".into()),
        ErrorCode::DestinationIpProhibited => (
            Connection,
            "the host refuses connections to this address".into(),
        ),
        ErrorCode::DestinationIpUnroutable => (Connection, "the address is unroutable".into()),
        ErrorCode::ConnectionRefused => (Connection, "the connection was refused".into()),
        ErrorCode::ConnectionTerminated => (Connection, "the connection was reset".into()),
        ErrorCode::ConnectionLimitReached => {
            (Connection, "the host's connection limit was reached".into())
        }
        ErrorCode::TlsProtocolError => (Connection, "the TLS handshake failed".into()),
        ErrorCode::TlsCertificateError => (
            Connection,
            "the server's TLS certificate was not accepted".into(),
        ),
        ErrorCode::TlsAlertReceived(alert) => (
            Connection,
            format!(
                "the server ended TLS ({})",
                alert.alert_message.as_deref().unwrap_or("alert")
            ),
        ),
        ErrorCode::HttpResponseIncomplete => {
            (Protocol, "the answer ended before it was complete".into())
        }
        ErrorCode::HttpProtocolError => (Protocol, "the answer is not valid HTTP".into()),
        ErrorCode::InternalError(Some(text)) => (Protocol, format!("transport error: {text}")),
        ErrorCode::HttpResponseHeaderSectionSize(_) | ErrorCode::HttpResponseHeaderSize(_) => {
            (Protocol, "the answer's headers are too large".into())
        }
        ErrorCode::HttpResponseTransferCoding(_) | ErrorCode::HttpResponseContentCoding(_) => {
            (Protocol, "the answer uses an unsupported encoding".into())
        }
        // Request-side and host-configuration errors: nothing this task can tell apart
        // usefully, and spelling them out with Debug costs kilobytes of component size.
        _ => (
            Protocol,
            "the host's HTTP layer failed to send the request".into(),
        ),
    };
    TransportError::new(kind, detail)
}
