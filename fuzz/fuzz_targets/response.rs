#![no_main]
//! The `response` fuzz target: `do_dedicated_inference_task_fuzz::targets::response::run`, which
//! `tests/seeds.rs` also runs on every seed in `seeds/response/`.

use do_dedicated_inference_task_fuzz::targets::response;
use libfuzzer_sys::{Corpus, fuzz_target};

fuzz_target!(|data: &[u8]| -> Corpus {
    // An input that made nothing to check is not worth keeping in the corpus.
    if response::run(data) {
        Corpus::Keep
    } else {
        Corpus::Reject
    }
});
