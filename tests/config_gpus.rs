//! `server.gpus` / `--gpus` through the library loader: every accepted form, errors located at
//! file:line:column (or the flag), and the world-size check — tensor-parallel (×
//! pipeline-parallel) larger than the GPUs selected is refused at load, naming both values
//! and where each was set; with `all`, the same check once the host's count is known.

use vbench::config::{
    Config, ConfigError, GpuSelection, Origin, Overrides, check_on_host, from_text,
};

fn load_with(text: &str, o: &Overrides) -> Result<Config, ConfigError> {
    let lookup = |n: &str| match n {
        "HOME" => Some("/home/u".to_string()),
        "GPUS" => Some("2,3".to_string()),
        _ => None,
    };
    from_text(
        text.to_string(),
        Some("vbench.yaml".into()),
        o,
        Some(&lookup),
    )
}

fn load(text: &str) -> Result<Config, ConfigError> {
    load_with(text, &Overrides::default())
}

fn flag(gpus: &str) -> Overrides {
    Overrides {
        gpus: Some(gpus.into()),
        ..Default::default()
    }
}

#[test]
fn every_form_of_the_key() {
    let gpus = |t: &str| {
        load(&format!(
            "server:\n  tensor_parallel_size: 1\n  gpus: {t}\n"
        ))
        .map(|c| c.server.gpus)
    };
    assert_eq!(gpus("all").unwrap(), GpuSelection::All);
    assert_eq!(gpus("4").unwrap(), GpuSelection::Count(4));
    assert_eq!(
        gpus("[4, 5, 6, 7]").unwrap(),
        GpuSelection::Ids(vec![4, 5, 6, 7])
    );
    assert_eq!(gpus("\"4,5\"").unwrap(), GpuSelection::Ids(vec![4, 5]));
    assert_eq!(
        gpus("4,5").unwrap(),
        GpuSelection::Ids(vec![4, 5]),
        "a plain YAML string"
    );
    assert_eq!(
        gpus("${GPUS}").unwrap(),
        GpuSelection::Ids(vec![2, 3]),
        "expanded"
    );
    assert_eq!(gpus("[3]").unwrap(), GpuSelection::Ids(vec![3]));
    assert_eq!(
        load("").unwrap().server.gpus,
        GpuSelection::All,
        "the default"
    );
}

#[test]
fn bad_values_point_at_the_key() {
    for (value, why) in [
        ("0", "give at least 1"),
        ("[1, 1]", "GPU 1 is listed twice"),
        ("[]", "empty"),
        (
            "nope",
            "`nope` is not all, a GPU count or a list of GPU indices",
        ),
        ("[-1]", "out of range"),
    ] {
        let e = load(&format!("server:\n  gpus: {value}\n")).expect_err(value);
        let s = e.to_string();
        assert_eq!(e.position(), Some((2, 9)), "{value}: {s}");
        assert_eq!(e.field, "server.gpus", "{value}: {s}");
        assert!(s.contains(why), "{value}: {s}");
        assert!(
            s.contains("expected: all, a GPU count like 4"),
            "{value}: {s}"
        );
    }
    let e = load("server:\n  gpus: {a: 1}\n").expect_err("a mapping");
    let s = e.to_string();
    assert!(s.starts_with("vbench.yaml:2:"), "{s}");
    assert!(s.contains("server.gpus"), "{s}");
    assert!(s.contains("expected: all, a GPU count like 4"), "{s}");
}

#[test]
fn the_flag_wins_and_is_named_in_its_errors() {
    let c = load_with(
        "server:\n  gpus: all\n  tensor_parallel_size: 2\n",
        &flag("4,5"),
    )
    .unwrap();
    assert_eq!(c.server.gpus, GpuSelection::Ids(vec![4, 5]));
    let e = load_with("", &flag("0")).expect_err("zero");
    assert_eq!(e.origin, Origin::Flag("--gpus"));
    assert!(
        e.to_string()
            .starts_with("--gpus: server.gpus: 0 GPUs: give at least 1"),
        "{e}"
    );
}

#[test]
fn tensor_parallel_larger_than_the_selection_is_refused_at_load() {
    // TP from the file, selection from the file.
    let e = load("server:\n  tensor_parallel_size: 4\n  gpus: [4, 5]\n").expect_err("tp 4 on 2");
    let s = e.to_string();
    assert_eq!(e.position(), Some((3, 9)), "{s}");
    assert!(
        s.starts_with(
            "vbench.yaml:3:9: server.gpus: `4,5` selects 2 GPUs, but tensor_parallel_size 4 needs 4"
        ),
        "{s}"
    );
    assert!(
        s.contains("World size (4) is larger than the number of available GPUs (2)"),
        "{s}"
    );
    assert!(
        s.contains("server.tensor_parallel_size = 4 is set by vbench.yaml:2:25"),
        "{s}"
    );
    assert!(s.contains("select at least 4 GPUs"), "{s}");

    // The default TP (4) against a flag selection.
    let e = load_with("", &flag("2")).expect_err("default tp 4 on 2");
    let s = e.to_string();
    assert!(
        s.starts_with(
            "--gpus: server.gpus: `2` selects 2 GPUs, but tensor_parallel_size 4 needs 4"
        ),
        "{s}"
    );
    assert!(s.contains("is set by the built-in default"), "{s}");

    // --tp from the command line against the file's selection.
    let o = Overrides {
        tensor_parallel_size: Some(8),
        ..Default::default()
    };
    let e = load_with("server:\n  gpus: 4\n", &o).expect_err("--tp 8 on 4");
    let s = e.to_string();
    assert!(
        s.starts_with(
            "vbench.yaml:2:9: server.gpus: `4` selects 4 GPUs, but tensor_parallel_size 8"
        ),
        "{s}"
    );
    assert!(
        s.contains("server.tensor_parallel_size = 8 is set by --tp"),
        "{s}"
    );

    // Pipeline parallelism from extra_args counts too.
    let text = "server:\n  tensor_parallel_size: 2\n  extra_args: [\"--pipeline-parallel-size\", \"2\"]\n  gpus: 3\n";
    let e = load(text).expect_err("2 x 2 on 3");
    let s = e.to_string();
    assert!(
        s.contains("tensor_parallel_size 2 × pipeline_parallel_size 2 = 4 needs 4"),
        "{s}"
    );
    assert!(
        s.contains("--pipeline-parallel-size 2 is server.extra_args[0], set by vbench.yaml:3:"),
        "{s}"
    );

    // Enough GPUs: fine, and more than enough too.
    load("server:\n  tensor_parallel_size: 2\n  extra_args: [-pp, \"2\"]\n  gpus: 4\n").unwrap();
    load("server:\n  tensor_parallel_size: 1\n  gpus: [7]\n").unwrap();
}

#[test]
fn with_all_the_host_count_is_checked_when_known() {
    // Nothing set: the built-in TP 4 against a 2-GPU host points at the TP.
    let c = load("").unwrap();
    let e = check_on_host(&c, 2, "AMD", "/dev/dri/renderD128-129").expect_err("4 on 2");
    let s = e.to_string();
    assert_eq!(e.field, "server.tensor_parallel_size", "{s}");
    assert!(s.contains("this host has 2 AMD GPUs (/dev/dri/renderD128-129) and server.gpus is all, but tensor_parallel_size 4 needs 4"), "{s}");
    assert!(
        s.contains("server.gpus = all is set by the built-in default"),
        "{s}"
    );

    // `gpus: all` written in the file: the error points there.
    let c = load("server:\n  tensor_parallel_size: 8\n  gpus: all\n").unwrap();
    let e = check_on_host(&c, 4, "AMD", "x").expect_err("8 on 4");
    assert_eq!(e.position(), Some((3, 9)), "{e}");
    assert!(
        e.to_string()
            .contains("server.tensor_parallel_size = 8 is set by vbench.yaml:2:25"),
        "{e}"
    );
    check_on_host(&c, 8, "AMD", "x").expect("8 on 8");

    // An explicit selection must name GPUs the host has.
    let c = load("server:\n  tensor_parallel_size: 2\n  gpus: [2, 4]\n").unwrap();
    let e = check_on_host(&c, 4, "AMD", "/dev/dri/renderD128-131").expect_err("GPU 4 of 4");
    let s = e.to_string();
    assert!(
        s.starts_with(
            "vbench.yaml:3:9: server.gpus: `2,4` selects GPU 4, but this host has 4 AMD GPUs"
        ),
        "{s}"
    );
    assert!(s.contains("valid indices: 0..=3"), "{s}");
    check_on_host(&c, 5, "AMD", "x").expect("GPU 4 of 5");
}

#[test]
fn the_printed_configuration_loads_back_to_the_same_selection() {
    // What `vbench config` prints (the redacted value as YAML, without `source`).
    for text in [
        "server:\n  tensor_parallel_size: 1\n  gpus: [4, 6]\n",
        "server:\n  tensor_parallel_size: 1\n  gpus: 3\n",
        "",
    ] {
        let c = load(text).unwrap();
        let mut value = c.redacted();
        value
            .as_object_mut()
            .expect("an object")
            .shift_remove("source");
        let yaml = serde_saphyr::to_string(&value).expect("yaml");
        let again = load(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        assert_eq!(again.server.gpus, c.server.gpus, "{yaml}");
    }
}

#[test]
fn a_host_time_selection_error_exits_as_a_configuration_error() {
    let c = load("server:\n  tensor_parallel_size: 8\n").unwrap();
    let e = check_on_host(&c, 4, "AMD", "x").expect_err("8 on 4");
    let err = vbench::server::ServerError::Config(e);
    assert_eq!(
        vbench::exit::code_of_error(&err),
        vbench::exit::Code::Usage,
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("vbench.yaml:2:25: server.tensor_parallel_size: this host has 4 AMD GPUs"),
        "{err}"
    );
}
