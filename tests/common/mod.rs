//! The shared real-engine test harness. Each test file does `mod common;` and uses:
//! `docker()` (connected, negotiated), `unique(prefix)` names, `test_labels()`, a `Cleanup`
//! guard that force-removes what a test registered even when an assert fails, the
//! `busybox_image()` (a FROM-scratch image built from the host's static busybox, no registry),
//! `standin_bin()` (the static CPU stand-in for vLLM) and `fixture(rel)` for `tests/fixtures/`.
//!
//! Not every test file uses every helper.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use vbench::docker::image::{ContextEntry, context_tar};
use vbench::docker::{ContainerSpec, Docker, LABEL_MANAGED, LABEL_TEST, Labels};

/// The test busybox image: FROM scratch, `/bin/busybox` and its applets, `PATH=/bin`.
pub const BUSYBOX_IMAGE: &str = "vbench-test/busybox:latest";
/// Image label holding a hash of the image's content, so a process reuses an identical image
/// built earlier (by another test binary) instead of rebuilding it.
const CONTENT_LABEL: &str = "vbench.test.content";
/// Applets linked in the busybox image.
pub const BUSYBOX_APPLETS: &[&str] = &[
    "sh", "ash", "sleep", "ps", "kill", "tar", "cat", "ls", "mkdir", "wget", "nc", "setsid",
    "echo", "printf", "nslookup", "ping", "env", "true", "false", "seq", "rm", "ln", "test", "[",
    "head", "tail", "wc", "touch", "date", "id", "timeout", "xargs", "sed", "grep", "chmod",
    "readlink", "stat", "dd", "find", "mv", "cp", "uname", "hostname", "yes", "tr", "cut", "sort",
    "expr", "basename", "dirname", "pwd", "httpd",
];

/// The Docker handle, labelling what vbench creates through it `vbench.test=1`; panics with
/// a clear message if no engine answers.
pub async fn docker() -> Docker {
    match Docker::connect(None).await {
        Ok(d) => d.with_labels(Labels::from([(LABEL_TEST.to_string(), "1".to_string())])),
        Err(e) => {
            panic!("these tests need a running Docker Engine (scripts/setup.sh starts one): {e}")
        }
    }
}

/// A name no other test (or test process) uses: `vbt-<prefix>-<pid>-<nanos>-<n>`.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "vbt-{prefix}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// `vbench.test=1` and `vbench.managed=true`: what every test resource carries.
pub fn test_labels() -> Labels {
    Labels::from([
        (LABEL_TEST.to_string(), "1".to_string()),
        (LABEL_MANAGED.to_string(), "true".to_string()),
    ])
}

/// A fixture file (or folder) under `tests/fixtures/` of this checkout, e.g.
/// `fixture("vllm-0.33/real_client_random.json")`: real vLLM artifacts kept unedited, their
/// origins in `tests/fixtures/PROVENANCE.md`. Panics naming the path if it does not exist.
pub fn fixture(rel: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    assert!(
        path.exists(),
        "test fixture {} is missing: every fixture lives in tests/fixtures/ (see PROVENANCE.md there)",
        path.display()
    );
    path
}

/// What a test created, removed on drop (also while unwinding from a failed assert).
#[derive(Default)]
pub struct Cleanup {
    containers: Mutex<Vec<String>>,
    networks: Mutex<Vec<String>>,
    images: Mutex<Vec<String>>,
}

impl Cleanup {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn container(&self, name: &str) {
        self.containers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(name.to_string());
    }
    pub fn network(&self, name: &str) {
        self.networks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(name.to_string());
    }
    pub fn image(&self, reference: &str) {
        self.images
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(reference.to_string());
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let take = |m: &mut Mutex<Vec<String>>| {
            std::mem::take(m.get_mut().unwrap_or_else(|e| e.into_inner()))
        };
        let (containers, networks, images) = (
            take(&mut self.containers),
            take(&mut self.networks),
            take(&mut self.images),
        );
        if containers.is_empty() && networks.is_empty() && images.is_empty() {
            return;
        }
        // Drop may run inside a tokio runtime (where blocking on another is not allowed), so
        // clean up on a fresh thread with its own runtime and wait for it. Never panic here:
        // a panic while unwinding aborts the test binary.
        let worker = std::thread::spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => return eprintln!("cleanup: no runtime: {e}"),
            };
            rt.block_on(async move {
                let d = match Docker::connect(None).await {
                    Ok(d) => d,
                    Err(e) => return eprintln!("cleanup: {e}"),
                };
                // Containers first: a network with endpoints cannot be removed.
                for c in &containers {
                    if let Err(e) = d.remove_container(c).await {
                        eprintln!("cleanup: {e}");
                    }
                }
                for n in &networks {
                    if let Err(e) = d.remove_network(n).await {
                        eprintln!("cleanup: {e}");
                    }
                }
                for i in &images {
                    if let Err(e) = d.remove_image(i).await {
                        eprintln!("cleanup: {e}");
                    }
                }
            });
        });
        if worker.join().is_err() {
            eprintln!("cleanup: the cleanup thread panicked");
        }
    }
}

/// Build (once per process, and only if no identical image is present) the FROM-scratch
/// busybox image. Returns its reference.
pub async fn busybox_image() -> &'static str {
    static ONCE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    ONCE.get_or_init(|| async {
        let d = docker().await;
        let path = std::env::var("VBENCH_BUSYBOX").unwrap_or_else(|_| "/bin/busybox".into());
        let busybox = std::fs::read(&path).unwrap_or_else(|e| {
            panic!("cannot read {path} ({e}): apt-get install -y busybox-static")
        });
        let dockerfile = "FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\nCMD [\"/bin/sh\"]\n";
        let mut entries = vec![
            ContextEntry::File {
                path: "Dockerfile".into(),
                data: dockerfile.as_bytes().to_vec(),
                mode: 0o644,
            },
            ContextEntry::Dir {
                path: "rootfs/".into(),
                mode: 0o755,
            },
            ContextEntry::Dir {
                path: "rootfs/bin/".into(),
                mode: 0o755,
            },
            ContextEntry::Dir {
                path: "rootfs/tmp/".into(),
                mode: 0o1777,
            },
            ContextEntry::Dir {
                path: "rootfs/results/".into(),
                mode: 0o777,
            },
            ContextEntry::File {
                path: "rootfs/bin/busybox".into(),
                data: busybox,
                mode: 0o755,
            },
        ];
        for a in BUSYBOX_APPLETS {
            entries.push(ContextEntry::Symlink {
                path: format!("rootfs/bin/{a}"),
                target: "busybox".into(),
            });
        }
        let ctx = context_tar(&entries).expect("build the busybox context tar");
        let content = format!("{:x}", Sha256::digest(&ctx));
        let present = d
            .inspect_image(BUSYBOX_IMAGE)
            .await
            .expect("inspect the busybox image");
        if present.is_some_and(|img| img.labels.get(CONTENT_LABEL) == Some(&content)) {
            return;
        }
        let mut labels = Labels::from([(LABEL_TEST.to_string(), "1".to_string())]);
        labels.insert(CONTENT_LABEL.to_string(), content);
        d.build_image(BUSYBOX_IMAGE, ctx, &labels)
            .await
            .expect("build the busybox test image");
    })
    .await;
    BUSYBOX_IMAGE
}

/// A keep-alive busybox container spec (labelled for tests), optionally on `network`.
pub fn busybox_spec(name: &str, network: Option<&str>) -> ContainerSpec {
    ContainerSpec {
        name: name.to_string(),
        image: BUSYBOX_IMAGE.to_string(),
        network: network.map(str::to_string),
        labels: test_labels(),
        keepalive: true,
        ..Default::default()
    }
}

/// Create and start a keep-alive busybox container registered with `cleanup`.
pub async fn start_busybox(d: &Docker, cleanup: &Cleanup, prefix: &str) -> String {
    busybox_image().await;
    let name = unique(prefix);
    cleanup.container(&name);
    d.ensure_container(&busybox_spec(&name, None))
        .await
        .expect("start a busybox container");
    name
}

/// The static CPU stand-in binary (`vllm`): `VBENCH_STANDIN_BIN`, else built now by
/// `scripts/build-standin.sh` (once per process).
pub fn standin_bin() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("VBENCH_STANDIN_BIN") {
            return PathBuf::from(p);
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/build-standin.sh");
        let out = std::process::Command::new(script)
            .output()
            .expect("run scripts/build-standin.sh");
        assert!(
            out.status.success(),
            "build-standin failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().to_string())
    })
    .clone()
}
