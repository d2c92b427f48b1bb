//! User-defined networks: created idempotently, labelled, removed by name.

use super::{Docker, Labels, Result};

impl Docker {
    /// Create the bridge network `name` unless it exists. Returns true when it was created.
    pub async fn ensure_network(&self, name: &str, labels: &Labels) -> Result<bool> {
        let _ = (name, labels);
        todo!()
    }

    /// Remove a network; absent is not an error.
    pub async fn remove_network(&self, name: &str) -> Result<()> {
        let _ = name;
        todo!()
    }

    /// Names of networks carrying `label`.
    pub async fn list_networks_labelled(&self, label: &str) -> Result<Vec<String>> {
        let _ = label;
        todo!()
    }
}
