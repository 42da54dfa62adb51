//! What the task needs from an HTTP client, as plain types: the component implements it over
//! the host's `wasi:http/outgoing-handler` (`wasi_http.rs`), native tests over a fake.

use std::time::Duration;

use crate::url::TargetUrl;

/// wasi:http's three timeouts, from the definition's two settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub first_byte: Duration,
    pub between_bytes: Duration,
}

/// A request ready for the wire: headers include `Content-Length`.
#[derive(Clone, Debug)]
pub struct WireRequest {
    pub method: String,
    pub url: TargetUrl,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub timeouts: Timeouts,
}

/// A response whose body was read up to a bound.
#[derive(Clone, Debug)]
pub struct WireResponse {
    pub status: u16,
    /// Names lower-cased, in the order received.
    pub headers: Vec<(String, String)>,
    /// At most the bound's worth of bytes.
    pub body: Vec<u8>,
    pub body_end: BodyEnd,
}

impl WireResponse {
    /// The first value of a header (`name` lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
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
    /// Connect, first-byte or between-bytes timeout.
    Timeout,
    /// DNS, refused or reset connection, TLS.
    Connection,
    /// Malformed HTTP, or any other transport error.
    Protocol,
    /// The host refused the request before anything was sent (e.g. a header its HTTP layer
    /// forbids): sending it again cannot help.
    NotSent,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportError {
    pub kind: TransportErrorKind,
    /// For a person: "connection refused", "no first byte within 10 s".
    pub detail: String,
}

impl TransportError {
    pub fn new(kind: TransportErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
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
}

/// Whole milliseconds (saturating), kept in u64: u128 and float formatting would each add
/// kilobytes to the component.
pub fn millis(d: Duration) -> u64 {
    d.as_secs()
        .saturating_mul(1000)
        .saturating_add(u64::from(d.subsec_millis()))
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
}
