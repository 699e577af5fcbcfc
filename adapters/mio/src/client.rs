//! `shout send` (work in progress).
pub fn run(_args: &crate::cli::SendArgs) -> i32 {
    1
}
