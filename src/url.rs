//! The request URL: placeholders fill only the path and query, inserted text is
//! percent-encoded, and the scheme, host and port come from the definition alone, so
//! parameters can never send the request (and its token) to another host.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::fmt;

use crate::diagnostic::Diagnostics;
use crate::template::{Parameters, abbreviate, render_text_with};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

/// A rendered, checked request target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetUrl {
    pub scheme: Scheme,
    /// Lower-case host name, dotted-decimal IPv4, or bracketed IPv6 (`[::1]`).
    pub host: String,
    pub port: Option<u16>,
    /// Starts with `/`; every byte is a valid URL character.
    pub path_with_query: String,
}

impl TargetUrl {
    /// `host[:port]`, as the `Host` header and wasi:http's authority want it.
    pub fn authority(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }

    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.host)
    }
}

impl fmt::Display for TargetUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        write!(f, "{scheme}://{}{}", self.authority(), self.path_with_query)
    }
}

/// Inserted text keeps only RFC 3986 unreserved characters: `/`, `?`, `&`, `#`, `@` from a
/// parameter can never change the path's shape, the query's keys or the target. (Secrets are
/// masked in this spelling too: `SecretSet::add`.)
pub(crate) const INSERTED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The longest URL sent: servers and front ends refuse longer request lines (414), and
/// wasi:http hosts cannot send one over 64 KiB at all.
pub const MAX_URL_BYTES: usize = 16 * 1024;

/// Renders and checks `template` (from `httpRequest.url`); problems are diagnostics at `path`.
/// `expected_host` is the operation's own host: any other (but loopback) earns a warning.
pub fn render_url(
    template: &str,
    parameters: &Parameters,
    path: &str,
    expected_host: &str,
    diagnostics: &mut Diagnostics,
) -> Option<TargetUrl> {
    let template = template.trim();
    let Some((scheme, rest)) = template.split_once("://") else {
        diagnostics.error(
            path,
            format!(
                "`{}` is not an absolute URL: write it as `https://{expected_host}/...`",
                abbreviate(template, 80)
            ),
        );
        return None;
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path_and_query) = rest.split_at(authority_end);
    if scheme.contains("${") || authority.contains("${") {
        diagnostics.error(
            path,
            "placeholders may fill only the URL's path and query: the scheme, host and port are \
             fixed by the definition so that parameters cannot redirect the request",
        );
        return None;
    }
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "https" => Scheme::Https,
        "http" => Scheme::Http,
        other => {
            diagnostics.error(
                path,
                format!(
                    "scheme `{}` is not supported: use https://",
                    abbreviate(other, 20)
                ),
            );
            return None;
        }
    };
    let (host, port) = match parse_authority(authority) {
        Ok(parts) => parts,
        Err(problem) => {
            diagnostics.error(path, problem);
            return None;
        }
    };
    if scheme == Scheme::Http && !is_loopback_host(&host) {
        diagnostics.error(
            path,
            format!(
                "http:// is allowed only for loopback hosts (local stand-ins), not `{host}`: use \
                 https:// so that the API token is never sent in clear text"
            ),
        );
        return None;
    }

    let room = MAX_URL_BYTES.saturating_sub(template.len() - path_and_query.len());
    let rendered = render_text_with(
        path_and_query,
        parameters,
        room,
        path,
        diagnostics,
        |text, out| {
            out.extend(utf8_percent_encode(text, INSERTED));
        },
    )?;
    // A raw `#` can only come from the definition's own text (inserted ones are encoded).
    let path_with_query = match rendered.split_once('#') {
        Some((before, _)) => {
            diagnostics.warning(
                path,
                "the URL's #fragment is never sent to the server; it is dropped",
            );
            before
        }
        None => rendered.as_str(),
    };
    let path_with_query = normalize_target(path_with_query);
    if let Some(segment) = dot_segment(&path_with_query) {
        diagnostics.error(
            path,
            format!(
                "the URL's path contains the segment `{segment}`, which would move up the path"
            ),
        );
        return None;
    }
    if !host.eq_ignore_ascii_case(expected_host) && !is_loopback_host(&host) {
        diagnostics.warning(
            path,
            format!(
                "requests go to `{host}`, not `{expected_host}`: the API token and access tokens \
                 are sent there"
            ),
        );
    }
    Some(TargetUrl {
        scheme,
        host,
        port,
        path_with_query,
    })
}

/// Splits `host[:port]` and checks each part; userinfo is refused outright.
fn parse_authority(authority: &str) -> Result<(String, Option<u16>), String> {
    if authority.contains('@') {
        return Err(
            "the URL must not contain a user name or password (`user@host`): send \
                    credentials through the task's credentials"
                .into(),
        );
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (inside, after) = bracketed
            .split_once(']')
            .ok_or("the IPv6 address in the URL is missing its `]`")?;
        if parse_ipv6(inside).is_none() {
            return Err(format!(
                "`[{}]` is not a valid IPv6 address",
                abbreviate(inside, 60)
            ));
        }
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or("unexpected text after the IPv6 address")?,
            ),
        };
        (format!("[{}]", inside.to_ascii_lowercase()), port)
    } else {
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        (check_host_name(host)?, port)
    };
    let port = port.map(parse_port).transpose()?;
    Ok((host, port))
}

fn parse_port(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(port) if port > 0 && text.bytes().all(|b| b.is_ascii_digit()) => Ok(port),
        _ => Err(format!(
            "`{}` is not a valid port (1 to 65535)",
            abbreviate(text, 20)
        )),
    }
}

/// A DNS name (ASCII letters, digits, `-`, `.`) or a dotted-decimal IPv4 address. Numeric
/// hosts in other spellings (`127.1`, `0x7f.0.0.1`, `2130706433`, `0177.0.0.1`) are refused:
/// resolvers disagree on them, which is how checks like the loopback rule get bypassed.
fn check_host_name(host: &str) -> Result<String, String> {
    if host.is_empty() {
        return Err("the URL has no host".into());
    }
    let host = host.to_ascii_lowercase();
    if let Some(bad) = host
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
    {
        return Err(format!(
            "the host `{}` contains `{bad}`: write host names with ASCII letters, digits, `-` and \
             `.` (internationalized names in their xn-- form)",
            abbreviate(&host, 80)
        ));
    }
    if host
        .split('.')
        .any(|label| label.is_empty() || label.len() > 63)
        || host.len() > 253
    {
        return Err(format!(
            "`{}` is not a valid host name",
            abbreviate(&host, 80)
        ));
    }
    let last = host.rsplit('.').next().unwrap_or_default();
    let numeric = last.bytes().all(|b| b.is_ascii_digit()) || last.starts_with("0x");
    if numeric && parse_ipv4(&host).is_none() {
        return Err(format!(
            "`{}` looks like an IP address in a non-standard form: write IPv4 addresses as four \
             decimal numbers (e.g. 127.0.0.1)",
            abbreviate(&host, 80)
        ));
    }
    Ok(host)
}

fn is_loopback_host(host: &str) -> bool {
    if host == "localhost" {
        return true;
    }
    if let Some([127, ..]) = parse_ipv4(host) {
        return true;
    }
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .and_then(parse_ipv6)
        .is_some_and(|groups| groups == [0, 0, 0, 0, 0, 0, 0, 1])
}

/// Strict dotted decimal: four numbers from 0 to 255 without leading zeros (std's parser).
fn parse_ipv4(text: &str) -> Option<[u8; 4]> {
    text.parse::<std::net::Ipv4Addr>().ok().map(|a| a.octets())
}

/// RFC 4291 text form, optionally ending in dotted decimal; zone identifiers are refused
/// (std's parser).
fn parse_ipv6(text: &str) -> Option<[u16; 8]> {
    text.parse::<std::net::Ipv6Addr>()
        .ok()
        .map(|a| a.segments())
}

/// Makes the definition's own path text a valid request target: a leading `/`, and any byte
/// that may not appear raw in a path or query percent-encoded (existing `%XX` kept).
fn normalize_target(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 1);
    if !text.starts_with('/') {
        out.push('/');
    }
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let keep = b.is_ascii_alphanumeric()
            || b"-._~!$&'()*+,;=:@/?".contains(&b)
            || (b == b'%'
                && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit));
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The first `.` or `..` path segment, in any percent-encoded spelling.
fn dot_segment(path_with_query: &str) -> Option<&str> {
    let path = path_with_query.split('?').next().unwrap_or_default();
    path.split('/').find(|segment| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded == "." || decoded == ".."
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HOST: &str = "api.digitalocean.com";

    fn render(
        template: &str,
        parameters: serde_json::Value,
    ) -> (Option<TargetUrl>, Vec<crate::diagnostic::Diagnostic>) {
        let mut d = Diagnostics::new();
        let url = render_url(
            template,
            &Parameters::new(&parameters),
            "httpRequest.url",
            HOST,
            &mut d,
        );
        (url, d.to_vec())
    }

    #[test]
    fn plain_url() {
        let (url, d) = render(
            "https://api.digitalocean.com/v2/dedicated-inferences",
            json!({}),
        );
        let url = url.unwrap();
        assert!(d.is_empty());
        assert_eq!(url.scheme, Scheme::Https);
        assert_eq!(url.authority(), HOST);
        assert_eq!(
            url.to_string(),
            "https://api.digitalocean.com/v2/dedicated-inferences"
        );
    }

    #[test]
    fn inserted_text_is_percent_encoded_in_path_and_query() {
        let p = json!({"seg": "a/b?c#d@e f", "q": "x&y=z", "dots": ".."});
        let (url, d) = render("http://127.0.0.1:8080/v2/${$.seg}?tag=${$.q}", p.clone());
        assert!(d.is_empty(), "{d:?}");
        let url = url.unwrap();
        assert_eq!(
            url.path_with_query,
            "/v2/a%2Fb%3Fc%23d%40e%20f?tag=x%26y%3Dz"
        );
        assert_eq!(url.port, Some(8080));
        let (url, d) = render("https://api.digitalocean.com/v2/${$.dots}/x", p);
        assert!(url.is_none());
        assert!(d[0].message.contains("`..`"), "{}", d[0].message);
    }

    #[test]
    fn jsonata_fills_path_and_query_percent_encoded_only() {
        let p = json!({"seg": "a/b", "team": "Ops Team"});
        let (url, d) = render(
            "https://api.digitalocean.com/v2/${jsonata: seg & \"?\"}?q=${jsonata: $lowercase(team)}",
            p.clone(),
        );
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(url.unwrap().path_with_query, "/v2/a%2Fb%3F?q=ops%20team");
        let (url, d) = render("https://${jsonata: \"evil.example\"}/v2", p);
        assert!(url.is_none());
        assert!(
            d[0].message.contains("only the URL's path and query"),
            "{d:?}"
        );
    }

    #[test]
    fn placeholders_never_reach_scheme_host_or_port() {
        for t in [
            "https://${$.host}/v2",
            "https://api.digitalocean.com${$.suffix}/v2",
            "https://api.digitalocean.com:${$.port}/v2",
            "${$.scheme}://api.digitalocean.com/v2",
            "https://${$['a/b']}/v2",
        ] {
            let (url, d) = render(
                t,
                json!({"host": "evil.example", "suffix": ".evil", "port": 1, "scheme": "http"}),
            );
            assert!(url.is_none(), "{t}");
            assert!(
                d[0].message.contains("only the URL's path and query"),
                "{t}: {d:?}"
            );
        }
    }

    #[test]
    fn http_only_for_loopback() {
        for ok in [
            "http://127.0.0.1:1/x",
            "http://localhost/x",
            "http://[::1]:9/x",
            "http://127.2.3.4/",
        ] {
            assert!(render(ok, json!({})).0.is_some(), "{ok}");
        }
        let (url, d) = render("http://api.digitalocean.com/v2", json!({}));
        assert!(url.is_none());
        assert!(d[0].message.contains("only for loopback"));
    }

    #[test]
    fn odd_hosts_are_refused() {
        for (t, needle) in [
            (
                "https://user:pw@api.digitalocean.com/v2",
                "user name or password",
            ),
            (
                "https://api.digitalocean.com@evil.example/v2",
                "user name or password",
            ),
            ("http://127.1/", "non-standard form"),
            ("http://2130706433/", "non-standard form"),
            ("http://0x7f.0.0.1/", "non-standard form"),
            ("http://0177.0.0.1/", "non-standard form"),
            ("http://[fe80::1%25eth0]/", "not a valid IPv6"),
            ("https://exa mple.com/", "contains ` `"),
            ("https://ex%61mple.com/", "contains `%`"),
            ("https:///v2", "has no host"),
            ("https://a..b/", "not a valid host name"),
            ("https://api.digitalocean.com:0/", "not a valid port"),
            ("https://api.digitalocean.com:99999/", "not a valid port"),
            ("https://api.digitalocean.com:+443/", "not a valid port"),
            ("ftp://api.digitalocean.com/", "not supported"),
            ("/v2/dedicated-inferences", "not an absolute URL"),
        ] {
            let (url, d) = render(t, json!({}));
            assert!(url.is_none(), "{t}");
            assert!(d[0].message.contains(needle), "{t}: {}", d[0].message);
        }
    }

    #[test]
    fn other_hosts_warn_and_fragments_drop() {
        let (url, d) = render("https://proxy.example.com/v2#frag", json!({}));
        assert_eq!(url.unwrap().path_with_query, "/v2");
        assert_eq!(d.len(), 2);
        assert!(d[0].message.contains("fragment"));
        assert!(d[1].message.contains("`proxy.example.com`"));
    }

    #[test]
    fn ip_literals() {
        assert_eq!(parse_ipv4("127.0.0.1"), Some([127, 0, 0, 1]));
        assert_eq!(parse_ipv4("255.255.255.255"), Some([255; 4]));
        for bad in [
            "127.1",
            "256.0.0.1",
            "01.2.3.4",
            "1.2.3.4.5",
            "1..3.4",
            "+1.2.3.4",
            "",
            "0x7f.0.0.1",
        ] {
            assert_eq!(parse_ipv4(bad), None, "{bad}");
        }
        assert_eq!(parse_ipv6("::1"), Some([0, 0, 0, 0, 0, 0, 0, 1]));
        assert_eq!(
            parse_ipv6("0:0:0:0:0:0:0:1"),
            Some([0, 0, 0, 0, 0, 0, 0, 1])
        );
        assert_eq!(
            parse_ipv6("2001:db8::8a2e:370:7334"),
            Some([0x2001, 0xdb8, 0, 0, 0, 0x8a2e, 0x370, 0x7334])
        );
        assert_eq!(
            parse_ipv6("::ffff:127.0.0.1"),
            Some([0, 0, 0, 0, 0, 0xffff, 0x7f00, 1])
        );
        assert_eq!(parse_ipv6("::"), Some([0; 8]));
        for bad in [
            "1::2::3",
            ":::1",
            "12345::1",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7",
            "g::1",
            "fe80::1%eth0",
            "1:2:3:4:5:6:7::8",
            "::1.2.3",
            "",
        ] {
            assert_eq!(parse_ipv6(bad), None, "{bad}");
        }
        // Agrees with std on what it accepts.
        for text in [
            "::1",
            "1:2:3:4:5:6:7:8",
            "::ffff:1.2.3.4",
            "1::",
            "a:b::c:d",
            "1:2:3:4:5:6:1.2.3.4",
        ] {
            let std_groups = text
                .parse::<std::net::Ipv6Addr>()
                .map(|a| a.segments())
                .ok();
            assert_eq!(parse_ipv6(text), std_groups, "{text}");
        }
        assert!(
            is_loopback_host("[::1]")
                && is_loopback_host("127.9.9.9")
                && is_loopback_host("localhost")
        );
        assert!(!is_loopback_host("[::2]") && !is_loopback_host("128.0.0.1"));
    }

    #[test]
    fn definition_text_is_normalized() {
        let (url, _) = render("https://API.digitalocean.com?x=a b&y=%41%zz", json!({}));
        let url = url.unwrap();
        assert_eq!(url.host, HOST);
        assert_eq!(url.path_with_query, "/?x=a%20b&y=%41%25zz");
    }
}
