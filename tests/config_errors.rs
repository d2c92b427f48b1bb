//! Loading `vbench.yaml` through the library: every class of configuration error names
//! file:line:column, the field path and what is accepted; expansion, units and overrides
//! land in the effective `Config`. The environment is a fixed map, not the process's.

use std::collections::HashMap;

use vbench::config::Overrides;
use vbench::config::{Config, ConfigError, GpuMode, Origin, from_text};

fn env() -> HashMap<&'static str, &'static str> {
    HashMap::from([
        ("HOME", "/home/u"),
        ("HF_TOKEN", "hf_secret123"),
        ("EMPTY", ""),
    ])
}

fn load_with(text: &str, o: &Overrides) -> Result<Config, ConfigError> {
    let vars = env();
    let lookup = move |n: &str| vars.get(n).map(|v| v.to_string());
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

fn fail(text: &str) -> (ConfigError, String) {
    let e = load(text).expect_err("expected a configuration error");
    let s = e.to_string();
    (e, s)
}

#[test]
fn misspelled_key_names_position_valid_keys_and_suggestion() {
    let (e, s) = fail("server:\n  model: m\n  tensor_paralel_size: 4\n");
    assert_eq!(e.position(), Some((3, 3)));
    assert_eq!(e.field, "server.tensor_paralel_size");
    assert!(
        s.starts_with(
            "vbench.yaml:3:3: server.tensor_paralel_size: unknown key `tensor_paralel_size`"
        ),
        "{s}"
    );
    assert!(
        s.contains("valid keys in `server`: container, image, model,"),
        "{s}"
    );
    assert!(s.contains("did you mean `tensor_parallel_size`?"), "{s}");
}

#[test]
fn unknown_key_in_each_section_lists_that_sections_keys() {
    let (e, s) = fail("networks: x\n");
    assert_eq!(e.position(), Some((1, 1)));
    assert!(
        s.contains(
            "valid keys in the top level: server, client, network, results_dir, sweeps, run"
        ),
        "{s}"
    );
    assert!(s.contains("did you mean `network`?"), "{s}");

    let (_, s) = fail("client:\n  tokeniser: t\n");
    assert!(s.contains("vbench.yaml:2:3: client.tokeniser"), "{s}");
    assert!(s.contains("did you mean `tokenizer`?"), "{s}");

    let (_, s) = fail("run:\n  seeds: 1\n");
    assert!(
        s.contains("valid keys in `run`: sweeps, seed, point_timeout"),
        "{s}"
    );

    let (_, s) =
        fail("sweeps:\n  mine:\n    input_lens: [1K]\n    output_len: 5\n    concurency: [1]\n");
    assert!(
        s.contains("vbench.yaml:5:5: sweeps.mine.concurency: unknown key"),
        "{s}"
    );
    assert!(s.contains("did you mean `concurrency`?"), "{s}");
    // Nothing close: no suggestion, still the list.
    let (_, s) = fail("server:\n  zzzzzzzz: 1\n");
    assert!(!s.contains("did you mean"), "{s}");
    assert!(s.contains("valid keys in `server`"), "{s}");
}

#[test]
fn wrong_types_point_at_the_value() {
    let (e, s) = fail("server:\n  tensor_parallel_size: four\n");
    assert_eq!(e.position(), Some((2, 25)));
    assert!(
        s.contains("server.tensor_parallel_size: not an integer"),
        "{s}"
    );
    assert!(s.contains("expected: an integer >= 1"), "{s}");

    let (e, s) = fail("server:\n  enforce_eager: maybe\n");
    assert_eq!(e.position(), Some((2, 18)));
    assert!(s.contains("expected: true or false"), "{s}");

    let (_, s) = fail("server: 5\n");
    assert!(s.contains("vbench.yaml:1:9: server:"), "{s}");
}

#[test]
fn out_of_range_and_invalid_values() {
    let cases: &[(&str, (u64, u64), &str, &str)] = &[
        (
            "server:\n  tensor_parallel_size: 0\n",
            (2, 25),
            "server.tensor_parallel_size",
            "out of range",
        ),
        (
            "server:\n  port: 70000\n",
            (2, 9),
            "server.port",
            "expected: an integer 1-65535",
        ),
        (
            "server:\n  gpu_memory_utilization: 1.5\n",
            (2, 27),
            "server.gpu_memory_utilization",
            "must be in (0, 1], got 1.5",
        ),
        (
            "server:\n  gpu_memory_utilization: 0\n",
            (2, 27),
            "server.gpu_memory_utilization",
            "must be in (0, 1]",
        ),
        (
            "server:\n  gpu: intel\n",
            (2, 8),
            "server.gpu",
            "valid choices: auto, nvidia, amd, none",
        ),
        (
            "server:\n  startup_timeout: soon\n",
            (2, 20),
            "server.startup_timeout",
            "not a duration",
        ),
        (
            "server:\n  startup_timeout: 0s\n",
            (2, 20),
            "server.startup_timeout",
            "longer than 0s",
        ),
        (
            "server:\n  shm_size: 16q\n",
            (2, 13),
            "server.shm_size",
            "not a size",
        ),
        (
            "server:\n  container: bad name\n",
            (2, 14),
            "server.container",
            "not a valid container name",
        ),
        (
            "server:\n  volumes: [/only-one-part]\n",
            (2, 13),
            "server.volumes[0]",
            "is not a volume",
        ),
        (
            "client:\n  container: vllm-server\n",
            (2, 14),
            "client.container",
            "also the server container's name",
        ),
        (
            "client:\n  result_dir: relative/dir\n",
            (2, 15),
            "client.result_dir",
            "absolute path",
        ),
        (
            "network: ''\n",
            (1, 10),
            "network",
            "not a valid network name",
        ),
        (
            "run:\n  sweeps: []\n",
            (2, 11),
            "run.sweeps",
            "at least one sweep",
        ),
        (
            "run:\n  point_timeout: 1x\n",
            (2, 18),
            "run.point_timeout",
            "not a duration",
        ),
        (
            "sweeps:\n  s1:\n    input_lens: [1K, 4X]\n    output_len: 5\n    concurrency: [1]\n",
            (3, 22),
            "sweeps.s1.input_lens[1]",
            "K = 1024 tokens",
        ),
        (
            "sweeps:\n  s1:\n    input_lens: [1K]\n    output_len: 5\n    concurrency: []\n",
            (5, 18),
            "sweeps.s1.concurrency",
            "must not be empty",
        ),
        (
            "sweeps:\n  s1:\n    input_lens: []\n    output_len: 5\n    concurrency: [1]\n",
            (3, 17),
            "sweeps.s1.input_lens",
            "must not be empty",
        ),
        (
            "sweeps:\n  s1:\n    input_lens: [1K]\n    output_len: 5\n    concurrency: [0]\n",
            (5, 19),
            "sweeps.s1.concurrency[0]",
            "out of range",
        ),
        (
            "sweeps:\n  s1:\n    input_lens: [1K]\n    output_len: 5\n    concurrency: [1]\n    layout: wide\n",
            (6, 13),
            "sweeps.s1.layout",
            "valid choices: production, scaling, custom",
        ),
        (
            "sweeps:\n  s1:\n    input_lens: [1K]\n    output_len: 5\n    concurrency: [1]\n    request_rate: fast\n",
            (6, 19),
            "sweeps.s1.request_rate",
            "not a request rate",
        ),
        (
            "sweeps:\n  s1:\n    input_lens: [1K]\n    concurrency: [1]\n",
            (3, 5),
            "sweeps.s1",
            "sweep has no `output_len`",
        ),
        (
            "sweeps:\n  production:\n    input_lens: [1K]\n    output_len: 5\n    concurrency: [1]\n",
            (3, 5),
            "sweeps.production",
            "built-in preset",
        ),
    ];
    for (text, pos, field, needle) in cases {
        let (e, s) = fail(text);
        assert_eq!(e.position(), Some(*pos), "{text}\n{s}");
        assert_eq!(e.field, *field, "{text}\n{s}");
        assert!(s.contains(needle), "{text}\nwanted `{needle}` in:\n{s}");
        let (l, c) = pos;
        assert!(
            s.starts_with(&format!("vbench.yaml:{l}:{c}: {field}: ")),
            "{s}"
        );
    }
}

#[test]
fn unknown_run_sweep_suggests_a_name() {
    let (e, s) = fail("run:\n  sweeps: [prodution]\n");
    assert_eq!(e.position(), Some((2, 12)));
    assert!(
        s.contains("valid choices: production, scaling, scaling-200"),
        "{s}"
    );
    assert!(s.contains("did you mean `production`?"), "{s}");
}

#[test]
fn unset_variable_names_file_line_and_variable() {
    let (e, s) = fail("server:\n  model: ${MODEL_ID}\n");
    assert_eq!(e.position(), Some((2, 10)));
    assert!(
        s.contains("server.model: environment variable MODEL_ID is not set"),
        "{s}"
    );
}

#[test]
fn unset_home_in_a_default_is_a_clear_error() {
    let lookup = |_: &str| None;
    let e = from_text(String::new(), None, &Overrides::default(), Some(&lookup)).unwrap_err();
    assert_eq!(e.origin, Origin::Default);
    let s = e.to_string();
    assert!(
        s.contains("server.volumes[0]: environment variable HOME is not set"),
        "{s}"
    );
    assert!(s.contains("built-in default"), "{s}");
    // Replacing the volumes in the file avoids it.
    let text = "server:\n  volumes: []\nclient:\n  volumes: []\n";
    let c = from_text(text.into(), None, &Overrides::default(), Some(&lookup)).unwrap();
    assert!(c.server.volumes.is_empty() && c.server.env.is_empty());
}

#[test]
fn expansion_defaults_escapes_and_token_passthrough() {
    let c = load("server:\n  model: ${MODEL:-org/m}\n  extra_args: [\"--price\", \"$$5\"]\n  env:\n    A: ${EMPTY}\n    B: x${HOME}\n").unwrap();
    assert_eq!(c.server.model, "org/m");
    assert_eq!(c.server.extra_args, ["--price", "$5"]);
    assert_eq!(c.server.env.get("B").map(String::as_str), Some("x/home/u"));
    // Empty after expansion: not passed.
    assert!(!c.server.env.contains_key("A"));
    // The default `HF_TOKEN: ${HF_TOKEN:-}` passes the token when set...
    assert_eq!(
        c.server.env.get("HF_TOKEN").map(String::as_str),
        Some("hf_secret123")
    );
    assert_eq!(
        c.server.volumes,
        ["/home/u/.cache/huggingface:/root/.cache/huggingface"]
    );
    // ...and nothing when unset.
    let lookup = |n: &str| (n == "HOME").then(|| "/h".to_string());
    let c = from_text(String::new(), None, &Overrides::default(), Some(&lookup)).unwrap();
    assert!(!c.server.env.contains_key("HF_TOKEN"));
}

#[test]
fn units_and_sweeps_land_in_the_config() {
    let text = "server:\n  shm_size: 8GiB\n  startup_timeout: 1h30m\n  gpu: amd\n  max_model_len: 32768\n  publish_port: 18000\n\
sweeps:\n  long:\n    input_lens: [1K, 4K, 96K, 1000]\n    output_len: 1K\n    concurrency: [1, 2, 5]\n    request_rate: 2.5\n    point_timeout: 90m\n\
run:\n  sweeps: [production, long]\n  seed: 7\n  point_timeout: 2h\n";
    let c = load(text).unwrap();
    assert_eq!(c.server.shm_size, Some(8 << 30));
    assert_eq!(c.server.startup_timeout.as_secs(), 5400);
    assert_eq!(c.server.gpu, GpuMode::Amd);
    assert_eq!(c.server.max_model_len, Some(32768));
    assert_eq!(c.server.publish_port, Some(18000));
    let s = &c.sweeps["long"];
    assert_eq!(s.input_lens, [1024, 4096, 98_304, 1000]);
    assert_eq!(s.output_len, 1024);
    assert_eq!(s.concurrency, [1, 2, 5]);
    assert_eq!(s.request_rate, "2.5");
    assert_eq!(s.prompts_per_concurrency, 1);
    assert_eq!(s.point_timeout.as_deref(), Some("90m"));
    assert_eq!(c.run.sweeps, ["production", "long"]);
    assert_eq!((c.run.seed, c.run.point_timeout.as_secs()), (7, 7200));
}

#[test]
fn maps_merge_and_lists_replace() {
    let c =
        load("server:\n  env:\n    VLLM_LOGGING_LEVEL: DEBUG\n  volumes: [\"/data:/data:ro\"]\n")
            .unwrap();
    assert_eq!(c.server.env.len(), 2, "{:?}", c.server.env);
    assert_eq!(c.server.volumes, ["/data:/data:ro"]);
}

#[test]
fn overrides_win_and_are_validated_by_flag_name() {
    let text = "server:\n  model: file/model\n  tensor_parallel_size: 2\n  gpu: nvidia\nnetwork: filenet\n";
    let o = Overrides {
        model: Some("flag/model".into()),
        tensor_parallel_size: Some(8),
        gpu: Some("none".into()),
        network: Some("flagnet".into()),
        startup_timeout: Some("90s".into()),
        ..Default::default()
    };
    let c = load_with(text, &o).unwrap();
    assert_eq!(c.server.model, "flag/model");
    assert_eq!(c.server.tensor_parallel_size, 8);
    assert_eq!(c.server.gpu, GpuMode::None);
    assert_eq!(c.network, "flagnet");
    assert_eq!(c.server.startup_timeout.as_secs(), 90);

    let bad = Overrides {
        tensor_parallel_size: Some(0),
        ..Default::default()
    };
    let e = load_with(text, &bad).unwrap_err();
    assert_eq!(e.origin, Origin::Flag("--tp"));
    assert!(
        e.to_string()
            .starts_with("--tp: server.tensor_parallel_size: must be >= 1"),
        "{e}"
    );
    let bad = Overrides {
        startup_timeout: Some("forever".into()),
        ..Default::default()
    };
    assert!(
        load_with(text, &bad)
            .unwrap_err()
            .to_string()
            .starts_with("--startup-timeout: ")
    );
}

#[test]
fn empty_file_and_comments_only_give_defaults() {
    let lookup = |n: &str| (n == "HOME").then(|| "/h".to_string());
    let a = from_text(String::new(), None, &Overrides::default(), Some(&lookup)).unwrap();
    let b = from_text(
        "# nothing\n".into(),
        None,
        &Overrides::default(),
        Some(&lookup),
    )
    .unwrap();
    assert_eq!(a, b);
    assert_eq!(
        a.server.tensor_parallel_size,
        Config::default().server.tensor_parallel_size
    );
}
