//! Pulling from a real registry: Debian's `docker-registry` (Docker's distribution 2.8), started
//! by the test on 127.0.0.1 with filesystem storage in a temp dir, once anonymous and once with
//! htpasswd basic auth (a bcrypt entry made by `htpasswd -B`). The Docker Engine treats
//! registries on 127.0.0.0/8 as insecure-allowed, so plain HTTP works without daemon set-up.
//!
//! The image pushed is the stand-in server image plus one layer of random bytes unique to the
//! test: the stand-in's own layers stay present locally (other tests use that image), so only
//! a layer that exists nowhere else shows a real download with byte progress after the local
//! copy is removed.
//!
//! Everything is labelled `vbench.test` (the image by its build label, containers by the
//! handle), removed by `Cleanup` even when an assert fails; each registry is stopped by its
//! own PID (the child handle) on drop; every wait has a deadline.

mod common;
mod lifecycle_support;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{Cleanup, unique};
use vbench::config::PullPolicy;
use vbench::docker::credentials::{Credentials, RegistryAuth};
use vbench::docker::image::{ContextEntry, context_tar};
use vbench::docker::{Docker, LABEL_TEST, Labels};
use vbench::events::{Collector, Event};
use vbench::pull::{self, Ensured, PullError};

/// How long a registry may take to answer its first request.
const REGISTRY_START: Duration = Duration::from_secs(20);
/// How long one `vbench` command may take here (a pull of a few MiB from loopback).
const VBENCH_DEADLINE: Duration = Duration::from_secs(300);
/// The unique layer's size: big enough for several `Downloading` updates.
const BLOB_BYTES: usize = 6 << 20;

/// A registry process of this test, stopped by its PID on drop.
struct Registry {
    child: Child,
    /// `127.0.0.1:<port>`
    addr: String,
    dir: tempfile::TempDir,
    /// Basic-auth user and password, when it requires them.
    auth: Option<(String, String)>,
}

impl Registry {
    /// Start one on a free port. Should another process take the port before the registry
    /// binds it, the registry exits and another port is tried.
    fn start(auth: Option<(&str, &str)>) -> Registry {
        for _attempt in 0..3 {
            if let Some(r) = Self::try_start(auth) {
                return r;
            }
        }
        panic!("the test registry could not start on a free port in 3 attempts");
    }

    fn try_start(auth: Option<(&str, &str)>) -> Option<Registry> {
        let bin = std::env::var("VBENCH_REGISTRY_BIN")
            .unwrap_or_else(|_| "/usr/bin/docker-registry".to_string());
        assert!(
            Path::new(&bin).is_file(),
            "{bin} is missing: apt-get install docker-registry (scripts/setup.sh does)"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let auth_block = match auth {
            None => String::new(),
            Some((user, password)) => {
                // A bcrypt entry: the only kind the registry accepts.
                let out = Command::new("htpasswd")
                    .args(["-Bbn", user, password])
                    .output()
                    .expect("run htpasswd (apt-get install apache2-utils; scripts/setup.sh does)");
                assert!(out.status.success(), "htpasswd: {out:?}");
                let file = dir.path().join("htpasswd");
                std::fs::write(&file, &out.stdout).expect("write htpasswd");
                format!(
                    "auth:\n  htpasswd:\n    realm: vbench-test\n    path: {}\n",
                    file.display()
                )
            }
        };
        let addr = format!("127.0.0.1:{}", free_port());
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n{auth_block}",
                dir.path().join("data").display()
            ),
        )
        .expect("write registry config");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("log file");
        let child = Command::new(&bin)
            .arg("serve")
            .arg(&config)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {bin}: {e}"));
        let mut reg = Registry {
            child,
            addr,
            dir,
            auth: auth.map(|(u, p)| (u.to_string(), p.to_string())),
        };
        if reg.wait_ready() {
            return Some(reg);
        }
        eprintln!(
            "the registry on {} exited at start:\n{}",
            reg.addr,
            std::fs::read_to_string(reg.dir.path().join("registry.log")).unwrap_or_default()
        );
        None
    }

    /// Poll `GET /v2/` until the registry answers (200, or 401 with auth) or exits.
    fn wait_ready(&mut self) -> bool {
        let start = Instant::now();
        while start.elapsed() < REGISTRY_START {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(mut s) = std::net::TcpStream::connect(&self.addr) {
                use std::io::Write as _;
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = write!(s, "GET /v2/ HTTP/1.0\r\nHost: {}\r\n\r\n", self.addr);
                let mut head = [0u8; 12];
                if s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "the registry on {} did not answer within {REGISTRY_START:?}; log:\n{}",
            self.addr,
            std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
        );
    }

    /// Registry credentials in the engine's form.
    fn creds(&self) -> Option<RegistryAuth> {
        self.auth.as_ref().map(|(u, p)| RegistryAuth {
            username: Some(u.clone()),
            password: Some(p.clone()),
            identity_token: None,
            server_address: self.addr.clone(),
        })
    }

    /// The registry's own digest of `repo:tag` (its `Docker-Content-Digest` header).
    async fn manifest_digest(&self, repo: &str, tag: &str) -> String {
        let mut req = reqwest::Client::new()
            .get(format!("http://{}/v2/{repo}/manifests/{tag}", self.addr))
            .header(
                "Accept",
                "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
            )
            .timeout(Duration::from_secs(10));
        if let Some((u, p)) = &self.auth {
            req = req.basic_auth(u, Some(p));
        }
        let resp = req.send().await.expect("ask the registry for the manifest");
        assert!(resp.status().is_success(), "manifest: {}", resp.status());
        resp.headers()
            .get("Docker-Content-Digest")
            .and_then(|v| v.to_str().ok())
            .expect("Docker-Content-Digest header")
            .to_string()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        // Our own child, by its handle (its PID); never by name.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Build the stand-in server image plus a layer of random bytes as `local`, labelled
/// `vbench.test`.
async fn build_unique_image(d: &Docker, local: &str) {
    lifecycle_support::images(d).await;
    let mut blob = vec![0u8; BLOB_BYTES];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut blob))
        .expect("random bytes");
    let base = std::env::var("VBENCH_STANDIN_SERVER_IMAGE")
        .unwrap_or_else(|_| "vbench/vllm-standin-server:latest".to_string());
    let ctx = context_tar(&[
        ContextEntry::File {
            path: "Dockerfile".into(),
            data: format!("FROM {base}\nCOPY blob /var/vbench-test-blob\n").into_bytes(),
            mode: 0o644,
        },
        ContextEntry::File {
            path: "blob".into(),
            data: blob,
            mode: 0o644,
        },
    ])
    .expect("context");
    let labels = Labels::from([(LABEL_TEST.to_string(), "1".to_string())]);
    d.build_image(local, ctx, &labels)
        .await
        .expect("build the test image");
}

/// Push `local` to `reg` as `vbt/<name>:t1`, then remove every local name of it, so the unique
/// layer is gone and a pull must download it. Returns (reference, repository path, digest).
async fn push_and_forget(
    d: &Docker,
    reg: &Registry,
    cleanup: &Cleanup,
    prefix: &str,
) -> (String, String, String) {
    let name = unique(prefix);
    let local = format!("vbench-test/{name}:local");
    let path = format!("vbt/{name}");
    let repo = format!("{}/{path}", reg.addr);
    let reference = format!("{repo}:t1");
    cleanup.image(&local);
    cleanup.image(&reference);
    build_unique_image(d, &local).await;
    d.tag_image(&local, &repo, "t1").await.expect("tag");
    let pushed = d
        .push_image(&repo, "t1", reg.creds().as_ref())
        .await
        .expect("push to the test registry");
    let digest = reg.manifest_digest(&path, "t1").await;
    assert_eq!(
        pushed.as_deref(),
        Some(digest.as_str()),
        "push digest = registry digest"
    );
    cleanup.image(&format!("{repo}@{digest}"));
    let id = d
        .inspect_image(&reference)
        .await
        .expect("inspect")
        .expect("present")
        .id;
    d.remove_image(&local).await.expect("untag local");
    d.remove_image(&reference)
        .await
        .expect("untag registry ref");
    assert!(
        d.inspect_image(&reference)
            .await
            .expect("inspect")
            .is_none()
    );
    assert!(
        d.inspect_image(&id).await.expect("inspect").is_none(),
        "the pushed image must be gone locally"
    );
    (reference, path, digest)
}

fn pull_events(c: &Collector) -> Vec<Event> {
    c.0.lock()
        .unwrap()
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::PullStarted { .. }
                    | Event::PullProgress { .. }
                    | Event::PullFinished { .. }
                    | Event::PullFailed { .. }
            )
        })
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_registry_policy_progress_digest_and_pinning() {
    let d = common::docker().await;
    let reg = Registry::start(None);
    let cleanup = Cleanup::new();
    let (reference, _path, digest) = push_and_forget(&d, &reg, &cleanup, "pull").await;
    let none = Credentials::none();

    // `never`: absent is a set-up error naming the image and the fix.
    let err = pull::ensure(
        &d,
        &reference,
        PullPolicy::Never,
        &none,
        &Collector::default(),
    )
    .await
    .expect_err("pull: never with the image absent");
    assert!(matches!(err, PullError::Missing { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&reference)
            && text.contains("vbench images pull")
            && text.contains("pull: never"),
        "{text}"
    );
    assert_eq!(vbench::exit::code_of_error(&err).as_u8(), 3);

    // `missing`: pulled, with per-layer progress and the registry's digest.
    let sink = Collector::default();
    let got = pull::ensure(&d, &reference, PullPolicy::Missing, &none, &sink)
        .await
        .expect("pull");
    let Ensured::Pulled(p) = got else {
        panic!("absent image not pulled: {got:?}")
    };
    assert_eq!(p.digest.as_deref(), Some(digest.as_str()));
    assert!(!p.pinned);
    assert!(p.downloaded >= BLOB_BYTES as u64, "{p:?}");
    let info = d
        .inspect_image(&reference)
        .await
        .expect("inspect")
        .expect("present again");
    assert!(
        info.digests
            .contains(&format!("{}/{}@{digest}", reg.addr, _path)),
        "{:?}",
        info.digests
    );
    assert_eq!(info.labels.get(LABEL_TEST).map(String::as_str), Some("1"));
    let events = pull_events(&sink);
    assert!(
        matches!(&events[0], Event::PullStarted { image, registry, credentials: None } if image == &reference && registry == &reg.addr),
        "{:?}",
        events.first()
    );
    let bytes: Vec<(u64, u64)> = events
        .iter()
        .filter_map(|e| match e {
            Event::PullProgress {
                status,
                current: Some(c),
                total: Some(t),
                ..
            } if status == "Downloading" => Some((*c, *t)),
            _ => None,
        })
        .collect();
    assert!(!bytes.is_empty(), "no layer reported bytes: {events:?}");
    assert!(bytes.iter().all(|(c, t)| c <= t && *t > 0), "{bytes:?}");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::PullProgress { status, .. } if status == "Pull complete")),
        "{events:?}"
    );
    match events.last() {
        Some(Event::PullFinished {
            image,
            digest: Some(dg),
            ..
        }) => {
            assert_eq!(image, &reference);
            assert!(dg.starts_with("sha256:"));
            assert_eq!(dg, &digest);
        }
        other => panic!("no pull_finished last: {other:?}"),
    }
    // Throttled: far fewer events than bytes (a line per layer state, bytes at most 2/s).
    assert!(events.len() < 60, "{} events", events.len());

    // `missing` with the image present: nothing pulled.
    let sink = Collector::default();
    let again = pull::ensure(&d, &reference, PullPolicy::Missing, &none, &sink)
        .await
        .expect("present");
    assert_eq!(again, Ensured::Present);
    assert!(pull_events(&sink).is_empty());

    // `always`: pulled even though present (every layer already exists), same digest.
    let sink = Collector::default();
    let Ensured::Pulled(p) = pull::ensure(&d, &reference, PullPolicy::Always, &none, &sink)
        .await
        .expect("pull always")
    else {
        panic!("always did not pull")
    };
    assert_eq!(p.digest.as_deref(), Some(digest.as_str()));
    assert_eq!(p.downloaded, 0, "everything was present");

    // Unknown image, unreachable registry: typed, naming image and registry, exit code 3.
    let nope = format!("{}/vbt/{}:t1", reg.addr, unique("nope"));
    let err = pull::pull(&d, &nope, &none, &Collector::default())
        .await
        .expect_err("unknown image");
    assert!(matches!(err, PullError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains(&reg.addr), "{err}");
    assert_eq!(vbench::exit::code_of_error(&err).as_u8(), 3);
    let closed = format!("127.0.0.1:{}/vbt/x:t1", free_port());
    let sink = Collector::default();
    let err = pull::pull(&d, &closed, &none, &sink)
        .await
        .expect_err("closed port");
    assert!(matches!(err, PullError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("unreachable"), "{err}");
    assert!(matches!(
        pull_events(&sink).last(),
        Some(Event::PullFailed { .. })
    ));

    // Pinned by digest: removed again, then `vbench up`'s path pulls it by digest, and the
    // server record and ServerInfo carry the registry digest and say it was pinned.
    let pinned = format!("{}/{}@{digest}", reg.addr, _path);
    d.remove_image(&reference).await.expect("untag");
    d.remove_image(&pinned).await.expect("remove by digest");
    assert!(d.inspect_image(&pinned).await.expect("inspect").is_none());
    let mut stack = lifecycle_support::stack("pull");
    stack.cfg.server.image = pinned.clone();
    stack.cfg.pull = PullPolicy::Missing;
    let sink = Collector::default();
    let info = vbench::server::up(&d, &stack.cfg, &Default::default(), &sink)
        .await
        .expect("up from a pinned image");
    assert!(
        pull_events(&sink)
            .iter()
            .any(|e| matches!(e, Event::PullFinished { digest: Some(dg), .. } if dg == &digest)),
        "up did not pull the pinned image"
    );
    assert_eq!(info.image, pinned);
    assert_eq!(
        info.image_digest, pinned,
        "the registry digest, as repo@sha256"
    );
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&info.record_path).expect("record")).expect("json");
    assert_eq!(rec["image"]["reference"], pinned.as_str());
    assert_eq!(rec["image"]["digest"], digest.as_str());
    assert_eq!(rec["image"]["pinned"], true);
    assert!(
        rec["image"]["id"]
            .as_str()
            .is_some_and(|i| i.starts_with("sha256:"))
    );
    // The client container of a run: its image (the tag, absent: only the digest was
    // pulled) is pulled the same way before the container is created.
    stack.cfg.client.image = reference.clone();
    assert!(
        d.inspect_image(&reference)
            .await
            .expect("inspect")
            .is_none()
    );
    let sink = Collector::default();
    vbench::server::ensure_client(&d, &stack.cfg, &sink)
        .await
        .expect("client container from a pulled image");
    assert!(
        pull_events(&sink)
            .iter()
            .any(|e| matches!(e, Event::PullFinished { image, .. } if image == &reference)),
        "the client's image was not pulled"
    );
    vbench::server::down(&d, &stack.cfg, &Default::default(), &Collector::default())
        .await
        .expect("down");
    drop(stack);
}

/// The outcome of one `vbench` run: exit code, stdout, stderr.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Run the vbench binary with `env`, under a deadline (killed by its handle if it passes).
fn vbench(args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Ran {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vbench"));
    cmd.args(args)
        .env("VBENCH_LABELS", "vbench.test=1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run vbench");
    let read = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut r) = r {
                let _ = r.read_to_string(&mut s);
            }
            s
        })
    };
    let out = read(child.stdout.take().map(|s| Box::new(s) as _));
    let err = read(child.stderr.take().map(|s| Box::new(s) as _));
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if start.elapsed() > VBENCH_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("vbench {args:?} did not finish within {VBENCH_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Ran {
        code: status.code().unwrap_or(-1),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// A `vbench.yaml` naming `image` for both containers, and a `DOCKER_CONFIG` dir.
fn files(image: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("vbench.yaml");
    std::fs::write(
        &cfg,
        format!(
            "server:\n  image: {image}\nclient:\n  image: {image}\nresults_dir: {}\n",
            dir.path().join("results").display()
        ),
    )
    .expect("write config");
    let docker_config = dir.path().join("docker");
    std::fs::create_dir(&docker_config).expect("mkdir");
    (dir, cfg, docker_config)
}

fn auths(docker_config: &Path, registry: &str, user: &str, password: &str) {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    std::fs::write(
        docker_config.join("config.json"),
        format!(r#"{{"auths": {{"{registry}": {{"auth": "{auth}"}}}}}}"#),
    )
    .expect("write config.json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_credentials_from_the_docker_config() {
    let d = common::docker().await;
    let reg = Registry::start(Some(("vbt-user", "right-password")));
    let cleanup = Cleanup::new();

    // The registry does require the password: a push without it is refused.
    {
        let name = unique("noauth");
        let local = format!("vbench-test/{name}:local");
        cleanup.image(&local);
        let repo = format!("{}/vbt/{name}", reg.addr);
        cleanup.image(&format!("{repo}:t1"));
        common::busybox_image().await;
        d.tag_image(common::BUSYBOX_IMAGE, &repo, "t1")
            .await
            .expect("tag");
        let e = d
            .push_image(&repo, "t1", None)
            .await
            .expect_err("anonymous push");
        let m = e.to_string();
        assert!(
            m.contains("no basic auth credentials") || m.contains("unauthorized"),
            "{m}"
        );
        d.remove_image(&format!("{repo}:t1")).await.expect("untag");
    }

    let (reference, _path, digest) = push_and_forget(&d, &reg, &cleanup, "auth").await;
    let (dir, cfg, docker_config) = files(&reference);
    let cfg_s = cfg.to_str().expect("utf-8 path");
    let dc = docker_config.as_os_str();

    // The right password, in `auths`: pulled; the JSON stream has the progress and digest.
    auths(&docker_config, &reg.addr, "vbt-user", "right-password");
    let r = vbench(
        &["--config", cfg_s, "--json", "images", "pull"],
        &[("DOCKER_CONFIG", dc)],
    );
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    let lines: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let started = lines
        .iter()
        .find(|v| v["event"] == "pull_started")
        .expect("pull_started");
    assert_eq!(started["registry"], reg.addr.as_str());
    assert!(
        started["credentials"]
            .as_str()
            .is_some_and(|c| c.contains(&format!("auths[\"{}\"]", reg.addr))),
        "{started}"
    );
    assert!(
        lines.iter().any(|v| v["event"] == "pull_progress"
            && v["current"].as_u64().is_some()
            && v["total"].as_u64().is_some_and(|t| t > 0)),
        "no byte progress in {}",
        r.stdout
    );
    let finished = lines
        .iter()
        .find(|v| v["event"] == "pull_finished")
        .expect("pull_finished");
    assert_eq!(finished["digest"], digest.as_str());
    let summary = lines.last().expect("a result line");
    assert_eq!(summary["event"], "images_pulled");
    assert_eq!(summary["images"][0]["digest"], digest.as_str());
    // The same image for server and client is pulled once.
    assert_eq!(
        lines
            .iter()
            .filter(|v| v["event"] == "pull_started")
            .count(),
        1
    );
    assert!(
        d.inspect_image(&reference)
            .await
            .expect("inspect")
            .is_some()
    );

    // Plain mode (cron): one line per layer status, never the same status twice in a row.
    d.remove_image(&reference).await.expect("untag");
    d.remove_image(&format!("{}/{}@{digest}", reg.addr, _path))
        .await
        .expect("remove");
    let r = vbench(
        &["--config", cfg_s, "--output", "plain", "images", "pull"],
        &[("DOCKER_CONFIG", dc)],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains(&digest), "{}", r.stdout);
    let layer_lines: Vec<&str> = r
        .stderr
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(_, rest)| rest))
        .filter(|l| l.contains(": layer "))
        .collect();
    assert!(
        layer_lines.iter().any(|l| l.ends_with("Pull complete")),
        "{}",
        r.stderr
    );
    let mut seen = std::collections::HashSet::new();
    for l in &layer_lines {
        assert!(seen.insert(*l), "printed twice: {l}\n{}", r.stderr);
    }
    assert!(
        r.stderr.contains(&format!("pulled {reference} ({digest};")),
        "{}",
        r.stderr
    );

    // A credential helper (credHelpers) found on PATH, answering the right password.
    d.remove_image(&reference).await.expect("untag");
    d.remove_image(&format!("{}/{}@{digest}", reg.addr, _path))
        .await
        .expect("remove");
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).expect("mkdir");
    let helper = bin.join("docker-credential-vbtfake");
    std::fs::write(
        &helper,
        "#!/bin/sh\n[ \"$1\" = get ] || exit 2\nread -r server || true\n\
         printf '{\"ServerURL\":\"%s\",\"Username\":\"vbt-user\",\"Secret\":\"right-password\"}\\n' \"$server\"\n",
    )
    .expect("write helper");
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    std::fs::write(
        docker_config.join("config.json"),
        format!(r#"{{"credHelpers": {{"{}": "vbtfake"}}}}"#, reg.addr),
    )
    .expect("write config.json");
    let path = std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    let r = vbench(
        &["--config", cfg_s, "--output", "plain", "images", "pull"],
        &[("DOCKER_CONFIG", dc), ("PATH", path.as_os_str())],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("credential helper docker-credential-vbtfake"),
        "{}",
        r.stderr
    );

    // The wrong password: exit 3, naming the registry, its answer and where the credentials
    // came from.
    d.remove_image(&reference).await.expect("untag");
    d.remove_image(&format!("{}/{}@{digest}", reg.addr, _path))
        .await
        .expect("remove");
    auths(&docker_config, &reg.addr, "vbt-user", "wrong-password");
    let r = vbench(
        &["--config", cfg_s, "--output", "plain", "images", "pull"],
        &[("DOCKER_CONFIG", dc)],
    );
    assert_eq!(r.code, 3, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    let err = r.stderr.to_lowercase();
    assert!(r.stderr.contains(&reg.addr), "{}", r.stderr);
    assert!(
        err.contains("unauthorized") || err.contains("authentication"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("docker login"), "{}", r.stderr);
    assert!(
        d.inspect_image(&reference)
            .await
            .expect("inspect")
            .is_none()
    );

    // No credentials at all: refused too, and the message says how to log in.
    std::fs::remove_file(docker_config.join("config.json")).expect("rm");
    let r = vbench(
        &["--config", cfg_s, "images", "pull"],
        &[("DOCKER_CONFIG", dc)],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("no credentials for {}", reg.addr))
            && r.stderr.contains(&format!("docker login {}", reg.addr)),
        "{}",
        r.stderr
    );

    // `vbench up --pull never` with the image absent: exit 3 before anything is created.
    let r = vbench(
        &[
            "--config",
            cfg_s,
            "up",
            "--pull",
            "never",
            "--server-container",
            &unique("never"),
        ],
        &[("DOCKER_CONFIG", dc)],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("`pull: never` forbids pulling"),
        "{}",
        r.stderr
    );
    drop(dir);
}
