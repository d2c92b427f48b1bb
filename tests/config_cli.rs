//! `vbench init` and `vbench config` through the real binary, in temporary directories:
//! the template round-trips to the defaults, init refuses to overwrite, a typo fails with
//! file:line:column and exit 2, flags beat the file, and secrets never reach the output.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use vbench::config::Config;

const HOME: &str = "/home/vbt";

/// The binary with a controlled environment: fixed HOME, no HF_TOKEN, no VBENCH_CONFIG.
fn vbench(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vbench"));
    c.current_dir(dir)
        .args(args)
        .env("HOME", HOME)
        .env_remove("HF_TOKEN")
        .env_remove("VBENCH_CONFIG")
        .env_remove("DOCKER_HOST");
    c
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run vbench");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// The YAML body of `vbench config` (without its first comment line).
fn body(stdout: &str) -> String {
    assert!(stdout.starts_with("# vbench configuration: "), "{stdout}");
    stdout
        .split_once('\n')
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

#[test]
fn init_then_config_prints_exactly_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run(&mut vbench(dir.path(), &["init"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("wrote vbench.yaml"), "{out}");
    assert!(dir.path().join("vbench.yaml").is_file());

    // From the file (found as ./vbench.yaml) and from built-in defaults (empty directory).
    let (code, from_file, err) = run(&mut vbench(dir.path(), &["config"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        from_file.lines().next().unwrap().contains("vbench.yaml"),
        "{from_file}"
    );
    let empty = tempfile::tempdir().unwrap();
    let (code, from_defaults, err) = run(&mut vbench(empty.path(), &["config"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        from_defaults
            .lines()
            .next()
            .unwrap()
            .contains("built-in defaults"),
        "{from_defaults}"
    );
    assert_eq!(body(&from_file), body(&from_defaults));

    // The JSON form equals Config::default() once ${HOME} is expanded and the empty
    // HF_TOKEN dropped (it is unset here).
    let (code, json, err) = run(&mut vbench(dir.path(), &["config", "--json"]));
    assert_eq!(code, 0, "{err}");
    let mut got: Value = serde_json::from_str(&json).unwrap();
    let src = got.as_object_mut().unwrap().shift_remove("source").unwrap();
    assert!(src.as_str().unwrap().ends_with("/vbench.yaml"), "{src}");
    let mut want = serde_json::to_value(Config::default()).unwrap();
    want.as_object_mut().unwrap().shift_remove("source");
    want["server"]["env"] = serde_json::json!({});
    for section in ["server", "client"] {
        for v in want[section]["volumes"].as_array_mut().unwrap() {
            *v = Value::String(v.as_str().unwrap().replace("${HOME}", HOME));
        }
    }
    assert_eq!(got, want);
}

#[test]
fn printed_config_is_itself_a_loadable_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("in.yaml"),
        "server:\n  model: org/m\n  shm_size: 2g\nsweeps:\n  mine:\n    input_lens: [1K, 2K]\n    output_len: 128\n    concurrency: [1, 2]\nrun:\n  sweeps: [mine]\n",
    )
    .unwrap();
    let (code, first, err) = run(&mut vbench(dir.path(), &["-c", "in.yaml", "config"]));
    assert_eq!(code, 0, "{err}");
    std::fs::write(dir.path().join("out.yaml"), &first).unwrap();
    let (code, second, err) = run(&mut vbench(dir.path(), &["-c", "out.yaml", "config"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(body(&first), body(&second));
    // `1K, 2K` were read as token counts.
    assert!(
        first.contains("- 1024") && first.contains("- 2048"),
        "{first}"
    );
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.yaml");
    std::fs::write(&path, "network: keep-me\n").unwrap();
    let (code, _, err) = run(&mut vbench(dir.path(), &["init", "mine.yaml"]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("mine.yaml already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "network: keep-me\n"
    );

    let (code, _, err) = run(&mut vbench(dir.path(), &["init", "mine.yaml", "--force"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        vbench::config::template::TEMPLATE
    );
}

#[test]
fn misspelled_key_fails_with_position_and_valid_keys() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("vbench.yaml"),
        "# my settings\nserver:\n  model: org/m\n  tensor_paralel_size: 2\n",
    )
    .unwrap();
    let (code, out, err) = run(&mut vbench(dir.path(), &["config"]));
    assert_eq!(code, 2, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("vbench.yaml:4:3: server.tensor_paralel_size: unknown key"),
        "{err}"
    );
    assert!(
        err.contains("valid keys in `server`:") && err.contains("tensor_parallel_size"),
        "{err}"
    );
    assert!(
        err.contains("did you mean `tensor_parallel_size`?"),
        "{err}"
    );
}

#[test]
fn missing_config_file_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(&mut vbench(
        dir.path(),
        &["--config", "absent.yaml", "config"],
    ));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("absent.yaml"), "{err}");
    // VBENCH_CONFIG is the same option.
    let (code, _, err) = run(vbench(dir.path(), &["config"]).env("VBENCH_CONFIG", "absent2.yaml"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("absent2.yaml"), "{err}");
}

#[test]
fn flags_override_file_values() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("vbench.yaml"), "server:\n  model: file/model\n  tensor_parallel_size: 2\n  enforce_eager: true\nnetwork: filenet\n").unwrap();
    let (code, out, err) = run(&mut vbench(
        dir.path(),
        &[
            "config",
            "--json",
            "--tp",
            "8",
            "--model",
            "flag/model",
            "--enforce-eager",
            "false",
            "--network",
            "flagnet",
        ],
    ));
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["server"]["tensor_parallel_size"], 8);
    assert_eq!(v["server"]["model"], "flag/model");
    assert_eq!(v["server"]["enforce_eager"], false);
    assert_eq!(v["network"], "flagnet");
    // A bad flag value is a usage error named by the flag.
    let (code, _, err) = run(&mut vbench(
        dir.path(),
        &["config", "--gpu-memory-utilization", "2"],
    ));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--gpu-memory-utilization: server.gpu_memory_utilization: must be in (0, 1]"),
        "{err}"
    );
}

#[test]
fn secrets_never_appear_in_config_output() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("vbench.yaml"),
        "server:\n  extra_args: [\"--api-key\", \"sk-live-777\", \"--max-num-seqs\", \"64\"]\n  env:\n    MY_PASSWORD: ${DB_PASS}\nclient:\n  extra_args: [\"--header=Authorization: Bearer sk-live-777\"]\n",
    )
    .unwrap();
    for args in [&["config"][..], &["config", "--json"][..]] {
        let (code, out, err) = run(vbench(dir.path(), args)
            .env("HF_TOKEN", "hf_secret123")
            .env("DB_PASS", "pw-hunter2"));
        assert_eq!(code, 0, "{err}");
        for secret in ["hf_secret123", "sk-live-777", "pw-hunter2"] {
            assert!(!out.contains(secret), "{secret} leaked in {args:?}:\n{out}");
            assert!(!err.contains(secret), "{secret} leaked on stderr:\n{err}");
        }
        assert!(out.contains("HF_TOKEN") && out.contains("***"), "{out}");
        assert!(out.contains("--max-num-seqs"), "{out}");
    }
}
