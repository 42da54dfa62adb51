//! Masking 4 MiB of text natively: ordinary API text against adversarial texts (periodic
//! secrets, occurrences at every byte, secrets that are suffixes of each other, long secrets,
//! escaped spellings). Prints one JSON object per case (`{"case", "baseline", "ms"}`, the
//! median of a few rounds over all cases) for bench/bench.py, which reports each adversarial case as a ratio to
//! its baseline: the ordinary text of the same kind. (A decoding view of the text runs only
//! where the text has its escape characters, so an escaped text costs more than a plain one
//! whatever its secrets: the ratio compares secrets, not escapes.)
//!
//!     cargo bench --bench masking            # or: scripts/bench

use std::hint::black_box;
use std::time::Instant;

use do_dedicated_inference_task::secrets::SecretSet;

const SIZE: usize = 4 * 1024 * 1024;
const RUNS: usize = 5;

/// `unit` repeated to `SIZE` bytes (cut on a character boundary).
fn fill(unit: &str) -> String {
    let mut text = unit.repeat(SIZE / unit.len() + 1);
    let mut end = SIZE;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text
}

fn set(secrets: &[String]) -> SecretSet {
    let mut set = SecretSet::new();
    for secret in secrets {
        set.add(secret).expect("within the limits");
    }
    set
}

/// Milliseconds to mask `text` once (the automaton is built before timing).
fn time(secrets: &SecretSet, text: &str) -> f64 {
    black_box(secrets.mask_str("warm up: builds the automaton"));
    let started = Instant::now();
    black_box(secrets.mask_str(black_box(text)));
    started.elapsed().as_secs_f64() * 1e3
}

fn median(mut runs: Vec<f64>) -> f64 {
    runs.sort_by(f64::total_cmp);
    runs.get(runs.len() / 2).copied().unwrap_or(f64::NAN)
}

fn u_escaped(text: &str) -> String {
    text.encode_utf16().map(|u| format!("\\u{u:04x}")).collect()
}

fn main() {
    let api_token = format!("dop_v1_{}", "0123456789abcdef".repeat(4));
    let hf_token = "hf_standinGatedModelToken0123456789".to_string();
    let returned = "dit_0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c".to_string();
    let ordinary_secrets = vec![api_token.clone(), hf_token.clone(), returned.clone()];
    // An answer as the API writes them, with a prefix of the token (a near miss) per object.
    let record = format!(
        r#"{{"dedicated_inference":{{"id":"6b0b8f8e-8a4c-4a8b-9d5e-0c1f2a3b4c5d","status":"provisioning","endpoints":{{"public_endpoint_fqdn":"https://x.inference.do-ai.run"}},"note":"region tor1 token {}"}}}},"#,
        &returned[..10]
    );
    let ordinary = fill(&record);
    // The same with an escape of every kind the views decode: `\/`, `\u`, an escaped quote
    // escaped again, and percent-encoding, so that every view runs.
    let escaped = fill(
        &record
            .replace("https://", r"https:\/\/")
            .replace("region", r#"caf\u00e9 \\\"q\\\" %20region"#),
    );

    const PLAIN: &str = "ordinary API text";
    const ESCAPED: &str = "ordinary API text with every kind of escape";
    let a4000 = "a".repeat(4000);
    let long: Vec<String> = (0..16)
        .map(|i| format!("{i:02}{}", "q".repeat(4094)))
        .collect();
    // (case, its baseline, secrets, text)
    let cases: Vec<(&str, &str, Vec<String>, String)> = vec![
        (PLAIN, PLAIN, ordinary_secrets.clone(), ordinary),
        (ESCAPED, ESCAPED, ordinary_secrets.clone(), escaped),
        (
            "a 4,000-char secret of a's in a's (a match at every byte)",
            PLAIN,
            vec![a4000],
            fill("a"),
        ),
        (
            "64 secrets a, aa, …, a^64 (suffixes of each other) in a's",
            PLAIN,
            (1..=64).map(|n| "a".repeat(n)).collect(),
            fill("a"),
        ),
        (
            "a periodic secret (ab)^2048 in (ab)*",
            PLAIN,
            vec!["ab".repeat(2048)],
            fill("ab"),
        ),
        (
            "16 long secrets (4 KB each) back to back",
            PLAIN,
            long.clone(),
            fill(&long.concat()),
        ),
        (
            "the tokens every character \\u-escaped, back to back",
            ESCAPED,
            ordinary_secrets.clone(),
            fill(
                &ordinary_secrets
                    .iter()
                    .map(|s| u_escaped(s))
                    .collect::<String>(),
            ),
        ),
        (
            "the tokens percent-encoded and escaped twice, back to back",
            ESCAPED,
            ordinary_secrets.clone(),
            fill(
                &ordinary_secrets
                    .iter()
                    .map(|s| {
                        let percent: String = s.bytes().map(|b| format!("%{b:02X}")).collect();
                        format!("{percent} {}", u_escaped(s).replace('\\', "\\\\"))
                    })
                    .collect::<String>(),
            ),
        ),
    ];
    // Round after round of every case, not case after case: a slower moment of this shared
    // machine then falls on a case and its baseline alike, and their ratio holds.
    let sets: Vec<SecretSet> = cases
        .iter()
        .map(|(_, _, secrets, _)| set(secrets))
        .collect();
    let mut runs = vec![Vec::with_capacity(RUNS); cases.len()];
    for _ in 0..RUNS {
        for ((case, secrets), times) in cases.iter().zip(&sets).zip(&mut runs) {
            times.push(time(secrets, &case.3));
        }
    }
    for ((case, baseline, _, text), times) in cases.iter().zip(runs) {
        let ms = median(times);
        let line =
            serde_json::json!({"case": case, "baseline": baseline, "ms": ms, "bytes": text.len()});
        println!("{line}");
    }
}
