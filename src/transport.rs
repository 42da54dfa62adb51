//! What the task needs from an HTTP client, as plain types (the `http` crate's at the
//! boundary): the component implements it over the host's `wasi:http/outgoing-handler`
//! (`wasi_http.rs`), native tests over a scripted one (`testkit.rs`).

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::url::TargetUrl;

/// How long each part of an exchange may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Until the connection is open (`connectionTimeoutSeconds`).
    pub connect: Duration,
    /// From the request sent to the first byte of the answer (`readTimeoutSeconds`).
    pub first_byte: Duration,
    /// Between two pieces of the answer's body (`readTimeoutSeconds`).
    pub between_bytes: Duration,
    /// The whole exchange, whatever the server does (`deadlineSeconds`): a server that drips
    /// one byte per second never trips `between_bytes`, but it trips this.
    pub deadline: Duration,
}

/// A request ready for the wire: headers include `Content-Length`.
#[derive(Clone, Debug)]
pub struct WireRequest {
    pub method: Method,
    pub url: TargetUrl,
    /// In the order they are sent.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: String,
    pub timeouts: Timeouts,
}

/// A response whose body was read up to a bound.
#[derive(Clone, Debug)]
pub struct WireResponse {
    /// As the host reported it: hosts pass on any three digits, valid HTTP or not.
    pub status: u16,
    pub headers: HeaderMap,
    /// At most the bound's worth of bytes.
    pub body: Vec<u8>,
    pub body_end: BodyEnd,
}

impl WireResponse {
    /// The first value of a header, as text (invalid UTF-8 replaced).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }
}

/// How reading the body ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyEnd {
    Complete,
    /// The server sent (or announced) more than the bound; the rest was not read.
    OverLimit,
    /// The body broke off: what arrived before is in `body`.
    Failed(TransportError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportErrorKind {
    /// Connect, first-byte or between-bytes timeout, or the deadline.
    Timeout,
    /// DNS, refused or reset connection, TLS.
    Connection,
    /// Malformed HTTP, or any other transport error.
    Protocol,
    /// The host refused the request before anything was sent (e.g. a header its HTTP layer
    /// forbids): sending it again cannot help.
    NotSent,
}

/// Whether the request may have reached the server: what decides if a create may have
/// happened when no answer came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// It certainly did not: nothing was connected (refused, DNS, connect timeout, TLS).
    NotDelivered,
    /// It may have: the connection was open when the exchange failed.
    MaybeDelivered,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportError {
    pub kind: TransportErrorKind,
    pub delivery: Delivery,
    /// For a person: "connection refused", "no first byte within 10 s".
    pub detail: String,
}

impl TransportError {
    pub fn new(kind: TransportErrorKind, delivery: Delivery, detail: impl Into<String>) -> Self {
        Self {
            kind,
            delivery,
            detail: detail.into(),
        }
    }
}

/// Sends one request, exactly once: an implementation never retries.
pub trait Transport {
    /// Reads at most `body_limit` bytes of the response body.
    fn send(
        &mut self,
        request: &WireRequest,
        body_limit: usize,
    ) -> Result<WireResponse, TransportError>;

    /// A monotonic reading of the transport's clock: a call with several exchanges (adopt's
    /// lookups) gives each what its deadline has left. A scripted transport may keep its own
    /// time; the default never moves.
    fn now(&mut self) -> Duration {
        Duration::ZERO
    }
}

/// Whole milliseconds (saturating), kept in u64.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// "10 s", "1.5 s", "250 ms" for messages.
pub fn human_duration(d: Duration) -> String {
    let ms = millis(d);
    if ms % 1000 == 0 {
        format!("{} s", ms / 1000)
    } else if ms > 1000 {
        format!("{}.{} s", ms / 1000, ms % 1000 / 100)
    } else {
        format!("{ms} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_for_people() {
        assert_eq!(human_duration(Duration::from_secs(10)), "10 s");
        assert_eq!(human_duration(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(human_duration(Duration::from_millis(250)), "250 ms");
        assert_eq!(millis(Duration::MAX), u64::MAX);
    }

    #[test]
    fn header_lookup_ignores_case() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("7"));
        let response = WireResponse {
            status: 429,
            headers,
            body: vec![],
            body_end: BodyEnd::Complete,
        };
        assert_eq!(response.header("Retry-After").as_deref(), Some("7"));
    }
}
