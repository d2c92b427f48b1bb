//! Where the two files of the stand-in images come from: the static CPU stand-in (`vllm`)
//! and a static busybox (the images' shell). Each comes from its environment variable when
//! set (`VBENCH_STANDIN_BIN`, `VBENCH_BUSYBOX`: tests, development), else from the copy
//! `build.rs` embedded in this vbench (so an installed vbench needs no source tree), else,
//! for busybox only, from the host (`/bin/busybox`, `/usr/bin/busybox`).
//!
//! A file named by a variable that is unusable is an error, never a silent fall-back: the
//! variable says what the user wants in the images.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use super::elf::not_static;

/// What `build.rs` embedded: the file, or empty when it did not (the note says why).
static EMBEDDED_VLLM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/standin-vllm"));
static EMBEDDED_BUSYBOX: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/standin-busybox"));
const VLLM_NOTE: &str = env!("VBENCH_EMBED_VLLM_NOTE");
const BUSYBOX_NOTE: &str = env!("VBENCH_EMBED_BUSYBOX_NOTE");

/// The variable naming the stand-in binary to use instead of the embedded one.
pub const STANDIN_VAR: &str = "VBENCH_STANDIN_BIN";
/// The variable naming the busybox to use instead of the embedded one.
pub const BUSYBOX_VAR: &str = "VBENCH_BUSYBOX";
/// Where busybox is looked for on the host when neither the variable nor an embedded copy.
pub const HOST_BUSYBOX: &[&str] = &["/bin/busybox", "/usr/bin/busybox"];

/// Where a file for the images came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Named by an environment variable.
    Env { var: &'static str, path: PathBuf },
    /// Embedded in this vbench at build time.
    Embedded,
    /// Found on the host.
    Host(PathBuf),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Env { var, path } => write!(f, "{} (from {var})", path.display()),
            Origin::Embedded => f.write_str("embedded in this vbench"),
            Origin::Host(p) => write!(f, "{} (on this host)", p.display()),
        }
    }
}

/// One file for the images.
pub struct Binary {
    pub data: Cow<'static, [u8]>,
    pub origin: Origin,
}

/// The stand-in embedded at build time, if it was (`None`: built with `VBENCH_EMBED_STANDIN=0`
/// or for a target the stand-in cannot run on).
pub fn embedded_standin() -> Option<&'static [u8]> {
    Some(EMBEDDED_VLLM).filter(|d| !d.is_empty())
}

/// The busybox embedded at build time, if the build machine had a static one.
pub fn embedded_busybox() -> Option<&'static [u8]> {
    Some(EMBEDDED_BUSYBOX).filter(|d| !d.is_empty())
}

fn from_var(var: &'static str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

fn read_static(path: &Path, what: &str, hint: &str) -> anyhow::Result<Vec<u8>> {
    let data = std::fs::read(path)
        .with_context(|| format!("cannot read the {what} at {} ({hint})", path.display()))?;
    if let Some(why) = not_static(&data) {
        bail!(
            "the {what} at {} is unusable in a FROM-scratch image: {why} ({hint})",
            path.display()
        );
    }
    Ok(data)
}

/// The static CPU stand-in: `VBENCH_STANDIN_BIN`, else the embedded copy.
pub fn standin() -> anyhow::Result<Binary> {
    if let Some(path) = from_var(STANDIN_VAR) {
        let data = read_static(
            &path,
            "CPU stand-in binary",
            "build it with scripts/build-standin.sh, or unset VBENCH_STANDIN_BIN to use the embedded one",
        )?;
        return Ok(Binary {
            data: Cow::Owned(data),
            origin: Origin::Env {
                var: STANDIN_VAR,
                path,
            },
        });
    }
    match embedded_standin() {
        Some(data) => Ok(Binary {
            data: Cow::Borrowed(data),
            origin: Origin::Embedded,
        }),
        None => bail!(
            "this vbench carries no CPU stand-in ({VLLM_NOTE}): set VBENCH_STANDIN_BIN to a static \
             `vllm` stand-in (scripts/build-standin.sh in the source tree builds one)"
        ),
    }
}

/// The static busybox: `VBENCH_BUSYBOX`, else the embedded copy, else the host's.
pub fn busybox() -> anyhow::Result<Binary> {
    let hint =
        "install Debian's busybox-static (apt-get install -y busybox-static) or set VBENCH_BUSYBOX";
    if let Some(path) = from_var(BUSYBOX_VAR) {
        let data = read_static(&path, "busybox", hint)?;
        return Ok(Binary {
            data: Cow::Owned(data),
            origin: Origin::Env {
                var: BUSYBOX_VAR,
                path,
            },
        });
    }
    if let Some(data) = embedded_busybox() {
        return Ok(Binary {
            data: Cow::Borrowed(data),
            origin: Origin::Embedded,
        });
    }
    let mut tried = Vec::new();
    for p in HOST_BUSYBOX {
        let path = Path::new(p);
        if !path.exists() {
            continue;
        }
        match read_static(path, "busybox", hint) {
            Ok(data) => {
                return Ok(Binary {
                    data: Cow::Owned(data),
                    origin: Origin::Host(path.to_path_buf()),
                });
            }
            Err(e) => tried.push(format!("{e:#}")),
        }
    }
    if tried.is_empty() {
        tried.push(format!("none at {}", HOST_BUSYBOX.join(" or ")));
    }
    bail!(
        "no static busybox for the stand-in images: this vbench carries none ({BUSYBOX_NOTE}) and {} ({hint})",
        tried.join("; ")
    )
}
