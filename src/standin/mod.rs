//! The CPU stand-in images (`vbench/vllm-standin-server`, `vbench/vllm-standin-client`): built
//! locally FROM scratch from an in-memory context (no registry), holding the static stand-in
//! binary (`/bin/vllm`, with `nvidia-smi` / `rocm-smi` / `ray` links to it) and a static busybox.
//! They are a test double and demo backend, never a GPU measurement; both say so in a label.
//! The two files come from `binaries` (environment, else embedded at build time, so an
//! installed vbench builds them anywhere); `elf` checks that they are static.
//!
//! `ensure_images` rebuilds only when an image is missing or was built from other content
//! (a hash of the build context is kept in the `vbench.standin.content` label, so a newer
//! binary always triggers a rebuild and an unchanged one never does).

pub mod binaries;
pub mod elf;

use std::time::Instant;

use anyhow::Context as _;
use sha2::{Digest, Sha256};

use crate::docker::image::{ContextEntry, EntryRef, write_context};
use crate::docker::{Docker, LABEL_ROLE};
use crate::events::{Event, Sink};

pub const SERVER_IMAGE: &str = "vbench/vllm-standin-server";
pub const CLIENT_IMAGE: &str = "vbench/vllm-standin-client";

/// Label every stand-in image carries.
pub const LABEL_STANDIN: &str = "vbench.standin";
/// Label holding the SHA-256 of the build context the image was built from.
pub const LABEL_CONTENT: &str = "vbench.standin.content";
/// What the images are, in their OCI description label.
pub const DESCRIPTION: &str = "CPU stand-in for vLLM (test double, not a GPU measurement)";

pub use elf::not_static;

/// The variable choosing the tag of the stand-in images `demo`, `--standin` and
/// `images build` use (default `latest`): a check can build and remove its own images without
/// touching the ones other runs on the same engine use.
pub const TAG_VAR: &str = "VBENCH_STANDIN_TAG";

/// The tag of the stand-in images: `VBENCH_STANDIN_TAG`, else `latest`.
pub fn tag() -> String {
    std::env::var(TAG_VAR)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| "latest".to_string())
}

/// Busybox applets linked in both images (what vbench's launchers, the manual workflow and
/// the tests use).
pub const APPLETS: &[&str] = &[
    "sh", "ash", "sleep", "kill", "ps", "cat", "ls", "mkdir", "rm", "mv", "cp", "ln", "tail",
    "head", "setsid", "wget", "tar", "env", "echo", "printf", "test", "[", "timeout", "grep",
    "date", "true", "false", "sed", "wc", "touch", "chmod", "id", "hostname", "nc", "nslookup",
    "seq", "sort", "cut", "tr", "xargs", "find", "stat", "readlink", "basename", "dirname", "pwd",
    "uname",
];

/// Whether `reference` names one of the stand-in images (any tag): those are built locally
/// by `vbench images build` / `ensure_images` and never pulled (a registry's image of that
/// name would be someone else's).
pub fn is_standin_image(reference: &str) -> bool {
    let name = match reference.rsplit_once(':') {
        Some((n, tag)) if !tag.contains('/') => n,
        _ => reference,
    };
    let name = name.split('@').next().unwrap_or(name);
    name == SERVER_IMAGE || name == CLIENT_IMAGE
}

/// Full references of the two images (`vbench/vllm-standin-server:TAG`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StandinImages {
    pub server: String,
    pub client: String,
}

impl StandinImages {
    pub fn for_tag(tag: &str) -> StandinImages {
        StandinImages {
            server: format!("{SERVER_IMAGE}:{tag}"),
            client: format!("{CLIENT_IMAGE}:{tag}"),
        }
    }
}

/// The Dockerfile of one image: everything comes from `rootfs/`; the default command keeps the
/// container alive (vbench execs `vllm serve` / `vllm bench serve` into it) and exits on SIGTERM.
pub fn dockerfile(role: &str) -> String {
    format!(
        "FROM scratch\n\
         COPY rootfs/ /\n\
         ENV PATH=/bin HOME=/root\n\
         LABEL {LABEL_STANDIN}=\"1\" vbench.standin.role=\"{role}\" org.opencontainers.image.description=\"{DESCRIPTION}\"\n\
         WORKDIR /root\n\
         CMD [\"/bin/sh\", \"-c\", \"trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done\"]\n"
    )
}

/// The paths of the busybox applet links, `rootfs/bin/<applet>`.
fn applet_paths() -> Vec<String> {
    APPLETS.iter().map(|a| format!("rootfs/bin/{a}")).collect()
}

/// The build context of one image, borrowing the binaries (`applets` from `applet_paths`):
/// packed or hashed as it is, never copied.
fn context_refs<'a>(
    dockerfile: &'a str,
    vllm: &'a [u8],
    busybox: &'a [u8],
    applets: &'a [String],
) -> Vec<EntryRef<'a>> {
    let dir = |path, mode| EntryRef::Dir { path, mode };
    let link = |path, target| EntryRef::Symlink { path, target };
    let mut e = vec![
        EntryRef::File {
            path: "Dockerfile",
            data: dockerfile.as_bytes(),
            mode: 0o644,
        },
        dir("rootfs/", 0o755),
        dir("rootfs/bin/", 0o755),
        dir("rootfs/tmp/", 0o1777),
        dir("rootfs/root/", 0o755),
        dir("rootfs/root/bench_results/", 0o777),
        dir("rootfs/root/.cache/", 0o755),
        dir("rootfs/root/.cache/huggingface/", 0o755),
        EntryRef::File {
            path: "rootfs/bin/vllm",
            data: vllm,
            mode: 0o755,
        },
        link("rootfs/bin/nvidia-smi", "vllm"),
        link("rootfs/bin/rocm-smi", "vllm"),
        link("rootfs/bin/ray", "vllm"),
        EntryRef::File {
            path: "rootfs/bin/busybox",
            data: busybox,
            mode: 0o755,
        },
    ];
    e.extend(applets.iter().map(|p| link(p, "busybox")));
    e
}

/// The build context of one image.
pub fn context_entries(role: &str, vllm: &[u8], busybox: &[u8]) -> Vec<ContextEntry> {
    let (dockerfile, applets) = (dockerfile(role), applet_paths());
    context_refs(&dockerfile, vllm, busybox, &applets)
        .into_iter()
        .map(|e| match e {
            EntryRef::File { path, data, mode } => ContextEntry::File {
                path: path.into(),
                data: data.to_vec(),
                mode,
            },
            EntryRef::Dir { path, mode } => ContextEntry::Dir {
                path: path.into(),
                mode,
            },
            EntryRef::Symlink { path, target } => ContextEntry::Symlink {
                path: path.into(),
                target: target.into(),
            },
        })
        .collect()
}

struct Built {
    reference: String,
    size: i64,
}

async fn build_one(
    docker: &Docker,
    reference: &str,
    ctx: Vec<u8>,
    content: &str,
) -> anyhow::Result<Built> {
    // No `vbench.managed` here: containers inherit their image's labels, and a container
    // someone else made from this image (compose) must not look as if vbench created it.
    let mut labels = docker.extra_labels().clone();
    labels.insert(LABEL_ROLE.into(), "image".into());
    labels.insert(LABEL_CONTENT.into(), content.into());
    docker.build_image(reference, ctx, &labels).await?;
    let size = docker
        .inspect_image(reference)
        .await?
        .map(|i| i.size)
        .unwrap_or(0);
    Ok(Built {
        reference: reference.into(),
        size,
    })
}

/// Version of what the build sets outside the context (labels). Bump it when that changes,
/// so `ensure_images` rebuilds images made by an older recipe.
const RECIPE: &[u8] = b"labels-v2: no vbench.managed on images";

/// The two files of the images, and where they came from.
struct Files {
    vllm: std::borrow::Cow<'static, [u8]>,
    busybox: std::borrow::Cow<'static, [u8]>,
    origins: String,
}

fn files() -> anyhow::Result<Files> {
    let vllm = binaries::standin()?;
    let busybox = binaries::busybox()?;
    let origins = format!("stand-in {}, busybox {}", vllm.origin, busybox.origin);
    Ok(Files {
        vllm: vllm.data,
        busybox: busybox.data,
        origins,
    })
}

impl Files {
    /// The tar context of `role`'s image.
    fn context(&self, role: &str) -> anyhow::Result<Vec<u8>> {
        let (dockerfile, applets) = (dockerfile(role), applet_paths());
        let size = self.vllm.len() + self.busybox.len() + 64 * 1024;
        write_context(
            context_refs(&dockerfile, &self.vllm, &self.busybox, &applets),
            Vec::with_capacity(size),
        )
        .context("pack the stand-in image context")
    }

    /// The content hash of `role`'s image, kept in its label: the SHA-256 of RECIPE and the
    /// context tar, streamed through the hasher (the tar, 7 MB a role, is never in memory
    /// just to be compared: most runs find their images up to date).
    fn content(&self, role: &str) -> anyhow::Result<String> {
        let (dockerfile, applets) = (dockerfile(role), applet_paths());
        let mut hasher = Sha256::new();
        // The labels are set by the build call, outside the context: RECIPE stands for them.
        hasher.update(RECIPE);
        let hasher = write_context(
            context_refs(&dockerfile, &self.vllm, &self.busybox, &applets),
            hasher,
        )
        .context("hash the stand-in image context")?;
        Ok(format!("{:x}", hasher.finalize()))
    }
}

fn mib(bytes: i64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1_048_576.0)
}

/// Build both images under `tag`, unconditionally.
pub async fn build_images(
    docker: &Docker,
    tag: &str,
    sink: &dyn Sink,
) -> anyhow::Result<StandinImages> {
    build(docker, tag, sink, false).await
}

/// Build the images only if missing or built from other content (e.g. an older binary).
pub async fn ensure_images(
    docker: &Docker,
    tag: &str,
    sink: &dyn Sink,
) -> anyhow::Result<StandinImages> {
    build(docker, tag, sink, true).await
}

async fn build(
    docker: &Docker,
    tag: &str,
    sink: &dyn Sink,
    only_if_changed: bool,
) -> anyhow::Result<StandinImages> {
    let refs = StandinImages::for_tag(tag);
    // With no binary at hand (built without the embedded stand-in, no VBENCH_STANDIN_BIN),
    // present images are used as they are.
    let files = match files() {
        Ok(c) => c,
        Err(e) if only_if_changed => {
            let mut present = true;
            for r in [&refs.server, &refs.client] {
                present &= docker.inspect_image(r).await?.is_some();
            }
            if present {
                return Ok(refs);
            }
            return Err(e.context(format!(
                "the stand-in images {} / {} are missing and cannot be built",
                refs.server, refs.client
            )));
        }
        Err(e) => return Err(e),
    };
    for role in ["server", "client"] {
        let reference = if role == "server" {
            &refs.server
        } else {
            &refs.client
        };
        let content = files.content(role)?;
        if only_if_changed
            && let Some(img) = docker.inspect_image(reference).await?
            && img.labels.get(LABEL_CONTENT) == Some(&content)
        {
            continue;
        }
        let t = Instant::now();
        sink.emit(Event::StageStarted {
            stage: "images".into(),
            detail: format!(
                "building {reference} (CPU stand-in for vLLM; {})",
                files.origins
            ),
        });
        let built = build_one(docker, reference, files.context(role)?, &content).await?;
        sink.emit(Event::StageFinished {
            stage: "images".into(),
            detail: format!("built {} ({})", built.reference, mib(built.size)),
            elapsed_s: t.elapsed().as_secs_f64(),
        });
    }
    Ok(refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standin_images_are_recognised_by_name() {
        assert!(is_standin_image("vbench/vllm-standin-server:latest"));
        assert!(is_standin_image("vbench/vllm-standin-client"));
        assert!(!is_standin_image(
            "127.0.0.1:5000/vbench/vllm-standin-server:latest"
        ));
        assert!(!is_standin_image("vllm/vllm-openai:latest"));
    }

    #[test]
    fn elf_checks() {
        assert!(not_static(b"#!/bin/sh\n").is_some());
        let mut elf = vec![0u8; 256];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2;
        elf[5] = 1;
        elf[0x20] = 64; // phoff
        elf[0x36] = 56; // phentsize
        elf[0x38] = 1; // phnum
        elf[64] = 1; // PT_LOAD
        assert_eq!(not_static(&elf), None);
        elf[64] = 3; // PT_INTERP
        assert!(not_static(&elf).unwrap().contains("dynamically linked"));
    }

    #[test]
    fn the_streamed_content_hash_is_the_hash_of_the_context_tar() {
        let files = Files {
            vllm: b"stand-in bytes".to_vec().into(),
            busybox: b"busybox bytes".to_vec().into(),
            origins: String::new(),
        };
        for role in ["server", "client"] {
            let tar = crate::docker::image::context_tar(&context_entries(
                role,
                &files.vllm,
                &files.busybox,
            ))
            .expect("tar");
            assert_eq!(files.context(role).expect("context"), tar);
            let whole = format!(
                "{:x}",
                Sha256::new()
                    .chain_update(RECIPE)
                    .chain_update(&tar)
                    .finalize()
            );
            assert_eq!(files.content(role).expect("content"), whole);
        }
        assert_ne!(
            files.content("server").expect("server"),
            files.content("client").expect("client")
        );
    }

    #[test]
    fn dockerfile_labels_and_layout() {
        let d = dockerfile("server");
        assert!(d.starts_with("FROM scratch\n"));
        assert!(d.contains("vbench.standin=\"1\""));
        assert!(d.contains(&format!(
            "org.opencontainers.image.description=\"{DESCRIPTION}\""
        )));
        assert!(d.contains("ENV PATH=/bin"));
        let e = context_entries("client", b"v", b"b");
        let has = |p: &str| {
            e.iter().any(|x| match x {
                ContextEntry::File { path, .. }
                | ContextEntry::Dir { path, .. }
                | ContextEntry::Symlink { path, .. } => path == p,
            })
        };
        for p in [
            "rootfs/bin/vllm",
            "rootfs/bin/nvidia-smi",
            "rootfs/bin/rocm-smi",
            "rootfs/bin/ray",
            "rootfs/bin/busybox",
            "rootfs/bin/[",
            "rootfs/bin/setsid",
            "rootfs/tmp/",
            "rootfs/root/bench_results/",
            "rootfs/root/.cache/huggingface/",
        ] {
            assert!(has(p), "{p} missing");
        }
    }

    #[test]
    fn documented_dockerfiles_match_the_ones_built() {
        for role in ["server", "client"] {
            let path = format!("{}/images/Dockerfile.{role}", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            let body: String = text
                .lines()
                .filter(|l| !l.starts_with('#'))
                .map(|l| format!("{l}\n"))
                .collect();
            assert_eq!(body, dockerfile(role), "{path} drifted from src/standin.rs");
        }
    }
}
