#!/usr/bin/env bash
# Writes the seed corpora fuzz/corpus/<target>/seed-* (small valid sessions and
# edge cases in each target's input layout). Only seed-* files are committed;
# what the fuzzer adds next to them stays local (see the root .gitignore).
set -euo pipefail
cd "$(dirname "$0")"
cargo run --quiet --locked --example seed_corpora --no-default-features -- corpus
