//! The `matrix:` and `slo:` configuration as the loader reads it: values, `--matrix-set`,
//! errors that name file:line:column (or the flag) and what is accepted, secrets in a
//! combination's environment kept out of `vbench config`.

use vbench::config::{Overrides, SloBy, from_text};

fn load(text: &str, o: &Overrides) -> Result<vbench::config::Config, vbench::config::ConfigError> {
    from_text(text.to_string(), Some("vbench.yaml".into()), o, None)
}

const MATRIX: &str = "server:\n  extra_args: [--enable-prefix-caching]\n  env:\n    A: \"1\"\nmatrix:\n  - name: seqs-64\n    extra_args: [\"--max-num-seqs\", \"64\"]\n  - name: tp8\n    tensor_parallel_size: 8\n    image: vllm/vllm-openai:v0.11.0\n    env:\n      A: \"\"\n      HF_TOKEN: hf_secret_value\n";

#[test]
fn combinations_override_the_server_section() {
    let c = load(MATRIX, &Overrides::default()).expect("valid");
    assert_eq!(c.matrix.len(), 2);
    let a = c.for_combination(&c.matrix[0]);
    assert_eq!(
        a.server.extra_args,
        ["--max-num-seqs", "64"],
        "replaced whole"
    );
    assert_eq!(a.server.tensor_parallel_size, 4);
    assert!(a.matrix.is_empty());
    let b = c.for_combination(&c.matrix[1]);
    assert_eq!(b.server.tensor_parallel_size, 8);
    assert_eq!(b.server.image, "vllm/vllm-openai:v0.11.0");
    assert_eq!(b.server.extra_args, ["--enable-prefix-caching"]);
    assert!(
        !b.server.env.contains_key("A"),
        "an empty value removes the key"
    );
    assert_eq!(b.server.env["HF_TOKEN"], "hf_secret_value");
    // Secrets of a combination are hidden like the server's.
    let shown = serde_json::to_string(&c.redacted()).expect("json");
    assert!(!shown.contains("hf_secret_value"), "{shown}");
    assert!(shown.contains("seqs-64"), "{shown}");
}

#[test]
fn matrix_set_adds_and_changes_combinations() {
    let o = Overrides {
        matrix_set: vec![
            "seqs-64:gpu_memory_utilization=0.95".into(),
            "eager:enforce_eager=false".into(),
            "eager:extra_args=[--max-num-seqs, \"8\"]".into(),
        ],
        ..Default::default()
    };
    let c = load(MATRIX, &o).expect("valid");
    assert_eq!(c.matrix.len(), 3);
    assert_eq!(c.matrix[0].gpu_memory_utilization, Some(0.95));
    assert_eq!(c.matrix[2].name, "eager");
    assert_eq!(c.matrix[2].enforce_eager, Some(false));
    assert_eq!(
        c.matrix[2].extra_args.as_deref(),
        Some(&["--max-num-seqs".to_string(), "8".into()][..])
    );
    // A value the server section would refuse is refused, naming the flag.
    let bad = Overrides {
        matrix_set: vec!["xx:gpu_memory_utilization=1.5".into()],
        ..Default::default()
    };
    let e = load("", &bad).expect_err("out of range");
    assert!(e.to_string().contains("--matrix-set"), "{e}");
    assert!(e.to_string().contains("must be in (0, 1]"), "{e}");
    let bad = Overrides {
        matrix_set: vec!["no-colon".into()],
        ..Default::default()
    };
    let e = load("", &bad).expect_err("form");
    assert!(e.to_string().contains("NAME:key=value"), "{e}");
}

#[test]
fn matrix_errors_name_the_place_and_the_choices() {
    let cases = [
        (
            "matrix:\n  - image: x/y:1\n",
            "vbench.yaml:2:5: matrix[0]: a combination has no `name`",
        ),
        (
            "matrix:\n  - name: aa\n  - name: aa\n",
            "matrix[1].name: `aa` also names matrix[0]",
        ),
        (
            "matrix:\n  - name: runs\n",
            "`runs` cannot name a combination",
        ),
        (
            "matrix:\n  - name: aa\n    tensor_paralel_size: 2\n",
            "did you mean `tensor_parallel_size`?",
        ),
        (
            "matrix:\n  - name: aa\n    image: Not/Valid\n",
            "matrix[0].image: `Not/Valid` is not an image reference",
        ),
        (
            "matrix:\n  - name: a b\n",
            "`a b` is not a valid combination name",
        ),
    ];
    for (text, want) in cases {
        let e = load(text, &Overrides::default()).expect_err(text);
        assert!(e.to_string().contains(want), "{text}:\n{e}");
    }
}

#[test]
fn an_slo_sweep_is_read_and_checked() {
    let text = "sweeps:\n  cap:\n    input_lens: [1K, 4K]\n    output_len: 500\n    slo:\n      ttft_p99: 2s\n      tpot_p99: 50ms\n      by: rate\n      start: 0.5\n      max: 64\n";
    let c = load(text, &Overrides::default()).expect("valid");
    let s = &c.sweeps["cap"];
    assert!(s.concurrency.is_empty());
    assert_eq!(s.prompts_per_concurrency, 4, "several waves per level");
    let slo = s.slo.as_ref().expect("slo");
    assert_eq!(
        (slo.ttft_p99, slo.tpot_p99, slo.e2el_p99),
        (Some(2000), Some(50), None)
    );
    assert_eq!(slo.by, SloBy::Rate);
    assert_eq!((slo.start, slo.max), (0.5, 64.0));
    // `vbench config` prints it as a file that loads back to the same value.
    let yaml = serde_saphyr::to_string(&c.sweeps).expect("yaml");
    let again = load(
        &format!("sweeps:\n{}", indent(&yaml)),
        &Overrides::default(),
    )
    .expect(&yaml);
    assert_eq!(again.sweeps["cap"], c.sweeps["cap"]);

    let cases = [
        (
            "sweeps:\n  cap:\n    input_lens: [1K]\n    output_len: 5\n    slo:\n      by: concurrency\n",
            "give at least one limit",
        ),
        (
            "sweeps:\n  cap:\n    input_lens: [1K]\n    output_len: 5\n    slo:\n      tpot_p99: 5ms\n      start: 1.5\n",
            "sweeps.cap.slo.start: must be an integer > 0",
        ),
        (
            "sweeps:\n  cap:\n    input_lens: [1K]\n    output_len: 5\n    slo:\n      tpot_p99: 5ms\n      by: users\n",
            "unknown search `users`",
        ),
        (
            "sweeps:\n  cap:\n    input_lens: [1K]\n    output_len: 5\n    slo:\n      tpot_p99: fast\n",
            "sweeps.cap.slo.tpot_p99",
        ),
        (
            "sweeps:\n  cap:\n    input_lens: [1K]\n    output_len: 5\n",
            "sweep has no `concurrency`",
        ),
    ];
    for (text, want) in cases {
        let e = load(text, &Overrides::default()).expect_err(text);
        assert!(e.to_string().contains(want), "{text}:\n{e}");
    }
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  {l}\n")).collect()
}
