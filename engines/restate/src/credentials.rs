//! Where the service's credentials come from and where each may be sent: the format and the
//! rules of the editor's engine (hosts/browser/engine.py), so that one credentials file serves
//! both. The definition arrives with the invocation, from whoever may call Restate's ingress,
//! so a credential goes only to the hosts its entry allows.
//!
//! `$HTTP_TASK_CREDENTIALS` names a JSON file: an object mapping a credential's name to a token
//! string, or to an object of named secrets (`{"token": …, "hugging_face_token": …}`) with an
//! optional `"allowedHosts"` list. Else `$DIGITALOCEAN_TOKEN` is the token of every name.

use serde_json::{Map, Value};

pub const CREDENTIALS_ENV: &str = "HTTP_TASK_CREDENTIALS";
pub const TOKEN_ENV: &str = "DIGITALOCEAN_TOKEN";
const ALLOWED_HOSTS_KEY: &str = "allowedHosts";
/// Where a credential may go when its entry does not say: the API and loopback (the stand-in).
const DEFAULT_ALLOWED_HOSTS: [&str; 2] = ["api.digitalocean.com", "loopback"];

/// One resolved credential: its secrets as the component takes them, and its hosts.
#[derive(Debug, Clone, PartialEq)]
pub struct Credential {
    pub secrets: Vec<(String, String)>,
    pub allowed_hosts: Vec<String>,
}

impl Credential {
    /// Whether a request to `host` may carry this credential.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.allowed_hosts.iter().any(|entry| {
            if entry == "loopback" {
                is_loopback(&host)
            } else {
                entry.to_ascii_lowercase() == host
            }
        })
    }
}

#[derive(Debug, Default)]
pub struct Credentials {
    /// The file's entries (read once, at start-up).
    entries: Map<String, Value>,
    has_file: bool,
    token: Option<String>,
}

impl Credentials {
    /// From the environment; a file that cannot be used is an error at start-up, naming it.
    pub fn from_env() -> Result<Self, String> {
        let token = std::env::var(TOKEN_ENV).ok().filter(|token| !token.is_empty());
        match std::env::var(CREDENTIALS_ENV).ok().filter(|path| !path.is_empty()) {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|error| format!("cannot read ${CREDENTIALS_ENV} ({path}): {error}"))?;
                Self::from_parts(Some(&text), token)
                    .map_err(|error| format!("${CREDENTIALS_ENV} ({path}): {error}"))
            }
            None => Self::from_parts(None, token),
        }
    }

    /// From a credentials file's text (if any) and a fallback token. Every entry is checked
    /// here, so that a bad file fails at start-up rather than in a workflow.
    pub fn from_parts(file: Option<&str>, token: Option<String>) -> Result<Self, String> {
        let mut credentials = Self { token, ..Self::default() };
        if let Some(text) = file {
            // serde_json's message names a position, never the text.
            let value: Value =
                serde_json::from_str(text).map_err(|error| format!("not valid JSON: {error}"))?;
            let Value::Object(entries) = value else {
                return Err("must be a JSON object of name → token".into());
            };
            for (name, entry) in &entries {
                entry_credential(name, entry)?;
            }
            credentials.entries = entries;
            credentials.has_file = true;
        }
        Ok(credentials)
    }

    /// The credential the definition names (`credentials`), or why there is none.
    pub fn resolve(&self, name: Option<&str>) -> Result<Credential, String> {
        if let Some(entry) = name.and_then(|name| self.entries.get(name)) {
            return entry_credential(name.unwrap_or_default(), entry);
        }
        if let Some(token) = &self.token {
            return Ok(Credential {
                secrets: vec![("token".into(), token.clone())],
                allowed_hosts: DEFAULT_ALLOWED_HOSTS.map(String::from).to_vec(),
            });
        }
        let looked_in = match self.has_file {
            true => format!("${CREDENTIALS_ENV}"),
            false => format!("nothing (set ${CREDENTIALS_ENV} or ${TOKEN_ENV})"),
        };
        Err(match name {
            Some(name) => {
                format!("credentials: no credential `{name}`; the service looks in {looked_in}")
            }
            None => format!("credentials: the definition names none, and ${TOKEN_ENV} is not set"),
        })
    }

    /// Every secret value the service could send, to mask texts the component did not write
    /// (a trap's message).
    pub fn known_values(&self) -> Vec<String> {
        let mut values: Vec<String> = self.token.iter().cloned().collect();
        for (name, entry) in &self.entries {
            if let Ok(credential) = entry_credential(name, entry) {
                values.extend(credential.secrets.into_iter().map(|(_, value)| value));
            }
        }
        values.retain(|value| !value.is_empty());
        values
    }
}

fn entry_credential(name: &str, entry: &Value) -> Result<Credential, String> {
    let default_hosts = || DEFAULT_ALLOWED_HOSTS.map(String::from).to_vec();
    match entry {
        Value::String(token) => Ok(Credential {
            secrets: vec![("token".into(), token.clone())],
            allowed_hosts: default_hosts(),
        }),
        Value::Object(fields) => {
            let mut secrets = Vec::new();
            let mut allowed_hosts = default_hosts();
            for (key, value) in fields {
                if key == ALLOWED_HOSTS_KEY {
                    allowed_hosts = allowed_hosts_of(value).ok_or_else(|| {
                        format!(
                            "credential `{name}`: `{ALLOWED_HOSTS_KEY}` must be a non-empty list of host names (or \"loopback\")"
                        )
                    })?;
                } else if let Value::String(secret) = value {
                    secrets.push((key.clone(), secret.clone()));
                } else {
                    return Err(format!(
                        "credential `{name}`: every secret must be a string (`{key}` is not)"
                    ));
                }
            }
            Ok(Credential { secrets, allowed_hosts })
        }
        _ => Err(format!("credential `{name}` must be a token string or an object of strings")),
    }
}

fn allowed_hosts_of(value: &Value) -> Option<Vec<String>> {
    let hosts = value.as_array()?;
    let hosts: Option<Vec<String>> = hosts
        .iter()
        .map(|host| host.as_str().filter(|host| !host.is_empty()).map(String::from))
        .collect();
    hosts.filter(|hosts| !hosts.is_empty())
}

/// localhost, 127.0.0.0/8 and ::1.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|address| address.is_loopback())
}

/// The host of an absolute URL, lower-cased (brackets of an IPv6 literal removed), or None.
pub fn url_host(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed.split_once(']')?.0
    } else {
        host_port.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_string_goes_to_the_api_and_loopback_only() {
        let credentials = Credentials::from_parts(Some(r#"{"prod": "dop_v1_x"}"#), None).unwrap();
        let prod = credentials.resolve(Some("prod")).unwrap();
        assert_eq!(prod.secrets, vec![("token".to_string(), "dop_v1_x".to_string())]);
        for host in
            ["api.digitalocean.com", "API.DigitalOcean.com", "localhost", "127.0.0.9", "::1"]
        {
            assert!(prod.allows(host), "{host}");
        }
        for host in ["evil.example", "api.digitalocean.com.evil.example", "10.0.0.1"] {
            assert!(!prod.allows(host), "{host}");
        }
    }

    #[test]
    fn an_object_entry_gives_every_named_secret_and_its_own_hosts() {
        let file =
            r#"{"hf": {"token": "t", "hugging_face_token": "h", "allowedHosts": ["api.example"]}}"#;
        let credential =
            Credentials::from_parts(Some(file), None).unwrap().resolve(Some("hf")).unwrap();
        assert_eq!(credential.secrets.len(), 2);
        assert!(credential.secrets.contains(&("hugging_face_token".into(), "h".into())));
        assert!(credential.allows("api.example"));
        assert!(!credential.allows("127.0.0.1"), "loopback only when the list says so");
    }

    #[test]
    fn a_bad_file_fails_at_start_up_naming_the_entry_not_a_value() {
        for (file, needle) in [
            (r#"{"a": {"token": 3}}"#, "credential `a`: every secret must be a string"),
            (
                r#"{"a": {"token": "t", "allowedHosts": []}}"#,
                "`allowedHosts` must be a non-empty list",
            ),
            (r#"{"a": 1}"#, "credential `a` must be a token string"),
            (r#"["secret-value"]"#, "must be a JSON object"),
            (r#"{"a": "secret-value""#, "not valid JSON"),
        ] {
            let error = Credentials::from_parts(Some(file), None).unwrap_err();
            assert!(error.contains(needle), "{error}");
            assert!(!error.contains("secret-value"), "{error}");
        }
    }

    #[test]
    fn the_fallback_token_serves_any_name_and_missing_names_say_where_it_looked() {
        let credentials = Credentials::from_parts(None, Some("env".into())).unwrap();
        assert_eq!(credentials.resolve(Some("anything")).unwrap().secrets[0].1, "env");
        let none = Credentials::from_parts(Some("{}"), None).unwrap();
        let error = none.resolve(Some("prod")).unwrap_err();
        assert!(
            error.contains("no credential `prod`") && error.contains(CREDENTIALS_ENV),
            "{error}"
        );
    }

    #[test]
    fn the_url_host_is_the_authority_without_user_or_port() {
        for (url, host) in [
            ("https://api.digitalocean.com/v2/dedicated-inferences", Some("api.digitalocean.com")),
            ("http://127.0.0.1:8080/v2", Some("127.0.0.1")),
            ("http://user:pw@Evil.Example:1/x", Some("evil.example")),
            ("http://[::1]:9/x", Some("::1")),
            ("http://api.digitalocean.com@evil.example/", Some("evil.example")),
            ("not a url", None),
        ] {
            assert_eq!(url_host(url).as_deref(), host, "{url}");
        }
    }

    #[test]
    fn known_values_cover_every_secret_of_every_entry() {
        let file = r#"{"a": "ta", "b": {"token": "tb", "x": "xb"}}"#;
        let mut values =
            Credentials::from_parts(Some(file), Some("te".into())).unwrap().known_values();
        values.sort();
        assert_eq!(values, ["ta", "tb", "te", "xb"]);
    }
}
