#![no_main]
//! The `jsonata` fuzz target: `do_dedicated_inference_task_fuzz::targets::jsonata::run`, which
//! `tests/seeds.rs` also runs on every seed in `seeds/jsonata/`.

use do_dedicated_inference_task_fuzz::targets::jsonata;
use libfuzzer_sys::{Corpus, fuzz_target};

fuzz_target!(|data: &[u8]| -> Corpus {
    // An input that made nothing to check is not worth keeping in the corpus.
    if jsonata::run(data) {
        Corpus::Keep
    } else {
        Corpus::Reject
    }
});
