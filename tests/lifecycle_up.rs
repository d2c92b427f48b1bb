//! `vbench up` against the real engine and the stand-in images: a fresh container reaches
//! ready (record, host log, status with max_model_len and version), a second `up` reuses the
//! same process, another model is refused without `--restart` and served with it, `health`
//! answers, and `down` leaves no `vllm serve` behind and removes what vbench created.

mod common;
mod lifecycle_support;

use std::time::Duration;

use lifecycle_support as sup;
use vbench::server::{self, DownOptions, UpOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_up_reuse_restart_status_down() {
    let d = common::docker().await;
    sup::images(&d).await;
    let mut st = sup::stack("up");
    // Published on loopback: the host probes go there.
    let port = sup::free_port();
    st.cfg.server.publish_port = Some(port);
    let cfg = &st.cfg;
    let sink = sup::sink();

    // Fresh create → ready.
    let info = server::up(&d, cfg, &UpOptions::default(), sink.as_ref())
        .await
        .expect("up");
    assert!(!info.reused);
    assert_eq!(info.model_id, server::STANDIN_MODEL);
    assert!(info.max_model_len > 0, "{info:?}");
    assert!(info.version.contains("standin"), "{info:?}");
    assert_eq!(
        info.url_in_network,
        format!("http://{}:8000", cfg.server.container)
    );
    assert_eq!(info.url_from_host, format!("http://127.0.0.1:{port}"));
    let state = d
        .inspect_container(&cfg.server.container)
        .await
        .expect("inspect")
        .expect("exists");
    assert!(server::created_by_vbench(&state) && state.labels.contains_key("vbench.test"));

    // The record and the host copy of the log.
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&info.record_path).expect("record")).expect("json");
    assert_eq!(rec["vllm_version"], info.version.as_str());
    assert_eq!(rec["max_model_len"], info.max_model_len);
    assert!(
        rec["serve_argv"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == "serve"))
    );
    assert!(
        rec["image"]["id"]
            .as_str()
            .is_some_and(|s| s.starts_with("sha256:")),
        "{rec}"
    );
    assert_eq!(rec["vbench_version"], env!("CARGO_PKG_VERSION"));
    let host_log = rec["host_log"].as_str().expect("host_log").to_string();
    let text = std::fs::read_to_string(&host_log).expect("host log");
    assert!(text.contains("Application startup complete."), "{text}");
    // The live status line went through every stage.
    let events = format!("{:?}", sink.0.lock().expect("events"));
    for s in ["log milestone", "GET /health = 200", "GET /v1/models lists"] {
        assert!(events.contains(s), "no {s:?} in {events}");
    }

    // Status carries the model facts.
    let report = server::status::gather(&d, cfg).await.expect("status");
    let json = serde_json::to_value(&report).expect("json");
    assert_eq!(json["serve"]["max_model_len"], info.max_model_len);
    assert_eq!(json["serve"]["version"], info.version.as_str());
    assert_eq!(json["serve"]["running"], true);
    assert_eq!(json["server"]["created_by_vbench"], true);

    // Same model, same args → reused, same process.
    let (_, pid1) = sup::sh(&d, &cfg.server.container, "cat /tmp/vbench-serve.pid").await;
    let again = server::up(&d, cfg, &UpOptions::default(), sup::sink().as_ref())
        .await
        .expect("second up");
    assert!(again.reused);
    let (_, pid2) = sup::sh(&d, &cfg.server.container, "cat /tmp/vbench-serve.pid").await;
    assert_eq!(pid1, pid2);
    assert_eq!(
        sup::serve_processes(&d, &cfg.server.container).await.len(),
        1,
        "exactly one vllm serve"
    );

    // Another model: refused without --restart, served with it.
    let mut other = cfg.clone();
    other.server.model = "standin/other-model".into();
    // With an API key: the probes must authenticate, and the key must never be written.
    let key = "sk-vbench-test-key-4242";
    other.server.extra_args = vec!["--api-key".into(), key.into()];
    let err = server::up(&d, &other, &UpOptions::default(), sup::sink().as_ref())
        .await
        .expect_err("mismatch");
    assert_eq!(sup::code(&err), 20, "{err:#}");
    assert!(format!("{err:#}").contains("--restart"));
    let restarted = server::up(
        &d,
        &other,
        &UpOptions {
            restart: true,
            standin: false,
        },
        sup::sink().as_ref(),
    )
    .await
    .expect("restart");
    assert!(!restarted.reused);
    assert_eq!(restarted.model_id, "standin/other-model");
    let rec = std::fs::read_to_string(&restarted.record_path).expect("record");
    assert!(!rec.contains(key) && rec.contains("***"), "{rec}");
    for e in std::fs::read_dir(st.results.path().join("logs"))
        .expect("logs")
        .flatten()
    {
        let text = std::fs::read_to_string(e.path()).expect("host log");
        assert!(
            !text.contains(key),
            "{} holds the API key",
            e.path().display()
        );
    }
    assert_eq!(
        sup::serve_processes(&d, &cfg.server.container).await.len(),
        1,
        "the old server is gone"
    );

    let h = server::health(&d, &other).await.expect("health");
    assert!(h.healthy && h.process_alive && h.container_running, "{h:?}");

    // The client container: created on the network, its result dir made, and it reaches the
    // server by container name.
    let client = server::ensure_client(&d, cfg, sup::sink().as_ref())
        .await
        .expect("client");
    assert!(server::created_by_vbench(&client) && client.running);
    let (rc, _) = sup::sh(
        &d,
        &cfg.client.container,
        &format!("test -d {}", cfg.client.result_dir),
    )
    .await;
    assert_eq!(rc, Some(0), "result dir exists in the client");
    let (rc, out) = sup::sh(
        &d,
        &cfg.client.container,
        &format!(
            "wget -q -O - --header 'Authorization: Bearer {key}' {}/v1/models",
            restarted.url_in_network
        ),
    )
    .await;
    assert_eq!(rc, Some(0), "client reaches the server by name: {out}");
    assert!(out.contains("standin/other-model"), "{out}");
    let again = server::ensure_client(&d, cfg, sup::sink().as_ref())
        .await
        .expect("client again");
    assert_eq!(again.id, client.id, "attached, not recreated");

    // down: no vllm serve left; the final log is kept; --remove removes what vbench created.
    server::down(&d, &other, &DownOptions::default(), sup::sink().as_ref())
        .await
        .expect("down");
    assert!(
        sup::serve_processes(&d, &cfg.server.container)
            .await
            .is_empty()
    );
    let h = server::health(&d, &other).await.expect("health after down");
    assert!(!h.process_alive && !h.healthy, "{h:?}");
    let logs: Vec<_> = std::fs::read_dir(st.results.path().join("logs"))
        .expect("logs dir")
        .flatten()
        .collect();
    assert!(
        logs.iter()
            .any(|e| e.file_name().to_string_lossy().ends_with("-final.log"))
    );
    server::down(
        &d,
        &other,
        &DownOptions {
            remove: true,
            force: false,
        },
        sup::sink().as_ref(),
    )
    .await
    .expect("down --remove");
    assert!(
        d.inspect_container(&cfg.client.container)
            .await
            .expect("inspect")
            .is_none(),
        "the client vbench created is removed too"
    );
    assert!(
        d.inspect_container(&cfg.server.container)
            .await
            .expect("inspect")
            .is_none()
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
}
