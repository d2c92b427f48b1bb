//! Can the client container reach the server? Asked when a point failed while the server
//! answers on the host, to tell a network problem between the containers from a failed
//! measurement. Two looks: the containers' networks (are both still on the run's network?),
//! and a `GET /health` from inside the client at the URL the benchmark uses, with `python3`
//! or `curl` when the image has one (the vLLM images have Python). `wget` is not asked: the
//! static busybox of minimal images crashes resolving names, which would blame the network
//! for nothing. Without a tool, only the networks decide. Nothing user-given is spliced into
//! the script: the URL is a positional argument.

use std::time::Duration;

use crate::config::Config;
use crate::docker::{Docker, DockerError, ExecSpec};

/// Exit 0 when the server answered (any HTTP status: only the network is in question), 1
/// with the reason when it did not, 99 when no tool is there.
const PROBE: &str = r#"u=$1
if command -v python3 >/dev/null 2>&1; then exec python3 -c 'import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=5)
except urllib.error.HTTPError:
    pass
except Exception as e:
    print("python3:", getattr(e, "reason", e)); sys.exit(1)' "$u"; fi
if command -v curl >/dev/null 2>&1; then
  o=$(curl -sS -m 5 -o /dev/null "$u" 2>&1) && exit 0
  echo "${o:-curl failed}"; exit 1
fi
exit 99"#;

/// What the probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    Reached,
    /// Not reached: why, in a few words.
    Unreachable(String),
}

/// Look from the client container at the server (see the module doc).
pub async fn from_client(docker: &Docker, cfg: &Config) -> Result<Reach, DockerError> {
    let client = &cfg.client.container;
    let url = format!("{}/health", super::url_in_network(cfg));
    let mut off = Vec::new();
    for c in [client, &cfg.server.container] {
        if let Some(st) = docker.inspect_container(c).await?
            && !st.networks.iter().any(|n| n == &cfg.network)
        {
            off.push(format!(
                "container {c} is not connected to network {}",
                cfg.network
            ));
        }
    }
    let off_network = (!off.is_empty()).then(|| off.join("; "));
    let spec = ExecSpec {
        argv: vec![
            "sh".into(),
            "-c".into(),
            PROBE.into(),
            "sh".into(),
            url.clone(),
        ],
        deadline: Some(Duration::from_secs(30)),
        ..Default::default()
    };
    let (out, stdout, stderr) = docker.exec_capture(client, &spec).await?;
    let said = |s: &str| {
        s.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let probe = match out.exit_code {
        Some(0) => Probe::Reached,
        Some(1) => Probe::Failed(format!(
            "GET {url} from {client}: {}",
            said(&format!("{stdout}{stderr}"))
        )),
        None => Probe::Failed(format!("GET {url} from {client}: no answer within 30s")),
        // 99: no tool; anything else (no shell, a crash): the probe itself failed.
        Some(_) => Probe::CannotTell,
    };
    Ok(match (probe, off_network) {
        // The benchmark's URL works, whatever the networks look like.
        (Probe::Reached, _) => Reach::Reached,
        (Probe::Failed(p), Some(n)) => Reach::Unreachable(format!("{p}; {n}")),
        (Probe::Failed(p), None) => Reach::Unreachable(p),
        (Probe::CannotTell, Some(n)) => Reach::Unreachable(n),
        // No tool to ask with, and both on the network: nothing says it is unreachable.
        (Probe::CannotTell, None) => Reach::Reached,
    })
}

/// What the probe from inside the client said.
enum Probe {
    Reached,
    Failed(String),
    CannotTell,
}
