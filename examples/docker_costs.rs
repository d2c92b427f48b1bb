//! What one orchestration step costs against the real engine: the median of one `exec`
//! (create + start attached + inspect for the exit code) and one `read_file` of a 27 KB
//! result file (archive GET + untar). Compare with shared/reference/performance-anchors.md
//! (70 ms and 89 ms there). Run: `cargo run --example docker_costs [-- ROUNDS]`.
//!
//! Builds a FROM-scratch busybox image from the host's /bin/busybox (no registry), starts
//! one keep-alive container labelled `vbench.test=1`, and removes both at the end.

use std::time::{Duration, Instant};

use vbench::docker::image::{ContextEntry, context_tar};
use vbench::docker::{ContainerSpec, Docker, ExecSpec, LABEL_MANAGED, LABEL_TEST, Labels};

const IMAGE: &str = "vbench-test/costs-busybox:latest";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(50);
    let d = Docker::connect(None).await?;
    println!(
        "engine {} (API {}), {} cores",
        d.info.engine_version,
        d.info.api_version,
        d.info.ncpu.unwrap_or(0)
    );

    let busybox =
        std::fs::read(std::env::var("VBENCH_BUSYBOX").unwrap_or_else(|_| "/bin/busybox".into()))?;
    let mut entries = vec![
        ContextEntry::File {
            path: "Dockerfile".into(),
            data: b"FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\n".to_vec(),
            mode: 0o644,
        },
        ContextEntry::Dir {
            path: "rootfs/tmp/".into(),
            mode: 0o1777,
        },
        ContextEntry::File {
            path: "rootfs/bin/busybox".into(),
            data: busybox,
            mode: 0o755,
        },
    ];
    for a in ["sh", "sleep", "true", "yes", "head", "mkdir"] {
        entries.push(ContextEntry::Symlink {
            path: format!("rootfs/bin/{a}"),
            target: "busybox".into(),
        });
    }
    let labels = Labels::from([(LABEL_TEST.to_string(), "1".to_string())]);
    d.build_image(IMAGE, context_tar(&entries)?, &labels)
        .await?;

    let name = format!("vbt-costs-{}", std::process::id());
    let mut l = labels.clone();
    l.insert(LABEL_MANAGED.into(), "true".into());
    let spec = ContainerSpec {
        name: name.clone(),
        image: IMAGE.into(),
        labels: l,
        keepalive: true,
        ..Default::default()
    };
    let result = measure(&d, &spec, rounds).await;
    d.remove_container(&name).await?;
    d.remove_image(IMAGE).await?;
    result
}

async fn measure(d: &Docker, spec: &ContainerSpec, rounds: usize) -> anyhow::Result<()> {
    d.ensure_container(spec).await?;
    let c = spec.name.as_str();
    let (o, _, err) = d
        .exec_capture(
            c,
            &ExecSpec::argv([
                "sh",
                "-c",
                "mkdir -p /results && yes '{\"ttft_ms\": 12.5}' | head -c 27000 > /results/r.json",
            ]),
        )
        .await?;
    anyhow::ensure!(
        o.exit_code == Some(0),
        "could not write the result file: {err}"
    );

    // One warm-up of each, then the measured rounds.
    let true_spec = ExecSpec::argv(["true"]);
    d.exec_capture(c, &true_spec).await?;
    d.read_file(c, "/results/r.json").await?;

    let mut exec_times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        let outcome = d.exec(c, &true_spec, &mut |_| {}).await?;
        exec_times.push(t.elapsed());
        anyhow::ensure!(outcome.exit_code == Some(0), "exec failed");
    }
    let mut read_times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        let bytes = d.read_file(c, "/results/r.json").await?;
        read_times.push(t.elapsed());
        anyhow::ensure!(bytes.map(|b| b.len()) == Some(27000), "wrong file size");
    }
    report(
        "exec (create + start attached + inspect)",
        &mut exec_times,
        70.0,
    );
    report(
        "read_file of 27 KB (archive GET + untar)",
        &mut read_times,
        89.0,
    );
    Ok(())
}

fn report(what: &str, times: &mut [Duration], anchor_ms: f64) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = ms(times[times.len() / 2]);
    let p90 = ms(times[(times.len() * 9 / 10).min(times.len() - 1)]);
    println!(
        "{what}: median {median:.1} ms, p90 {p90:.1} ms, min {:.1} ms over {} rounds (anchor {anchor_ms:.0} ms)",
        ms(times[0]),
        times.len()
    );
}
