//! Images: build from an in-memory tar context (FROM scratch works, no registry needed) and
//! look up what is present.

use super::{Docker, Labels, Result};

/// One entry of a build context.
#[derive(Debug, Clone)]
pub enum ContextEntry {
    File {
        path: String,
        data: Vec<u8>,
        mode: u32,
    },
    Dir {
        path: String,
        mode: u32,
    },
    Symlink {
        path: String,
        target: String,
    },
}

/// A present image.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageInfo {
    pub id: String,
    pub tags: Vec<String>,
    pub digests: Vec<String>,
    pub size: i64,
    pub created: Option<String>,
}

/// Pack entries into an uncompressed tar (deterministic: mtime 0, root owner).
pub fn context_tar(entries: &[ContextEntry]) -> std::io::Result<Vec<u8>> {
    let _ = entries;
    todo!()
}

impl Docker {
    /// Build `tag` from a tar context holding a `Dockerfile`.
    pub async fn build_image(&self, tag: &str, context: Vec<u8>, labels: &Labels) -> Result<()> {
        let _ = (tag, context, labels);
        todo!()
    }

    /// `None` when the image is not present locally.
    pub async fn inspect_image(&self, reference: &str) -> Result<Option<ImageInfo>> {
        let _ = reference;
        todo!()
    }

    /// Remove an image; absent is not an error.
    pub async fn remove_image(&self, reference: &str) -> Result<()> {
        let _ = reference;
        todo!()
    }
}
