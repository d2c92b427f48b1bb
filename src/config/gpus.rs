//! `server.gpus` / `--gpus`: which GPUs the server container gets — `all`, a count (the first
//! N) or a list of GPU indices as the host numbers them — and the world size vLLM will ask
//! for (tensor-parallel × pipeline-parallel), so a selection too small for it is refused
//! before anything starts.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::{ConfigError, Ctx, describe_origin};
use super::{Config, ServerConfig};

/// Which GPUs the server container gets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum GpuSelection {
    /// Every GPU the host has (how many is known only on the host).
    #[default]
    All,
    /// The first N GPUs (N >= 1).
    Count(u32),
    /// These GPUs, by host index (nvidia-smi / rocm-smi numbering), in the order given, each
    /// once.
    Ids(Vec<u32>),
}

impl GpuSelection {
    /// How many GPUs are selected; `None` for `all` (the host decides).
    pub fn count(&self) -> Option<u32> {
        match self {
            GpuSelection::All => None,
            GpuSelection::Count(n) => Some(*n),
            GpuSelection::Ids(ids) => Some(ids.len() as u32),
        }
    }

    /// The host indices selected (`Count(n)` = `0..n`); `None` for `all`.
    pub fn indices(&self) -> Option<Vec<u32>> {
        match self {
            GpuSelection::All => None,
            GpuSelection::Count(n) => Some((0..*n).collect()),
            GpuSelection::Ids(ids) => Some(ids.clone()),
        }
    }

    pub fn is_all(&self) -> bool {
        matches!(self, GpuSelection::All)
    }
}

/// `all`, `4`, `4,5,6,7`: the form `--gpus` takes.
impl fmt::Display for GpuSelection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GpuSelection::All => f.write_str("all"),
            GpuSelection::Count(n) => write!(f, "{n}"),
            GpuSelection::Ids(ids) => {
                let s: Vec<String> = ids.iter().map(u32::to_string).collect();
                f.write_str(&s.join(","))
            }
        }
    }
}

/// As a `vbench.yaml` value: `all`, `4` or `[4, 5, 6, 7]` (so `vbench config` prints a file
/// that loads back to the same selection).
impl Serialize for GpuSelection {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            GpuSelection::All => s.serialize_str("all"),
            GpuSelection::Count(n) => s.serialize_u32(*n),
            GpuSelection::Ids(ids) => ids.serialize(s),
        }
    }
}

/// The largest GPU index (and so 1024 the largest count): far above any real host, low
/// enough that a typo like `40000` is caught here rather than by the container runtime.
const MAX_INDEX: u32 = 1023;

/// What `--gpus` and `server.gpus` accept, for help lines.
pub const GPUS_EXPECTED: &str = "all, a GPU count like 4 (the first four), or GPU indices like [4, 5, 6, 7] (on the command line: 4,5,6,7)";

/// Parse the text form: `all`, a count `4`, or indices `4,5,6,7` (spaces and one pair of
/// brackets allowed, so `[4, 5]` pasted from YAML works too). A single number is a count;
/// write `[3]` (or `3,`) for "GPU 3 only".
pub fn parse_gpus(text: &str) -> Result<GpuSelection, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("all") {
        return Ok(GpuSelection::All);
    }
    let bracketed = t.starts_with('[') && t.ends_with(']');
    let inner = if bracketed { &t[1..t.len() - 1] } else { t };
    if !bracketed && !inner.contains(',') {
        let n: i64 = inner
            .parse()
            .map_err(|_| format!("`{text}` is not all, a GPU count or a list of GPU indices"))?;
        return count(n);
    }
    let mut ids = Vec::new();
    for item in inner.split(',').map(str::trim) {
        if item.is_empty() {
            continue;
        }
        let id: i64 = item
            .parse()
            .map_err(|_| format!("`{item}` in `{text}` is not a GPU index"))?;
        ids.push(id);
    }
    list(&ids)
}

/// A count from the file or the flag: at least 1 (no GPUs at all is `gpu: none`).
pub fn count(n: i64) -> Result<GpuSelection, String> {
    if n < 1 {
        return Err(format!(
            "{n} GPUs: give at least 1 (for no GPU at all, set `gpu: none`)"
        ));
    }
    if n > i64::from(MAX_INDEX) + 1 {
        return Err(format!(
            "{n} GPUs: at most {} can be selected",
            MAX_INDEX + 1
        ));
    }
    Ok(GpuSelection::Count(n as u32))
}

/// A list of host indices: non-empty, each 0..=1023 and named once.
pub fn list(ids: &[i64]) -> Result<GpuSelection, String> {
    if ids.is_empty() {
        return Err("the list of GPU indices is empty (for no GPU at all, set `gpu: none`)".into());
    }
    let mut out: Vec<u32> = Vec::with_capacity(ids.len());
    for &id in ids {
        if !(0..=i64::from(MAX_INDEX)).contains(&id) {
            return Err(format!("GPU index {id} is out of range (0..={MAX_INDEX})"));
        }
        let id = id as u32;
        if out.contains(&id) {
            return Err(format!("GPU {id} is listed twice"));
        }
        out.push(id);
    }
    Ok(GpuSelection::Ids(out))
}

/// `server.gpus` as written in the file: a count, text (`all`, `4,5,6,7`, `${GPUS}`) or a
/// list of integers. Read by hand rather than as an untagged enum so a wrong type gets one
/// clear "expected" line instead of serde's "did not match any variant".
#[derive(Debug)]
pub enum RawGpus {
    Count(i64),
    Text(String),
    List(Vec<i64>),
}

impl<'de> Deserialize<'de> for RawGpus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawGpus;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("all, a GPU count or a list of GPU indices")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RawGpus, E> {
                Ok(RawGpus::Count(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RawGpus, E> {
                Ok(RawGpus::Count(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawGpus, E> {
                Ok(RawGpus::Text(v.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<RawGpus, A::Error> {
                let mut ids = Vec::new();
                while let Some(id) = seq.next_element::<i64>()? {
                    ids.push(id);
                }
                Ok(RawGpus::List(ids))
            }
        }
        d.deserialize_any(V)
    }
}

/// The pipeline-parallel size set in `extra_args` (`--pipeline-parallel-size N`, `=N`, `-pp
/// N`, with `_` or `-`), and the index of the argument that set it; vLLM's default is 1. The
/// last occurrence wins, as with argparse.
pub fn pipeline_parallel_size(extra_args: &[String]) -> Option<(usize, u32)> {
    let is_flag = |a: &str| {
        let a = a.replace('_', "-");
        a == "--pipeline-parallel-size" || a == "-pp"
    };
    let mut found = None;
    let mut i = 0;
    while i < extra_args.len() {
        let a = &extra_args[i];
        if let Some((flag, value)) = a.split_once('=')
            && is_flag(flag)
        {
            if let Ok(n) = value.trim().parse() {
                found = Some((i, n));
            }
        } else if is_flag(a)
            && let Some(v) = extra_args.get(i + 1)
        {
            if let Ok(n) = v.trim().parse() {
                found = Some((i, n));
            }
            i += 1;
        }
        i += 1;
    }
    found
}

/// The GPUs vLLM's world needs: tensor-parallel × pipeline-parallel size.
pub fn world_size(s: &ServerConfig) -> u64 {
    let pp = pipeline_parallel_size(&s.extra_args).map_or(s.pipeline_parallel_size, |(_, p)| p);
    u64::from(s.tensor_parallel_size) * u64::from(pp)
}

/// The error when `have` GPUs cannot hold the world size, else `None`. `what` says where the
/// number comes from (`` `4,5` selects 2 GPUs ``); `path` is the field the error points at. The
/// help names every value involved and where it was set, and quotes the sentence vLLM would
/// otherwise stop with after the container started.
pub(crate) fn too_few_gpus(
    s: &ServerConfig,
    ctx: &Ctx,
    have: u32,
    what: &str,
    path: &str,
) -> Option<ConfigError> {
    let world = world_size(s);
    // A multi-node server's world spans the nodes' GPUs; whether the Ray cluster has them is
    // checked when its nodes have joined.
    if world <= u64::from(have) || !s.nodes.is_empty() {
        return None;
    }
    let at = |p: &str| describe_origin(ctx.file.as_deref(), &ctx.origin_of(p));
    let tp = s.tensor_parallel_size;
    let pp_arg = pipeline_parallel_size(&s.extra_args);
    let pp = pp_arg
        .map(|(_, p)| p)
        .or((s.pipeline_parallel_size > 1).then_some(s.pipeline_parallel_size));
    let needs = match pp {
        Some(pp) => {
            format!("tensor_parallel_size {tp} × pipeline_parallel_size {pp} = {world}")
        }
        None => format!("tensor_parallel_size {tp}"),
    };
    let mut e = ctx
        .error(
            path,
            format!(
                "{what}, but {needs} needs {world}: vLLM would stop with \"World size ({world}) is larger than the number of available GPUs ({have})\""
            ),
        )
        .help(format!(
            "server.tensor_parallel_size = {tp} is set by {}",
            at("server.tensor_parallel_size")
        ));
    if let Some((i, pp)) = pp_arg {
        let item = format!("server.extra_args[{i}]");
        e = e.help(format!(
            "--pipeline-parallel-size {pp} is {item}, set by {}",
            at(&item)
        ));
    }
    if path != "server.gpus" {
        e = e.help(format!(
            "server.gpus = {} is set by {}",
            s.gpus,
            at("server.gpus")
        ));
    }
    Some(e.help(format!(
        "select at least {world} GPUs (server.gpus / --gpus), or lower tensor_parallel_size (--tp)"
    )))
}

/// The load-time check: an explicit count or list must hold the world size.
pub(crate) fn check_selection(s: &ServerConfig, ctx: &Ctx) -> Result<(), ConfigError> {
    let Some(n) = s.gpus.count() else {
        return Ok(());
    };
    let what = format!(
        "`{}` selects {n} GPU{}",
        s.gpus,
        if n == 1 { "" } else { "s" }
    );
    too_few_gpus(s, ctx, n, &what, "server.gpus").map_or(Ok(()), Err)
}

/// The checks that need the host: with `gpus: all`, the host's GPU count (`host_gpus`, e.g.
/// its AMD render nodes) must hold the world size; an explicit selection must name GPUs the
/// host has. `vendor` and `nodes` describe them (`AMD`, `/dev/dri/renderD128-131`).
pub fn check_on_host(
    cfg: &Config,
    host_gpus: u32,
    vendor: &str,
    nodes: &str,
) -> Result<(), ConfigError> {
    let s = &cfg.server;
    let ctx = cfg.provenance.ctx();
    let plural = if host_gpus == 1 { "" } else { "s" };
    match s.gpus.indices() {
        None => {
            // Point at what the user set: the selection when they wrote `all`, else the TP.
            let path = if ctx.origin_of("server.gpus") == super::Origin::Default {
                "server.tensor_parallel_size"
            } else {
                "server.gpus"
            };
            let what = format!("this host has {host_gpus} {vendor} GPU{plural} ({nodes}) and server.gpus is all");
            too_few_gpus(s, &ctx, host_gpus, &what, path).map_or(Ok(()), Err)
        }
        Some(ids) => match ids.iter().find(|&&i| i >= host_gpus) {
            Some(missing) => Err(ctx
                .error(
                    "server.gpus",
                    format!(
                        "`{}` selects GPU {missing}, but this host has {host_gpus} {vendor} GPU{plural} ({nodes})",
                        s.gpus
                    ),
                )
                .help(format!(
                    "valid indices: 0..={}",
                    host_gpus.saturating_sub(1)
                ))),
            None => Ok(()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms() {
        assert_eq!(parse_gpus("all"), Ok(GpuSelection::All));
        assert_eq!(parse_gpus(" ALL "), Ok(GpuSelection::All));
        assert_eq!(parse_gpus("4"), Ok(GpuSelection::Count(4)));
        assert_eq!(
            parse_gpus("4,5,6,7"),
            Ok(GpuSelection::Ids(vec![4, 5, 6, 7]))
        );
        assert_eq!(parse_gpus("[4, 5]"), Ok(GpuSelection::Ids(vec![4, 5])));
        assert_eq!(parse_gpus("3,"), Ok(GpuSelection::Ids(vec![3])));
        assert_eq!(parse_gpus("[3]"), Ok(GpuSelection::Ids(vec![3])));
        assert_eq!(
            parse_gpus("2,0"),
            Ok(GpuSelection::Ids(vec![2, 0])),
            "order kept"
        );
    }

    #[test]
    fn bad_text_forms_say_why() {
        for (bad, why) in [
            ("0", "at least 1"),
            ("-2", "at least 1"),
            ("some", "not all, a GPU count"),
            ("1,x", "`x` in `1,x` is not a GPU index"),
            ("1,1", "GPU 1 is listed twice"),
            ("[]", "empty"),
            ("5000", "at most 1024"),
            ("1,-1", "out of range"),
        ] {
            let e = parse_gpus(bad).expect_err(bad);
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn counts_and_indices() {
        assert_eq!(GpuSelection::All.count(), None);
        assert_eq!(GpuSelection::Count(2).indices(), Some(vec![0, 1]));
        assert_eq!(GpuSelection::Ids(vec![6, 4]).count(), Some(2));
        assert_eq!(GpuSelection::Ids(vec![6, 4]).to_string(), "6,4");
        assert_eq!(
            serde_json::to_string(&GpuSelection::Ids(vec![4, 5])).unwrap(),
            "[4,5]"
        );
        assert_eq!(
            serde_json::to_string(&GpuSelection::All).unwrap(),
            "\"all\""
        );
        assert_eq!(serde_json::to_string(&GpuSelection::Count(8)).unwrap(), "8");
    }

    #[test]
    fn pipeline_parallel_from_extra_args() {
        let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(pipeline_parallel_size(&a(&[])), None);
        assert_eq!(
            pipeline_parallel_size(&a(&[
                "--max-num-seqs",
                "8",
                "--pipeline-parallel-size",
                "2"
            ])),
            Some((2, 2))
        );
        assert_eq!(pipeline_parallel_size(&a(&["-pp", "3"])), Some((0, 3)));
        assert_eq!(
            pipeline_parallel_size(&a(&["--pipeline_parallel_size=4"])),
            Some((0, 4))
        );
        assert_eq!(
            pipeline_parallel_size(&a(&["-pp", "2", "--pipeline-parallel-size=4"])),
            Some((2, 4)),
            "the last one wins"
        );
        assert_eq!(
            pipeline_parallel_size(&a(&["--pipeline-parallel-size"])),
            None
        );
    }
}
