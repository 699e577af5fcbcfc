//! `shout bench` (work in progress).
/// `shout bench` options.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {}
/// Runs a benchmark.
pub fn run(_args: &BenchArgs) -> i32 {
    1
}
