//! Telling the infrastructure failing under a point from the point failing: the client
//! container stopped, killed, removed or restarted under it, or the Docker Engine no longer
//! answering. Neither says anything about the server being measured, so neither may be
//! recorded as a failed point: the run stops resumably with its own exit code.
//!
//! `ClientWatch` remembers which client container the run started with (its id and start
//! time), so a container that died and was started again by someone is noticed too.

use std::sync::Mutex;

use crate::docker::{ContainerState, Docker};

/// An infrastructure fault seen during a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The client container is gone or not the one the run started with; the text says how
    /// (`"container vllm-bench-client stopped (exit code 137)"`).
    ClientLost(String),
    /// The Docker Engine does not answer; the text is its error.
    EngineLost(String),
}

/// The client container as the run first saw it.
#[derive(Debug, Default)]
pub struct ClientWatch {
    seen: Mutex<Option<Seen>>,
}

#[derive(Debug, Clone)]
struct Seen {
    id: String,
    started_at: Option<String>,
}

impl ClientWatch {
    /// Remember the running container `client` is now (called once the client is ready).
    pub fn remember(&self, st: &ContainerState) {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(Seen {
            id: st.id.clone(),
            started_at: st.started_at.clone(),
        });
    }

    /// `Some` when the client container is not the running container the run started with,
    /// or when the engine does not answer. `None` when all is well — or when an inspect
    /// failed while the engine still answers pings: then the caller's own error stands.
    pub async fn check(&self, docker: &Docker, client: &str) -> Option<Fault> {
        let st = match docker.inspect_container(client).await {
            Ok(st) => st,
            Err(e) => return engine_gone(docker).await.or_else(|| engine_error(&e)),
        };
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
        client_fault(client, st.as_ref(), seen.as_ref()).map(Fault::ClientLost)
    }
}

/// `Some(EngineLost)` when the engine does not answer a ping.
pub async fn engine_gone(docker: &Docker) -> Option<Fault> {
    match docker.ping().await {
        Ok(()) => None,
        Err(e) => Some(Fault::EngineLost(format!(
            "the Docker Engine at {} does not answer ({e})",
            docker.info.host
        ))),
    }
}

/// An inspect that failed with the engine answering pings is lost only if the failure says
/// the connection broke (a ping may slip through a flapping engine): a deadline.
fn engine_error(e: &crate::docker::DockerError) -> Option<Fault> {
    matches!(e, crate::docker::DockerError::Deadline { .. })
        .then(|| Fault::EngineLost(format!("the Docker Engine stopped answering ({e})")))
}

/// How the client container differs from the running one the run started with.
fn client_fault(client: &str, now: Option<&ContainerState>, seen: Option<&Seen>) -> Option<String> {
    let Some(st) = now else {
        return Some(format!("container {client} was removed"));
    };
    if !st.running {
        let mut how = format!("container {client} stopped ({}", st.status);
        if let Some(c) = st.exit_code {
            how.push_str(&format!(", exit code {c}"));
            if c == 137 {
                how.push_str(": killed");
            }
        }
        if st.oom_killed {
            how.push_str(", OOM-killed");
        }
        how.push(')');
        return Some(how);
    }
    let seen = seen?;
    if st.id != seen.id {
        return Some(format!(
            "container {client} was replaced (removed and created again)"
        ));
    }
    if st.started_at != seen.started_at {
        return Some(format!(
            "container {client} was restarted (started at {})",
            st.started_at.as_deref().unwrap_or("?")
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(running: bool, exit: Option<i64>, started: &str) -> ContainerState {
        ContainerState {
            id: "abc".into(),
            name: "c".into(),
            image: "i".into(),
            image_id: "sha256:x".into(),
            status: if running { "running" } else { "exited" }.into(),
            running,
            exit_code: exit,
            oom_killed: false,
            labels: Default::default(),
            created_by_vbench: true,
            started_at: Some(started.into()),
            pid: None,
            published: None,
            ports: vec![],
            networks: vec![],
        }
    }

    #[test]
    fn a_stopped_removed_or_restarted_client_is_lost() {
        let seen = Seen {
            id: "abc".into(),
            started_at: Some("t1".into()),
        };
        let same = state(true, Some(0), "t1");
        assert_eq!(client_fault("c", Some(&same), Some(&seen)), None);
        let killed = state(false, Some(137), "t1");
        let why = client_fault("c", Some(&killed), Some(&seen)).expect("lost");
        assert!(
            why.contains("stopped (exited, exit code 137: killed)"),
            "{why}"
        );
        assert!(
            client_fault("c", None, Some(&seen))
                .expect("lost")
                .contains("was removed")
        );
        let again = state(true, Some(0), "t2");
        assert!(
            client_fault("c", Some(&again), Some(&seen))
                .expect("lost")
                .contains("was restarted")
        );
        let mut other = same.clone();
        other.id = "def".into();
        assert!(
            client_fault("c", Some(&other), Some(&seen))
                .expect("lost")
                .contains("replaced")
        );
        // Nothing remembered: only a container that is not running is lost.
        assert_eq!(client_fault("c", Some(&again), None), None);
    }
}
