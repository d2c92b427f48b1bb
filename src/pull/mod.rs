//! Getting the images vbench needs to create containers, by the `pull` policy (Docker's
//! convention: `missing` pulls only an absent image, `always` pulls even a present one, `never`
//! makes an absent image a set-up error), and pulling them through the engine with per-layer
//! progress events (`PullStarted`, `PullProgress`, `PullFinished`) and credentials from the
//! user's Docker configuration.
//!
//! Every failure is a typed [`PullError`] naming the image, the registry and the cause
//! (unauthorized, not found, unreachable), so `exit.rs` can call it a set-up failure and the
//! user knows what to fix.

pub mod progress;

use std::time::Instant;

use crate::config::PullPolicy;
use crate::docker::credentials::Credentials;
use crate::docker::image::PULL_STALL;
use crate::docker::reference::ImageRef;
use crate::docker::{Docker, DockerError};
use crate::events::{self, Event, Sink};

/// A pulled image.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Pulled {
    /// As configured.
    pub image: String,
    pub registry: String,
    /// The local image id.
    pub id: String,
    /// The registry digest of the image under this name (`sha256:…`).
    pub digest: Option<String>,
    /// The reference pinned a digest.
    pub pinned: bool,
    pub layers: usize,
    /// Bytes downloaded (layers already present are not counted).
    pub downloaded: u64,
    pub elapsed_s: f64,
}

/// What `ensure` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Ensured {
    /// Present; not pulled (policy `missing` or `never`).
    Present,
    Pulled(Pulled),
}

/// Why an image could not be had. Every variant names the image; those from a registry name
/// the registry and carry its answer.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(
        "image {image} is not present and `pull: never` forbids pulling it: pull it first (`vbench images pull`, or `docker pull {image}`), or allow pulling with `pull: missing` in the configuration (or `--pull missing`)"
    )]
    Missing { image: String },
    #[error("`{image}` is not an image reference: {why}")]
    BadReference { image: String, why: String },
    #[error(
        "cannot pull {image}: registry {registry} refused access, authentication failed ({detail}); {hint}"
    )]
    Unauthorized {
        image: String,
        registry: String,
        detail: String,
        /// Where the credentials came from and how to fix them.
        hint: String,
    },
    #[error(
        "cannot pull {image}: registry {registry} has no such image, or denies access to it ({detail})"
    )]
    NotFound {
        image: String,
        registry: String,
        detail: String,
    },
    #[error("cannot pull {image}: registry {registry} is unreachable ({detail})")]
    Unreachable {
        image: String,
        registry: String,
        detail: String,
    },
    #[error("cannot pull {image} from registry {registry}: {detail}")]
    Failed {
        image: String,
        registry: String,
        detail: String,
    },
    /// The engine itself failed (inspecting the image, or unreachable).
    #[error("cannot get image {image}: {source}")]
    Docker {
        image: String,
        #[source]
        source: DockerError,
    },
}

/// What went wrong in a registry's answer, by its text (the engine passes the registry's
/// error through as text, with an HTTP status that is mostly 500).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    Unauthorized,
    NotFound,
    Unreachable,
    Other,
}

/// Classify an engine or registry error message.
pub fn classify(message: &str, status: Option<u16>) -> Cause {
    let m = message.to_ascii_lowercase();
    let any = |keys: &[&str]| keys.iter().any(|k| m.contains(k));
    // Docker Hub answers `pull access denied … may require 'docker login'` for both a missing
    // repository and a private one: it cannot be told apart, so it counts as "not found or
    // denied" (the message says both).
    if any(&["pull access denied", "repository does not exist"]) {
        return Cause::NotFound;
    }
    if any(&[
        "unauthorized",
        "authentication required",
        "no basic auth credentials",
        "incorrect username or password",
        "authentication failed",
    ]) || status == Some(401)
    {
        return Cause::Unauthorized;
    }
    if any(&[
        "manifest unknown",
        "not found",
        "name unknown",
        "no such image",
    ]) || status == Some(404)
    {
        return Cause::NotFound;
    }
    if any(&[
        "connection refused",
        "no such host",
        "i/o timeout",
        "network is unreachable",
        "no route to host",
        "tls handshake timeout",
        "server gave http response to https client",
        "context deadline exceeded",
        "client.timeout exceeded",
        "connection reset by peer",
        "dial tcp",
    ]) {
        return Cause::Unreachable;
    }
    Cause::Other
}

/// Make sure `image` is present, pulling it as `policy` says.
pub async fn ensure(
    docker: &Docker,
    image: &str,
    policy: PullPolicy,
    creds: &Credentials,
    sink: &dyn Sink,
) -> Result<Ensured, PullError> {
    if policy != PullPolicy::Always {
        let present = docker
            .inspect_image(image)
            .await
            .map_err(|source| PullError::Docker {
                image: image.to_string(),
                source,
            })?
            .is_some();
        match (present, policy) {
            (true, _) => return Ok(Ensured::Present),
            (false, PullPolicy::Never) => {
                return Err(PullError::Missing {
                    image: image.to_string(),
                });
            }
            _ => {}
        }
    }
    pull(docker, image, creds, sink).await.map(Ensured::Pulled)
}

/// Pull `image` (whatever is present), reporting progress.
pub async fn pull(
    docker: &Docker,
    image: &str,
    creds: &Credentials,
    sink: &dyn Sink,
) -> Result<Pulled, PullError> {
    let r = ImageRef::parse(image).map_err(|why| PullError::BadReference {
        image: image.to_string(),
        why,
    })?;
    let registry = r.registry().to_string();
    let key = r.config_key();
    // A credential helper is a program (it may wait on a keychain): off the async workers.
    let found = {
        let (creds, key) = (creds.clone(), key.clone());
        tokio::task::spawn_blocking(move || creds.lookup(&key))
            .await
            .unwrap_or_default()
    };
    if let Some(p) = &found.problem {
        events::warn(
            sink,
            format!("credentials for {registry}: {p}; pulling {image} without credentials"),
        );
    }
    sink.emit(Event::PullStarted {
        image: image.to_string(),
        registry: registry.clone(),
        credentials: found.from.clone(),
    });
    let t = Instant::now();
    let mut fold = progress::Fold::new();
    let pulled = docker
        .pull_image(
            &r.pull_reference(),
            found.auth.as_ref(),
            PULL_STALL,
            &mut |u| {
                if let Some(l) = fold.update(&u, Instant::now()) {
                    sink.emit(Event::PullProgress {
                        image: image.to_string(),
                        layer: l.layer,
                        status: l.status,
                        current: l.current,
                        total: l.total,
                    });
                }
            },
        )
        .await;
    if let Err(e) = pulled {
        let err = registry_error(image, &registry, &key, creds, &found, e);
        sink.emit(Event::PullFailed {
            image: image.to_string(),
            registry: registry.clone(),
            error: err.to_string(),
        });
        return Err(err);
    }
    let info = docker
        .inspect_image(&r.pull_reference())
        .await
        .map_err(|source| PullError::Docker {
            image: image.to_string(),
            source,
        })?
        .ok_or_else(|| PullError::Failed {
            image: image.to_string(),
            registry: registry.clone(),
            detail: "the engine reported success but the image is not present".into(),
        })?;
    // The engine's `Digest:` line is the manifest digest the registry served; RepoDigests
    // records the same (checked by the registry tests).
    let digest = fold
        .digest
        .clone()
        .or_else(|| r.digest_in(&info.digests))
        .or_else(|| r.digest.clone());
    let out = Pulled {
        image: image.to_string(),
        registry,
        id: info.id,
        digest: digest.clone(),
        pinned: r.digest.is_some(),
        layers: fold.layers(),
        downloaded: fold.downloaded(),
        elapsed_s: t.elapsed().as_secs_f64(),
    };
    sink.emit(Event::PullFinished {
        image: image.to_string(),
        digest,
        layers: out.layers,
        downloaded: out.downloaded,
        elapsed_s: out.elapsed_s,
    });
    Ok(out)
}

/// The typed error for a failed pull, with what the user can do about it.
fn registry_error(
    image: &str,
    registry: &str,
    key: &str,
    creds: &Credentials,
    found: &crate::docker::credentials::Lookup,
    e: DockerError,
) -> PullError {
    let (detail, status) = match &e {
        DockerError::Api { .. } | DockerError::Stream { .. } => (e.engine_message(), e.status()),
        DockerError::Deadline { .. } => {
            return PullError::Failed {
                image: image.to_string(),
                registry: registry.to_string(),
                detail: e.to_string(),
            };
        }
        _ => {
            return PullError::Docker {
                image: image.to_string(),
                source: e,
            };
        }
    };
    let (image, registry) = (image.to_string(), registry.to_string());
    match classify(&detail, status) {
        Cause::Unauthorized => {
            let file = creds
                .path()
                .map_or("the Docker configuration".to_string(), |p| {
                    p.display().to_string()
                });
            let mut hint = match &found.from {
                Some(from) => format!(
                    "the credentials come from {from}: check them (`docker login {registry}`)"
                ),
                None => format!(
                    "no credentials for {key} in {file}: log in with `docker login {registry}`"
                ),
            };
            if let Some(p) = &found.problem {
                hint.push_str(&format!(" (credentials could not be read: {p})"));
            }
            PullError::Unauthorized {
                image,
                registry,
                detail,
                hint,
            }
        }
        Cause::NotFound => PullError::NotFound {
            image,
            registry,
            detail,
        },
        Cause::Unreachable => PullError::Unreachable {
            image,
            registry,
            detail,
        },
        Cause::Other => PullError::Failed {
            image,
            registry,
            detail,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Overrides, from_text};

    fn load(text: &str, pull_flag: Option<&str>) -> Result<crate::config::Config, String> {
        let o = Overrides {
            pull: pull_flag.map(str::to_string),
            ..Default::default()
        };
        from_text(text.to_string(), Some("vbench.yaml".into()), &o, None).map_err(|e| e.to_string())
    }

    #[test]
    fn the_pull_key_and_flag() {
        assert_eq!(load("", None).unwrap().pull, PullPolicy::Missing);
        assert_eq!(load("pull: never\n", None).unwrap().pull, PullPolicy::Never);
        // The flag wins over the file.
        assert_eq!(
            load("pull: never\n", Some("always")).unwrap().pull,
            PullPolicy::Always
        );
        let e = load("network: n1\npull: sometimes\n", None).unwrap_err();
        assert!(
            e.contains("vbench.yaml:2:7: pull: unknown pull policy `sometimes`"),
            "{e}"
        );
        let e = load("", Some("sometimes")).unwrap_err();
        assert!(e.contains("--pull"), "{e}");
    }

    #[test]
    fn images_are_checked_and_may_be_pinned() {
        let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let c = load(
            &format!("server:\n  image: 127.0.0.1:5000/vbt/s@{d}\n"),
            None,
        )
        .unwrap();
        assert!(c.server.image.ends_with(d));
        let e = load("client:\n  image: vllm/vllm-openai@sha256:abc\n", None).unwrap_err();
        assert!(
            e.contains("vbench.yaml:2:10: client.image:") && e.contains("64 lowercase hex"),
            "{e}"
        );
        // (`VLLM/openai` is valid to Docker: an upper-case first component is a registry host.)
        let e = load("server:\n  image: vllm/OpenAI\n", None).unwrap_err();
        assert!(e.contains("must be lowercase"), "{e}");
    }

    #[test]
    fn engine_messages_are_classified() {
        for (m, s, want) in [
            (
                r#"Head "http://127.0.0.1:5123/v2/vbt/busybox/manifests/t1": no basic auth credentials"#,
                Some(500),
                Cause::Unauthorized,
            ),
            (
                "unauthorized: authentication required",
                Some(500),
                Cause::Unauthorized,
            ),
            (
                "Get https://registry-1.docker.io/v2/: unauthorized: incorrect username or password",
                None,
                Cause::Unauthorized,
            ),
            (
                "manifest for 127.0.0.1:5123/vbt/nope:t not found: manifest unknown: manifest unknown",
                Some(404),
                Cause::NotFound,
            ),
            (
                "pull access denied for nope/nope, repository does not exist or may require 'docker login': denied: requested access to the resource is denied",
                Some(404),
                Cause::NotFound,
            ),
            (
                r#"Get "http://127.0.0.1:5999/v2/": dial tcp 127.0.0.1:5999: connect: connection refused"#,
                Some(500),
                Cause::Unreachable,
            ),
            (
                r#"Get "https://nohost.invalid/v2/": dial tcp: lookup nohost.invalid on 10.0.0.53:53: no such host"#,
                Some(500),
                Cause::Unreachable,
            ),
            (
                "failed to register layer: no space left on device",
                None,
                Cause::Other,
            ),
        ] {
            assert_eq!(classify(m, s), want, "{m}");
        }
    }
}
