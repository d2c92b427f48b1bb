//! User-defined networks: created idempotently, labelled, removed by name. Container-name DNS
//! works only on a user-defined network, which is why both containers join one.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::NetworkCreateRequest;
use bollard::query_parameters::ListNetworksOptionsBuilder;

use super::{Docker, Labels, Result, api, status_of, within};

const NETWORK_DEADLINE: Duration = Duration::from_secs(60);

impl Docker {
    /// Create the bridge network `name` unless it exists. Returns true when it was created.
    pub async fn ensure_network(&self, name: &str, labels: &Labels) -> Result<bool> {
        let op = format!("create network {name}");
        within(&op, NETWORK_DEADLINE, async {
            // Look first: engines before API 1.44 happily create a second network with the
            // same name (no duplicate check by default), so a 409 alone is not enough.
            if self.network_exists(name).await? {
                return Ok(false);
            }
            let req = NetworkCreateRequest {
                name: name.to_string(),
                driver: Some("bridge".into()),
                labels: Some(labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
                ..Default::default()
            };
            match self.inner.create_network(req).await {
                Ok(_) => Ok(true),
                // Someone created it between our look and our create.
                Err(e) if status_of(&e) == Some(409) => Ok(false),
                Err(e) => Err(api(op.clone())(e)),
            }
        })
        .await
    }

    /// Remove a network; absent is not an error.
    pub async fn remove_network(&self, name: &str) -> Result<()> {
        let op = format!("remove network {name}");
        within(&op, NETWORK_DEADLINE, async {
            match self.inner.remove_network(name).await {
                Ok(()) => Ok(()),
                Err(e) if status_of(&e) == Some(404) => Ok(()),
                Err(e) => Err(api(op.clone())(e)),
            }
        })
        .await
    }

    /// Names of networks carrying `label`.
    pub async fn list_networks_labelled(&self, label: &str) -> Result<Vec<String>> {
        let op = format!("list networks labelled {label}");
        let filters = HashMap::from([("label", vec![label])]);
        let opts = ListNetworksOptionsBuilder::new().filters(&filters).build();
        let nets = within(&op, NETWORK_DEADLINE, async {
            self.inner
                .list_networks(Some(opts))
                .await
                .map_err(api(op.clone()))
        })
        .await?;
        let mut names: Vec<String> = nets.into_iter().filter_map(|n| n.name).collect();
        names.sort();
        Ok(names)
    }

    /// Does a network with exactly this name (or id) exist?
    pub async fn network_exists(&self, name: &str) -> Result<bool> {
        let op = format!("inspect network {name}");
        within(&op, NETWORK_DEADLINE, async {
            match self.inner.inspect_network(name, None).await {
                Ok(_) => Ok(true),
                Err(e) if status_of(&e) == Some(404) => Ok(false),
                Err(e) => Err(api(op.clone())(e)),
            }
        })
        .await
    }
}
