#![no_main]
//! The `jsonpath` fuzz target: `do_dedicated_inference_task_fuzz::targets::jsonpath::run`, which
//! `tests/seeds.rs` also runs on every seed in `seeds/jsonpath/`.

use do_dedicated_inference_task_fuzz::targets::jsonpath;
use libfuzzer_sys::{Corpus, fuzz_target};

fuzz_target!(|data: &[u8]| -> Corpus {
    // An input that made nothing to check is not worth keeping in the corpus.
    if jsonpath::run(data) {
        Corpus::Keep
    } else {
        Corpus::Reject
    }
});
