//! `SimRuntime`: a runtime that only keeps records (SIMULATED: no process is spawned; containers are
//! Running as soon as they are started).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use skiff_core::runtime::{
    ContainerConfig, ContainerInfo, ContainerState, ExecIo, ImageInfo, ImageRequest, LabelFilter,
    LogOptions, Runtime, RuntimeError, RuntimeVersion, SandboxConfig, SandboxInfo, SandboxState,
};

/// A runtime that only keeps records (SIMULATED: no processes).
#[derive(Default)]
pub struct SimRuntime {
    sandboxes: Mutex<HashMap<String, SandboxInfo>>,
    containers: Mutex<HashMap<String, ContainerInfo>>,
    next: std::sync::atomic::AtomicU64,
}

impl SimRuntime {
    fn id(&self) -> String {
        format!(
            "sim{}",
            self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        )
    }
}

#[async_trait]
impl Runtime for SimRuntime {
    async fn version(&self) -> Result<RuntimeVersion, RuntimeError> {
        Ok(RuntimeVersion {
            name: "sim".into(),
            version: "0".into(),
        })
    }
    async fn run_pod_sandbox(&self, c: &SandboxConfig) -> Result<String, RuntimeError> {
        let id = self.id();
        self.sandboxes.lock().unwrap().insert(
            id.clone(),
            SandboxInfo {
                id: id.clone(),
                state: SandboxState::Ready,
                ip: Some("10.0.0.1".into()),
                labels: c.labels.clone(),
                created_at: chrono::Utc::now(),
                network_note: None,
            },
        );
        Ok(id)
    }
    async fn stop_pod_sandbox(&self, id: &str) -> Result<(), RuntimeError> {
        if let Some(s) = self.sandboxes.lock().unwrap().get_mut(id) {
            s.state = SandboxState::NotReady;
        }
        Ok(())
    }
    async fn remove_pod_sandbox(&self, id: &str) -> Result<(), RuntimeError> {
        self.sandboxes.lock().unwrap().remove(id);
        self.containers
            .lock()
            .unwrap()
            .retain(|_, c| c.sandbox_id != id);
        Ok(())
    }
    async fn sandbox_status(&self, id: &str) -> Result<SandboxInfo, RuntimeError> {
        self.sandboxes
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .ok_or(RuntimeError::NotFound {
                what: "sandbox",
                id: id.into(),
            })
    }
    async fn list_sandboxes(&self, f: &LabelFilter) -> Result<Vec<SandboxInfo>, RuntimeError> {
        Ok(self
            .sandboxes
            .lock()
            .unwrap()
            .values()
            .filter(|s| f.matches(&s.labels))
            .cloned()
            .collect())
    }
    async fn ensure_image(&self, r: &ImageRequest) -> Result<ImageInfo, RuntimeError> {
        Ok(ImageInfo {
            id: format!("sim://{}", r.image),
            pulled: false,
        })
    }
    async fn create_container(
        &self,
        sandbox: &str,
        c: &ContainerConfig,
    ) -> Result<String, RuntimeError> {
        let id = self.id();
        self.containers.lock().unwrap().insert(
            id.clone(),
            ContainerInfo {
                id: id.clone(),
                sandbox_id: sandbox.into(),
                name: c.name.clone(),
                image: c.image.clone(),
                image_id: format!("sim://{}", c.image),
                labels: c.labels.clone(),
                state: ContainerState::Created,
                created_at: chrono::Utc::now(),
                started_at: None,
                finished_at: None,
                exit_code: None,
                reason: None,
                message: None,
            },
        );
        Ok(id)
    }
    async fn start_container(&self, id: &str) -> Result<(), RuntimeError> {
        if let Some(c) = self.containers.lock().unwrap().get_mut(id) {
            c.state = ContainerState::Running;
            c.started_at = Some(chrono::Utc::now());
        }
        Ok(())
    }
    async fn stop_container(&self, id: &str, _t: Duration) -> Result<(), RuntimeError> {
        if let Some(c) = self.containers.lock().unwrap().get_mut(id) {
            if c.state == ContainerState::Running {
                c.state = ContainerState::Exited;
                c.exit_code = Some(143);
                c.reason = Some("Error".into());
                c.finished_at = Some(chrono::Utc::now());
            }
        }
        Ok(())
    }
    async fn remove_container(&self, id: &str) -> Result<(), RuntimeError> {
        self.containers.lock().unwrap().remove(id);
        Ok(())
    }
    async fn container_status(&self, id: &str) -> Result<ContainerInfo, RuntimeError> {
        self.containers
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .ok_or(RuntimeError::NotFound {
                what: "container",
                id: id.into(),
            })
    }
    async fn list_containers(&self, f: &LabelFilter) -> Result<Vec<ContainerInfo>, RuntimeError> {
        Ok(self
            .containers
            .lock()
            .unwrap()
            .values()
            .filter(|c| f.matches(&c.labels))
            .cloned()
            .collect())
    }
    async fn logs(
        &self,
        _id: &str,
        _o: &LogOptions,
    ) -> Result<BoxStream<'static, Result<Bytes, RuntimeError>>, RuntimeError> {
        Ok(futures::stream::empty().boxed())
    }
    async fn exec(&self, _id: &str, _c: &[String], _io: ExecIo) -> Result<i32, RuntimeError> {
        Ok(0)
    }
}
