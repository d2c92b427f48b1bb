//! Images: build from an in-memory tar context (FROM scratch works, no registry needed), look
//! up what is present, and pull, tag and push through the engine (a pull reports each line of
//! the engine's progress stream to the caller, who folds it into layer states).

use std::collections::BTreeMap;
use std::time::Duration;

use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateImageOptionsBuilder, PushImageOptionsBuilder,
    RemoveImageOptionsBuilder, TagImageOptionsBuilder,
};
use futures_util::StreamExt;

use super::credentials::RegistryAuth;
use super::{Docker, DockerError, Labels, Result, api, status_of, within};

/// A FROM-scratch build takes about a second; a real Dockerfile with RUN steps takes longer,
/// but vbench only builds small stand-in images.
const BUILD_DEADLINE: Duration = Duration::from_secs(600);
/// How many of the build's last output lines an error carries.
const BUILD_TAIL: usize = 20;

/// One entry of a build context.
#[derive(Debug, Clone)]
pub enum ContextEntry {
    File {
        path: String,
        data: Vec<u8>,
        mode: u32,
    },
    Dir {
        path: String,
        mode: u32,
    },
    Symlink {
        path: String,
        target: String,
    },
}

/// No line from a pull's progress stream for this long means the pull is stuck (an
/// unreachable registry fails much sooner; a healthy pull reports every layer's bytes).
pub const PULL_STALL: Duration = Duration::from_secs(600);
/// The longest a pull may take at all: vLLM images are ~10 GB, and slow links exist.
pub const PULL_DEADLINE: Duration = Duration::from_secs(6 * 3600);
/// A push of vbench's small images (tests push the stand-in to a local registry).
const PUSH_DEADLINE: Duration = Duration::from_secs(600);

/// One line of the engine's pull progress stream, in this layer's own terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullUpdate {
    /// A layer's short id, or (on `Pulling from …`) the tag or digest being pulled; None on
    /// the image-wide lines (`Digest: …`, `Status: …`).
    pub id: Option<String>,
    pub status: String,
    /// Bytes done and in all, on `Downloading` and `Extracting`.
    pub current: Option<u64>,
    pub total: Option<u64>,
}

/// A present image.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageInfo {
    pub id: String,
    pub tags: Vec<String>,
    pub digests: Vec<String>,
    pub size: i64,
    pub created: Option<String>,
    /// Labels from the image config.
    pub labels: BTreeMap<String, String>,
    /// `KEY=VALUE` environment from the image config (`CUDA_VERSION`, `ROCM_VERSION`, …).
    pub env: Vec<String>,
}

/// Pack entries into an uncompressed tar (deterministic: mtime 0, root owner).
pub fn context_tar(entries: &[ContextEntry]) -> std::io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    let header = |kind: tar::EntryType, size: u64, mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(mode);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h
    };
    for e in entries {
        match e {
            ContextEntry::File { path, data, mode } => {
                let mut h = header(tar::EntryType::Regular, data.len() as u64, *mode);
                b.append_data(&mut h, path, data.as_slice())?;
            }
            ContextEntry::Dir { path, mode } => {
                let mut h = header(tar::EntryType::Directory, 0, *mode);
                b.append_data(&mut h, path, std::io::empty())?;
            }
            ContextEntry::Symlink { path, target } => {
                let mut h = header(tar::EntryType::Symlink, 0, 0o777);
                b.append_link(&mut h, path, target)?;
            }
        }
    }
    b.into_inner()
}

impl Docker {
    /// Build `tag` from a tar context holding a `Dockerfile`.
    pub async fn build_image(&self, tag: &str, context: Vec<u8>, labels: &Labels) -> Result<()> {
        let op = format!("build image {tag}");
        let labels: std::collections::HashMap<&str, &str> = labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let opts = BuildImageOptionsBuilder::new()
            .dockerfile("Dockerfile")
            .t(tag)
            .rm(true)
            .forcerm(true)
            .labels(&labels)
            .build();
        within(&op, BUILD_DEADLINE, async {
            let mut tail: std::collections::VecDeque<String> = Default::default();
            let push = |line: &str, tail: &mut std::collections::VecDeque<String>| {
                for l in line.lines().filter(|l| !l.trim().is_empty()) {
                    if tail.len() == BUILD_TAIL {
                        tail.pop_front();
                    }
                    tail.push_back(l.to_string());
                }
            };
            let fail = |why: String, tail: &std::collections::VecDeque<String>| {
                let last: Vec<&str> = tail.iter().map(String::as_str).collect();
                DockerError::Other(format!(
                    "failed to {op}: {why}\nlast build output:\n  {}",
                    last.join("\n  ")
                ))
            };
            // `Some(body)` always: bollard panics on a build without a body.
            let mut stream =
                self.inner
                    .build_image(opts, None, Some(bollard::body_full(context.into())));
            let mut built = false;
            while let Some(item) = stream.next().await {
                match item {
                    Ok(info) => {
                        if let Some(line) = info.stream.as_deref() {
                            built |= line.starts_with("Successfully built");
                            push(line, &mut tail);
                        }
                        if let Some(err) = info.error_detail {
                            return Err(fail(err.message.unwrap_or_default(), &tail));
                        }
                    }
                    Err(bollard::errors::Error::DockerStreamError { error }) => {
                        return Err(fail(error, &tail));
                    }
                    // bollard 0.21's JSON-lines decoder can trip over the last `\r\n` of an
                    // otherwise finished stream; the builder already said it succeeded.
                    Err(_) if built => break,
                    Err(e) => return Err(fail(e.to_string(), &tail)),
                }
            }
            if !built {
                return Err(fail(
                    "the build ended without `Successfully built`".into(),
                    &tail,
                ));
            }
            Ok(())
        })
        .await
    }

    /// `None` when the image is not present locally.
    pub async fn inspect_image(&self, reference: &str) -> Result<Option<ImageInfo>> {
        let op = format!("inspect image {reference}");
        within(&op, Duration::from_secs(60), async {
            match self.inner.inspect_image(reference).await {
                Ok(i) => Ok(Some(ImageInfo {
                    id: i.id.unwrap_or_default(),
                    tags: i.repo_tags.unwrap_or_default(),
                    digests: i.repo_digests.unwrap_or_default(),
                    size: i.size.unwrap_or(0),
                    created: i.created,
                    env: i
                        .config
                        .as_ref()
                        .and_then(|c| c.env.clone())
                        .unwrap_or_default(),
                    labels: i
                        .config
                        .and_then(|c| c.labels)
                        .unwrap_or_default()
                        .into_iter()
                        .collect(),
                })),
                Err(e) if status_of(&e) == Some(404) => Ok(None),
                Err(e) => Err(api(op.clone())(e)),
            }
        })
        .await
    }

    /// Pull `reference` (tag or digest; never a bare name, which would pull every tag) with
    /// `auth`, handing each progress line to `on_update`. Fails with `DockerError::Api` when the
    /// engine refuses at once (the registry's answer in the message) and `DockerError::Stream`
    /// when the pull fails midway; `Deadline` when the stream stalls for `stall`.
    pub async fn pull_image(
        &self,
        reference: &str,
        auth: Option<&RegistryAuth>,
        stall: Duration,
        on_update: &mut (dyn FnMut(PullUpdate) + Send),
    ) -> Result<()> {
        let op = format!("pull image {reference}");
        let opts = CreateImageOptionsBuilder::new()
            .from_image(reference)
            .build();
        let creds = auth.map(to_bollard);
        within(&op, PULL_DEADLINE, async {
            let mut stream = self.inner.create_image(Some(opts), None, creds);
            // The image-wide lines that end a successful pull: `Digest: sha256:…` comes just
            // before the final `Status: …`.
            let (mut saw_digest, mut saw_status) = (false, false);
            loop {
                let item = match tokio::time::timeout(stall, stream.next()).await {
                    Ok(Some(item)) => item,
                    Ok(None) => break,
                    Err(_) => {
                        return Err(DockerError::Deadline {
                            op: format!("{op} (no progress)"),
                            after: stall,
                        });
                    }
                };
                match item {
                    Ok(info) => {
                        let status = info.status.unwrap_or_default();
                        saw_digest |= status.starts_with("Digest: ");
                        saw_status |= status.starts_with("Status: ");
                        let detail = info.progress_detail.unwrap_or_default();
                        let bytes = |v: Option<i64>| v.and_then(|v| u64::try_from(v).ok());
                        on_update(PullUpdate {
                            id: info.id.filter(|i| !i.is_empty()),
                            status,
                            current: bytes(detail.current),
                            total: bytes(detail.total).filter(|&t| t > 0),
                        });
                    }
                    Err(bollard::errors::Error::DockerStreamError { error }) => {
                        return Err(DockerError::Stream {
                            op: op.clone(),
                            message: error,
                        });
                    }
                    Err(e) if status_of(&e).is_some() => return Err(api(op.clone())(e)),
                    // bollard 0.21's JSON-lines decoder can trip over the last `\r\n` of a
                    // finished stream (#560): after the closing lines, and with the image
                    // present, the pull did succeed.
                    Err(_) if saw_status => break,
                    Err(e) => {
                        if saw_digest && self.inspect_image(reference).await?.is_some() {
                            break;
                        }
                        return Err(api(op.clone())(e));
                    }
                }
            }
            Ok(())
        })
        .await
    }

    /// Tag `source` (a reference or id) as `repo:tag`.
    pub async fn tag_image(&self, source: &str, repo: &str, tag: &str) -> Result<()> {
        let op = format!("tag image {source} as {repo}:{tag}");
        let opts = TagImageOptionsBuilder::new().repo(repo).tag(tag).build();
        within(&op, Duration::from_secs(60), async {
            self.inner
                .tag_image(source, Some(opts))
                .await
                .map_err(api(op.clone()))
        })
        .await
    }

    /// Push `repo:tag` with `auth`; returns the registry's digest of the pushed manifest
    /// (`sha256:…`, from the engine's closing `TAG: digest: sha256:… size: N` line).
    pub async fn push_image(
        &self,
        repo: &str,
        tag: &str,
        auth: Option<&RegistryAuth>,
    ) -> Result<Option<String>> {
        let op = format!("push image {repo}:{tag}");
        let opts = PushImageOptionsBuilder::new().tag(tag).build();
        let creds = auth.map(to_bollard);
        within(&op, PUSH_DEADLINE, async {
            let mut stream = self.inner.push_image(repo, Some(opts), creds);
            let mut digest = None;
            while let Some(item) = stream.next().await {
                match item {
                    Ok(info) => {
                        if let Some(d) = info.status.as_deref().and_then(pushed_digest) {
                            digest = Some(d);
                        }
                    }
                    Err(bollard::errors::Error::DockerStreamError { error }) => {
                        return Err(DockerError::Stream {
                            op: op.clone(),
                            message: error,
                        });
                    }
                    // The #560 decoder trip after the closing digest line.
                    Err(_) if digest.is_some() => break,
                    Err(e) => return Err(api(op.clone())(e)),
                }
            }
            Ok(digest)
        })
        .await
    }

    /// `docker save`: `references` as one archive, in memory (meant for small images such as
    /// the stand-in's, copied from one engine to another).
    pub async fn save_images(&self, references: &[&str]) -> Result<Vec<u8>> {
        let op = format!("save images {}", references.join(", "));
        within(&op, Duration::from_secs(300), async {
            let mut stream = self.inner.export_images(references);
            let mut out = Vec::new();
            while let Some(chunk) = stream.next().await {
                out.extend_from_slice(&chunk.map_err(api(op.clone()))?);
            }
            Ok(out)
        })
        .await
    }

    /// `docker load`: the images of an archive `save_images` wrote.
    pub async fn load_images(&self, archive: Vec<u8>) -> Result<()> {
        let op = "load images".to_string();
        within(&op, Duration::from_secs(300), async {
            let opts = bollard::query_parameters::ImportImageOptionsBuilder::default()
                .quiet(true)
                .build();
            let mut stream =
                self.inner
                    .import_image(opts, bollard::body_full(archive.into()), None);
            while let Some(item) = stream.next().await {
                let info = item.map_err(api(op.clone()))?;
                if let Some(err) = info.error_detail {
                    return Err(DockerError::Stream {
                        op: op.clone(),
                        message: err.message.unwrap_or_default(),
                    });
                }
            }
            Ok(())
        })
        .await
    }

    /// Remove an image; absent is not an error.
    pub async fn remove_image(&self, reference: &str) -> Result<()> {
        let op = format!("remove image {reference}");
        let opts = RemoveImageOptionsBuilder::new().force(true).build();
        within(&op, Duration::from_secs(120), async {
            match self.inner.remove_image(reference, Some(opts), None).await {
                Ok(_) => Ok(()),
                Err(e) if status_of(&e) == Some(404) => Ok(()),
                Err(e) => Err(api(op.clone())(e)),
            }
        })
        .await
    }
}

/// The engine's form of registry credentials (`X-Registry-Auth`).
fn to_bollard(a: &RegistryAuth) -> bollard::auth::DockerCredentials {
    bollard::auth::DockerCredentials {
        username: a.username.clone(),
        password: a.password.clone(),
        identitytoken: a.identity_token.clone(),
        serveraddress: Some(a.server_address.clone()),
        ..Default::default()
    }
}

/// `t1: digest: sha256:… size: 528` → `sha256:…`.
fn pushed_digest(status: &str) -> Option<String> {
    let (_, rest) = status.split_once(" digest: ")?;
    let d = rest.split_whitespace().next()?;
    d.starts_with("sha256:").then(|| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_digest_line() {
        assert_eq!(
            pushed_digest("t1: digest: sha256:f89e size: 528").as_deref(),
            Some("sha256:f89e")
        );
        assert_eq!(pushed_digest("Pushed"), None);
    }

    #[test]
    fn context_tar_is_deterministic_and_complete() {
        let entries = vec![
            ContextEntry::File {
                path: "Dockerfile".into(),
                data: b"FROM scratch\n".to_vec(),
                mode: 0o644,
            },
            ContextEntry::Dir {
                path: "rootfs/bin".into(),
                mode: 0o755,
            },
            ContextEntry::Symlink {
                path: "rootfs/bin/sh".into(),
                target: "busybox".into(),
            },
        ];
        let a = context_tar(&entries).expect("tar");
        assert_eq!(a, context_tar(&entries).expect("tar"));
        let mut ar = tar::Archive::new(a.as_slice());
        let got: Vec<(String, tar::EntryType, u64)> = ar
            .entries()
            .expect("entries")
            .map(|e| {
                let e = e.expect("entry");
                let h = e.header();
                (
                    e.path().expect("path").display().to_string(),
                    h.entry_type(),
                    h.mtime().expect("mtime"),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("Dockerfile".into(), tar::EntryType::Regular, 0),
                ("rootfs/bin".into(), tar::EntryType::Directory, 0),
                ("rootfs/bin/sh".into(), tar::EntryType::Symlink, 0),
            ]
        );
    }
}
