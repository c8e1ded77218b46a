//! moto's EC2 server for the AWS tests, started on 127.0.0.1 from the `.venv-test` that
//! `scripts/test` installs: seeding through boto3 (a short Python script per test), the recorder
//! that proves gitdrift only read, and a throttling proxy that answers `RequestLimitExceeded`
//! the way EC2 does.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;

use super::{free_port, project_root};

/// A running `moto_server`.
pub struct Moto {
    child: Child,
    pub port: u16,
    /// The proxy gitdrift talks to (see [`Front`]).
    pub front: Front,
    /// moto's working folder and recording, and the empty AWS config and credentials files the
    /// scans are pointed at.
    home: tempfile::TempDir,
}

/// What every seeding script starts with: `ec2(region)` and `logs(region)` clients against the
/// server, `tag(resource_type, **tags)` for TagSpecifications, and `out`, printed as JSON.
const PRELUDE: &str = r#"
import json, os, sys
import boto3
URL = os.environ["MOTO_URL"]
def _client(service, region):
    return boto3.client(service, region_name=region, endpoint_url=URL,
                        aws_access_key_id="testing", aws_secret_access_key="testing")
def ec2(region="eu-west-1"):
    return _client("ec2", region)
def logs(region="eu-west-1"):
    return _client("logs", region)
def tag(resource_type, **tags):
    return [{"ResourceType": resource_type,
             "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]
out = {}
"#;

impl Moto {
    /// Starts moto on a free port and waits until it answers; fails the test if it cannot.
    pub fn start() -> Moto {
        let bin = venv_bin("moto_server");
        let port = free_port();
        let home = tempfile::tempdir().expect("temp dir");
        // Each server records into its own file (moto's default is ./moto_recording, shared by
        // every server started in the same folder).
        let mut child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_RECORDER_FILEPATH", home.path().join("recording"))
            .current_dir(home.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((200, _)) = http(port, "GET", "/moto-api/") {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("moto_server exited before answering on 127.0.0.1:{port}: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer on 127.0.0.1:{port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // Empty AWS config and credentials files: nothing from the user's own configuration.
        for file in ["config", "credentials"] {
            std::fs::write(home.path().join(file), "").expect("write an empty AWS config file");
        }
        let front = Front::start(port);
        Moto {
            child,
            port,
            front,
            home,
        }
    }

    /// moto itself, for seeding: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The endpoint gitdrift is pointed at: the [`Front`] proxy.
    pub fn endpoint(&self) -> String {
        self.front.url()
    }

    /// Runs a seeding script (after [`PRELUDE`]) and returns its `out`.
    pub fn python(&self, script: &str) -> Value {
        let output = Command::new(venv_bin("python"))
            .arg("-c")
            .arg(format!("{PRELUDE}\n{script}\nprint(json.dumps(out))\n"))
            .env("MOTO_URL", self.url())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", self.home.path().join("config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.home.path().join("credentials"),
            )
            .output()
            .expect("run the venv's python");
        assert!(
            output.status.success(),
            "seeding script failed:\n{script}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        serde_json::from_str(stdout.lines().last().unwrap_or("{}"))
            .unwrap_or_else(|e| panic!("seeding script printed no JSON ({e}): {stdout}"))
    }

    /// The environment a scan against this server runs with: test credentials, no instance
    /// metadata, no user AWS configuration.
    pub fn env(&self) -> Vec<(String, String)> {
        let home = self.home.path();
        vec![
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
            (
                "AWS_CONFIG_FILE".into(),
                home.join("config").display().to_string(),
            ),
            (
                "AWS_SHARED_CREDENTIALS_FILE".into(),
                home.join("credentials").display().to_string(),
            ),
            ("AWS_REGION".into(), "eu-west-1".into()),
        ]
    }

    /// Starts moto's recorder (clearing what it held).
    pub fn start_recording(&self) {
        self.post("/moto-api/recorder/reset-recording");
        self.post("/moto-api/recorder/start-recording");
    }

    /// Stops the recorder and returns every call it saw since [`Moto::start_recording`].
    pub fn recording(&self) -> Vec<Call> {
        self.post("/moto-api/recorder/stop-recording");
        let (status, body) = http(self.port, "GET", "/moto-api/recorder/download-recording")
            .expect("download moto's recording");
        assert_eq!(status, 200, "download-recording: {body}");
        body.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let entry: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("recording line is not JSON ({e}): {line}"));
                Call::from_entry(&entry)
            })
            .collect()
    }

    /// Stops the recorder and fails the test unless every call, those moto saw and those the
    /// [`Front`] answered, was a Describe, Get or List (or STS AssumeRole, which is how a
    /// target's role is taken); returns the calls moto saw.
    pub fn assert_only_reads(&self) -> Vec<Call> {
        let calls = self.recording();
        assert!(!calls.is_empty(), "moto recorded no calls at all");
        for action in self.front.take_answered() {
            assert!(
                ["Describe", "Get", "List"]
                    .iter()
                    .any(|p| action.starts_with(p)),
                "gitdrift called {action} (only Describe/Get/List are allowed)"
            );
        }
        for call in &calls {
            let read = ["Describe", "Get", "List"]
                .iter()
                .any(|p| call.action.starts_with(p));
            let assume = call.service == "sts" && call.action == "AssumeRole";
            assert!(
                read || assume,
                "gitdrift called {} {} (only Describe/Get/List are allowed): {calls:?}",
                call.service,
                call.action
            );
        }
        calls
    }

    fn post(&self, path: &str) {
        let (status, body) = http(self.port, "POST", path).expect("moto-api call");
        assert!(status < 300, "POST {path}: {status} {body}");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One call moto saw.
#[derive(Clone, Debug)]
pub struct Call {
    /// `ec2`, `sts`, … (from the signature's credential scope).
    pub service: String,
    pub action: String,
    /// The region it was signed for.
    pub region: String,
    /// The access key that signed it.
    pub access_key: String,
    /// The form parameters.
    pub params: Vec<(String, String)>,
}

impl Call {
    fn from_entry(entry: &Value) -> Call {
        let raw = entry["body"].as_str().unwrap_or_default();
        let body = if entry["body_encoded"].as_bool() == Some(true) {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(raw)
                .unwrap_or_else(|e| panic!("recorded body is not base64 ({e}): {raw}"));
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            raw.to_string()
        };
        let params = form(&body);
        let action = params
            .iter()
            .find(|(k, _)| k == "Action")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| format!("<no Action: {} {}>", entry["method"], entry["url"]));
        // Credential=AKID/20260101/eu-west-1/ec2/aws4_request
        let authorization = entry["headers"]["Authorization"]
            .as_str()
            .unwrap_or_default();
        let scope: Vec<&str> = authorization
            .split("Credential=")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .unwrap_or_default()
            .split('/')
            .collect();
        Call {
            service: scope.get(3).unwrap_or(&"").to_string(),
            action,
            region: scope.get(2).unwrap_or(&"").to_string(),
            access_key: scope.first().unwrap_or(&"").to_string(),
            params,
        }
    }

    /// A form parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Decodes `a=1&b=x%2Fy`.
fn form(body: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

/// A program from `.venv-test/bin`, or a failure saying how to get it.
pub fn venv_bin(name: &str) -> PathBuf {
    let path = project_root().join(".venv-test/bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run scripts/test, which installs moto[ec2] and boto3 into .venv-test",
        path.display()
    );
    path
}

/// One HTTP/1.1 request with `Connection: close`; returns the status and body.
fn http(port: u16, method: &str, path: &str) -> std::io::Result<(u16, String)> {
    super::http::request(port, method, path, &[], b"").map(|a| (a.status, a.body))
}

/// A forwarding proxy in front of moto, which gitdrift talks to: it answers the first calls of
/// an action with `400 RequestLimitExceeded` where a test asks for throttling (as EC2 throttles),
/// answers the few read actions moto does not implement with what EC2 returns, logs the actions
/// it answered itself, and passes everything else through.
pub struct Front {
    pub port: u16,
    state: Arc<FrontState>,
    stop: Arc<AtomicBool>,
}

#[derive(Default)]
struct FrontState {
    /// Action → calls still to throttle.
    throttle: Mutex<HashMap<String, usize>>,
    /// Actions this proxy answered instead of moto.
    answered: Mutex<Vec<String>>,
    throttled: AtomicUsize,
}

/// Read actions moto 5.2.5 lacks, answered as EC2 does.
const CANNED: &[(&str, &str)] = &[(
    "GetEbsDefaultKmsKeyId",
    "<GetEbsDefaultKmsKeyIdResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>front</requestId><kmsKeyId>alias/aws/ebs</kmsKeyId></GetEbsDefaultKmsKeyIdResponse>",
)];

impl Front {
    pub fn start(upstream: u16) -> Front {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy in front of moto");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(FrontState::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, halt) = (Arc::clone(&state), Arc::clone(&stop));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if halt.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || {
                    let _ = relay(stream, upstream, &shared);
                });
            }
        });
        Front { port, state, stop }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Throttles the next `times` calls of `action`.
    pub fn throttle(&self, action: &str, times: usize) {
        self.state
            .throttle
            .lock()
            .unwrap()
            .insert(action.to_string(), times);
    }

    /// How many calls were throttled so far.
    pub fn throttled(&self) -> usize {
        self.state.throttled.load(Ordering::SeqCst)
    }

    /// The actions answered here (throttled or canned), emptying the log.
    pub fn take_answered(&self) -> Vec<String> {
        std::mem::take(&mut *self.state.answered.lock().unwrap())
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Serves one client connection: reads a request, answers it or forwards it, closes.
fn relay(mut client: TcpStream, upstream: u16, state: &FrontState) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut buffer = Vec::new();
    let end = loop {
        if let Some(end) = find(&buffer, b"\r\n\r\n") {
            break end;
        }
        let mut chunk = [0u8; 8192];
        let n = client.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buffer.len() < end + 4 + length {
        let mut chunk = [0u8; 8192];
        let n = client.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buffer[end + 4..end + 4 + length]).into_owned();
    let action = form(&body)
        .into_iter()
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v)
        .unwrap_or_default();
    let throttle = {
        let mut rules = state.throttle.lock().unwrap();
        match rules.get_mut(&action) {
            Some(left) if *left > 0 => {
                *left -= 1;
                true
            }
            _ => false,
        }
    };
    let answer = |status: &str, xml: &str| {
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
            xml.len()
        )
    };
    if throttle {
        state.throttled.fetch_add(1, Ordering::SeqCst);
        state.answered.lock().unwrap().push(action);
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>throttled</RequestID></Response>";
        return client.write_all(answer("400 Bad Request", xml).as_bytes());
    }
    if let Some((_, xml)) = CANNED.iter().find(|(a, _)| *a == action) {
        state.answered.lock().unwrap().push(action);
        return client.write_all(answer("200 OK", xml).as_bytes());
    }
    let mut server = TcpStream::connect(("127.0.0.1", upstream))?;
    server.write_all(&buffer[..end + 4 + length])?;
    let mut response = Vec::new();
    server.read_to_end(&mut response)?;
    // moto closes every connection after its response; so does this proxy.
    client.write_all(&response)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
