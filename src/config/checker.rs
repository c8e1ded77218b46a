//! The validator every section of the configuration is read with: it walks the located YAML
//! tree and collects every problem, with its line, column and code, instead of stopping at the
//! first. A mapping's keys are declared by reading them: [`Fields`] remembers every key a
//! section asked for, and when the section is done (the `Fields` is dropped) every other key in
//! the mapping is reported as unknown, with the closest known one suggested. A key is parsed or
//! refused; it cannot be half added.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use globset::{Glob, GlobMatcher};

use super::node::{Node, NodeKind};
use super::{ConfigError, Known};
use crate::model::Code;

/// Walks the located tree, collecting every problem.
pub(super) struct Checker {
    pub(super) file: PathBuf,
    pub(super) base: PathBuf,
    pub(super) known: Known,
    errors: Rc<RefCell<Vec<ConfigError>>>,
}

/// A mapping being read. Every key read through it is known; the others are reported as
/// unknown when it is dropped.
pub(super) struct Fields<'n> {
    pub(super) node: &'n Node,
    entries: &'n [(Node, Node)],
    what: String,
    read: RefCell<Vec<&'static str>>,
    file: PathBuf,
    errors: Rc<RefCell<Vec<ConfigError>>>,
}

impl<'n> Fields<'n> {
    fn find(&self, key: &'static str) -> Option<&'n Node> {
        let mut read = self.read.borrow_mut();
        if !read.contains(&key) {
            read.push(key);
        }
        self.entries
            .iter()
            .find(|(k, _)| matches!(&k.kind, NodeKind::Str(s) if s == key))
            .map(|(_, v)| v)
    }

    /// The value of a key, even when it is null.
    pub(super) fn present(&self, key: &'static str) -> Option<&'n Node> {
        self.find(key)
    }

    /// The value of a key, unless absent or null.
    pub(super) fn get(&self, key: &'static str) -> Option<&'n Node> {
        self.find(key).filter(|v| v.kind != NodeKind::Null)
    }
}

impl Drop for Fields<'_> {
    fn drop(&mut self) {
        let read = self.read.borrow();
        let mut errors = self.errors.borrow_mut();
        for (key, _) in self.entries {
            let NodeKind::Str(k) = &key.kind else {
                continue;
            };
            if read.contains(&k.as_str()) {
                continue;
            }
            let hint = suggest(k, &read)
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_else(|| format!("; known keys: {}", read.join(", ")));
            errors.push(ConfigError {
                file: self.file.clone(),
                line: key.line,
                column: key.column,
                code: Code::ConfigUnknownKey,
                message: format!("unknown key `{k}` in {}{hint}", self.what),
            });
        }
    }
}

impl Checker {
    /// A checker of one file; `base` resolves relative paths.
    pub(super) fn new(file: &Path, base: &Path, known: Known) -> Checker {
        Checker {
            file: file.to_path_buf(),
            base: base.to_path_buf(),
            known,
            errors: Rc::new(RefCell::new(Vec::new())),
        }
    }

    /// Every problem found, in file order.
    pub(super) fn into_errors(self) -> Vec<ConfigError> {
        let mut errors = std::mem::take(&mut *self.errors.borrow_mut());
        errors.sort_by_key(|e| (e.line, e.column));
        errors
    }

    /// Whether a problem was found.
    pub(super) fn failed(&self) -> bool {
        !self.errors.borrow().is_empty()
    }

    /// Problems found elsewhere (a waiver file the configuration names).
    pub(super) fn extend(&mut self, errors: Vec<ConfigError>) {
        self.errors.borrow_mut().extend(errors);
    }

    /// A problem of a code at a node.
    pub(super) fn report(&mut self, node: &Node, code: Code, message: impl Into<String>) {
        self.errors.borrow_mut().push(ConfigError {
            file: self.file.clone(),
            line: node.line,
            column: node.column,
            code,
            message: message.into(),
        });
    }

    /// A value that is not what it should be.
    pub(super) fn error(&mut self, node: &Node, message: impl Into<String>) {
        self.report(node, Code::ConfigInvalidValue, message);
    }

    /// A key the configuration needs is missing from the mapping at `node`.
    pub(super) fn missing(&mut self, node: &Node, message: impl Into<String>) {
        self.report(node, Code::ConfigMissingKey, message);
    }

    /// A name defined twice.
    pub(super) fn duplicate(&mut self, node: &Node, message: impl Into<String>) {
        self.report(node, Code::ConfigDuplicate, message);
    }

    /// A mapping to read keys from (`what` names it in problems).
    pub(super) fn fields<'n>(&mut self, node: &'n Node, what: &str) -> Option<Fields<'n>> {
        let NodeKind::Map(entries) = &node.kind else {
            self.error(
                node,
                format!("{what} must be a mapping, not {}", node.kind.describe()),
            );
            return None;
        };
        for (key, _) in entries {
            if !matches!(key.kind, NodeKind::Str(_)) {
                self.error(
                    key,
                    format!(
                        "keys in {what} must be strings, not {}",
                        key.kind.describe()
                    ),
                );
            }
        }
        Some(Fields {
            node,
            entries,
            what: what.to_string(),
            read: RefCell::new(Vec::new()),
            file: self.file.clone(),
            errors: Rc::clone(&self.errors),
        })
    }

    pub(super) fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.kind {
            NodeKind::Str(s) if !s.trim().is_empty() => Some(s.clone()),
            NodeKind::Str(_) => {
                self.error(node, format!("{what} must not be empty"));
                None
            }
            other => {
                self.error(
                    node,
                    format!("{what} must be a string, not {}", other.describe()),
                );
                None
            }
        }
    }

    pub(super) fn required(
        &mut self,
        fields: &Fields<'_>,
        key: &'static str,
        what: &str,
    ) -> Option<String> {
        match fields.get(key) {
            Some(node) => self.string(node, &format!("{what}.{key}")),
            None => {
                self.missing(fields.node, format!("{what} needs `{key}`"));
                None
            }
        }
    }

    pub(super) fn optional(
        &mut self,
        fields: &Fields<'_>,
        key: &'static str,
        what: &str,
    ) -> Option<String> {
        fields
            .get(key)
            .and_then(|node| self.string(node, &format!("{what}.{key}")))
    }

    pub(super) fn string_list(&mut self, node: &Node, what: &str) -> Vec<String> {
        match &node.kind {
            NodeKind::Seq(items) => items
                .iter()
                .filter_map(|item| self.string(item, &format!("an entry of {what}")))
                .collect(),
            NodeKind::Str(s) => vec![s.clone()],
            other => {
                self.error(
                    node,
                    format!("{what} must be a list of strings, not {}", other.describe()),
                );
                Vec::new()
            }
        }
    }

    pub(super) fn seq<'n>(&mut self, node: &'n Node, what: &str) -> &'n [Node] {
        match &node.kind {
            NodeKind::Seq(items) => items,
            other => {
                self.error(
                    node,
                    format!("{what} must be a list, not {}", other.describe()),
                );
                &[]
            }
        }
    }

    pub(super) fn path(&mut self, node: &Node, what: &str) -> Option<PathBuf> {
        let raw = self.string(node, what)?;
        Some(resolve_path(&self.base, &raw))
    }

    pub(super) fn glob(&mut self, node: &Node, what: &str) -> Option<GlobMatcher> {
        let raw = self.string(node, what)?;
        match Glob::new(&raw) {
            Ok(glob) => Some(glob.compile_matcher()),
            Err(err) => {
                self.error(node, format!("{what} is not a valid glob: {}", err.kind()));
                None
            }
        }
    }

    pub(super) fn string_or_int(&mut self, node: &Node) -> Option<String> {
        match &node.kind {
            NodeKind::Str(s) => Some(s.clone()),
            NodeKind::Int(n) => Some(format!("{n}s")),
            _ => None,
        }
    }

    pub(super) fn positive_duration(&mut self, node: &Node, what: &str) -> Option<Duration> {
        self.bounded_duration(node, what, MAX_DURATION)
    }

    /// A positive duration no longer than `max`.
    /// A size in bytes: a positive whole number or a text such as `8MiB`.
    pub(super) fn size(&mut self, node: Option<&Node>, key: &str) -> Option<u64> {
        let node = node?;
        match &node.kind {
            NodeKind::Int(n) if *n > 0 => Some(*n as u64),
            NodeKind::Str(s) => match parse_size(s) {
                Some(n) => Some(n),
                None => {
                    self.error(node, format!("{key}: `{s}` is not a size (e.g. 8MiB)"));
                    None
                }
            },
            other => {
                self.error(
                    node,
                    format!("{key} must be a size, not {}", other.describe()),
                );
                None
            }
        }
    }

    pub(super) fn bounded_duration(
        &mut self,
        node: &Node,
        what: &str,
        max: Duration,
    ) -> Option<Duration> {
        match self.string_or_int(node).as_deref().and_then(parse_duration) {
            Some(d) if d > max.min(MAX_DURATION) => {
                self.error(node, format!("{what} must be at most {}", humanize(max)));
                None
            }
            Some(d) if !d.is_zero() => Some(d),
            _ => {
                self.error(
                    node,
                    format!("{what} must be a duration such as 90s, 5m or 1h"),
                );
                None
            }
        }
    }

    pub(super) fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.kind {
            NodeKind::Bool(b) => Some(b),
            _ => {
                self.error(node, format!("{what} must be true or false"));
                None
            }
        }
    }
}

/// Resolves a path from the configuration: `~/` is the home folder, relative paths are relative
/// to the configuration file's folder.
pub(super) fn resolve_path(base: &Path, raw: &str) -> PathBuf {
    if let Some(rest) = raw.strip_prefix("~/")
        && let Some(home) = dirs::home_dir()
    {
        return home.join(rest);
    }
    let path = Path::new(raw);
    if path.is_absolute() {
        clean(path)
    } else {
        clean(&base.join(path))
    }
}

/// Removes `.` and folds `..` into the preceding component, without touching the file system.
fn clean(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                let last = out.components().next_back();
                match last {
                    Some(Component::Normal(_)) => {
                        out.pop();
                    }
                    Some(Component::RootDir) => {}
                    _ => out.push(".."),
                }
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

/// A duration as the configuration writes it (`90s`, `5m`, `2h`, `30d`).
pub fn humanize(duration: Duration) -> String {
    let s = duration.as_secs();
    match s {
        0 => format!("{}ms", duration.as_millis()),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// The longest duration any setting accepts (ten years): beyond it, adding it to a clock
/// could overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(3650 * 86_400);

/// Parses `90s`, `2m`, `1h`, `1d` or a bare number of seconds.
pub fn parse_duration(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (digits, unit) = raw.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let seconds = match unit.trim() {
        "ms" => return Some(Duration::from_millis(n)),
        "" | "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(seconds))
}

/// Parses `512`, `1KiB`, `8MiB`, `1GiB` (or `K`, `KB`, …): a positive number of bytes.
pub(super) fn parse_size(raw: &str) -> Option<u64> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (digits, unit) = raw.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let factor = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" | "KB" => 1024,
        "MiB" | "M" | "MB" => 1024 * 1024,
        "GiB" | "G" | "GB" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(factor).filter(|n| *n > 0)
}

/// The known key closest to a mistyped one, if any is close.
fn suggest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|a| (strsim(key, a), *a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

/// Levenshtein distance, small inputs only.
fn strsim(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checker() -> Checker {
        Checker::new(Path::new("c.yaml"), Path::new("/etc"), Known::default())
    }

    #[test]
    fn the_keys_a_section_reads_are_its_keys_and_every_other_is_unknown() {
        let node = super::super::node::parse("name: x\nschedul: y\nother: z\n").unwrap();
        let mut check = checker();
        {
            let fields = check.fields(&node, "a report").unwrap();
            assert!(fields.get("name").is_some());
            assert!(fields.get("schedule").is_none());
            check.missing(&node, "a report needs `schedule`");
        }
        let errors = check.into_errors();
        let found: Vec<(u64, Code, &str)> = errors
            .iter()
            .map(|e| (e.line, e.code, e.message.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                (1, Code::ConfigMissingKey, "a report needs `schedule`"),
                (
                    2,
                    Code::ConfigUnknownKey,
                    "unknown key `schedul` in a report; did you mean `schedule`?"
                ),
                (
                    3,
                    Code::ConfigUnknownKey,
                    "unknown key `other` in a report; known keys: name, schedule"
                ),
            ]
        );
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("8MiB"), Some(8 * 1024 * 1024));
        assert_eq!(parse_size("0"), None);
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("2x"), None);
    }
}
