//! `vbench config --schema`: the JSON Schema of vbench.yaml, checked with a JSON Schema
//! validator (the `jsonschema` crate) on YAML turned into JSON by serde-saphyr, as an editor's
//! YAML language server sees it. The schema accepts the commented default file `vbench init`
//! writes and every form the loader reads (numbers where it reads text, `${VAR}` in a choice,
//! the three forms of `gpus`), and rejects a misspelled key at each level — and on each
//! document the loader (`vbench config`) agrees with the schema.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn vbench(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vbench"))
        .current_dir(dir)
        .args(args)
        .env_remove("VBENCH_CONFIG")
        .output()
        .expect("run vbench")
}

/// The schema as `vbench config --schema` prints it (from a directory with no vbench.yaml).
fn schema() -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = vbench(dir.path(), &["config", "--schema"]);
    assert!(
        out.status.success(),
        "config --schema: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the schema is JSON")
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&schema()).expect("the schema is a valid JSON Schema")
}

/// A YAML document as the JSON a language server validates.
fn json_of(yaml: &str) -> Value {
    serde_saphyr::from_str::<Value>(yaml).expect("YAML")
}

/// The schema's errors on `yaml`, as text: none when valid; else every failed keyword,
/// including those inside `anyOf` branches (a section may be an object or null, and an
/// editor reports the closest branch's errors: the unknown key, not "no branch matched").
fn errors(v: &jsonschema::Validator, yaml: &str) -> Vec<String> {
    let doc = json_of(yaml);
    if v.is_valid(&doc) {
        return Vec::new();
    }
    let evaluation = v.evaluate(&doc);
    let errs: Vec<String> = evaluation
        .iter_errors()
        .map(|e| format!("{} at {}", e.error, e.instance_location.as_str()))
        .collect();
    assert!(!errs.is_empty(), "invalid, yet no error listed");
    errs
}

/// Whether the loader accepts `yaml` (`vbench -c FILE config`), and its stderr.
fn loader_accepts(yaml: &str) -> (bool, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("vbench.yaml");
    std::fs::write(&path, yaml).expect("write");
    let out = vbench(dir.path(), &["-c", "vbench.yaml", "config"]);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_schema_is_draft_2020_12_and_closed() {
    let s = schema();
    assert_eq!(
        s["$schema"], "https://json-schema.org/draft/2020-12/schema",
        "{s:#}"
    );
    assert_eq!(s["title"], "vbench.yaml");
    assert_eq!(s["additionalProperties"], false);
    for def in ["Server", "Client", "Sweep", "Run", "Slo", "Combination"] {
        assert_eq!(s["$defs"][def]["additionalProperties"], false, "{def}");
    }
    // Descriptions reach the editor's hover text.
    let tp = &s["$defs"]["Server"]["properties"]["tensor_parallel_size"];
    assert!(
        tp["description"]
            .as_str()
            .is_some_and(|d| d.contains("GPUs per model replica")),
        "{tp:#}"
    );
}

#[test]
fn the_file_vbench_init_writes_is_valid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = vbench(dir.path(), &["init"]);
    assert!(out.status.success(), "init: {out:?}");
    let text = std::fs::read_to_string(dir.path().join("vbench.yaml")).expect("vbench.yaml");
    assert!(text.contains("tensor_parallel_size: 4"), "{text}");
    let v = validator();
    assert_eq!(errors(&v, &text), Vec::<String>::new());
    assert!(loader_accepts(&text).0);

    // The commented examples (a sweep, an SLO search, a matrix, hosts), uncommented as the
    // template's own test does, are valid too.
    let examples = text
        .replace("sweeps: {}\n#", "sweeps:\n")
        .replace("\n#    ", "\n    ")
        .replace("\n#  capacity:", "\n  capacity:")
        .replace("matrix: []\n#", "matrix:\n")
        .replace("hosts: []\n#", "hosts:\n")
        .replace("\n#  - name", "\n  - name");
    for part in [
        "long-context:\n    input_lens: [32K",
        "  capacity:",
        "    slo:",
        "  - name",
    ] {
        assert!(examples.contains(part), "no {part:?} in\n{examples}");
    }
    assert_eq!(errors(&v, &examples), Vec::<String>::new());
    assert!(loader_accepts(&examples).0);
}

#[test]
fn a_misspelled_key_is_rejected_at_every_level_by_schema_and_loader() {
    let v = validator();
    let text = vbench::config::template::TEMPLATE;
    for (right, wrong) in [
        ("\n  tensor_parallel_size:", "\n  tensor_paralel_size:"),
        ("\nresults_dir:", "\nresult_dir:"),
        ("\n  tokenizer:", "\n  tokeniser:"),
        ("\n  client_mode:", "\n  clientmode:"),
    ] {
        assert!(text.contains(right), "{right}");
        let bad = text.replacen(right, wrong, 1);
        let errs = errors(&v, &bad);
        let key = wrong.trim().trim_end_matches(':');
        assert!(
            errs.iter()
                .any(|e| e.contains("Additional properties") && e.contains(key)),
            "{key}: {errs:?}"
        );
        let (ok, stderr) = loader_accepts(&bad);
        assert!(
            !ok && stderr.contains(&format!("unknown key `{key}`")),
            "{stderr}"
        );
    }
    // Inside a named sweep.
    let sweep = "sweeps:\n  long:\n    input_lens: [1K]\n    output_len: 10\n    concurrency: [1]\n    warmup: 1\n";
    let errs = errors(&v, sweep);
    assert!(
        errs.iter().any(|e| e.contains("warmup")),
        "sweep key: {errs:?}"
    );
    assert!(!loader_accepts(sweep).0);
    // Inside an SLO search and a matrix combination.
    for (doc, key) in [
        (
            "sweeps:\n  long:\n    input_lens: [1K]\n    output_len: 10\n    slo:\n      ttft_p99: 2s\n      max_point: 8\n",
            "max_point",
        ),
        (
            "matrix:\n  - name: tp2\n    tensor_parallel: 2\n",
            "tensor_parallel",
        ),
    ] {
        let errs = errors(&v, doc);
        assert!(errs.iter().any(|e| e.contains(key)), "{key}: {errs:?}");
        assert!(!loader_accepts(doc).0, "{doc}");
    }
}

#[test]
fn every_form_the_loader_reads_is_valid() {
    let v = validator();
    let docs = [
        // Numbers and booleans where the loader reads text.
        "server:\n  extra_args: [\"--max-num-seqs\", 256, true]\n  env:\n    OMP_NUM_THREADS: 8\n    VLLM_USE_V1: true\n  shm_size: 17179869184\n  startup_timeout: 90\n",
        "sweeps:\n  long:\n    input_lens: [128, 1K]\n    output_len: 500\n    concurrency: [1, 2]\n    request_rate: 2.5\n    point_timeout: 600\n    layout: custom\n    repeats: 3\n",
        // ${VAR} in a choice, and the three forms of gpus.
        "server:\n  gpu: ${VBENCH_TEST_GPU:-none}\n  gpus: [4, 5, 6, 7]\n  tensor_parallel_size: 4\npull: ${VBENCH_TEST_PULL:-never}\n",
        "server:\n  gpus: 2\n  tensor_parallel_size: 2\n",
        "server:\n  gpus: \"0,1\"\n  tensor_parallel_size: 2\n",
        "server:\n  gpus: all\n",
        // null: the default.
        "server:\n  max_model_len: null\n  publish_port: null\nclient: null\n",
        // An SLO search, and a matrix.
        "sweeps:\n  slo-search:\n    input_lens: [1K]\n    output_len: 100\n    slo:\n      ttft_p99: 2s\n      tpot_p99: 50\n      by: rate\n      start: 0.5\n      max: 64\n      max_points: 10\n      boundary_repeats: 3\n      precision: 0.2\n",
        "matrix:\n  - name: tp2\n    tensor_parallel_size: 2\n    enforce_eager: false\n  - name: seqs8\n    extra_args: [--max-num-seqs, 8]\n    env:\n      VLLM_LOGGING_LEVEL: DEBUG\n",
        // An empty file.
        "",
    ];
    for doc in docs {
        assert_eq!(errors(&v, doc), Vec::<String>::new(), "{doc}");
        let (ok, stderr) = loader_accepts(doc);
        assert!(
            ok,
            "the loader refuses what the schema accepts:\n{doc}\n{stderr}"
        );
    }
}

#[test]
fn values_of_the_wrong_form_are_rejected_by_schema_and_loader() {
    let v = validator();
    for doc in [
        "server:\n  gpu: nvidea\n",
        "pull: sometimes\n",
        "server:\n  port: 70000\n",
        "server:\n  tensor_parallel_size: 0\n",
        "server:\n  gpu_memory_utilization: 1.5\n",
        "server:\n  enforce_eager: maybe\n",
        "run:\n  client_mode: thread\n",
        "server:\n  gpus: [-1]\n",
        "server: [a, b]\n",
        // A sweep without output_len, a combination without a name, a bad search.
        "sweeps:\n  long:\n    input_lens: [1K]\n    concurrency: [1]\n",
        "matrix:\n  - image: vllm/vllm-openai:v0.11.0\n",
        "sweeps:\n  long:\n    input_lens: [1K]\n    output_len: 10\n    slo:\n      ttft_p99: 2s\n      by: qps\n",
        "sweeps:\n  long:\n    input_lens: [1K]\n    output_len: 10\n    slo:\n      ttft_p99: 2s\n      max_points: 1\n",
    ] {
        assert!(!errors(&v, doc).is_empty(), "the schema accepts:\n{doc}");
        assert!(
            !loader_accepts(doc).0,
            "the loader accepts what the schema refuses:\n{doc}"
        );
    }
}
