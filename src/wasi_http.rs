//! `Transport` over the host's `wasi:http/outgoing-handler`: the component has no sockets of
//! its own; connecting and TLS are the host's.
//!
//! Timeouts are set twice: as wasi:http request options, for the hosts that honour them, and
//! on the component's own clock (`wasi:clocks/monotonic-clock` timers polled together with the
//! response and with each body read), so that a host that honours only some options (jco's
//! Node shim ignores the first-byte one) still ends every exchange on time, and the
//! definition's `deadlineSeconds` bounds the whole exchange whatever the server does.

use std::time::Duration;

use wasip2::clocks::monotonic_clock::{self, Instant};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, HeaderError, IncomingResponse, Method, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme,
};
use wasip2::io::poll::{Pollable, poll};
use wasip2::io::streams::{InputStream, OutputStream, StreamError};

use crate::transport::{
    BodyEnd, Delivery, Timeouts, Transport, TransportError, TransportErrorKind, WireRequest,
    WireResponse, human_duration,
};
use crate::url::Scheme as UrlScheme;

/// The most bytes asked for per body read.
const READ_CHUNK: u64 = 64 * 1024;

pub(crate) struct WasiHttp;

impl Transport for WasiHttp {
    fn send(
        &mut self,
        request: &WireRequest,
        body_limit: usize,
    ) -> Result<WireResponse, TransportError> {
        let clock = Clock::start(request.timeouts);
        let outgoing = build_request(request)?;
        let body = outgoing
            .body()
            .map_err(|()| internal("the request body was already taken"))?;
        let future = outgoing_handler::handle(outgoing, Some(clock.request_options()))
            .map_err(|code| error_from_code(&code, &clock, Phase::Headers))?;

        // A body write fails when the connection does: the response future then says why.
        let written = write_body(&body, request.body.as_bytes(), &clock);
        let finished = match written {
            Ok(()) => OutgoingBody::finish(body, None).map_err(|_| None),
            Err(timeout) => Err(timeout),
        };

        let ready = future.subscribe();
        clock.wait(&ready, clock.first_byte_until(), Phase::Headers)?;
        drop(ready);
        let response = match future.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(code))) => return Err(error_from_code(&code, &clock, Phase::Headers)),
            Some(Err(())) | None => return Err(internal("the response was lost by the host")),
        };
        match finished {
            Ok(()) => {}
            Err(Some(timeout)) => return Err(timeout),
            Err(None) => {
                return Err(TransportError::new(
                    TransportErrorKind::Connection,
                    Delivery::MaybeDelivered,
                    "the connection closed while the request body was being sent",
                ));
            }
        }
        read_response(&response, &clock, body_limit)
    }

    fn now(&mut self) -> Duration {
        Duration::from_nanos(monotonic_clock::now())
    }
}

/// The exchange's timers, on the component's monotonic clock.
struct Clock {
    timeouts: Timeouts,
    started: Instant,
    /// `deadlineSeconds` after the start: nothing waits past it.
    deadline: Instant,
    /// Polled with every wait, created once.
    deadline_timer: Pollable,
}

impl Clock {
    fn start(timeouts: Timeouts) -> Clock {
        let started = monotonic_clock::now();
        let deadline = started.saturating_add(nanos(timeouts.deadline));
        Clock {
            timeouts,
            started,
            deadline,
            deadline_timer: monotonic_clock::subscribe_instant(deadline),
        }
    }

    /// wasi:http's own timeouts, none past the deadline. A host that does not support one
    /// says so; the others still apply, and the component's timers back them up.
    fn request_options(&self) -> RequestOptions {
        let options = RequestOptions::new();
        let left = |d: Duration| nanos(d).min(self.deadline.saturating_sub(monotonic_clock::now()));
        let _ = options.set_connect_timeout(Some(left(self.timeouts.connect)));
        let _ = options.set_first_byte_timeout(Some(left(self.timeouts.first_byte)));
        let _ = options.set_between_bytes_timeout(Some(left(self.timeouts.between_bytes)));
        options
    }

    /// When the first byte must have come: the component cannot see when the host's
    /// connection opened, so its own timer allows the connect timeout on top.
    fn first_byte_until(&self) -> Instant {
        self.started
            .saturating_add(nanos(self.timeouts.connect))
            .saturating_add(nanos(self.timeouts.first_byte))
    }

    /// Waits until `ready` is ready, or fails at `until` or the deadline, whichever is first.
    fn wait(&self, ready: &Pollable, until: Instant, phase: Phase) -> Result<(), TransportError> {
        if ready.ready() {
            return Ok(());
        }
        let timer = (until < self.deadline).then(|| monotonic_clock::subscribe_instant(until));
        let mut pollables = vec![ready, &self.deadline_timer];
        pollables.extend(timer.as_ref());
        poll(&pollables);
        if ready.ready() {
            return Ok(());
        }
        Err(self.timeout(phase, self.deadline_timer.ready()))
    }

    fn timeout(&self, phase: Phase, deadline: bool) -> TransportError {
        let detail = if deadline {
            format!(
                "the exchange was still not complete after {} (deadlineSeconds)",
                human_duration(self.timeouts.deadline)
            )
        } else {
            match phase {
                Phase::Headers => format!(
                    "no answer within {} (readTimeoutSeconds)",
                    human_duration(self.timeouts.first_byte)
                ),
                Phase::Body => format!(
                    "the body stalled for more than {} (readTimeoutSeconds)",
                    human_duration(self.timeouts.between_bytes)
                ),
                Phase::Sending => format!(
                    "the server did not take the request body within {} (readTimeoutSeconds)",
                    human_duration(self.timeouts.between_bytes)
                ),
            }
        };
        TransportError::new(
            TransportErrorKind::Timeout,
            Delivery::MaybeDelivered,
            detail,
        )
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn after(d: Duration) -> Instant {
    monotonic_clock::now().saturating_add(nanos(d))
}

fn build_request(request: &WireRequest) -> Result<OutgoingRequest, TransportError> {
    let not_sent = |detail: String| {
        TransportError::new(TransportErrorKind::NotSent, Delivery::NotDelivered, detail)
    };
    let headers = Fields::new();
    for (name, value) in &request.headers {
        headers
            .append(name.as_str(), value.as_bytes())
            .map_err(|e| {
                let why = match e {
                    HeaderError::Forbidden => "is forbidden by the host",
                    HeaderError::InvalidSyntax => "is invalid for the host",
                    HeaderError::Immutable => "cannot be set",
                };
                not_sent(format!("header `{name}` {why}"))
            })?;
    }
    let outgoing = OutgoingRequest::new(headers);
    let refused = |what: &str| not_sent(format!("the host refused the {what}"));
    let method = match request.method {
        http::Method::GET => Method::Get,
        http::Method::HEAD => Method::Head,
        http::Method::POST => Method::Post,
        http::Method::PUT => Method::Put,
        http::Method::DELETE => Method::Delete,
        http::Method::CONNECT => Method::Connect,
        http::Method::OPTIONS => Method::Options,
        http::Method::TRACE => Method::Trace,
        http::Method::PATCH => Method::Patch,
        ref other => Method::Other(other.to_string()),
    };
    outgoing
        .set_method(&method)
        .map_err(|()| refused("method"))?;
    let scheme = match request.url.scheme {
        UrlScheme::Http => Scheme::Http,
        UrlScheme::Https => Scheme::Https,
    };
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|()| refused("scheme"))?;
    outgoing
        .set_authority(Some(&request.url.authority()))
        .map_err(|()| refused("host"))?;
    outgoing
        .set_path_with_query(Some(&request.url.path_with_query))
        .map_err(|()| refused("path"))?;
    Ok(outgoing)
}

/// Writes the request body as fast as the host takes it, but never past the deadline or
/// longer than the between-bytes timeout without progress. Err(None): the stream failed (the
/// response future says why); Err(Some(timeout)).
fn write_body(
    body: &OutgoingBody,
    bytes: &[u8],
    clock: &Clock,
) -> Result<(), Option<TransportError>> {
    let stream: OutputStream = body.write().map_err(|()| None)?;
    let ready = stream.subscribe();
    let mut rest = bytes;
    while !rest.is_empty() {
        let room = stream.check_write().map_err(|_| None)?;
        if room == 0 {
            let until = after(clock.timeouts.between_bytes);
            clock.wait(&ready, until, Phase::Sending).map_err(Some)?;
            continue;
        }
        let (now, later) =
            rest.split_at(rest.len().min(usize::try_from(room).unwrap_or(usize::MAX)));
        stream.write(now).map_err(|_| None)?;
        rest = later;
    }
    // The flush is done when the stream can take writes again, or when the host closed it
    // because it took the whole body (Content-Length reached; wasmtime closes the stream as
    // the last byte goes): a failed connection shows in the response future.
    match stream.flush() {
        Ok(()) => {}
        Err(StreamError::Closed) => return Ok(()),
        Err(StreamError::LastOperationFailed(_)) => return Err(None),
    }
    loop {
        match stream.check_write() {
            Ok(0) => clock
                .wait(&ready, after(clock.timeouts.between_bytes), Phase::Sending)
                .map_err(Some)?,
            Ok(_) | Err(StreamError::Closed) => return Ok(()),
            Err(StreamError::LastOperationFailed(_)) => return Err(None),
        }
    }
}

fn read_response(
    response: &IncomingResponse,
    clock: &Clock,
    body_limit: usize,
) -> Result<WireResponse, TransportError> {
    let status = response.status();
    let mut headers = http::HeaderMap::new();
    for (name, value) in response.headers().entries() {
        // Hosts hand over valid header fields; anything else is left out, not fatal.
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_bytes(&value),
        ) {
            headers.append(name, value);
        }
    }
    let announced = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
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
        wire.body_end = read_body(&stream, clock, body_limit, &mut wire.body);
    }
    drop(incoming);
    Ok(wire)
}

/// Reads up to `limit` bytes into `body`. Data already there is taken without waiting; an
/// empty read of a flowing body spins briefly (`arrives_soon`), and only then does the guest
/// wait, on the stream, the between-bytes timer and the deadline together. (wasmtime hands
/// over one body frame per read, so a body in 500,000 one-byte chunks costs that many reads
/// whatever the guest does; the guest adds no timer or clock call per piece.)
fn read_body(stream: &InputStream, clock: &Clock, limit: usize, body: &mut Vec<u8>) -> BodyEnd {
    let ready = stream.subscribe();
    // The between-bytes timer is armed once and re-armed only when it fires after progress:
    // a body in many small pieces then costs one read per piece, not a timer each.
    let mut stall = BetweenBytes::arm(clock);
    // The last read brought data: the body is flowing, and its next piece is likely a few
    // microseconds away.
    let mut flowing = false;
    loop {
        let room = (limit + 1).saturating_sub(body.len()) as u64;
        if room == 0 {
            body.truncate(limit);
            return BodyEnd::OverLimit;
        }
        match stream.read(room.min(READ_CHUNK)) {
            Ok(chunk) if !chunk.is_empty() => {
                stall.progressed = true;
                flowing = true;
                body.extend_from_slice(&chunk);
            }
            Ok(_) => {
                if std::mem::take(&mut flowing) && arrives_soon(&ready) {
                    continue;
                }
                poll(&[&ready, &stall.timer, &clock.deadline_timer]);
                if ready.ready() {
                    continue;
                }
                if clock.deadline_timer.ready() {
                    return BodyEnd::Failed(clock.timeout(Phase::Body, true));
                }
                if !stall.progressed {
                    return BodyEnd::Failed(clock.timeout(Phase::Body, false));
                }
                stall = BetweenBytes::arm(clock);
            }
            Err(StreamError::Closed) => return BodyEnd::Complete,
            Err(StreamError::LastOperationFailed(error)) => {
                let failure = match wasip2::http::types::http_error_code(&error) {
                    Some(code) => error_from_code(&code, clock, Phase::Body),
                    None => body_error_from_text(&error.to_debug_string(), clock),
                };
                return BodyEnd::Failed(failure);
            }
        }
    }
}

/// How many times a flowing body's stream is checked before the guest parks in `poll`.
const SPIN_CHECKS: u32 = 200;

/// Whether the stream becomes readable within a short spin (`SPIN_CHECKS` checks, a few tens
/// of microseconds). Under wasmtime the HTTP connection runs on another thread and hands over
/// one body frame at a time, and parking the guest in `poll` costs it ~50 µs per frame: a body
/// in 500,000 one-byte chunks took 28 s that way. The next frame of a flowing body is usually
/// ready sooner than that, so a bounded spin first, as a mutex spins before it parks, takes
/// it at ~1/5 of the cost, and the spin is spent only once per pause of the body.
fn arrives_soon(ready: &Pollable) -> bool {
    (0..SPIN_CHECKS).any(|_| ready.ready())
}

/// A between-bytes timer: a stall is a whole period without progress, so the timeout fires
/// between one and two periods after the last piece of the body.
struct BetweenBytes {
    timer: Pollable,
    progressed: bool,
}

impl BetweenBytes {
    fn arm(clock: &Clock) -> Self {
        BetweenBytes {
            timer: monotonic_clock::subscribe_duration(nanos(clock.timeouts.between_bytes)),
            progressed: false,
        }
    }
}

/// wasmtime reports a between-bytes timeout as a plain stream error whose only trace is its
/// debug text ("connection read timeout"), without an `http-error-code`.
fn body_error_from_text(text: &str, clock: &Clock) -> TransportError {
    let lower = text.to_ascii_lowercase();
    if lower.contains("timeout") || lower.contains("timed out") {
        error_from_code(&ErrorCode::ConnectionReadTimeout, clock, Phase::Body)
    } else {
        TransportError::new(
            TransportErrorKind::Connection,
            Delivery::MaybeDelivered,
            format!("the connection failed mid-body ({text})"),
        )
    }
}

/// Where an error happened, to say which timeout fired.
#[derive(Clone, Copy)]
enum Phase {
    Sending,
    Headers,
    Body,
}

fn internal(detail: &str) -> TransportError {
    TransportError::new(
        TransportErrorKind::Protocol,
        Delivery::MaybeDelivered,
        detail,
    )
}

/// wasi:http's error codes, in the outcome table's terms, with whether the request may have
/// reached the server: every failure before a connection opens means it certainly did not.
fn error_from_code(code: &ErrorCode, clock: &Clock, phase: Phase) -> TransportError {
    use Delivery::{MaybeDelivered, NotDelivered};
    use TransportErrorKind::{Connection, NotSent, Protocol, Timeout};
    let (kind, delivery, detail) = match code {
        ErrorCode::ConnectionTimeout => (
            Timeout,
            NotDelivered,
            format!(
                "could not connect within {} (connectionTimeoutSeconds)",
                human_duration(clock.timeouts.connect)
            ),
        ),
        ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout => {
            // The host's timeouts are capped at what the deadline left when the request was
            // made: one that fires once the deadline has passed is the deadline's doing.
            let late = clock.timeout(phase, clock.deadline_timer.ready());
            (Timeout, MaybeDelivered, late.detail)
        }
        ErrorCode::DnsTimeout => (
            Timeout,
            NotDelivered,
            "the host name lookup timed out".into(),
        ),
        ErrorCode::ConnectionWriteTimeout => (
            Timeout,
            MaybeDelivered,
            "sending the request timed out".into(),
        ),
        ErrorCode::DnsError(payload) => (
            Connection,
            NotDelivered,
            format!(
                "the host name could not be resolved ({})",
                payload.rcode.as_deref().unwrap_or("DNS error")
            ),
        ),
        ErrorCode::DestinationNotFound => (
            Connection,
            NotDelivered,
            "the host name does not exist".into(),
        ),
        ErrorCode::DestinationUnavailable => {
            (Connection, NotDelivered, "the host is unavailable".into())
        }
        ErrorCode::DestinationIpProhibited => (
            Connection,
            NotDelivered,
            "the host refuses connections to this address".into(),
        ),
        ErrorCode::DestinationIpUnroutable => {
            (Connection, NotDelivered, "the address is unroutable".into())
        }
        ErrorCode::ConnectionRefused => (
            Connection,
            NotDelivered,
            "the connection was refused".into(),
        ),
        ErrorCode::ConnectionTerminated => (
            Connection,
            MaybeDelivered,
            "the connection was reset".into(),
        ),
        ErrorCode::ConnectionLimitReached => (
            Connection,
            NotDelivered,
            "the host's connection limit was reached".into(),
        ),
        ErrorCode::TlsProtocolError => {
            (Connection, NotDelivered, "the TLS handshake failed".into())
        }
        ErrorCode::TlsCertificateError => (
            Connection,
            NotDelivered,
            "the server's TLS certificate was not accepted".into(),
        ),
        ErrorCode::TlsAlertReceived(alert) => (
            Connection,
            NotDelivered,
            format!(
                "the server ended TLS ({})",
                alert.alert_message.as_deref().unwrap_or("alert")
            ),
        ),
        ErrorCode::HttpResponseIncomplete => (
            Protocol,
            MaybeDelivered,
            "the answer ended before it was complete".into(),
        ),
        ErrorCode::HttpProtocolError => (
            Protocol,
            MaybeDelivered,
            "the answer is not valid HTTP".into(),
        ),
        ErrorCode::InternalError(Some(text)) => {
            (Protocol, MaybeDelivered, format!("transport error: {text}"))
        }
        ErrorCode::HttpResponseHeaderSectionSize(_) | ErrorCode::HttpResponseHeaderSize(_) => (
            Protocol,
            MaybeDelivered,
            "the answer's headers are too large".into(),
        ),
        ErrorCode::HttpResponseTransferCoding(_) | ErrorCode::HttpResponseContentCoding(_) => (
            Protocol,
            MaybeDelivered,
            "the answer uses an unsupported encoding".into(),
        ),
        ErrorCode::HttpRequestDenied
        | ErrorCode::HttpRequestMethodInvalid
        | ErrorCode::HttpRequestUriInvalid
        | ErrorCode::HttpRequestUriTooLong
        | ErrorCode::HttpRequestHeaderSectionSize(_)
        | ErrorCode::HttpRequestHeaderSize(_)
        | ErrorCode::HttpRequestBodySize(_)
        | ErrorCode::HttpRequestLengthRequired => (
            NotSent,
            NotDelivered,
            format!("its HTTP layer refused to send it ({code:?})"),
        ),
        _ => (
            Protocol,
            MaybeDelivered,
            "the host's HTTP layer failed to send the request".into(),
        ),
    };
    TransportError::new(kind, delivery, detail)
}
