//! Image references as Docker reads them (`distribution/reference`): `[domain/]path[:tag][@digest]`,
//! with Docker's normalisation (no domain, or a first component without `.`/`:` that is not
//! `localhost`, means Docker Hub, `docker.io`; a one-component Hub path gets `library/`).
//!
//! Pure: pulling needs the registry a reference lives on (to find credentials and to name it in
//! errors), the exact thing to ask the engine for (a reference with neither tag nor digest would
//! make the engine pull *every* tag), and whether a `RepoDigests` entry belongs to it.

use std::fmt;

/// Docker Hub's canonical domain.
pub const HUB_DOMAIN: &str = "docker.io";
/// The key Docker's `config.json` uses for Docker Hub credentials (`auths`, `credHelpers`, the
/// server URL given to credential helpers). Every other registry is keyed by its host[:port].
pub const HUB_CONFIG_KEY: &str = "https://index.docker.io/v1/";
/// An older spelling of the Hub domain that Docker rewrites to `docker.io`.
const HUB_LEGACY_DOMAIN: &str = "index.docker.io";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// As written (what messages show).
    pub original: String,
    /// The registry host[:port], `docker.io` for Docker Hub.
    pub domain: String,
    /// The repository path within the registry (`library/busybox`, `vllm/vllm-openai`).
    pub path: String,
    pub tag: Option<String>,
    /// `sha256:<64 hex>` when the reference pins a digest.
    pub digest: Option<String>,
    /// The name part as written (no tag or digest), what the engine is asked for.
    written_name: String,
}

impl ImageRef {
    /// Parse `s` the way `docker pull` does; the error says what is wrong with it.
    pub fn parse(s: &str) -> Result<ImageRef, String> {
        if s.is_empty() {
            return Err("empty image reference".into());
        }
        if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("a bare 64-character hex string is an image id, not a reference".into());
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (r, Some(check_digest(d)?)),
            None => (s, None),
        };
        // A `:` after the last `/` starts the tag; one before it is a registry port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].find(':') {
            Some(i) => {
                let at = last_slash + i;
                (&rest[..at], Some(check_tag(&rest[at + 1..])?))
            }
            None => (rest, None),
        };
        if name.is_empty() {
            return Err("no repository name".into());
        }
        if name.len() > 255 {
            return Err("repository name longer than 255 characters".into());
        }
        let (domain, path) = split_domain(name);
        check_domain(&domain)?;
        if path.to_lowercase() != path {
            return Err(format!("repository name `{path}` must be lowercase"));
        }
        for comp in path.split('/') {
            check_component(comp)?;
        }
        Ok(ImageRef {
            original: s.to_string(),
            domain,
            path,
            tag,
            digest,
            written_name: name.to_string(),
        })
    }

    /// Docker Hub?
    pub fn is_hub(&self) -> bool {
        self.domain == HUB_DOMAIN
    }

    /// The registry as people name it: `docker.io` or `host[:port]`.
    pub fn registry(&self) -> &str {
        &self.domain
    }

    /// The key of this registry in Docker's `config.json` (`https://index.docker.io/v1/` for
    /// Docker Hub, else `host[:port]`).
    pub fn config_key(&self) -> String {
        if self.is_hub() {
            HUB_CONFIG_KEY.to_string()
        } else {
            self.domain.clone()
        }
    }

    /// The fully qualified repository name: `docker.io/library/busybox`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// What to ask the engine to pull: by digest when pinned, else by tag (`latest` when none
    /// is written, as `docker pull` does; with neither, the engine would pull every tag).
    pub fn pull_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => format!("{}@{d}", self.written_name),
            (None, Some(t)) => format!("{}:{t}", self.written_name),
            (None, None) => format!("{}:latest", self.written_name),
        }
    }

    /// The digest of `repo_digests` (an image's `RepoDigests`, `name@sha256:…`) that belongs
    /// to this reference's repository: the registry digest of the image under this name.
    pub fn digest_in(&self, repo_digests: &[String]) -> Option<String> {
        repo_digests.iter().find_map(|rd| {
            let r = ImageRef::parse(rd).ok()?;
            (r.domain == self.domain && r.path == self.path)
                .then_some(r.digest)
                .flatten()
        })
    }

    /// The `RepoDigests` entry (`name@sha256:…`) of this reference's repository.
    pub fn repo_digest_in(&self, repo_digests: &[String]) -> Option<String> {
        repo_digests
            .iter()
            .find(|rd| {
                ImageRef::parse(rd).is_ok_and(|r| r.domain == self.domain && r.path == self.path)
            })
            .cloned()
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

/// Docker's `splitDockerDomain`.
fn split_domain(name: &str) -> (String, String) {
    let (mut domain, mut rest) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_lowercase() != first =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (HUB_DOMAIN.to_string(), name.to_string()),
    };
    if domain == HUB_LEGACY_DOMAIN {
        domain = HUB_DOMAIN.to_string();
    }
    if domain == HUB_DOMAIN && !rest.contains('/') {
        rest = format!("library/{rest}");
    }
    (domain, rest)
}

fn check_domain(d: &str) -> Result<(), String> {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) if !h.contains(']') || h.ends_with(']') => (h, Some(p)),
        _ => (d, None),
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("registry `{d}` has a bad port"));
    }
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        !v6.is_empty() && v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':')
    } else {
        !host.is_empty()
            && host.split('.').all(|label| {
                let b = label.as_bytes();
                !b.is_empty()
                    && b[0].is_ascii_alphanumeric()
                    && b[b.len() - 1].is_ascii_alphanumeric()
                    && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
            })
    };
    if host_ok {
        Ok(())
    } else {
        Err(format!("`{d}` is not a registry host"))
    }
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn check_component(c: &str) -> Result<(), String> {
    let bad = || {
        Err(format!(
            "`{c}` is not a repository path component (lowercase letters and digits, separated by `.`, `_`, `__` or `-`)"
        ))
    };
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return bad();
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: `.`, `_`, `__` or any number of `-`.
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-')) {
            return bad();
        }
    }
    Ok(())
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `[\w][\w.-]{0,127}`
fn check_tag(t: &str) -> Result<String, String> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let b = t.as_bytes();
    if b.is_empty()
        || b.len() > 128
        || !word(b[0])
        || !b.iter().all(|&x| word(x) || x == b'.' || x == b'-')
    {
        return Err(format!(
            "`{t}` is not a tag (letters, digits, `_`, `.`, `-`; at most 128; not starting with `.` or `-`)"
        ));
    }
    Ok(t.to_string())
}

/// `algorithm:hex`; sha256 must be 64 lowercase hex characters (what registries and the engine
/// accept).
fn check_digest(d: &str) -> Result<String, String> {
    let bad = |why: &str| {
        Err(format!(
            "`{d}` is not a digest: {why} (expected sha256:<64 hex>)"
        ))
    };
    let Some((alg, hex)) = d.split_once(':') else {
        return bad("no `algorithm:`");
    };
    let hex_ok =
        |n: usize| hex.len() == n && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    match alg {
        "sha256" if hex_ok(64) => Ok(d.to_string()),
        "sha256" => bad("sha256 takes 64 lowercase hex characters"),
        "sha384" if hex_ok(96) => Ok(d.to_string()),
        "sha512" if hex_ok(128) => Ok(d.to_string()),
        _ => bad("unknown algorithm or wrong length"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn p(s: &str) -> ImageRef {
        ImageRef::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn hub_normalisation() {
        let r = p("busybox");
        assert_eq!(
            (r.domain.as_str(), r.path.as_str()),
            ("docker.io", "library/busybox")
        );
        assert_eq!(r.tag, None);
        assert_eq!(r.pull_reference(), "busybox:latest");
        assert_eq!(r.config_key(), "https://index.docker.io/v1/");
        assert_eq!(r.registry(), "docker.io");

        let r = p("vllm/vllm-openai:v0.11.0");
        assert_eq!(r.full_name(), "docker.io/vllm/vllm-openai");
        assert_eq!(r.tag.as_deref(), Some("v0.11.0"));
        assert_eq!(r.pull_reference(), "vllm/vllm-openai:v0.11.0");

        for hub in [
            "docker.io/library/busybox",
            "index.docker.io/library/busybox",
            "docker.io/busybox",
        ] {
            assert_eq!(p(hub).full_name(), "docker.io/library/busybox", "{hub}");
            assert!(p(hub).is_hub());
        }
    }

    #[test]
    fn other_registries_keep_their_host() {
        let r = p("127.0.0.1:5000/vbt/standin:t1");
        assert_eq!(r.domain, "127.0.0.1:5000");
        assert_eq!(r.path, "vbt/standin");
        assert_eq!(r.tag.as_deref(), Some("t1"));
        assert_eq!(r.config_key(), "127.0.0.1:5000");
        // A port and no tag: the `:` before the last `/` is not a tag.
        let r = p("localhost:5000/x");
        assert_eq!(
            (r.domain.as_str(), r.tag.as_deref()),
            ("localhost:5000", None)
        );
        assert_eq!(r.pull_reference(), "localhost:5000/x:latest");
        assert_eq!(p("localhost/x").domain, "localhost");
        assert_eq!(p("ghcr.io/org/img").domain, "ghcr.io");
        assert_eq!(p("rocm/vllm").domain, "docker.io");
        assert_eq!(p("[::1]:5000/x").domain, "[::1]:5000");
    }

    #[test]
    fn digests_pin_and_win_over_tags() {
        let r = p(&format!("127.0.0.1:5000/vbt/s@{D}"));
        assert_eq!(r.digest.as_deref(), Some(D));
        assert_eq!(r.pull_reference(), format!("127.0.0.1:5000/vbt/s@{D}"));
        let r = p(&format!("vllm/vllm-openai:latest@{D}"));
        assert_eq!(r.tag.as_deref(), Some("latest"));
        assert_eq!(r.pull_reference(), format!("vllm/vllm-openai@{D}"));
    }

    #[test]
    fn repo_digests_are_matched_by_repository() {
        let r = p("vllm/vllm-openai:latest");
        let rds = vec![
            format!("127.0.0.1:5000/vllm/vllm-openai@{}", D.replace('0', "1")),
            format!("vllm/vllm-openai@{D}"),
        ];
        assert_eq!(r.digest_in(&rds).as_deref(), Some(D));
        assert_eq!(
            r.repo_digest_in(&rds),
            Some(format!("vllm/vllm-openai@{D}"))
        );
        assert_eq!(p("other/img").digest_in(&rds), None);
        // A fully qualified name matches the familiar one Docker records.
        assert_eq!(
            p("docker.io/vllm/vllm-openai").digest_in(&rds).as_deref(),
            Some(D)
        );
    }

    #[test]
    fn bad_references_say_why() {
        for (bad, why) in [
            ("", "empty"),
            ("Vllm/Openai", "lowercase"),
            ("ghcr.io/Org/img", "lowercase"),
            ("img:", "not a tag"),
            ("img:-x", "not a tag"),
            ("img@sha256:abc", "64 lowercase hex"),
            ("img@md5:abc", "unknown algorithm"),
            ("img@", "no `algorithm:`"),
            ("a//b", "not a repository path component"),
            ("a/b-", "not a repository path component"),
            ("a/b..c", "not a repository path component"),
            ("host:x/img", "bad port"),
            (&D[7..], "image id"),
        ] {
            let e = ImageRef::parse(bad).expect_err(bad);
            assert!(e.contains(why), "{bad}: {e}");
        }
        for ok in ["a/b__c", "a/b---c", "a.b/c", "x_y/z.w-1:T_1.0-rc"] {
            p(ok);
        }
    }
}
