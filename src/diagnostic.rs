//! Problems found while reading, rendering or validating a task, each tied to the exact place
//! (a dotted path into the definition) where the author can fix it.

use std::fmt;

/// Errors block sending; warnings are reported and the request still goes out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Dotted path: `httpRequest.body.spec.model_deployments[0].accelerators[0].scale`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{severity} at {}: {}", self.path, self.message)
    }
}

/// Past this many, further diagnostics are counted, not kept: a hostile definition with
/// thousands of broken placeholders must not produce an unbounded result.
pub const MAX_DIAGNOSTICS: usize = 100;

/// Collects diagnostics with a bound; what is dropped is still counted and reported once.
#[derive(Debug, Default)]
pub struct Diagnostics {
    kept: Vec<Diagnostic>,
    dropped_errors: usize,
    dropped_warnings: usize,
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(Severity::Error, path, message);
    }

    pub fn warning(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(Severity::Warning, path, message);
    }

    fn push(&mut self, severity: Severity, path: impl Into<String>, message: impl Into<String>) {
        if self.kept.len() < MAX_DIAGNOSTICS {
            self.kept.push(Diagnostic {
                severity,
                path: path.into(),
                message: message.into(),
            });
        } else if severity == Severity::Error {
            self.dropped_errors += 1;
        } else {
            self.dropped_warnings += 1;
        }
    }

    pub fn has_errors(&self) -> bool {
        self.dropped_errors > 0 || self.kept.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn error_count(&self) -> usize {
        self.dropped_errors
            + self
                .kept
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count()
    }

    /// The first error, for one-line summaries.
    pub fn first_error(&self) -> Option<&Diagnostic> {
        self.kept.iter().find(|d| d.severity == Severity::Error)
    }

    /// The kept diagnostics, plus one line that says how many more were left out.
    pub fn to_vec(&self) -> Vec<Diagnostic> {
        let mut list = self.kept.clone();
        let dropped = self.dropped_errors + self.dropped_warnings;
        if dropped > 0 {
            let severity = if self.dropped_errors > 0 {
                Severity::Error
            } else {
                Severity::Warning
            };
            list.push(Diagnostic {
                severity,
                path: String::new(),
                message: format!(
                    "{dropped} more problems ({} errors, {} warnings) not listed; fix the ones above first",
                    self.dropped_errors, self.dropped_warnings
                ),
            });
        }
        list
    }
}

/// Path building: `join_key("httpRequest.body", "spec")`, `join_index(p, 0)`.
///
/// Rendering and validation build a key path for every member of the body, so `join_key`
/// copies by hand: `format!` cost more than the copying (a tenth of rendering the fixture).
/// `join_index` (array items, far fewer) keeps `format!`: a hand-written one cost 243 bytes
/// of component.
pub fn join_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        return key.to_string();
    }
    let mut path = String::with_capacity(parent.len() + 1 + key.len());
    path.push_str(parent);
    path.push('.');
    path.push_str(key);
    path
}

pub fn join_index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_counts_what_it_drops() {
        let mut d = Diagnostics::new();
        for i in 0..MAX_DIAGNOSTICS + 5 {
            d.error(format!("p{i}"), "bad");
        }
        d.warning("w", "meh");
        assert!(d.has_errors());
        assert_eq!(d.error_count(), MAX_DIAGNOSTICS + 5);
        let v = d.to_vec();
        assert_eq!(v.len(), MAX_DIAGNOSTICS + 1);
        assert!(
            v.last()
                .unwrap()
                .message
                .starts_with("6 more problems (5 errors, 1 warnings)")
        );
    }

    #[test]
    fn paths() {
        assert_eq!(join_key("", "spec"), "spec");
        assert_eq!(join_index(&join_key("a", "b"), 3), "a.b[3]");
    }
}
