#![no_main]
//! The `validate` fuzz target: `do_dedicated_inference_task_fuzz::targets::validate::run`, which
//! `tests/seeds.rs` also runs on every seed in `seeds/validate/`.

use do_dedicated_inference_task_fuzz::targets::validate;
use libfuzzer_sys::{Corpus, fuzz_target};

fuzz_target!(|data: &[u8]| -> Corpus {
    // An input that made nothing to check is not worth keeping in the corpus.
    if validate::run(data) {
        Corpus::Keep
    } else {
        Corpus::Reject
    }
});
