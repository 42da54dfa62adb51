#![no_main]
//! The `render` fuzz target: `do_dedicated_inference_task_fuzz::targets::render::run`, which
//! `tests/seeds.rs` also runs on every seed in `seeds/render/`.

use do_dedicated_inference_task_fuzz::targets::render;
use libfuzzer_sys::{Corpus, fuzz_target};

fuzz_target!(|data: &[u8]| -> Corpus {
    // An input that made nothing to check is not worth keeping in the corpus.
    if render::run(data) {
        Corpus::Keep
    } else {
        Corpus::Reject
    }
});
