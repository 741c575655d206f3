//! The pause image: the configured one (`--pod-infra-image`, default `registry.k8s.io/pause:3.10`),
//! or, when that is absent and cannot be pulled, one Skiff builds itself, so a machine without a
//! registry still runs pods.
//!
//! The self-built image is [`SELF_BUILT_PAUSE`]: one file, the host's static `catatonit` (the init
//! Podman builds its own pause image from; Debian's `catatonit` package), run as `catatonit -P`,
//! which only waits for signals, as the pause binary does. It is imported through the engine's
//! image-create API from a one-file tar made in memory, no `docker build` and no registry. Once a
//! node has fallen back it keeps the self-built image for the rest of its life, so each new pod
//! does not wait for a pull that cannot succeed.

use std::io::Cursor;

use bollard::query_parameters::CreateImageOptions;
use futures::StreamExt;
use skiff_core::runtime::RuntimeError;

use crate::runtime::{engine, DockerRuntime};

/// The image Skiff builds when the configured pause image cannot be had.
pub const SELF_BUILT_PAUSE: &str = "localhost/skiff-pause:catatonit";

/// Where a static `catatonit` may be.
const CATATONIT: &[&str] = &["/usr/bin/catatonit", "/usr/libexec/podman/catatonit"];

/// A tar holding one executable file `name`.
fn one_file_tar(name: &str, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o755);
    header.set_cksum();
    let mut builder = tar::Builder::new(Vec::new());
    builder.append_data(&mut header, name, Cursor::new(bytes))?;
    builder.into_inner()
}

impl DockerRuntime {
    /// The pause image for a new sandbox: the configured one if present or pullable, else the
    /// self-built one (built on first need).
    pub(crate) async fn pause_image(&self) -> Result<String, RuntimeError> {
        let mut known = self.pause.lock().await;
        if let Some(image) = known.as_ref() {
            return Ok(image.clone());
        }
        let configured = self.config.pause_image.clone();
        let pulled = match self.has_image(&configured).await? {
            Some(_) => Ok(()),
            None => self.pull(&configured).await,
        };
        let image = match pulled {
            Ok(()) => configured,
            Err(pull) => {
                if self.has_image(SELF_BUILT_PAUSE).await?.is_none() {
                    self.build_pause()
                        .await
                        .map_err(|e| RuntimeError::ImageNotFound {
                            image: configured.clone(),
                            message: format!(
                                "the pause image {configured:?} cannot be had ({pull}), and none \
                             could be built instead: {e}"
                            ),
                        })?;
                }
                tracing::warn!(
                    configured = %configured,
                    error = %pull,
                    "pause image unavailable; sandboxes use the self-built {SELF_BUILT_PAUSE}"
                );
                SELF_BUILT_PAUSE.to_string()
            }
        };
        *known = Some(image.clone());
        Ok(image)
    }

    /// Imports [`SELF_BUILT_PAUSE`] from the host's static catatonit.
    async fn build_pause(&self) -> Result<(), String> {
        let mut binary = None;
        for path in CATATONIT {
            if let Ok(bytes) = tokio::fs::read(path).await {
                binary = Some(bytes);
                break;
            }
        }
        let binary = binary.ok_or_else(|| {
            format!(
                "no catatonit at {} (install Debian's catatonit package)",
                CATATONIT.join(" or ")
            )
        })?;
        let tar = one_file_tar("catatonit", &binary).map_err(|e| e.to_string())?;
        let (repo, tag) = SELF_BUILT_PAUSE
            .rsplit_once(':')
            .unwrap_or((SELF_BUILT_PAUSE, "latest"));
        let options = CreateImageOptions {
            from_src: Some("-".into()),
            repo: Some(repo.into()),
            tag: Some(tag.into()),
            changes: vec![r#"ENTRYPOINT ["/catatonit", "-P"]"#.into()],
            ..CreateImageOptions::default()
        };
        let mut progress =
            self.docker
                .create_image(Some(options), Some(bollard::body_full(tar.into())), None);
        while let Some(step) = progress.next().await {
            step.map_err(|e| engine(e).to_string())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tar_of_one_executable() {
        let tar = one_file_tar("catatonit", b"\x7fELF").unwrap();
        let mut archive = tar::Archive::new(Cursor::new(tar));
        let entries: Vec<(String, u32, u64)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().display().to_string(),
                    h.mode().unwrap(),
                    h.size().unwrap(),
                )
            })
            .collect();
        assert_eq!(entries, [("catatonit".to_string(), 0o755, 4)]);
    }
}
