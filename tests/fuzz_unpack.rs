//! Generated archives for the tar unpacker, `vbench::docker::copy::safe_unpack`: the tar
//! stream the engine hands back for a container path is untrusted.
//!
//! Generated:
//! - **hostile archives**, written header by header with the `tar` crate's `Header` (GNU,
//!   ustar and old formats; names written raw, since `tar::Builder` itself refuses `..`):
//!   regular files, directories, symlinks, hard links, character and block devices, fifos,
//!   contiguous files, GNU sparse entries, unknown type bytes; paths built from `..`, `.`,
//!   empty components, absolute roots, names of the surrounding tree (`outside`, `sentinel`,
//!   `dest`), long names through GNU `L`/`K` entries and PAX `path`/`linkpath`/`size`
//!   records; link targets inside, outside, absolute, through other links (`l2/..` with
//!   `l2 -> .`); setuid/sticky modes; declared sizes that are right, short, long or huge
//!   (base-256 up to 2^62), corrupted checksums, missing or partial end blocks, trailing
//!   garbage, truncation at any byte, random byte flips;
//! - **benign archives** made with `tar::Builder` the way the engine makes a directory
//!   download (`bench_results/`, `production/…json`), then byte-mutated;
//! - raw noise, and noise in whole 512-byte blocks.
//!
//! Each case unpacks one or two archives in turn into `root/dest`, where `root` also holds
//! `outside/sentinel`, and `dest` sometimes already holds a file, a directory and a symlink
//! pointing inside (a previous run's results). Asserted after every unpack: no panic, an
//! answer within [`fuzz_support::CASE_LIMIT`]; `root` holds nothing but `dest` and
//! `outside`, and `outside` nothing but the untouched sentinel (no write outside the target);
//! under `dest` only directories, regular files and symlinks (no devices, fifos, sockets), no
//! file with more than one link (no hard link into or out of the tree), no setuid, setgid or
//! sticky bit, and every symlink relative, lexically inside `dest` and — where it resolves —
//! resolving inside `dest` (no symlink escape); a success returns only paths under `dest`
//! that exist; an error names the archive (its origin) and the entry, and leaves `dest`
//! exactly as it was (the unpacker checks the whole archive before writing).
//!
//! Also here: `vbench::docker::copy::first_file` (what `Docker::read_file` does with the
//! archive of one file) over every archive above: no panic, bounded time and memory (never
//! more bytes than the archive holds), an error naming the archive, and exactly the file's
//! bytes when the first entry is a sound regular file.

mod fuzz_support;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use fuzz_support::{Bytes, CASE_LIMIT, bounded, config, mutated, noise};
use proptest::prelude::*;
use proptest::sample::Index;
use vbench::docker::DockerError;
use vbench::docker::copy::{first_file, safe_unpack};

const ORIGIN: &str = "vllm-bench-client:/root/bench_results";

const HOSTILE_CASES: u32 = 16_000;
const MUTATED_CASES: u32 = 6_000;
const NOISE_CASES: u32 = 3_000;

const COMPONENTS: &[&str] = &[
    "r",
    "r",
    "r",
    "a",
    "b",
    "x",
    "y",
    "sub",
    "l1",
    "l2",
    "f.json",
    ".",
    "..",
    "",
    "dest",
    "outside",
    "sentinel",
    "keep.json",
    "ünï",
    "a b",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Regular,
    Dir,
    Symlink,
    Hard,
    Char,
    Block,
    Fifo,
    Continuous,
    Sparse,
    Other(u8),
}

impl Kind {
    fn byte(self) -> u8 {
        match self {
            Kind::Regular => b'0',
            Kind::Hard => b'1',
            Kind::Symlink => b'2',
            Kind::Char => b'3',
            Kind::Block => b'4',
            Kind::Dir => b'5',
            Kind::Fifo => b'6',
            Kind::Continuous => b'7',
            Kind::Sparse => b'S',
            Kind::Other(b) => b,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Gnu,
    Ustar,
    Old,
}

#[derive(Debug, Clone)]
enum Size {
    Actual,
    /// Declared this many bytes more (or fewer) than written.
    Off(i16),
    Huge(u64),
}

#[derive(Debug, Clone)]
struct Entry {
    kind: Kind,
    format: Format,
    path: String,
    link: String,
    data: Vec<u8>,
    mode: u32,
    size: Size,
    /// Carry the path in a GNU `L` entry (and the link in a `K` entry).
    gnu_long: bool,
    /// PAX records written in an `x` entry before this one.
    pax: Vec<(&'static str, String)>,
    bad_checksum: bool,
}

#[derive(Debug, Clone)]
enum End {
    TwoZeroBlocks,
    OneZeroBlock,
    Nothing,
    Garbage(Vec<u8>),
}

#[derive(Debug, Clone)]
struct Archive {
    entries: Vec<Entry>,
    end: End,
    truncate: Option<Index>,
    flips: Vec<(Index, u8)>,
}

/// Names an archive's entries use; links among them can chain (`l1 -> l2/..`, `l2 -> .`).
const NAMES: &[&str] = &["a", "b", "x", "sub", "l1", "l2", "f.json", "keep.json"];

fn path() -> impl Strategy<Value = String> {
    let plausible = (
        proptest::collection::vec(proptest::sample::select(NAMES), 1..3),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(parts, slash)| {
            format!("r/{}{}", parts.join("/"), if slash { "/" } else { "" })
        });
    let hostile = (
        prop_oneof![8 => Just(""), 1 => Just("/"), 1 => Just("./")],
        proptest::collection::vec(proptest::sample::select(COMPONENTS), 1..5),
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(lead, parts, slash, long)| {
            let mut p = format!("{lead}{}", parts.join("/"));
            if long {
                p.push_str(&format!("/{}", "n".repeat(150)));
            }
            if slash {
                p.push('/');
            }
            p
        });
    prop_oneof![6 => plausible, 1 => Just("r/".to_string()), 2 => hostile]
}

fn link_target() -> impl Strategy<Value = String> {
    let names = proptest::sample::select(
        &[
            "a",
            "b",
            "sub",
            "l1",
            "l2",
            "f.json",
            "keep.json",
            ".",
            "..",
        ][..],
    );
    prop_oneof![
        6 => proptest::collection::vec(names, 1..4).prop_map(|p| p.join("/")),
        2 => proptest::collection::vec(proptest::sample::select(COMPONENTS), 1..4)
            .prop_map(|p| p.join("/")),
        2 => proptest::sample::select(&[
            "../outside/sentinel", "../../outside", "..", ".", "/etc/passwd", "/", "",
            "l2/..", "l1/../..", "sub/../..", "r/keep.json", "r/f.json", "r/a", "r/sub/a",
            "r/../outside/sentinel", "r/l2/..", "r/l1", "r/",
        ][..]).prop_map(str::to_string),
    ]
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        20 => Just(Kind::Regular),
        12 => Just(Kind::Dir),
        12 => Just(Kind::Symlink),
        6 => Just(Kind::Hard),
        1 => Just(Kind::Char),
        1 => Just(Kind::Block),
        1 => Just(Kind::Fifo),
        1 => Just(Kind::Continuous),
        1 => Just(Kind::Sparse),
        1 => any::<u8>().prop_map(Kind::Other),
    ]
}

fn entry() -> impl Strategy<Value = Entry> {
    (
        (
            kind(),
            prop_oneof![6 => Just(Format::Gnu), 3 => Just(Format::Ustar), 1 => Just(Format::Old)],
            path(),
            link_target(),
            proptest::collection::vec(any::<u8>(), 0..700),
        ),
        (
            prop_oneof![
                8 => Just(0o644u32),
                2 => Just(0o755),
                1 => Just(0o4755),
                1 => Just(0o7777),
                1 => Just(0o000),
                1 => any::<u32>(),
            ],
            prop_oneof![
                16 => Just(Size::Actual),
                2 => (-600i16..600).prop_map(Size::Off),
                1 => prop_oneof![
                    Just(1u64 << 33),
                    Just(1u64 << 40),
                    Just(1u64 << 62),
                    Just(u64::MAX >> 1),
                ].prop_map(Size::Huge),
            ],
            prop::bool::weighted(0.05),
            proptest::collection::vec(
                (
                    proptest::sample::select(&["path", "linkpath", "size", "comment", "uid"][..]),
                    prop_oneof![
                        path(),
                        link_target(),
                        Just("99999999999999999999".to_string()),
                        Just("5".to_string()),
                        Just("".to_string()),
                    ],
                ),
                0..2,
            )
            .prop_map(|v| if v.len() == 1 { vec![] } else { v }),
            prop::bool::weighted(0.01),
        ),
    )
        .prop_map(
            |((kind, format, path, link, data), (mode, size, gnu_long, pax, bad_checksum))| {
                // A hard link names its target as the archive does, with the prefix.
                let link = if kind == Kind::Hard && !link.starts_with(['/', 'r']) {
                    format!("r/{link}")
                } else {
                    link
                };
                let data = match kind {
                    Kind::Regular | Kind::Continuous | Kind::Other(_) => data,
                    _ => Vec::new(),
                };
                Entry {
                    kind,
                    format,
                    path,
                    link,
                    data,
                    mode,
                    size,
                    gnu_long,
                    pax,
                    bad_checksum,
                }
            },
        )
}

fn symlink(path: &str, target: &str) -> Entry {
    Entry {
        kind: Kind::Symlink,
        format: Format::Gnu,
        path: path.to_string(),
        link: target.to_string(),
        data: Vec::new(),
        mode: 0o777,
        size: Size::Actual,
        gnu_long: false,
        pax: Vec::new(),
        bad_checksum: false,
    }
}

/// Two symlinks where the first goes through the second: `r/l1 -> l2/..` is lexically
/// inside, but with `r/l2 -> .` it resolves to the target's parent.
fn chain() -> impl Strategy<Value = Vec<Entry>> {
    (
        proptest::sample::select(&["l2/..", "l2/../..", "l2/a/../..", "l2", "l2/../l2/.."][..]),
        proptest::sample::select(&[".", "sub", "..", "a/..", "l1"][..]),
        any::<bool>(),
    )
        .prop_map(|(first, second, swap)| {
            let mut v = vec![symlink("r/l1", first), symlink("r/l2", second)];
            if swap {
                v.reverse();
            }
            v
        })
}

fn entries() -> impl Strategy<Value = Vec<Entry>> {
    (
        proptest::collection::vec(entry(), 0..9),
        prop::option::weighted(0.15, (chain(), any::<Index>())),
    )
        .prop_map(|(mut entries, chain)| {
            if let Some((pair, at)) = chain {
                let k = at.index(entries.len() + 1);
                entries.splice(k..k, pair);
            }
            entries
        })
}

fn archive() -> impl Strategy<Value = Archive> {
    (
        entries(),
        prop_oneof![
            12 => Just(End::TwoZeroBlocks),
            2 => Just(End::OneZeroBlock),
            2 => Just(End::Nothing),
            1 => proptest::collection::vec(any::<u8>(), 1..1100).prop_map(End::Garbage),
        ],
        prop::option::weighted(0.08, any::<Index>()),
        proptest::collection::vec((any::<Index>(), 1u8..=255), 0..2).prop_map(|v| {
            if v.len() == 1 && v[0].1 % 4 != 0 {
                vec![]
            } else {
                v
            }
        }),
    )
        .prop_map(|(entries, end, truncate, flips)| Archive {
            entries,
            end,
            truncate,
            flips,
        })
}

fn pad(out: &mut Vec<u8>) {
    let rem = out.len() % 512;
    if rem != 0 {
        out.extend(std::iter::repeat_n(0u8, 512 - rem));
    }
}

fn header(format: Format) -> tar::Header {
    match format {
        Format::Gnu => tar::Header::new_gnu(),
        Format::Ustar => tar::Header::new_ustar(),
        Format::Old => tar::Header::new_old(),
    }
}

/// An extension entry (`L`, `K`, `x`) holding `data`.
fn extension(out: &mut Vec<u8>, kind: u8, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::new(kind));
    let name = b"././@LongLink";
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(data);
    pad(out);
}

/// One PAX record: `"<len> key=value\n"`, where `<len>` counts the whole record.
fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let body = format!(" {key}={value}\n");
    let mut n = body.len() + 1;
    while format!("{n}{body}").len() != n {
        n += 1;
    }
    format!("{n}{body}").into_bytes()
}

fn render(a: &Archive) -> Vec<u8> {
    let mut out = Vec::new();
    for e in &a.entries {
        if !e.pax.is_empty() {
            let recs: Vec<u8> = e.pax.iter().flat_map(|(k, v)| pax_record(k, v)).collect();
            extension(&mut out, b'x', &recs);
        }
        if e.gnu_long {
            let mut p = e.path.as_bytes().to_vec();
            p.push(0);
            extension(&mut out, b'L', &p);
            if matches!(e.kind, Kind::Symlink | Kind::Hard) {
                let mut l = e.link.as_bytes().to_vec();
                l.push(0);
                extension(&mut out, b'K', &l);
            }
        }
        let mut h = header(e.format);
        h.set_entry_type(tar::EntryType::new(e.kind.byte()));
        let name = e.path.as_bytes();
        let n = name.len().min(100);
        h.as_old_mut().name[..n].copy_from_slice(&name[..n]);
        let link = e.link.as_bytes();
        if matches!(e.kind, Kind::Symlink | Kind::Hard) {
            let n = link.len().min(100);
            h.as_old_mut().linkname[..n].copy_from_slice(&link[..n]);
        }
        let declared = match e.size {
            Size::Actual => e.data.len() as u64,
            Size::Off(d) => (e.data.len() as i64 + d as i64).max(0) as u64,
            Size::Huge(s) => s,
        };
        h.set_size(declared);
        h.set_mode(e.mode);
        h.set_mtime(0);
        h.set_cksum();
        if e.bad_checksum {
            h.as_old_mut().cksum[0] ^= 0x01;
        }
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(&e.data);
        pad(&mut out);
    }
    match &a.end {
        End::TwoZeroBlocks => out.extend(std::iter::repeat_n(0u8, 1024)),
        End::OneZeroBlock => out.extend(std::iter::repeat_n(0u8, 512)),
        End::Nothing => {}
        End::Garbage(g) => out.extend_from_slice(g),
    }
    for (at, x) in &a.flips {
        if !out.is_empty() {
            let i = at.index(out.len());
            out[i] ^= x;
        }
    }
    if let Some(t) = &a.truncate {
        out.truncate(t.index(out.len() + 1));
    }
    out
}

/// Archives as the engine makes them (a directory download), for byte mutation.
fn benign_archives() -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    for variant in 0..3 {
        let mut b = tar::Builder::new(Vec::new());
        let dir = |p: &str| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            h.set_mode(0o755);
            (h, p.to_string())
        };
        let (mut h, p) = dir("bench_results/");
        b.append_data(&mut h, p, &[][..]).expect("dir");
        let (mut h, p) = dir("bench_results/production/");
        b.append_data(&mut h, p, &[][..]).expect("dir");
        let json = br#"{"completed": 8, "failed": 0, "mean_ttft_ms": 48.3}"#;
        let mut h = tar::Header::new_gnu();
        h.set_size(json.len() as u64);
        h.set_mode(0o644);
        b.append_data(
            &mut h,
            "bench_results/production/in1024_out500_c8.json",
            &json[..],
        )
        .expect("file");
        if variant >= 1 {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            h.set_mode(0o777);
            b.append_link(
                &mut h,
                "bench_results/latest.json",
                "production/in1024_out500_c8.json",
            )
            .expect("symlink");
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Link);
            h.set_size(0);
            h.set_mode(0o644);
            b.append_link(
                &mut h,
                "bench_results/copy.json",
                "bench_results/production/in1024_out500_c8.json",
            )
            .expect("hard link");
        }
        if variant == 2 {
            let long = format!("bench_results/{}.json", "x".repeat(140));
            let mut h = tar::Header::new_gnu();
            h.set_size(2);
            h.set_mode(0o600);
            b.append_data(&mut h, long, &b"{}"[..]).expect("long name");
        }
        v.push(b.into_inner().expect("tar"));
    }
    // A single file as `read_file` and a file `copy_out` see it.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o644);
    b.append_data(&mut h, "vllm-serve.log", &b"ok\n"[..])
        .expect("file");
    v.push(b.into_inner().expect("tar"));
    v
}

const TAR_DICT: &[&[u8]] = &[
    b"../",
    b"/",
    b"..",
    b"\0",
    b"0",
    b"1",
    b"2",
    b"3",
    b"5",
    b"x",
    b"L",
    b"K",
    b"ustar\0",
    b"ustar  \0",
    b"0000777",
    b"7777777",
    b"\x80\0\0\0\0\0\0\0\0\0\0\x01",
    b"\xff\xff\xff\xff",
    b"outside/",
    b"20 path=../outside\n",
    b"/etc/passwd",
];

/// The tree a case unpacks into.
struct Tree {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    dest: PathBuf,
}

const SENTINEL: &[u8] = b"sentinel: must stay as it is";

fn tree(prefilled: bool) -> Tree {
    let base = Path::new("/dev/shm");
    let tmp = if base.is_dir() {
        tempfile::Builder::new()
            .prefix("vbench-fuzz-unpack-")
            .tempdir_in(base)
    } else {
        tempfile::Builder::new()
            .prefix("vbench-fuzz-unpack-")
            .tempdir()
    }
    .expect("tempdir");
    let root = tmp.path().to_path_buf();
    let dest = root.join("dest");
    std::fs::create_dir_all(root.join("outside")).expect("mkdir outside");
    std::fs::write(root.join("outside/sentinel"), SENTINEL).expect("sentinel");
    std::fs::set_permissions(
        root.join("outside/sentinel"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    std::fs::create_dir(&dest).expect("mkdir dest");
    if prefilled {
        std::fs::write(dest.join("keep.json"), b"{}").expect("keep");
        std::fs::create_dir(dest.join("sub")).expect("sub");
        std::os::unix::fs::symlink("keep.json", dest.join("l1")).expect("symlink");
    }
    Tree {
        _tmp: tmp,
        root,
        dest,
    }
}

fn unpack(tar: &[u8], dest: &Path) -> Result<Vec<PathBuf>, DockerError> {
    let (t, d) = (tar.to_vec(), dest.to_path_buf());
    bounded(
        CASE_LIMIT,
        || format!("safe_unpack of {:?}", Bytes(tar.to_vec())),
        move || safe_unpack(&t, &d, ORIGIN),
    )
}

/// Lexically resolve `target` from directory `from` (both relative to dest); `None` if it
/// climbs out.
fn lexically_inside(from: &Path, target: &Path) -> bool {
    let mut parts: Vec<_> = Vec::new();
    for c in from.join(target).components() {
        match c {
            Component::Normal(s) => parts.push(s),
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return false;
                }
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

/// Every property of the tree after an unpack.
fn tree_holds(t: &Tree) -> Result<(), TestCaseError> {
    let mut top: Vec<String> = std::fs::read_dir(&t.root)
        .expect("read root")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    prop_assert_eq!(
        top,
        vec!["dest", "outside"],
        "something written beside dest"
    );
    let out: Vec<String> = std::fs::read_dir(t.root.join("outside"))
        .expect("read outside")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    prop_assert_eq!(out, vec!["sentinel"], "something written outside dest");
    let s = t.root.join("outside/sentinel");
    let m = std::fs::symlink_metadata(&s).expect("sentinel");
    prop_assert!(m.is_file(), "the sentinel was replaced");
    prop_assert_eq!(m.nlink(), 1, "the sentinel gained a hard link");
    prop_assert_eq!(m.mode() & 0o7777, 0o644, "the sentinel's mode changed");
    prop_assert_eq!(std::fs::read(&s).expect("read sentinel"), SENTINEL);

    let dest_real = std::fs::canonicalize(&t.dest).expect("canonical dest");
    let mut stack = vec![t.dest.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("read_dir") {
            let p = e.expect("entry").path();
            let rel = p.strip_prefix(&t.dest).expect("under dest").to_path_buf();
            let m = std::fs::symlink_metadata(&p).expect("lstat");
            let ft = m.file_type();
            prop_assert!(
                ft.is_dir() || ft.is_file() || ft.is_symlink(),
                "{:?} is a {:?}",
                rel,
                ft
            );
            prop_assert_eq!(m.mode() & 0o7000, 0, "{:?} has mode {:o}", rel, m.mode());
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() {
                prop_assert_eq!(m.nlink(), 1, "{:?} is hard-linked", rel);
            } else {
                let target = std::fs::read_link(&p).expect("readlink");
                prop_assert!(target.is_relative(), "{:?} -> {:?}", rel, target);
                let base = rel.parent().unwrap_or(Path::new(""));
                prop_assert!(
                    lexically_inside(base, &target),
                    "{:?} -> {:?} points outside",
                    rel,
                    target
                );
                if let Ok(real) = std::fs::canonicalize(&p) {
                    prop_assert!(
                        real.starts_with(&dest_real),
                        "{:?} -> {:?} resolves to {:?}",
                        rel,
                        target,
                        real
                    );
                }
            }
        }
    }
    Ok(())
}

fn outcome_holds(r: &Result<Vec<PathBuf>, DockerError>, dest: &Path) -> Result<(), TestCaseError> {
    match r {
        Ok(written) => {
            for p in written {
                prop_assert!(p.starts_with(dest), "wrote {:?}", p);
                let m = std::fs::symlink_metadata(p);
                prop_assert!(
                    m.as_ref()
                        .is_ok_and(|m| m.is_file() || m.file_type().is_symlink()),
                    "returned {:?} which is {:?}",
                    p,
                    m
                );
            }
        }
        Err(e) => {
            let shown = e.to_string();
            prop_assert!(
                shown.contains(ORIGIN),
                "error without the archive: {}",
                shown
            );
            match e {
                DockerError::UnsafeArchive { origin, entry, why } => {
                    prop_assert_eq!(origin, ORIGIN);
                    prop_assert!(!entry.is_empty(), "no entry named: {}", shown);
                    prop_assert!(!why.is_empty());
                }
                DockerError::Io { op, .. } => {
                    prop_assert!(op.contains("entry"), "no entry named: {}", shown);
                }
                other => prop_assert!(false, "unexpected error kind: {:?}", other),
            }
        }
    }
    Ok(())
}

/// Everything under `dir`: kind, contents or link target, and mode of each path.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (String, Vec<u8>, u32)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            let m = std::fs::symlink_metadata(&p).expect("lstat");
            let ft = m.file_type();
            let (kind, content) = if ft.is_symlink() {
                let t = std::fs::read_link(&p).expect("readlink");
                ("link", t.into_os_string().into_encoded_bytes())
            } else if ft.is_dir() {
                stack.push(p.clone());
                ("dir", Vec::new())
            } else if ft.is_file() {
                ("file", std::fs::read(&p).expect("read"))
            } else {
                ("other", Vec::new())
            };
            let rel = p.strip_prefix(dir).expect("under dir").to_path_buf();
            out.insert(rel, (kind.to_string(), content, m.mode() & 0o7777));
        }
    }
    out
}

/// What `Docker::read_file` does with an archive: the first entry's bytes, never more than the
/// archive holds, or an error naming the archive.
fn first_file_holds(tar: &[u8]) -> Result<(), TestCaseError> {
    let t = tar.to_vec();
    let r = bounded(
        CASE_LIMIT,
        || format!("first_file of {:?}", Bytes(tar.to_vec())),
        move || first_file(&t, ORIGIN),
    );
    match r {
        Ok(data) => prop_assert!(data.len() <= tar.len()),
        Err(e) => {
            let shown = e.to_string();
            prop_assert!(
                shown.contains(ORIGIN),
                "error without the archive: {}",
                shown
            );
        }
    }
    Ok(())
}

/// Unpack each archive in turn into one tree, checking after each.
fn check(archives: &[Vec<u8>], prefilled: bool) -> Result<(), TestCaseError> {
    let t = tree(prefilled);
    for a in archives {
        first_file_holds(a)?;
        let before = snapshot(&t.dest);
        let r = unpack(a, &t.dest);
        if let Err(e) = &r {
            prop_assert_eq!(
                &snapshot(&t.dest),
                &before,
                "refused ({}) but the target changed",
                e
            );
        }
        outcome_holds(&r, &t.dest)?;
        tree_holds(&t)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(HOSTILE_CASES, 0x7a_0001))]

    /// Hostile archives, one or two in a row into the same target.
    #[test]
    fn hostile_archives_stay_inside_the_target(
        archives in proptest::collection::vec(archive(), 1..=2),
        prefilled in prop::bool::weighted(0.3),
    ) {
        let bytes: Vec<Vec<u8>> = archives.iter().map(render).collect();
        check(&bytes, prefilled)?;
        // A sound first entry holding a file: `first_file` returns exactly its bytes.
        for (a, b) in archives.iter().zip(&bytes) {
            if let Some(e) = a.entries.first()
                && a.flips.is_empty()
                && a.truncate.is_none()
                && e.kind == Kind::Regular
                && matches!(e.size, Size::Actual)
                && e.pax.is_empty()
                && !e.bad_checksum
            {
                prop_assert_eq!(first_file(b, ORIGIN).ok(), Some(e.data.clone()));
            }
        }
    }
}

proptest! {
    #![proptest_config(config(MUTATED_CASES, 0x7a_0002))]

    /// Archives as the engine makes them, byte-mutated.
    #[test]
    fn mutated_archives_stay_inside_the_target(
        input in mutated(benign_archives(), TAR_DICT, 6),
        prefilled in any::<bool>(),
    ) {
        check(&[input.0], prefilled)?;
    }
}

proptest! {
    #![proptest_config(config(NOISE_CASES, 0x7a_0003))]

    /// Random bytes, and random 512-byte blocks behind a valid header.
    #[test]
    fn noise_is_refused_cleanly(
        input in noise(TAR_DICT, 2048),
        blocks in proptest::collection::vec(any::<u8>(), 512..1536),
    ) {
        let mut h = tar::Header::new_gnu();
        h.set_path("r/f").expect("path");
        h.set_size(blocks.len() as u64 / 2);
        h.set_cksum();
        let mut framed = h.as_bytes().to_vec();
        framed.extend_from_slice(&blocks);
        check(&[input.0, framed], false)?;
    }
}

#[test]
fn benign_archives_unpack() {
    for a in benign_archives() {
        let t = tree(false);
        let written = safe_unpack(&a, &t.dest, ORIGIN).expect("benign archive");
        assert!(!written.is_empty());
        let t2 = tree(true);
        safe_unpack(&a, &t2.dest, ORIGIN).expect("benign archive into a used target");
    }
}
