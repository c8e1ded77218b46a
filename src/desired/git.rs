//! Reading files from a committed git tree with gix. Local repositories are read in place;
//! remote ones are cloned bare into a cache folder and fetched on later scans. Only the tree of
//! the resolved commit is read: a working copy, its uncommitted edits and untracked files never
//! reach a scan.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

use crate::config::{GitAuth, RepoLocation, SecretRef, Source};
use crate::model::{Code, redact};

/// Where the remote's HEAD is stored in a cached clone.
const REMOTE_HEAD: &str = "refs/gitdrift/remote-head";

/// Why a source's files could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The local repository could not be opened.
    #[error("cannot open repository {repo}: {message}")]
    Open {
        /// Where.
        repo: String,
        /// Why (credentials scrubbed).
        message: String,
    },
    /// Clone or fetch failed (unreachable, refused, authentication).
    #[error("cannot fetch {repo}: {message}")]
    Fetch {
        /// Which URL (credentials masked).
        repo: String,
        /// Why (credentials scrubbed).
        message: String,
    },
    /// Clone or fetch took longer than allowed.
    #[error("fetching {repo} took longer than {timeout:?}; abandoned")]
    Timeout {
        /// Which URL.
        repo: String,
        /// The limit.
        timeout: Duration,
    },
    /// The ref does not name a commit in the repository.
    #[error("ref `{git_ref}` not found in {repo}")]
    RefNotFound {
        /// The ref as configured.
        git_ref: String,
        /// Which repository.
        repo: String,
    },
    /// A credential named in the configuration could not be read.
    #[error("cannot read credential: {0}")]
    Credential(String),
    /// Reading objects from the repository failed.
    #[error("cannot read {what} from {repo}: {message}")]
    Read {
        /// What was being read.
        what: String,
        /// Which repository.
        repo: String,
        /// Why.
        message: String,
    },
    /// The cache folder could not be prepared.
    #[error("cache folder {}: {message}", path.display())]
    Cache {
        /// The folder.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

impl GitError {
    /// The problem code.
    pub fn code(&self) -> Code {
        match self {
            GitError::Open { .. } => Code::GitOpen,
            GitError::Fetch { .. } => Code::GitFetch,
            GitError::Timeout { .. } => Code::GitTimeout,
            GitError::RefNotFound { .. } => Code::GitRefNotFound,
            GitError::Credential(_) => Code::GitCredential,
            GitError::Read { .. } => Code::GitRead,
            GitError::Cache { .. } => Code::GitCache,
        }
    }
}

/// A file read from the tree.
#[derive(Debug)]
pub struct TreeFile {
    /// Path inside the repository, `/`-separated.
    pub path: String,
    /// Content.
    pub bytes: Vec<u8>,
}

/// What reading a source's tree produced.
#[derive(Debug)]
pub struct TreeRead {
    /// Full commit id the files were read from.
    pub commit: String,
    /// The commit's committer time.
    pub committed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Selected manifest files.
    pub files: Vec<TreeFile>,
    /// Selected files refused before reading (too large), with the reason.
    pub refused: Vec<(String, String)>,
}

/// Which files of the tree a source selects.
pub struct FileFilter {
    include: Option<GlobSet>,
    exclude: GlobSet,
}

impl FileFilter {
    /// Builds the filter from a source's `paths` and `exclude` globs. A pattern without glob
    /// characters names a file or a folder and everything below it.
    pub fn new(paths: &[String], exclude: &[String]) -> Result<FileFilter, globset::Error> {
        fn build(patterns: &[String]) -> Result<GlobSet, globset::Error> {
            let mut set = GlobSetBuilder::new();
            for pattern in patterns {
                let pattern = pattern.trim_start_matches("./").trim_start_matches('/');
                let is_plain = !pattern.contains(['*', '?', '[', '{']);
                set.add(glob(pattern)?);
                if is_plain {
                    set.add(glob(&format!("{}/**", pattern.trim_end_matches('/')))?);
                }
            }
            set.build()
        }
        fn glob(pattern: &str) -> Result<Glob, globset::Error> {
            GlobBuilder::new(pattern).literal_separator(true).build()
        }
        Ok(FileFilter {
            include: if paths.is_empty() {
                None
            } else {
                Some(build(paths)?)
            },
            exclude: build(exclude)?,
        })
    }

    /// Whether a repository path is read as a manifest (or a Terraform state).
    pub fn selects(&self, path: &str) -> bool {
        (crate::manifest::Syntax::of_path(path).is_some() || super::terraform::is_state_file(path))
            && self.include.as_ref().is_none_or(|set| set.is_match(path))
            && !self.exclude.is_match(path)
    }

    /// Whether a repository path is excluded.
    pub fn excludes(&self, path: &str) -> bool {
        self.exclude.is_match(path)
    }
}

/// Reads the files of a source's tree at its ref that `select` picks (by repository path).
pub fn read_tree(
    source: &Source,
    cache_dir: &Path,
    fetch_timeout: Duration,
    max_file_bytes: u64,
    select: impl Fn(&str) -> bool,
) -> Result<TreeRead, GitError> {
    let (repo, display, remote) = match &source.repo {
        RepoLocation::Local(path) => {
            let repo = gix::open(path).map_err(|err| GitError::Open {
                repo: path.display().to_string(),
                message: redact::scrub(&err.to_string()),
            })?;
            (repo, path.display().to_string(), false)
        }
        RepoLocation::StateFile(path) => {
            return Err(GitError::Open {
                repo: path.display().to_string(),
                message: "a Terraform state file is not a repository".to_string(),
            });
        }
        RepoLocation::Remote(url) => {
            let (repo, advertised) = sync_remote(
                url,
                &source.auth,
                source.git_ref.as_deref(),
                cache_dir,
                fetch_timeout,
            )?;
            if let Some(git_ref) = &source.git_ref
                && !advertised_ref(git_ref, &advertised)
            {
                return Err(GitError::RefNotFound {
                    git_ref: git_ref.clone(),
                    repo: redact::url(url),
                });
            }
            (repo, redact::url(url), true)
        }
    };
    let commit = resolve(&repo, source.git_ref.as_deref(), remote, &display)?;
    let read_err = |what: &str, err: &dyn std::fmt::Display| GitError::Read {
        what: what.to_string(),
        repo: display.clone(),
        message: redact::scrub(&err.to_string()),
    };
    let commit_obj = repo
        .find_commit(commit)
        .map_err(|e| read_err("commit", &e))?;
    let committed_at = commit_obj
        .time()
        .ok()
        .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0));
    let tree = commit_obj.tree().map_err(|e| read_err("tree", &e))?;
    let entries = tree
        .traverse()
        .breadthfirst
        .files()
        .map_err(|e| read_err("tree", &e))?;
    let mut files = Vec::new();
    let mut refused = Vec::new();
    for entry in entries {
        // Blobs only: symlinks, submodules and folders are not manifests.
        if !entry.mode.is_blob() {
            continue;
        }
        let path = entry.filepath.to_string();
        if !select(&path) {
            continue;
        }
        let header = repo
            .find_header(entry.oid)
            .map_err(|e| read_err(&path, &e))?;
        if header.size() > max_file_bytes {
            refused.push((
                path,
                format!(
                    "file is {} bytes, over the limit of {max_file_bytes} bytes (raise limits.max_file_size to read it)",
                    header.size()
                ),
            ));
            continue;
        }
        let mut blob = repo.find_blob(entry.oid).map_err(|e| read_err(&path, &e))?;
        files.push(TreeFile {
            path,
            bytes: blob.take_data(),
        });
    }
    Ok(TreeRead {
        commit: commit.to_string(),
        committed_at,
        files,
        refused,
    })
}

/// Resolves a ref to a commit id. Without a ref: the local HEAD, or the remote's HEAD as fetched.
fn resolve(
    repo: &gix::Repository,
    git_ref: Option<&str>,
    remote: bool,
    display: &str,
) -> Result<gix::ObjectId, GitError> {
    let spec = match (git_ref, remote) {
        (Some(r), _) => r.to_string(),
        (None, true) => REMOTE_HEAD.to_string(),
        (None, false) => "HEAD".to_string(),
    };
    let not_found = || GitError::RefNotFound {
        git_ref: git_ref.unwrap_or("HEAD").to_string(),
        repo: display.to_string(),
    };
    let id = repo
        .rev_parse_single(spec.as_str())
        .map_err(|_| not_found())?;
    let object = id.object().map_err(|_| not_found())?;
    let commit = object.peel_to_commit().map_err(|_| not_found())?;
    Ok(commit.id)
}

/// Brings the cached bare clone of `url` up to date, creating it on first use. Returns the
/// repository and the ref names the remote advertised.
fn sync_remote(
    url: &str,
    auth: &GitAuth,
    git_ref: Option<&str>,
    cache_dir: &Path,
    timeout: Duration,
) -> Result<(gix::Repository, Vec<String>), GitError> {
    let display = redact::url(url);
    let repos = cache_dir.join("repos");
    std::fs::create_dir_all(&repos).map_err(|err| GitError::Cache {
        path: repos.clone(),
        message: err.to_string(),
    })?;
    let path = repos.join(cache_name(url));
    let token = match &auth.token {
        Some(secret) => Some(read_secret(secret)?),
        None => None,
    };
    redact::register_url_credentials(url);
    let overrides = ssh_overrides(auth);
    let lock_path = repos.join(format!("{}.lock", cache_name(url)));
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|err| GitError::Cache {
            path: lock_path.clone(),
            message: err.to_string(),
        })?;

    let credentials = token.map(|t| {
        let username = auth
            .username
            .clone()
            .unwrap_or_else(|| "x-access-token".to_string());
        (username, t)
    });
    let outcome = match FETCH_HELPER.get() {
        Some(helper) => {
            drop(lock);
            let request = FetchRequest {
                url: url.to_string(),
                path: path.clone(),
                lock: lock_path,
                git_ref: git_ref.map(str::to_string),
                credentials,
                overrides: overrides.clone(),
                progress: crate::progress::enabled(),
            };
            let line = crate::progress::Line::start(&format!("fetch {display}"), None, "");
            fetch_in_child(helper, &request, timeout, &line).map_err(|()| GitError::Timeout {
                repo: display.clone(),
                timeout,
            })?
        }
        None => fetch_on_thread(url, &path, git_ref, credentials, &overrides, lock, timeout)
            .map_err(|()| GitError::Timeout {
                repo: display.clone(),
                timeout,
            })?,
    };
    let advertised = outcome.map_err(|message| GitError::Fetch {
        repo: display.clone(),
        message: redact::scrub(&message),
    })?;
    let repo = open_cached(&path, &overrides).map_err(|message| GitError::Open {
        repo: display,
        message,
    })?;
    Ok((repo, advertised))
}

/// The program that runs fetches in a child process: the gitdrift binary itself, named by the
/// command line at start-up. A hung remote then costs a killed process, and the clone's lock
/// dies with it. Without it (gitdrift used as a library) a fetch runs on a thread.
static FETCH_HELPER: OnceLock<PathBuf> = OnceLock::new();

/// Runs every later fetch in a child process of `program` (`program __fetch`).
pub fn use_fetch_helper(program: PathBuf) {
    let _ = FETCH_HELPER.set(program);
}

/// What a fetch child is asked to do, on its standard input (the token never appears in its
/// arguments or environment).
#[derive(serde::Serialize, serde::Deserialize)]
pub struct FetchRequest {
    url: String,
    path: PathBuf,
    lock: PathBuf,
    git_ref: Option<String>,
    credentials: Option<(String, String)>,
    overrides: Vec<String>,
    /// Whether to report the transfer's progress on standard error, as lines starting
    /// [`PROGRESS_LINE`] (the parent draws them on its terminal).
    #[serde(default)]
    progress: bool,
}

/// What starts a progress line of a fetch child on its standard error.
const PROGRESS_LINE: &str = "gitdrift-progress ";

/// A fetch child's answer on its standard output: the advertised refs, or why it failed.
#[derive(serde::Serialize, serde::Deserialize)]
enum FetchAnswer {
    Fetched(Vec<String>),
    Failed(String),
}

/// The fetch child (`gitdrift __fetch`): reads a [`FetchRequest`], waits for the clone's lock,
/// fetches, and prints a [`FetchAnswer`]. The parent kills it (and its process group, an `ssh`
/// included) when the fetch timeout passes.
pub fn fetch_child_main() -> u8 {
    use std::io::Read;
    let mut input = String::new();
    let answer = match std::io::stdin()
        .take(1 << 20)
        .read_to_string(&mut input)
        .map_err(|e| e.to_string())
        .and_then(|_| serde_json::from_str::<FetchRequest>(&input).map_err(|e| e.to_string()))
    {
        Err(err) => FetchAnswer::Failed(format!("bad fetch request: {err}")),
        Ok(request) => {
            let locked = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&request.lock)
                .and_then(|lock| lock.lock().map(|()| lock));
            match locked {
                Err(err) => {
                    FetchAnswer::Failed(format!("cannot lock {}: {err}", request.lock.display()))
                }
                Ok(_lock) => {
                    // The transfer's progress, a line every tenth of a second, while it runs.
                    let transfer = request
                        .progress
                        .then(|| Arc::new(crate::progress::Transfer::new()));
                    let done = Arc::new(AtomicBool::new(false));
                    let reporter = transfer.clone().map(|transfer| {
                        let done = Arc::clone(&done);
                        std::thread::spawn(move || {
                            use std::io::Write;
                            while !done.load(Ordering::SeqCst) {
                                let now = transfer.describe();
                                if !now.is_empty() {
                                    let _ = writeln!(std::io::stderr(), "{PROGRESS_LINE}{now}");
                                }
                                std::thread::sleep(Duration::from_millis(100));
                            }
                        })
                    });
                    let fetched = fetch_into(
                        &request.url,
                        &request.path,
                        request.git_ref.as_deref(),
                        request.credentials,
                        &request.overrides,
                        &AtomicBool::new(false),
                        transfer.as_deref(),
                    );
                    done.store(true, Ordering::SeqCst);
                    if let Some(reporter) = reporter {
                        let _ = reporter.join();
                    }
                    match fetched {
                        Ok(refs) => FetchAnswer::Fetched(refs),
                        Err(message) => FetchAnswer::Failed(message),
                    }
                }
            }
        }
    };
    println!("{}", serde_json::to_string(&answer).unwrap_or_default());
    0
}

/// Runs a fetch in a child process; `Err(())` when it did not finish in time (it is killed).
fn fetch_in_child(
    helper: &Path,
    request: &FetchRequest,
    timeout: Duration,
    line: &crate::progress::Line,
) -> Result<Result<Vec<String>, String>, ()> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut command = Command::new(helper);
    command
        .arg("__fetch")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Its own process group: a timeout kills an `ssh` it started too.
        command.process_group(0);
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(err) => return Ok(Err(format!("cannot start {}: {err}", helper.display()))),
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(&serde_json::to_vec(request).unwrap_or_default());
    }
    let stdout = child
        .stdout
        .take()
        .map(|s| super::child::reader(s, 64 << 20));
    // Its progress lines are drawn as they come; the rest is kept for an error message.
    let (progress_tx, progress_rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().map(|s| {
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut kept = Vec::new();
            for text in std::io::BufReader::new(s)
                .split(b'\n')
                .map_while(Result::ok)
            {
                match text.strip_prefix(PROGRESS_LINE.as_bytes()) {
                    Some(progress) => {
                        let _ = progress_tx.send(String::from_utf8_lossy(progress).into_owned());
                    }
                    None if kept.len() < 16 << 10 => {
                        kept.extend_from_slice(&text);
                        kept.push(b'\n');
                    }
                    None => {}
                }
            }
            (kept, false)
        })
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        while let Ok(progress) = progress_rx.try_recv() {
            line.message(progress);
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            // As often as `wait_or_kill` looks: a fetch's answer is not kept waiting.
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            _ => {
                // Past the deadline (or unwaitable): killed, as wait_or_kill does.
                let _ = super::child::wait_or_kill(&mut child, Duration::ZERO);
                return Err(());
            }
        }
    };
    let (stdout, _) = stdout.and_then(|h| h.join().ok()).unwrap_or_default();
    let (stderr, _) = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
    match serde_json::from_slice::<FetchAnswer>(stdout.trim_ascii()) {
        Ok(FetchAnswer::Fetched(refs)) => Ok(Ok(refs)),
        Ok(FetchAnswer::Failed(message)) => Ok(Err(message)),
        Err(_) => Ok(Err(format!(
            "the fetch process exited with {status}: {}",
            redact::scrub(String::from_utf8_lossy(&stderr).trim())
        ))),
    }
}

/// Runs a fetch on a thread, which holds the cache lock for as long as it touches the clone,
/// even past the timeout: one fetch per cached clone at a time. `Err(())` when it did not
/// finish in time.
fn fetch_on_thread(
    url: &str,
    path: &Path,
    git_ref: Option<&str>,
    credentials: Option<(String, String)>,
    overrides: &[String],
    lock: std::fs::File,
    timeout: Duration,
) -> Result<Result<Vec<String>, String>, ()> {
    let started = Instant::now();
    let interrupt = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let url = url.to_string();
        let path = path.to_path_buf();
        let interrupt = Arc::clone(&interrupt);
        let git_ref = git_ref.map(str::to_string);
        let overrides = overrides.to_vec();
        let spawned = std::thread::Builder::new()
            .name("gitdrift-fetch".into())
            .spawn(move || {
                while let Err(std::fs::TryLockError::WouldBlock) = lock.try_lock() {
                    if interrupt.load(Ordering::SeqCst) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                let result = fetch_into(
                    &url,
                    &path,
                    git_ref.as_deref(),
                    credentials,
                    &overrides,
                    &interrupt,
                    None,
                );
                let _ = tx.send(result);
                drop(lock);
            });
        if let Err(err) = spawned {
            return Ok(Err(err.to_string()));
        }
    }
    match rx.recv_timeout(timeout.saturating_sub(started.elapsed())) {
        Ok(outcome) => Ok(outcome),
        Err(_) => {
            interrupt.store(true, Ordering::SeqCst);
            Err(())
        }
    }
}

/// Whether a configured ref is among the refs a remote advertised (a commit id always passes: it
/// is looked up in the clone). A branch deleted upstream stays in the cached clone, since fetches
/// do not prune; this check keeps it from being scanned as if it still existed.
fn advertised_ref(git_ref: &str, advertised: &[String]) -> bool {
    let looks_like_id = git_ref.len() >= 7 && git_ref.chars().all(|c| c.is_ascii_hexdigit());
    if looks_like_id {
        return true;
    }
    let candidates = if git_ref.starts_with("refs/") {
        vec![git_ref.to_string()]
    } else {
        vec![
            format!("refs/heads/{git_ref}"),
            format!("refs/tags/{git_ref}"),
        ]
    };
    candidates.iter().any(|c| advertised.contains(c))
}

fn open_cached(path: &Path, overrides: &[String]) -> Result<gix::Repository, String> {
    let options =
        gix::open::Options::isolated().config_overrides(overrides.iter().map(String::as_str));
    gix::open_opts(path, options).map_err(|err| redact::scrub(&err.to_string()))
}

/// Fetches branches, tags, the remote's HEAD and (if it is a full ref) the configured ref into
/// the bare repository at `path`, creating it first if needed.
fn fetch_into(
    url: &str,
    path: &Path,
    git_ref: Option<&str>,
    credentials: Option<(String, String)>,
    overrides: &[String],
    interrupt: &AtomicBool,
    transfer: Option<&crate::progress::Transfer>,
) -> Result<Vec<String>, String> {
    let repo = if path.join("HEAD").exists() {
        match open_cached(path, overrides) {
            Ok(repo) => repo,
            Err(_) => {
                // A damaged cache is rebuilt rather than trusted.
                std::fs::remove_dir_all(path).map_err(|e| redact::error_chain(&e))?;
                init_cached(path, overrides)?
            }
        }
    } else {
        init_cached(path, overrides)?
    };
    let mut refspecs = vec![
        format!("+HEAD:{REMOTE_HEAD}"),
        "+refs/heads/*:refs/heads/*".to_string(),
        "+refs/tags/*:refs/tags/*".to_string(),
    ];
    if let Some(r) = git_ref.filter(|r| {
        r.starts_with("refs/") && !r.starts_with("refs/heads/") && !r.starts_with("refs/tags/")
    }) {
        refspecs.push(format!("+{r}:{r}"));
    }
    let remote = repo
        .remote_at(url)
        .map_err(|e| redact::error_chain(&e))?
        .with_refspecs(
            refspecs.iter().map(String::as_str),
            gix::remote::Direction::Fetch,
        )
        .map_err(|e| redact::error_chain(&e))?;
    let connection = remote
        .connect(gix::remote::Direction::Fetch)
        .map_err(|e| redact::error_chain(&e))?;
    let connection = connection.with_credentials(move |action| {
        use gix::credentials::helper::Action;
        match (action, &credentials) {
            (Action::Get(ctx), Some((username, password))) => {
                Ok(Some(gix::credentials::protocol::Outcome {
                    identity: gix::sec::identity::Account {
                        username: username.clone(),
                        password: password.clone(),
                        oauth_refresh_token: None,
                    },
                    next: ctx.into(),
                }))
            }
            // No configured credential: never prompt, never consult other helpers.
            _ => Ok(None),
        }
    });
    let outcome = match transfer {
        Some(transfer) => connection
            .prepare_fetch(transfer.item("negotiating"), Default::default())
            .map_err(|e| redact::error_chain(&e))?
            .receive(transfer.item("receiving"), interrupt),
        None => connection
            .prepare_fetch(gix::progress::Discard, Default::default())
            .map_err(|e| redact::error_chain(&e))?
            .receive(gix::progress::Discard, interrupt),
    }
    .map_err(|e| redact::error_chain(&e))?;
    Ok(outcome
        .ref_map
        .remote_refs
        .iter()
        .map(|r| r.unpack().0.to_string())
        .collect())
}

fn init_cached(path: &Path, overrides: &[String]) -> Result<gix::Repository, String> {
    gix::init_bare(path).map_err(|e| redact::error_chain(&e))?;
    open_cached(path, overrides)
}

/// `core.sshCommand` for every remote: batch mode (never prompt, for a host key or a
/// passphrase); with a configured key, only that key; with a configured known_hosts file, strict
/// checking against it. Without one, the user's SSH configuration decides which hosts are known.
fn ssh_overrides(auth: &GitAuth) -> Vec<String> {
    let mut command = "ssh -o BatchMode=yes".to_string();
    if let Some(key) = &auth.ssh_key_file {
        command.push_str(&format!(
            " -o IdentitiesOnly=yes -i {}",
            shell_quote(&key.display().to_string())
        ));
    }
    if let Some(known_hosts) = &auth.ssh_known_hosts_file {
        command.push_str(&format!(
            " -o StrictHostKeyChecking=yes -o UserKnownHostsFile={}",
            shell_quote(&known_hosts.display().to_string())
        ));
    }
    vec![format!("core.sshCommand={command}")]
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Reads a credential and registers it for scrubbing.
fn read_secret(secret: &SecretRef) -> Result<String, GitError> {
    secret.read().map_err(GitError::Credential)
}

/// Where the cached clone of a remote repository is.
pub fn cached_clone(cache_dir: &Path, url: &str) -> PathBuf {
    cache_dir.join("repos").join(cache_name(url))
}

/// A stable, readable folder name for a URL's cached clone (credentials never part of it).
fn cache_name(url: &str) -> String {
    let shown = redact::url(url);
    let tail: String = shown
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("repo")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in url.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{tail}-{hash:016x}.git")
}

/// The default cache folder: the user's cache directory, or a temporary one.
pub fn default_cache_dir() -> PathBuf {
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("gitdrift")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_selects_manifests_under_globs() {
        let filter = FileFilter::new(
            &["apps/**".into(), "platform".into()],
            &["**/secret-*.yaml".into()],
        )
        .unwrap();
        assert!(filter.selects("apps/web/deploy.yaml"));
        assert!(filter.selects("platform/ns.yml"));
        assert!(filter.selects("platform/x/y.json"));
        assert!(!filter.selects("apps/README.md"));
        assert!(!filter.selects("other/deploy.yaml"));
        assert!(!filter.selects("apps/web/secret-db.yaml"));
        let all = FileFilter::new(&[], &[]).unwrap();
        assert!(all.selects("deep/down/x.yaml"));
        assert!(!all.selects("deep/down/x.txt"));
        let direct = FileFilter::new(&["apps/*.yaml".into()], &[]).unwrap();
        assert!(direct.selects("apps/a.yaml"));
        assert!(!direct.selects("apps/sub/a.yaml"));
    }

    #[test]
    fn cache_names_are_stable_and_carry_no_credentials() {
        let a = cache_name("https://bot:s3cr3t-token@git.example.com/org/shop.git");
        assert!(a.starts_with("shop-"), "{a}");
        assert!(!a.contains("s3cr3t"));
        assert_eq!(
            a,
            cache_name("https://bot:s3cr3t-token@git.example.com/org/shop.git")
        );
        assert_ne!(a, cache_name("https://git.example.com/org/shop.git"));
        assert!(cache_name("git@github.com:org/repo.git").starts_with("repo-"));
    }

    #[test]
    fn ssh_command_pins_the_key_and_never_prompts() {
        let auth = GitAuth {
            ssh_key_file: Some(PathBuf::from("/keys/id ed25519")),
            ssh_known_hosts_file: Some(PathBuf::from("/keys/known_hosts")),
            ..GitAuth::default()
        };
        let overrides = ssh_overrides(&auth);
        assert_eq!(overrides.len(), 1);
        assert!(overrides[0].starts_with("core.sshCommand=ssh -o BatchMode=yes"));
        assert!(overrides[0].contains("-i '/keys/id ed25519'"));
        assert!(overrides[0].contains("StrictHostKeyChecking=yes"));
        let plain = ssh_overrides(&GitAuth::default());
        assert_eq!(
            plain,
            vec!["core.sshCommand=ssh -o BatchMode=yes".to_string()]
        );
    }

    #[test]
    fn only_advertised_refs_resolve() {
        let advertised = vec![
            "HEAD".to_string(),
            "refs/heads/main".to_string(),
            "refs/tags/v1.0.0".to_string(),
        ];
        assert!(advertised_ref("main", &advertised));
        assert!(advertised_ref("v1.0.0", &advertised));
        assert!(advertised_ref("refs/heads/main", &advertised));
        assert!(advertised_ref("3f2a1c95e1", &advertised));
        assert!(!advertised_ref("release-1.2", &advertised));
        assert!(!advertised_ref("refs/pull/1/head", &advertised));
    }
}
