//! Real-engine tests of networks: idempotent creation, and two containers on a user-defined
//! network reaching each other by name (DNS by container name and alias, TCP via busybox),
//! and leaving it.

mod common;

use std::time::{Duration, Instant};

use common::{Cleanup, busybox_image, busybox_spec, docker, test_labels, unique};
use vbench::docker::{ExecSpec, LABEL_TEST};

#[tokio::test]
async fn network_is_created_once_and_listed_by_label() {
    let d = docker().await;
    let cleanup = Cleanup::new();
    let net = unique("net");
    cleanup.network(&net);
    assert!(
        d.ensure_network(&net, &test_labels())
            .await
            .expect("create")
    );
    assert!(
        !d.ensure_network(&net, &test_labels()).await.expect("again"),
        "second call finds it"
    );
    let listed = d
        .list_networks_labelled(&format!("{LABEL_TEST}=1"))
        .await
        .expect("list");
    assert_eq!(
        listed.iter().filter(|n| **n == net).count(),
        1,
        "exactly one network named {net}: {listed:?}"
    );
    d.remove_network(&net).await.expect("remove");
    assert!(!d.network_exists(&net).await.expect("exists?"));
    d.remove_network(&net)
        .await
        .expect("removing an absent network is fine");
}

#[tokio::test]
async fn two_containers_resolve_and_reach_each_other_by_name() {
    let d = docker().await;
    let cleanup = Cleanup::new();
    busybox_image().await;
    let net = unique("pair-net");
    let server = unique("pair-server");
    let client = unique("pair-client");
    // Containers are removed before the network (Cleanup's order), whatever was registered first.
    cleanup.network(&net);
    cleanup.container(&server);
    cleanup.container(&client);
    d.ensure_network(&net, &test_labels())
        .await
        .expect("network");
    let mut spec = busybox_spec(&server, Some(&net));
    spec.aliases = vec![format!("{server}-alias")];
    let (st, _) = d.ensure_container(&spec).await.expect("server");
    assert_eq!(st.networks, vec![net.clone()]);
    // The client starts on the default bridge and joins the network afterwards.
    d.ensure_container(&busybox_spec(&client, None))
        .await
        .expect("client");
    d.connect_network(&client, &net).await.expect("connect");
    d.connect_network(&client, &net)
        .await
        .expect("connecting twice is a no-op");

    // A tiny HTTP server in the server container.
    let serve =
        "mkdir -p /www && echo hello-from-server > /www/index.html && httpd -p 8000 -h /www";
    let (o, _, err) = d
        .exec_capture(&server, &ExecSpec::argv(["sh", "-c", serve]))
        .await
        .expect("httpd");
    assert_eq!(o.exit_code, Some(0), "{err}");

    let (o, out, err) = d
        .exec_capture(&client, &ExecSpec::argv(["nslookup", server.as_str()]))
        .await
        .expect("nslookup");
    assert_eq!(o.exit_code, Some(0), "nslookup {server}: {out}{err}");

    for host in [server.clone(), format!("{server}-alias")] {
        let url = format!("http://{host}:8000/index.html");
        let give_up = Instant::now() + Duration::from_secs(10);
        loop {
            let (o, out, err) = d
                .exec_capture(
                    &client,
                    &ExecSpec::argv(["wget", "-q", "-O", "-", url.as_str()]),
                )
                .await
                .expect("wget");
            if o.exit_code == Some(0) {
                assert_eq!(out, "hello-from-server\n");
                break;
            }
            assert!(Instant::now() < give_up, "{url} never answered: {err}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // Cut from the network, the client is on none of it.
    d.disconnect_network(&client, &net)
        .await
        .expect("disconnect");
    d.disconnect_network(&client, &net)
        .await
        .expect("disconnecting twice is a no-op");
    let st = d.inspect_container(&client).await.expect("inspect");
    assert!(!st.expect("client").networks.contains(&net));
}
