//! Progress on a terminal: long work (git transfers, renders, live reads, the judgement and the
//! audit) shows a line per source or target on standard error while it runs, cleared when done,
//! as `git clone`, `cargo` and `kubectl` show theirs. Only the command line turns it on, and only
//! when standard error is a terminal: never on standard output (reports stay clean), never in
//! logs, never in `serve` (which logs each phase's duration instead). Off, every call is a no-op.

use std::sync::OnceLock;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The terminal's progress lines, once the command line has turned them on.
static LINES: OnceLock<MultiProgress> = OnceLock::new();

/// Turns progress on, drawn on standard error, for the rest of the process.
pub fn enable() {
    let _ = LINES.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
}

/// Whether progress is drawn.
pub fn enabled() -> bool {
    LINES.get().is_some()
}

/// Standard error for log lines: while progress lines are drawn, they are taken off the screen
/// for the write and drawn again after it, so that a warning during a scan is never drawn over.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match LINES.get() {
            Some(lines) => lines.suspend(|| std::io::stderr().write_all(buf))?,
            None => std::io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// One line of progress: a phase of one source or target. Cleared when dropped.
#[derive(Debug)]
pub struct Line {
    bar: Option<ProgressBar>,
}

impl Line {
    /// A line for work of `total` steps (`None`: of unknown size), labelled `label`, counting
    /// `unit`s (`objects`, `overlays`).
    pub fn start(label: &str, total: Option<u64>, unit: &str) -> Line {
        let Some(lines) = LINES.get() else {
            return Line { bar: None };
        };
        let bar = match total {
            Some(total) => ProgressBar::new(total).with_style(
                ProgressStyle::with_template(&format!(
                    "{{prefix}} [{{bar:30}}] {{pos}}/{{len}} {unit} {{msg}}"
                ))
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{prefix} {spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        let bar = lines.add(bar.with_prefix(label.to_string()));
        bar.enable_steady_tick(Duration::from_millis(120));
        Line { bar: Some(bar) }
    }

    /// Steps done so far.
    pub fn set(&self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }

    /// One more step done (from any thread).
    pub fn inc(&self, steps: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(steps);
        }
    }

    /// What it is doing now.
    pub fn message(&self, text: String) {
        if let Some(bar) = &self.bar {
            bar.set_message(text);
        }
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
            if let Some(lines) = LINES.get() {
                lines.remove(&bar);
            }
        }
    }
}

/// A git transfer's progress as one line: gix reports into a progress tree, read here every
/// tenth of a second (objects received of those announced, bytes, the current step).
pub struct Transfer {
    root: std::sync::Arc<gix::progress::tree::Root>,
}

impl Transfer {
    /// A new transfer's progress tree.
    pub fn new() -> Transfer {
        Transfer {
            root: gix::progress::tree::Root::new(),
        }
    }

    /// A part of it for gix to report into.
    pub fn item(&self, name: &str) -> gix::progress::tree::Item {
        self.root.add_child(name.to_string())
    }

    /// What it says now, in one line: each step with progress, `name done/total unit`.
    pub fn describe(&self) -> String {
        let mut tasks = Vec::new();
        self.root.sorted_snapshot(&mut tasks);
        let parts: Vec<String> = tasks
            .iter()
            .filter_map(|(_, task)| {
                let value = task.progress.as_ref()?;
                let step = value.step.load(std::sync::atomic::Ordering::Relaxed);
                if step == 0 {
                    return None;
                }
                Some(match (&value.unit, value.done_at) {
                    (Some(unit), total) => {
                        format!("{}: {}", task.name, unit.display(step, total, None))
                    }
                    (None, Some(total)) => format!("{}: {step}/{total}", task.name),
                    (None, None) => format!("{}: {step}", task.name),
                })
            })
            .collect();
        // The latest two steps: what it is doing now, and what it did just before.
        parts[parts.len().saturating_sub(2)..].join(", ")
    }
}

impl Default for Transfer {
    fn default() -> Self {
        Transfer::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Off (as in tests and `serve`), lines cost nothing and draw nothing; a transfer's tree
    /// reads as one line.
    #[test]
    fn lines_are_silent_unless_enabled_and_transfers_read_as_a_line() {
        assert!(!enabled());
        let line = Line::start("source shop", Some(10), "objects");
        line.inc(3);
        line.set(5);
        line.message("fetching".into());
        assert!(line.bar.is_none());
        let transfer = Transfer::new();
        let mut item = transfer.item("receiving pack");
        gix::progress::Progress::init(&mut item, Some(100), None);
        item.set(42);
        assert_eq!(transfer.describe(), "receiving pack: 42/100");
        use std::io::Write;
        assert_eq!(LogWriter.write(b"").unwrap(), 0, "logs pass through");
    }
}
