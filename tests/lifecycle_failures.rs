//! Failed starts are diagnosed, fast: every fatal fault knob of the stand-in yields its named
//! cause and exit code within the deadline + 5 s; bad arguments; a container killed during
//! start-up (ContainerDied); a hanging server (diagnosed at the deadline).

mod common;
mod lifecycle_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use lifecycle_support as sup;
use vbench::docker::GpuPreset;
use vbench::server::{self, UpOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fatal_knob_names_its_cause() {
    let d = common::docker().await;
    sup::images(&d).await;
    let st = sup::stack("fatal");
    let deadline = Duration::from_secs(30);
    let cases: &[(&str, &str, u8)] = &[
        ("VLLM_STANDIN_FAIL_AT_START", "kv-cache", 10),
        ("VLLM_STANDIN_FAIL_AT_START", "oom", 11),
        ("VLLM_STANDIN_FAIL_AT_START", "max-model-len", 12),
        ("VLLM_STANDIN_FAIL_AT_START", "model-not-found", 13),
        ("VLLM_STANDIN_FAIL_AT_START", "port-in-use", 14),
        ("VLLM_STANDIN_FAIL_AT_START", "no-gpu", 16),
    ];
    // One container for all cases (each failed start is stopped, so the next can start),
    // created up front with the base environment: the knobs then go to `vllm serve` only.
    d.ensure_network(
        &st.cfg.network,
        &vbench::server::spec::labels(d.extra_labels(), "network"),
    )
    .await
    .expect("network");
    d.ensure_container(&vbench::server::spec::server_spec(
        &st.cfg,
        GpuPreset::None,
        &vbench::server::gpus::HostGpus::default(),
        d.extra_labels(),
    ))
    .await
    .expect("server container");
    for (knob, value, want) in cases {
        let mut cfg = st.cfg.clone();
        cfg.server.startup_timeout = deadline;
        cfg.server.env.insert(knob.to_string(), value.to_string());
        let sink = sup::TimedSink::default();
        let err = server::up(&d, &cfg, &UpOptions::default(), &sink)
            .await
            .expect_err(value);
        let took = sink.since_first_stage();
        let msg = format!("{err:#}");
        assert_eq!(sup::code(&err), *want, "{value}: {msg}");
        assert!(
            took < deadline + Duration::from_secs(5),
            "{value}: took {took:?}"
        );
        assert!(
            msg.contains("last") && msg.contains("lines of the serve log"),
            "{value}: no log tail in {msg}"
        );
        assert!(
            sup::serve_processes(&d, &cfg.server.container)
                .await
                .is_empty(),
            "{value}: a vllm serve is left"
        );
    }

    // Unrecognised arguments: argparse refuses them (exit 2) → 15.
    let mut cfg = st.cfg.clone();
    cfg.server.extra_args = vec!["--no-such-flag".into()];
    let err = server::up(&d, &cfg, &UpOptions::default(), sup::sink().as_ref())
        .await
        .expect_err("bad args");
    assert_eq!(sup::code(&err), 15, "{err:#}");
    assert!(format!("{err:#}").contains("--no-such-flag"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_killed_during_startup_is_container_died() {
    let d = common::docker().await;
    sup::images(&d).await;
    let st = sup::stack("died");
    let mut cfg = st.cfg.clone();
    cfg.server
        .env
        .insert("VLLM_STANDIN_LOAD_SECONDS".into(), "60".into());
    let (d2, cfg2) = (d.clone(), cfg.clone());
    let sink = sup::sink();
    let sink2 = Arc::clone(&sink);
    let up =
        tokio::spawn(
            async move { server::up(&d2, &cfg2, &UpOptions::default(), sink2.as_ref()).await },
        );
    // Wait until the model is "loading", then kill the container under it.
    let t = Instant::now();
    loop {
        let seen = format!("{:?}", sink.0.lock().expect("events"));
        if seen.contains("loading the model") {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "never reached the loading stage: {seen}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let killed = Instant::now();
    d.stop_container(&cfg.server.container, Duration::ZERO)
        .await
        .expect("kill the container");
    let err = tokio::time::timeout(Duration::from_secs(30), up)
        .await
        .expect("up returns")
        .expect("join")
        .expect_err("died");
    assert_eq!(sup::code(&err), 19, "{err:#}");
    assert!(
        killed.elapsed() < Duration::from_secs(15),
        "diagnosed late: {:?}",
        killed.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_server_is_diagnosed_at_the_deadline() {
    let d = common::docker().await;
    sup::images(&d).await;
    let st = sup::stack("hang");
    let mut cfg = st.cfg.clone();
    let deadline = Duration::from_secs(8);
    cfg.server.startup_timeout = deadline;
    cfg.server
        .env
        .insert("VLLM_STANDIN_HANG_AFTER_REQUESTS".into(), "0".into());
    // The deadline counts from the launch (the first stage event), not from container set-up.
    let sink = sup::TimedSink::default();
    let err = server::up(&d, &cfg, &UpOptions::default(), &sink)
        .await
        .expect_err("hang");
    let took = sink.since_first_stage();
    assert_eq!(sup::code(&err), 17, "{err:#}");
    assert!(format!("{err:#}").contains("deadline"), "{err:#}");
    assert!(
        took >= deadline && took < deadline + Duration::from_secs(5),
        "took {took:?}"
    );
    assert!(
        sup::serve_processes(&d, &cfg.server.container)
            .await
            .is_empty(),
        "the hanging server is stopped"
    );
}
