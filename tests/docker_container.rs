//! Real-engine tests of the container lifecycle: created → attached, stopped → started,
//! the returned state (image, labels, published port), a missing image, list by label.

mod common;

use std::time::Duration;

use common::{Cleanup, busybox_image, busybox_spec, docker, unique};
use vbench::docker::{DockerError, Ensured, LABEL_SPEC, LABEL_TEST};

#[tokio::test]
async fn create_then_attach_then_start_after_stop() {
    let d = docker().await;
    let cleanup = Cleanup::new();
    let image = busybox_image().await;
    let name = unique("lifecycle");
    cleanup.container(&name);
    let mut spec = busybox_spec(&name, None);
    spec.init = true;
    spec.publish = Some((8000, 0));

    assert!(
        d.inspect_container(&name).await.expect("inspect").is_none(),
        "absent before create"
    );

    let (st, how) = d.ensure_container(&spec).await.expect("create");
    assert_eq!(how, Ensured::Created);
    assert!(st.running, "running after create: {st:?}");
    assert_eq!(st.name, name);
    assert_eq!(st.image, image);
    assert!(st.image_id.starts_with("sha256:"), "{}", st.image_id);
    assert_eq!(st.labels.get(LABEL_TEST).map(String::as_str), Some("1"));
    assert_eq!(st.labels.get(LABEL_SPEC), Some(&spec.spec_hash()));
    assert!(st.created_by_vbench);
    let port = st.published.expect("a host port was published");
    assert_ne!(port, 0);

    let (st2, how) = d.ensure_container(&spec).await.expect("attach");
    assert_eq!(how, Ensured::Attached);
    assert_eq!(st2.id, st.id, "attached to the same container");

    d.stop_container(&name, Duration::from_secs(5))
        .await
        .expect("stop");
    let stopped = d
        .inspect_container(&name)
        .await
        .expect("inspect")
        .expect("still exists");
    assert!(!stopped.running);
    assert_eq!(stopped.status, "exited");
    // The keep-alive traps TERM and exits 0 (with init, tini passes the signal on).
    assert_eq!(stopped.exit_code, Some(0));

    let (st3, how) = d.ensure_container(&spec).await.expect("start again");
    assert_eq!(how, Ensured::Started);
    assert!(st3.running);
    assert_eq!(st3.id, st.id);

    let listed = d
        .list_containers_labelled(&format!("{LABEL_SPEC}={}", spec.spec_hash()))
        .await
        .expect("list");
    assert!(
        listed.iter().any(|c| c.name == name),
        "listed by label: {listed:?}"
    );

    d.remove_container(&name).await.expect("remove");
    assert!(d.inspect_container(&name).await.expect("inspect").is_none());
    d.remove_container(&name)
        .await
        .expect("removing an absent container is fine");
}

#[tokio::test]
async fn a_killed_container_is_stopped_with_the_signals_code() {
    let d = docker().await;
    let cleanup = Cleanup::new();
    let name = common::start_busybox(&d, &cleanup, "kill").await;
    d.kill_container(&name, "SIGKILL").await.expect("kill");
    let st = d
        .inspect_container(&name)
        .await
        .expect("inspect")
        .expect("exists");
    assert!(!st.running);
    assert_eq!(st.exit_code, Some(137));
    assert!(matches!(
        d.kill_container(&unique("nobody"), "SIGKILL").await,
        Err(DockerError::NotFound { .. })
    ));
}

#[tokio::test]
async fn name_is_matched_exactly_not_as_substring() {
    let d = docker().await;
    let cleanup = Cleanup::new();
    busybox_image().await;
    let name = unique("exact");
    let longer = format!("{name}-old");
    cleanup.container(&longer);
    d.ensure_container(&busybox_spec(&longer, None))
        .await
        .expect("create the longer name");
    assert!(
        d.inspect_container(&name).await.expect("inspect").is_none(),
        "{name} must not match {longer}"
    );
}

#[tokio::test]
async fn missing_image_is_a_clear_not_found() {
    let d = docker().await;
    let cleanup = Cleanup::new();
    let name = unique("noimage");
    cleanup.container(&name);
    let mut spec = busybox_spec(&name, None);
    spec.image = format!("vbench-test/absent-{}:never", std::process::id());
    match d.ensure_container(&spec).await {
        Err(DockerError::NotFound { what }) => {
            assert!(what.contains(&spec.image), "{what}");
            assert!(what.contains("does not pull"), "{what}");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(d.inspect_container(&name).await.expect("inspect").is_none());
}

#[tokio::test]
async fn stopping_an_absent_container_says_not_found() {
    let d = docker().await;
    let name = unique("absent");
    match d.stop_container(&name, Duration::from_secs(1)).await {
        Err(DockerError::NotFound { what }) => assert!(what.contains(&name)),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn cleanup_guard_removes_containers_even_when_the_test_panics() {
    let d = docker().await;
    busybox_image().await;
    let name = unique("guard");
    let n = name.clone();
    // A "test" on its own thread and runtime that creates a container and then fails.
    let failed = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let d = docker().await;
            let cleanup = Cleanup::new();
            cleanup.container(&n);
            d.ensure_container(&busybox_spec(&n, None))
                .await
                .expect("create");
            panic!("deliberate failure after creating {n}");
        })
    })
    .join();
    assert!(failed.is_err(), "the inner test panicked");
    assert!(
        d.inspect_container(&name).await.expect("inspect").is_none(),
        "{name} was left behind"
    );
}
