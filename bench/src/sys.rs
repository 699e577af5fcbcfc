//! What the load generator reads of other processes and asks of its own:
//! a server's memory and CPU time from `/proc`, and the open files limit.

use std::io;

/// Resident memory of a process, in bytes (`VmRSS` of /proc/PID/status).
pub fn rss_bytes(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| io::Error::other(format!("no VmRSS for process {pid}")))
}

/// CPU time a process has used so far, all threads, in nanoseconds
/// (the first field of each /proc/PID/task/TID/schedstat).
pub fn cpu_ns(pid: u32) -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = task.ok()?.path().join("schedstat");
        let text = std::fs::read_to_string(path).ok()?;
        total += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// Raises the soft limit on open files to the hard limit, so that
/// thousands of connections fit; a failure is reported and not fatal.
pub fn raise_open_files_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current < lim.maximum {
        lim.current = lim.maximum;
        if setrlimit(Resource::Nofile, lim).is_err() {
            eprintln!("shout-bench: warning: could not raise the open files limit");
        }
    }
}
