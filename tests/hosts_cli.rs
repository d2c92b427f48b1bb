//! Named hosts (`hosts:` in the configuration) end to end, on two Docker Engines of this
//! machine (`hosts_support::SecondEngine`): `--host NAME` points a command at the named
//! engine with that host's container names, and `vbench doctor --all-hosts` checks every
//! engine of the list. The binary runs as a child process; everything is labelled
//! `vbench.test` and removed even when an assert fails (the second engine with all it holds).

mod common;
mod hosts_support;
mod matrix_support;

use std::time::Duration;

use common::{Cleanup, unique};
use hosts_support::SecondEngine;
use matrix_support::{images, run};
use vbench::standin::StandinImages;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The second engine, with the stand-in images copied in from the main one.
async fn second_engine_with_images() -> SecondEngine {
    images().await;
    let engine = SecondEngine::start().await;
    let im = StandinImages::for_tag("latest");
    engine.copy_images(&[&im.server, &im.client]).await;
    engine
}

#[tokio::test(flavor = "multi_thread")]
async fn host_flag_brings_the_server_up_on_the_named_engine_with_its_container_names() {
    let engine = second_engine_with_images().await;
    let results = tempfile::tempdir().expect("tempdir");
    let (srv, cli, net) = (unique("hst-srv"), unique("hst-cli"), unique("hst-net"));
    let host_srv = unique("hst-hsrv");
    // Were `--host` ignored, these would land on the main engine: removed from it either way.
    let cleanup = Cleanup::new();
    for c in [&srv, &cli, &host_srv] {
        cleanup.container(c);
    }
    cleanup.network(&net);
    let yaml = format!(
        "server:\n  container: {srv}\n  startup_timeout: 60s\n  env:\n    VLLM_STANDIN_LOAD_SECONDS: \"0.2\"\nclient:\n  container: {cli}\nnetwork: {net}\nresults_dir: {res}\nhosts:\n  - name: second\n    docker_host: {addr}\n    server_container: {host_srv}\n    publish_port: {port}\n",
        res = results.path().display(),
        addr = engine.docker_host,
        port = free_port(),
    );
    let cfg = results.path().join("vbench.yaml");
    std::fs::write(&cfg, yaml).expect("write config");

    let (st, out, err) = run(
        &cfg,
        &["--host", "second", "--json", "up", "--standin"],
        Duration::from_secs(180),
    )
    .await;
    assert_eq!(st.code(), Some(0), "stdout:\n{out}\nstderr:\n{err}");
    // The server runs on the second engine, under the host's own container name …
    let second = engine.docker().await;
    let state = second
        .inspect_container(&host_srv)
        .await
        .expect("inspect on the second engine")
        .expect("the host's server container exists on the second engine");
    assert!(state.running, "{state:?}");
    assert!(
        second
            .inspect_container(&srv)
            .await
            .expect("inspect")
            .is_none(),
        "the server section's name was used on the host"
    );
    // … and nothing of it on the main engine.
    let main = common::docker().await;
    for c in [&srv, &host_srv] {
        assert!(
            main.inspect_container(c).await.expect("inspect").is_none(),
            "{c} was created on the main engine"
        );
    }
    // The host keeps its state under its own directory.
    assert!(
        results.path().join("hosts/second").is_dir(),
        "no <results_dir>/hosts/second"
    );

    // A name the list does not have: its own exit code, naming the hosts there are.
    let (st, out, err) = run(&cfg, &["--host", "nope", "status"], Duration::from_secs(60)).await;
    assert_eq!(st.code(), Some(27), "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        err.contains("no host named `nope`") && err.contains("second"),
        "{err}"
    );
    drop(cleanup);
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_all_hosts_checks_every_engine_and_names_the_unreachable_one() {
    let engine = SecondEngine::start().await;
    let results = tempfile::tempdir().expect("tempdir");
    let gone = results.path().join("nobody.sock");
    let yaml = format!(
        "results_dir: {res}\nhosts:\n  - name: local\n    docker_host: unix:///var/run/docker.sock\n  - name: second\n    docker_host: {addr}\n  - name: gone\n    docker_host: unix://{gone}\n",
        res = results.path().display(),
        addr = engine.docker_host,
        gone = gone.display(),
    );
    let cfg = results.path().join("vbench.yaml");
    std::fs::write(&cfg, yaml).expect("write config");
    let (st, out, err) = run(
        &cfg,
        &["--json", "doctor", "--all-hosts"],
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(st.code(), Some(28), "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("host `gone`"), "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("one JSON report");
    let hosts = report["hosts"].as_array().expect("hosts");
    let names: Vec<&str> = hosts.iter().map(|h| h["host"].as_str().unwrap()).collect();
    assert_eq!(names, ["local", "second", "gone"]);
    assert_eq!(report["ok"], false);
    let docker_check = |h: &serde_json::Value| {
        h["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|c| c["check"] == "docker")
            .cloned()
            .expect("a docker check")
    };
    // Each live engine answered at its own address.
    for (h, addr) in [
        (&hosts[0], "unix:///var/run/docker.sock".to_string()),
        (&hosts[1], engine.docker_host.clone()),
    ] {
        assert_eq!(docker_check(h)["status"], "ok", "{h}");
        assert_eq!(h["engine"]["host"], addr.as_str(), "{h}");
    }
    assert_eq!(docker_check(&hosts[2])["status"], "fail");
    assert!(hosts[2]["engine"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tcp_host_with_tls_certificates_is_reached_and_one_without_is_not() {
    let engine = SecondEngine::start_tls().await;
    let (addr, certs) = engine.tls.clone().expect("a TLS endpoint");
    let results = tempfile::tempdir().expect("tempdir");
    // Another CA's certificates: the engine must refuse them (verification is real).
    let stranger = SecondEngine::start_tls().await;
    let (_, other_certs) = stranger.tls.clone().expect("a TLS endpoint");
    let yaml = format!(
        "results_dir: {res}\nhosts:\n  - name: tls\n    docker_host: {addr}\n    tls_cert_path: {certs}\n  - name: plain\n    docker_host: {addr}\n  - name: wrong-ca\n    docker_host: {addr}\n    tls_cert_path: {other}\n",
        res = results.path().display(),
        certs = certs.display(),
        other = other_certs.display(),
    );
    let cfg = results.path().join("vbench.yaml");
    std::fs::write(&cfg, yaml).expect("write config");
    let (st, out, err) = run(
        &cfg,
        &["--json", "doctor", "--all-hosts"],
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(st.code(), Some(28), "stdout:\n{out}\nstderr:\n{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("one JSON report");
    let hosts = report["hosts"].as_array().expect("hosts");
    let docker_status = |i: usize| {
        hosts[i]["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["check"] == "docker"))
            .map(|c| c["status"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(docker_status(0).as_deref(), Some("ok"), "{}", hosts[0]);
    assert_eq!(hosts[0]["engine"]["host"], addr.as_str());
    assert_eq!(docker_status(1).as_deref(), Some("fail"), "{}", hosts[1]);
    assert_eq!(docker_status(2).as_deref(), Some("fail"), "{}", hosts[2]);
}
