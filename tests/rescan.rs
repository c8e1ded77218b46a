//! `serve`'s re-scans judge and audit only the pairs whose inputs changed and reuse the rest: the
//! report must be the one a full scan gives, byte for byte but for its clock. Checked here on
//! the bundled demo (Kubernetes and AWS targets, an ignore rule, the built-in rule packs) under
//! random change sets on both sides, round after round, in process.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use gitdrift::config::Config;
use gitdrift::desired::SourceRead;
use gitdrift::live::{LiveProvider, LiveRead, Recorder};
use gitdrift::model::{Body, Object, ResourceKey};
use gitdrift::scan::{self, Context, ScanOptions};
use serde_json::{Value, json};

/// A small deterministic generator (xorshift64*): the failing seed and round are in the message.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Everything the scans read: the sources and each target's live state.
#[derive(Clone)]
struct World {
    sources: Vec<SourceRead>,
    lives: HashMap<String, LiveRead>,
}

fn read_world(config: &Arc<Config>, recorder: &Arc<dyn Recorder>, cache: &Path) -> World {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let wanted: HashSet<&str> = config.targets.iter().map(|t| t.name.as_str()).collect();
    let permits = Arc::new(tokio::sync::Semaphore::new(2));
    let sources = runtime.block_on(scan::read_sources(config, &wanted, cache, &permits));
    let mut lives = HashMap::new();
    for target in &config.targets {
        let request = scan::live_request(config, &target.name, &sources);
        let provider = LiveProvider::for_target(target, recorder);
        let read = runtime.block_on(provider.read(&target.name, &request, &config.limits));
        assert!(
            read.complete,
            "target {} read: {:?}",
            target.name, read.problems
        );
        lives.insert(target.name.clone(), read);
    }
    World { sources, lives }
}

/// The bundled demo as read once (a cache folder for its repositories, what it reads) and a
/// context that remembers nothing, for full scans.
fn demo() -> (tempfile::TempDir, World, Context) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = Arc::new(
        Config::load(
            &root.join("examples/demo/gitdrift.yaml"),
            &gitdrift::live::known(),
        )
        .unwrap(),
    );
    let cache = tempfile::tempdir().unwrap();
    let recorder: Arc<dyn Recorder> = Arc::new(gitdrift::metrics::Metrics::new());
    let original = read_world(&config, &recorder, cache.path());
    let full = Context::new(config, recorder);
    (cache, original, full)
}

/// The report of a scan of `targets` (all when empty) as JSON, its clock removed (the scans run
/// at different instants).
fn scanned(context: &Context, world: &World, cache: &Path, targets: &[&str]) -> Value {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // A scan of one target gets that target's sources only, as serve's scans do (their waivers
    // with them).
    let sources: Vec<SourceRead> = world
        .sources
        .iter()
        .filter(|s| {
            targets.is_empty()
                || context
                    .config
                    .sources
                    .iter()
                    .any(|c| c.name == s.source && targets.contains(&c.target.as_str()))
        })
        .cloned()
        .collect();
    let options = ScanOptions {
        cache_dir: cache.to_path_buf(),
        targets: targets.iter().map(|t| t.to_string()).collect(),
    };
    let started = chrono::DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
        .unwrap()
        .to_utc();
    let report = runtime.block_on(scan::run_with(
        context,
        &options,
        sources,
        world.lives.clone(),
        started,
    ));
    let mut value = serde_json::to_value(&report).unwrap();
    value["scan"]["finished_at"] = Value::Null;
    value
}

/// Changes an object's content with one of a few edits a cluster or a commit makes.
fn edit(object: &mut Object, rng: &mut Rng) {
    let mut value = object.value().into_owned();
    match rng.below(6) {
        0 => value["metadata"]["labels"]["rescan"] = json!(format!("v{}", rng.below(3))),
        1 => {
            if let Some(spec) = value.get_mut("spec").and_then(Value::as_object_mut) {
                spec.insert("replicas".into(), json!(rng.below(4)));
            } else {
                value["data"] = json!({"key": rng.below(3).to_string()});
            }
        }
        2 => {
            // A container made privileged, or its image changed: rule findings move.
            if let Some(container) = value
                .pointer_mut("/spec/template/spec/containers/0")
                .and_then(Value::as_object_mut)
            {
                if rng.below(2) == 0 {
                    container.insert(
                        "securityContext".into(),
                        json!({"privileged": true, "runAsUser": 0}),
                    );
                } else {
                    container.insert("image".into(), json!(format!("shop/app:{}", rng.below(3))));
                }
            } else {
                value["spec"]["rescan"] = json!(rng.below(3));
            }
        }
        3 => {
            if let Some(metadata) = value.get_mut("metadata").and_then(Value::as_object_mut) {
                metadata.remove("annotations");
            }
        }
        4 => {
            // AWS resources describe themselves at the top level.
            if let Some(top) = value.as_object_mut() {
                let keys: Vec<String> = top.keys().cloned().collect();
                if !keys.is_empty() {
                    let key = &keys[rng.below(keys.len())];
                    if !matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                        top.remove(key);
                    }
                }
            }
        }
        _ => {
            if let Some(spec) = value.get_mut("spec").and_then(Value::as_object_mut) {
                spec.remove("replicas");
            }
        }
    }
    object.body = Body::Tree(value);
    object.body.freeze();
}

/// One random change to either side: an edit, a removal, a copy under a new name, a declaration
/// moved in its file, or an object put back as it first was.
fn change(
    world: &mut World,
    original: &World,
    drifted: &[(String, String)],
    rng: &mut Rng,
) -> String {
    let live_side = rng.below(2) == 0;
    if live_side {
        let mut targets: Vec<String> = world.lives.keys().cloned().collect();
        targets.sort();
        let target = targets[rng.below(targets.len())].clone();
        let objects = &mut world.lives.get_mut(&target).unwrap().objects;
        if objects.is_empty() {
            return "nothing".into();
        }
        let i = rng.below(objects.len());
        match rng.below(5) {
            0 => {
                let gone = objects.remove(i);
                format!("live {} {} removed", gone.kind, gone.name)
            }
            1 => {
                let copy = renamed(&objects[i], &format!("copy{}", rng.below(2)));
                let what = format!("live {} {} added", copy.kind, copy.name);
                objects.push(copy);
                what
            }
            2 => {
                let name = objects[i].name.clone();
                let first = original.lives[&target]
                    .objects
                    .iter()
                    .find(|o| o.name == name && o.kind == objects[i].kind);
                if let Some(first) = first {
                    objects[i] = first.clone();
                }
                format!("live {} {} put back", objects[i].kind, name)
            }
            _ => {
                edit(&mut objects[i], rng);
                format!("live {} {} edited", objects[i].kind, objects[i].name)
            }
        }
    } else {
        let s = rng.below(world.sources.len());
        // A changed source is a new read, as serve's reading it again at a new commit is.
        world.sources[s].read = gitdrift::desired::next_read();
        let objects = &mut world.sources[s].objects;
        if objects.is_empty() {
            return "nothing".into();
        }
        let i = rng.below(objects.len());
        match rng.below(5) {
            0 => {
                let gone = objects.remove(i).object;
                format!("declared {} {} removed", gone.kind, gone.name)
            }
            1 => moved(objects, i, drifted, rng),
            2 => {
                let mut copy = objects[i].clone();
                copy.object = renamed(&copy.object, &format!("declared{}", rng.below(2)));
                let what = format!("declared {} {} added", copy.object.kind, copy.object.name);
                objects.push(copy);
                what
            }
            _ => {
                let object = &mut objects[i].object;
                edit(object, rng);
                format!("declared {} {} edited", object.kind, object.name)
            }
        }
    }
}

/// A waiver of a rule on every resource of a kind, added to the `shop` source, made to expire,
/// or taken away.
fn toggle_waiver(world: &mut World, (rule, kind): &(String, String), rng: &mut Rng) -> String {
    let shop = world
        .sources
        .iter_mut()
        .find(|s| s.source == "shop")
        .unwrap();
    if !shop.waivers.is_empty() && rng.below(2) == 0 {
        shop.waivers.clear();
        return format!("waiver of {rule} taken away");
    }
    let expired = rng.below(2) == 0;
    let expires = if expired { "2020-01-01" } else { "2099-01-01" };
    shop.waivers = vec![gitdrift::config::audit::Waiver {
        rule: rule.to_string(),
        selector: gitdrift::model::Selector {
            group: None,
            kind: Some(kind.clone()),
            namespace: None,
            name: None,
            target: None,
        },
        side: None,
        paths: Vec::new(),
        justification: "accepted for the test".to_string(),
        expires: expires.parse().unwrap(),
        owner: None,
        file: "waivers.yaml".into(),
        line: 1 + rng.below(3) as u64,
    }];
    format!("waiver of {rule} until {expires}")
}

/// Documents reordered in their file: a declaration (mostly a drifted one, whose drifts' lines
/// are then looked up again) swaps places with another of its file.
fn moved(
    objects: &mut [gitdrift::model::Declared],
    i: usize,
    drifted: &[(String, String)],
    rng: &mut Rng,
) -> String {
    let candidates: Vec<usize> = (0..objects.len())
        .filter(|&j| {
            let o = &objects[j].object;
            let shares_file = (0..objects.len())
                .any(|k| k != j && objects[k].object.origin.file == o.origin.file);
            shares_file && drifted.iter().any(|(k, n)| *k == o.kind && *n == o.name)
        })
        .collect();
    let i = match candidates.is_empty() || rng.below(4) == 0 {
        true => i,
        false => candidates[rng.below(candidates.len())],
    };
    let file = objects[i].object.origin.file.clone();
    let others: Vec<usize> = (0..objects.len())
        .filter(|&j| j != i && objects[j].object.origin.file == file)
        .collect();
    let what = format!(
        "declared {} {} moved",
        objects[i].object.kind, objects[i].object.name
    );
    if others.is_empty() {
        let object = &mut objects[i].object;
        object.origin.line = object.origin.line.map(|l| l + 1);
    } else {
        let j = others[rng.below(others.len())];
        let line = objects[i].object.origin.line;
        objects[i].object.origin.line = objects[j].object.origin.line;
        objects[j].object.origin.line = line;
    }
    what
}

/// A copy of an object under another name.
fn renamed(object: &Object, suffix: &str) -> Object {
    let mut copy = object.clone();
    copy.name = format!("{}-{suffix}", copy.name);
    let mut value = copy.value().into_owned();
    value["metadata"]["name"] = json!(copy.name);
    copy.body = Body::Tree(value);
    copy.body.freeze();
    copy
}

#[test]
fn a_rescan_reusing_unchanged_pairs_reports_exactly_what_a_full_scan_reports() {
    let (cache, original, full) = demo();
    // The kinds and names the demo reports drifted, as they first are.
    let drifted: Vec<(String, String)> = scanned(&full, &original, cache.path(), &[])["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "drifted")
        .map(|r| {
            (
                r["kind"].as_str().unwrap().to_string(),
                r["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(drifted.len() >= 3, "{drifted:?}");
    let first = scanned(&full, &original, cache.path(), &[]);
    let located = first["resources"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["drifts"].as_array().unwrap())
        .filter(|d| d["line"].is_u64())
        .count();
    assert!(located >= 3, "drifts with a line in git: {located}");
    // A rule the demo fails, to waive now and then.
    let waived_rule = (
        first["findings"][0]["rule"].as_str().unwrap().to_string(),
        first["findings"][0]["resource"]["kind"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    let mut rounds = 0;
    let mut reused_total = 0;
    let mut findings_reused = 0;
    let mut waived = 0;
    for seed in [0x9e37_79b9_7f4a_7c15_u64, 7, 2026] {
        let mut rng = Rng(seed);
        let mut world = original.clone();
        // One service context per seed: its memo carries from round to round.
        let remembering = full.clone().remembering();
        let memo = remembering.memo.clone().unwrap();
        for round in 0..10 {
            let mut changes = Vec::new();
            if round == 1 {
                // Every seed moves a drifted declaration once.
                let s = world
                    .sources
                    .iter()
                    .position(|s| s.source == "shop")
                    .unwrap();
                world.sources[s].read = gitdrift::desired::next_read();
                changes.push(moved(&mut world.sources[s].objects, 0, &drifted, &mut rng));
            } else if round > 0 {
                for _ in 0..=rng.below(3) {
                    changes.push(change(&mut world, &original, &drifted, &mut rng));
                }
            }
            if round > 0 && rng.below(3) == 0 {
                changes.push(toggle_waiver(&mut world, &waived_rule, &mut rng));
            }
            // As serve scans (one target at a time), or all at once (an API-requested scan).
            let selections: Vec<Vec<&str>> = match rng.below(2) {
                0 => vec![vec![]],
                _ => vec![vec!["demo"], vec!["demo-aws"]],
            };
            for targets in selections {
                let expected = scanned(&full, &world, cache.path(), &targets);
                waived += expected["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|f| f["status"] == "waived")
                    .count();
                let got = scanned(&remembering, &world, cache.path(), &targets);
                // Byte for byte, as serialized (key order included).
                let (text, expected_text) = (got.to_string(), expected.to_string());
                assert!(
                    text == expected_text,
                    "seed {seed}, round {round}, targets {targets:?}, after {changes:?}: the re-scan's report differs from a full scan's:\n{}",
                    difference(&expected, &got)
                );
            }
            if round > 0 {
                // The assembled findings too (of the last target scanned).
                findings_reused += memo.findings().0;
                assert!(
                    memo.last("demo-aws").results_reused > 0,
                    "seed {seed}, round {round}: {:?}",
                    memo.last("demo-aws")
                );
            }
            let reuse = memo.last("demo");
            if round > 0 {
                // Only what changed is judged again: at most a few pairs per change.
                assert!(
                    reuse.judgements_reused > 0 && reuse.judged <= 2 * changes.len(),
                    "seed {seed}, round {round}: {reuse:?} after {changes:?}"
                );
                reused_total += reuse.results_reused;
            } else {
                assert_eq!(reuse.judgements_reused, 0, "{reuse:?}");
            }
            rounds += 1;
        }
    }
    assert_eq!(rounds, 30);
    assert!(reused_total > 100, "rule results reused: {reused_total}");
    assert!(findings_reused > 100, "findings reused: {findings_reused}");
    assert!(waived > 0, "no round had a waiver in force");
}

/// The first difference between two reports, as a path and both values.
fn difference(a: &Value, b: &Value) -> String {
    fn walk(a: &Value, b: &Value, path: &str) -> Option<String> {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                for (k, v) in x {
                    match y.get(k) {
                        Some(w) => {
                            if let Some(d) = walk(v, w, &format!("{path}/{k}")) {
                                return Some(d);
                            }
                        }
                        None => return Some(format!("{path}/{k}: only in the full scan")),
                    }
                }
                y.keys()
                    .find(|k| !x.contains_key(*k))
                    .map(|k| format!("{path}/{k}: only in the re-scan"))
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
                .iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (v, w))| walk(v, w, &format!("{path}/{i}"))),
            _ if a == b => None,
            _ => Some(format!("{path}:\n  full:   {a}\n  re-scan: {b}")),
        }
    }
    walk(a, b, "").unwrap_or_else(|| "the same values, keys in another order".to_string())
}

/// The report of a scan, as the service gets it (for its counts).
fn report_of(context: &Context, world: &World, cache: &Path) -> gitdrift::report::ScanReport {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let options = ScanOptions {
        cache_dir: cache.to_path_buf(),
        targets: vec!["demo".to_string()],
    };
    runtime.block_on(scan::run_with(
        context,
        &options,
        world.sources.clone(),
        world.lives.clone(),
        chrono::Utc::now(),
    ))
}

#[test]
fn counts_patched_object_by_object_are_those_a_full_scan_counts() {
    use gitdrift::diff::unmanaged::SystemContext;
    use gitdrift::report::tally::{Judged, Published};

    let (cache, original, full) = demo();
    let mut patched_total = 0;
    let mut moved_counts = 0;
    for seed in [3_u64, 0x5eed, 2026_1204] {
        let mut rng = Rng(seed);
        let mut world = original.clone();
        // The service's context: its scans leave a judge behind for watched targets (those
        // whose live state is handed in, as here).
        let service = full.clone().remembering();
        let memo = service.memo.clone().unwrap();
        let base = report_of(&service, &world, cache.path());
        let mut published = Published::of(&base, "demo", true);
        let mut rejudge = memo.rejudge("demo").expect("a watched target's judge");
        // What the generated objects' verdicts depend on, refreshed as the service does.
        let mut system = SystemContext::from_live(&world.lives["demo"].objects);
        for round in 0..12 {
            // Live changes only, as a watch reports them: the identities whose object changed,
            // and those whose verdict that can turn.
            let mut what = Vec::new();
            let before: HashMap<ResourceKey, Object> = world.lives["demo"]
                .objects
                .iter()
                .map(|o| (rejudge.live_key(o), o.clone()))
                .collect();
            let changes = if round == 0 { 0 } else { 1 + rng.below(3) };
            if round == 0 {
                // A Service gone: its Endpoints, generated until now, turn hand-made.
                let objects = &mut world.lives.get_mut("demo").unwrap().objects;
                let count = objects.len();
                objects.retain(|o| !(o.kind == "Service" && o.name == "web"));
                assert_eq!(objects.len(), count - 1, "the demo's Service web");
                what.push("live Service web removed".to_string());
            }
            for _ in 0..changes {
                // Declared changes `change` may make land in this copy and are dropped.
                let mut other = World {
                    sources: world.sources.clone(),
                    lives: HashMap::from([("demo".to_string(), world.lives["demo"].clone())]),
                };
                what.push(change_live(&mut other, &original, &mut rng));
                world.lives.get_mut("demo").unwrap().objects =
                    other.lives.remove("demo").unwrap().objects;
            }
            let after: HashMap<ResourceKey, Object> = world.lives["demo"]
                .objects
                .iter()
                .map(|o| (rejudge.live_key(o), o.clone()))
                .collect();
            let mut changed: Vec<ResourceKey> = before
                .keys()
                .chain(after.keys())
                .filter(|k| before.get(*k).map(Object::value) != after.get(*k).map(Object::value))
                .cloned()
                .collect();
            changed.sort();
            changed.dedup();
            if changed.iter().any(SystemContext::is_input) {
                system = SystemContext::from_live(&world.lives["demo"].objects);
            }
            let dependents: Vec<ResourceKey> = changed
                .iter()
                .flat_map(|k| SystemContext::dependents(k, after.keys()))
                .collect();
            changed.extend(dependents);
            changed.sort();
            changed.dedup();
            let batch: Vec<(ResourceKey, Option<Object>)> = changed
                .iter()
                .map(|k| (k.clone(), after.get(k).cloned()))
                .collect();
            let results = rejudge.objects(&batch, &system, |key, rule| {
                published.desired_fails(key, rule)
            });
            let mut moved = false;
            for ((key, _), (report, failing)) in batch.iter().zip(results) {
                moved |= published.patch(key, report.as_ref().map(Judged::of), failing);
                patched_total += 1;
            }
            published.take_out_of_sync_changes();
            moved_counts += usize::from(moved);
            let expected = report_of(&full, &world, cache.path());
            let counted = Published::of(&expected, "demo", true);
            assert_eq!(
                published.tally(),
                counted.tally(),
                "seed {seed}, round {round}, after {what:?}: the patched counts differ from a full scan's"
            );
            let (got, want) = (published.summary(), counted.summary());
            assert_eq!(
                (
                    got.resources,
                    got.in_sync,
                    got.drifted,
                    got.missing,
                    got.unmanaged,
                    got.drifts,
                    &got.health
                ),
                (
                    want.resources,
                    want.in_sync,
                    want.drifted,
                    want.missing,
                    want.unmanaged,
                    want.drifts,
                    &want.health
                ),
                "seed {seed}, round {round}, after {what:?}"
            );
            assert_eq!(
                want, expected.summary,
                "a report's counts are its summary's"
            );
            // Now and then a scan, as the service runs after a burst: a new base.
            if rng.below(4) == 0 {
                let base = report_of(&service, &world, cache.path());
                published = Published::of(&base, "demo", true);
                rejudge = memo.rejudge("demo").unwrap();
                system = SystemContext::from_live(&world.lives["demo"].objects);
            }
        }
    }
    assert!(patched_total > 30, "identities patched: {patched_total}");
    assert!(
        moved_counts > 10,
        "rounds whose counts moved: {moved_counts}"
    );
}

/// One random change to a live object of the demo's Kubernetes target: edited, removed, copied
/// under a new name, or put back as it first was.
fn change_live(world: &mut World, original: &World, rng: &mut Rng) -> String {
    loop {
        let what = change(world, original, &[], rng);
        if what.starts_with("live") {
            return what;
        }
    }
}
