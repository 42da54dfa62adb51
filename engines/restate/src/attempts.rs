//! One attempt's journaled answer and the definition's `retry` block that drives the loop.
//! The journal holds what the component classified, so that a replay after a crash decides
//! exactly as the first run did, without sending anything again.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// What one attempt came to: the value each named `ctx.run` journals. Every text in it is
/// masked (the component masks its own; the service masks a trap's message), and a step
/// output carries the returned token only sealed (see `seal`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "kebab-case")]
pub enum Answer {
    /// The step output object.
    Ok { output: Value },
    /// The component's `step-failure`, classified.
    Failed {
        kind: String,
        retryable: bool,
        #[serde(rename = "retryAfterMs")]
        retry_after_ms: Option<u64>,
        message: String,
        /// `path: message`, one per diagnostic.
        diagnostics: Vec<String>,
    },
    /// The component trapped, or could not be instantiated: no result at all.
    Trap { message: String },
}

impl Answer {
    /// The workflow's terminal error text for an answer that ends it.
    pub fn terminal_message(&self, attempt: u32, max_attempts: u32) -> String {
        match self {
            Answer::Ok { .. } => String::new(),
            Answer::Failed { message, diagnostics, retryable, .. } => {
                let mut text = message.clone();
                for diagnostic in diagnostics {
                    text.push('\n');
                    text.push_str(diagnostic);
                }
                if *retryable {
                    text.push_str(&format!(
                        "\n(attempt {attempt} of {max_attempts}: no attempt left)"
                    ));
                }
                text
            }
            Answer::Trap { message } => format!("the component trapped: {message}"),
        }
    }
}

/// The definition's `retry` block: `maxAttempts` (the first attempt included),
/// `intervalSeconds` before the second, times `backoffRate` before each next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub interval: Duration,
    pub backoff_rate: f64,
}

/// Without a `retry` block: three attempts, 1 s then 2 s apart (the ready definition's).
pub const DEFAULT_RETRY: RetryPolicy =
    RetryPolicy { max_attempts: 3, interval: Duration::from_secs(1), backoff_rate: 2.0 };
/// Bounds that keep a workflow's total wait finite and its journal small.
const MAX_ATTEMPTS: u64 = 100;
const MAX_INTERVAL_S: f64 = 86_400.0;

impl RetryPolicy {
    /// From the definition object; a bad field is an error naming its path.
    pub fn from_definition(definition: &Value) -> Result<Self, String> {
        let Some(block) = definition.get("retry") else { return Ok(DEFAULT_RETRY) };
        let Value::Object(block) = block else {
            return Err("definition.retry: expected an object".into());
        };
        let mut policy = DEFAULT_RETRY;
        for (key, value) in block {
            match key.as_str() {
                "maxAttempts" => match value.as_u64() {
                    Some(n @ 1..=MAX_ATTEMPTS) => policy.max_attempts = n as u32,
                    _ => {
                        return Err(format!(
                            "definition.retry.maxAttempts: expected an integer from 1 to {MAX_ATTEMPTS}, found {value}"
                        ));
                    }
                },
                "intervalSeconds" => match value.as_f64() {
                    Some(s) if (0.0..=MAX_INTERVAL_S).contains(&s) => {
                        policy.interval = Duration::from_secs_f64(s)
                    }
                    _ => {
                        return Err(format!(
                            "definition.retry.intervalSeconds: expected a number from 0 to {MAX_INTERVAL_S}, found {value}"
                        ));
                    }
                },
                "backoffRate" => match value.as_f64() {
                    Some(rate) if (1.0..=10.0).contains(&rate) => policy.backoff_rate = rate,
                    _ => {
                        return Err(format!(
                            "definition.retry.backoffRate: expected a number from 1 to 10, found {value}"
                        ));
                    }
                },
                other => {
                    return Err(format!(
                        "definition.retry.{other}: unknown field (maxAttempts, intervalSeconds, backoffRate)"
                    ));
                }
            }
        }
        Ok(policy)
    }

    /// The wait after failed attempt `attempt` (from 1): the backoff, or the API's
    /// `retry-after-ms` when that is longer.
    pub fn delay_after(&self, attempt: u32, retry_after_ms: Option<u64>) -> Duration {
        let exponent = attempt.saturating_sub(1).min(64) as i32;
        let backoff_s =
            (self.interval.as_secs_f64() * self.backoff_rate.powi(exponent)).min(MAX_INTERVAL_S);
        let backoff = Duration::from_secs_f64(backoff_s);
        backoff.max(Duration::from_millis(retry_after_ms.unwrap_or(0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_backoff_grows_by_the_rate_and_yields_to_a_longer_retry_after() {
        let policy = RetryPolicy::from_definition(
            &json!({"retry": {"intervalSeconds": 1, "maxAttempts": 4, "backoffRate": 2.0}}),
        )
        .unwrap();
        assert_eq!(policy.max_attempts, 4);
        assert_eq!(policy.delay_after(1, None), Duration::from_secs(1));
        assert_eq!(policy.delay_after(2, None), Duration::from_secs(2));
        assert_eq!(policy.delay_after(3, Some(500)), Duration::from_secs(4));
        assert_eq!(policy.delay_after(1, Some(3000)), Duration::from_secs(3));
    }

    #[test]
    fn no_retry_block_is_the_default_and_a_bad_one_names_its_field() {
        assert_eq!(RetryPolicy::from_definition(&json!({})).unwrap(), DEFAULT_RETRY);
        for (retry, path) in [
            (json!({"maxAttempts": 0}), "definition.retry.maxAttempts"),
            (json!({"maxAttempts": "3"}), "definition.retry.maxAttempts"),
            (json!({"intervalSeconds": -1}), "definition.retry.intervalSeconds"),
            (json!({"backoffRate": 0.5}), "definition.retry.backoffRate"),
            (json!({"jitter": true}), "definition.retry.jitter"),
            (json!([]), "definition.retry"),
        ] {
            let error = RetryPolicy::from_definition(&json!({ "retry": retry })).unwrap_err();
            assert!(error.starts_with(&format!("{path}:")), "{error}");
        }
    }

    #[test]
    fn a_huge_backoff_is_capped_instead_of_overflowing() {
        let policy = RetryPolicy {
            max_attempts: 100,
            interval: Duration::from_secs(86_400),
            backoff_rate: 10.0,
        };
        assert_eq!(policy.delay_after(99, None), Duration::from_secs(86_400));
    }

    #[test]
    fn the_journaled_answer_round_trips_and_reads_as_json() {
        let answer = Answer::Failed {
            kind: "http-status".into(),
            retryable: true,
            retry_after_ms: Some(3000),
            message: "429".into(),
            diagnostics: vec![],
        };
        let text = serde_json::to_string(&answer).unwrap();
        assert!(
            text.contains(r#""answer":"failed""#) && text.contains(r#""retryAfterMs":3000"#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<Answer>(&text).unwrap(), answer);
    }

    #[test]
    fn a_terminal_message_carries_the_diagnostics_and_says_when_attempts_ran_out() {
        let failed = |retryable| Answer::Failed {
            kind: "timeout".into(),
            retryable,
            retry_after_ms: None,
            message: "timed out".into(),
            diagnostics: vec!["parameters.name: expected a string".into()],
        };
        let exhausted = failed(true).terminal_message(3, 3);
        assert!(
            exhausted.contains("parameters.name: expected") && exhausted.contains("attempt 3 of 3")
        );
        assert!(!failed(false).terminal_message(1, 3).contains("attempt"));
    }
}
