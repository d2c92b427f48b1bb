//! `compose/`: the stand-in variant brought up with the machine's compose tool (unique
//! project, container names, network and port; labelled `vbench.test` by a test-only override
//! file), then `vbench up` attaches to the containers it did not create, reaches ready, and
//! `down --remove` leaves them alone. `docker-compose down` removes everything at the end.

mod common;
mod lifecycle_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use lifecycle_support as sup;
use vbench::server::{self, DownOptions, UpOptions};

/// `docker-compose` (v1) or `docker compose` (v2), whichever answers.
fn compose_cmd() -> Vec<String> {
    let ok = |c: &mut Command| c.output().map(|o| o.status.success()).unwrap_or(false);
    if ok(Command::new("docker-compose").arg("version")) {
        vec!["docker-compose".into()]
    } else if ok(Command::new("docker").args(["compose", "version"])) {
        vec!["docker".into(), "compose".into()]
    } else {
        panic!("no compose tool: apt-get install -y docker-compose (scripts/setup.sh does)")
    }
}

struct Project {
    cmd: Vec<String>,
    name: String,
    files: Vec<PathBuf>,
    env: Vec<(String, String)>,
}

impl Project {
    fn run(&self, args: &[&str]) -> std::process::Output {
        let mut c = Command::new(&self.cmd[0]);
        c.args(&self.cmd[1..]).arg("-p").arg(&self.name);
        for f in &self.files {
            c.arg("-f").arg(f);
        }
        c.args(args)
            .envs(self.env.iter().cloned())
            .output()
            .expect("run compose")
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let out = self.run(&["down", "--remove-orphans", "--timeout", "2"]);
        if !out.status.success() {
            eprintln!("compose down: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_attaches_to_compose_containers() {
    let d = common::docker().await;
    sup::images(&d).await;
    let st = sup::stack("compose");
    let mut cfg = st.cfg.clone();
    let port = sup::free_port();
    cfg.server.publish_port = Some(port);

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("compose");
    let labels = st.results.path().join("test-labels.yml");
    std::fs::write(
        &labels,
        "services:\n  vllm-server:\n    labels:\n      vbench.test: \"1\"\n  vllm-bench-client:\n    labels:\n      vbench.test: \"1\"\nnetworks:\n  bench:\n    labels:\n      vbench.test: \"1\"\n",
    )
    .expect("write labels override");
    let home = st.results.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let project = Project {
        cmd: compose_cmd(),
        name: common::unique("proj").replace('-', ""),
        files: vec![
            root.join("docker-compose.yml"),
            root.join("standin.override.yml"),
            labels,
        ],
        env: vec![
            (
                "VBENCH_SERVER_CONTAINER".into(),
                cfg.server.container.clone(),
            ),
            (
                "VBENCH_CLIENT_CONTAINER".into(),
                cfg.client.container.clone(),
            ),
            ("VBENCH_NETWORK".into(), cfg.network.clone()),
            ("VBENCH_PORT".into(), port.to_string()),
            (
                "VBENCH_STANDIN_SERVER_IMAGE".into(),
                cfg.server.image.clone(),
            ),
            (
                "VBENCH_STANDIN_CLIENT_IMAGE".into(),
                cfg.client.image.clone(),
            ),
            // The HF cache bind mount lands in the test's temp dir, not the real home.
            ("HOME".into(), home.display().to_string()),
        ],
    };
    let out = project.run(&["up", "-d"]);
    assert!(
        out.status.success(),
        "compose up: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = d
        .inspect_container(&cfg.server.container)
        .await
        .expect("inspect")
        .expect("compose made it");
    assert!(!server::created_by_vbench(&before));

    let info = server::up(&d, &cfg, &UpOptions::default(), sup::sink().as_ref())
        .await
        .expect("up on compose containers");
    assert!(!info.reused);
    // Not created by vbench, but compose publishes the server port on loopback: probed there
    // (the port Docker reports, not one guessed from the configuration).
    assert_eq!(info.url_from_host, format!("http://127.0.0.1:{port}"));
    // The port compose published on loopback answers too.
    let health = reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .expect("http client")
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .await
        .expect("GET /health on the published port");
    assert_eq!(health.status().as_u16(), 200);
    let after = d
        .inspect_container(&cfg.server.container)
        .await
        .expect("inspect")
        .expect("still there");
    assert_eq!(
        before.id, after.id,
        "vbench must not recreate a container it did not create"
    );

    let client = server::ensure_client(&d, &cfg, sup::sink().as_ref())
        .await
        .expect("client");
    assert!(!server::created_by_vbench(&client));

    server::down(
        &d,
        &cfg,
        &DownOptions {
            remove: true,
            force: false,
        },
        sup::sink().as_ref(),
    )
    .await
    .expect("down");
    assert!(
        sup::serve_processes(&d, &cfg.server.container)
            .await
            .is_empty()
    );
    let kept = d
        .inspect_container(&cfg.server.container)
        .await
        .expect("inspect");
    assert!(
        kept.is_some_and(|s| s.running),
        "down --remove must keep a container vbench did not create"
    );
    drop(project);
    assert!(
        d.inspect_container(&cfg.server.container)
            .await
            .expect("inspect")
            .is_none(),
        "compose down removed it"
    );
}
