//! Child processes with a deadline: renderers (Kustomize, Helm) and git fetches run in their
//! own process group, their output read on threads with a cap, and the whole group killed when
//! the deadline passes, so that a hung tool or remote never holds a lock or a scan.

use std::io::Read;

/// Reads a pipe on a thread, keeping at most `cap` bytes (and draining the rest).
pub(super) fn reader(
    mut stream: impl Read + Send + 'static,
    cap: usize,
) -> std::thread::JoinHandle<(Vec<u8>, bool)> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 64 * 1024];
        let mut truncated = false;
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = cap.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                    truncated |= n > room;
                }
            }
        }
        (kept, truncated)
    })
}

fn kill_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        let pid = child.id() as libc::pid_t;
        // SAFETY: signals the process group this child leads (created with process_group(0)).
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits for a child for at most `timeout`; past it (or if waiting fails) kills its whole
/// process group and returns `None`.
pub(super) fn wait_or_kill(
    child: &mut std::process::Child,
    timeout: std::time::Duration,
) -> Option<std::process::ExitStatus> {
    let started = std::time::Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if started.elapsed() < timeout => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            Ok(None) | Err(_) => {
                kill_group(child);
                return None;
            }
        }
    }
}
