//! Leader election on a `coordination.k8s.io/v1` Lease: only the holder runs its controllers.
//!
//! Numbers as client-go's: lease 15 s, renew deadline 10 s, retry every 2 s. A candidate takes a lease
//! whose holder has not renewed it for a lease duration, measured on the candidate's own clock from the
//! moment it last saw the lease change (as client-go does, so clocks need not agree). A leader that cannot
//! renew for the renew deadline stops leading: the work it runs is told to shut down before another
//! process can take over. On graceful shutdown the leader releases the lease so a successor need not wait.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::client::{Api, Client, ClientError};
use crate::kinds::{Lease, LeaseSpec};
use crate::meta::{MicroTime, ObjectMeta};
use crate::shutdown::Shutdown;

/// Where the lease lives and how it is timed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderElectionConfig {
    /// Namespace of the Lease (e.g. `kube-system`).
    pub namespace: String,
    /// Name of the Lease (e.g. `skiff-controller-manager`).
    pub name: String,
    /// This process's identity (e.g. hostname + pid).
    pub identity: String,
    /// How long a lease is valid without renewal (15 s).
    pub lease_duration: Duration,
    /// How long a leader keeps trying to renew before it gives up leading (10 s).
    pub renew_deadline: Duration,
    /// How often candidates retry and leaders renew (2 s).
    pub retry_period: Duration,
}

impl LeaderElectionConfig {
    /// The default timings for a lease `namespace/name` held as `identity`.
    pub fn new(namespace: &str, name: &str, identity: &str) -> Self {
        Self {
            namespace: namespace.to_string(),
            name: name.to_string(),
            identity: identity.to_string(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Record {
    holder: Option<String>,
    renew_time: Option<String>,
    transitions: Option<i32>,
}

/// Runs work only while holding the lease. See the [module docs](self).
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaderElectionConfig,
    observed: Mutex<Option<(Record, Instant)>>,
    leading: AtomicBool,
}

impl LeaderElector {
    /// An elector for `config`, talking through `client`.
    pub fn new(client: Arc<dyn Client>, config: LeaderElectionConfig) -> Self {
        Self {
            api: Api::namespaced(client, &config.namespace),
            config,
            observed: Mutex::new(None),
            leading: AtomicBool::new(false),
        }
    }

    /// True while this process holds the lease.
    pub fn is_leader(&self) -> bool {
        self.leading.load(Ordering::SeqCst)
    }

    fn observe(&self, lease: &Lease) -> Instant {
        let record = Record {
            holder: lease.spec.holder_identity.clone(),
            renew_time: lease.spec.renew_time.map(|t| t.to_string()),
            transitions: lease.spec.lease_transitions,
        };
        let mut observed = self.observed.lock().unwrap_or_else(|p| p.into_inner());
        match &*observed {
            Some((r, at)) if *r == record => *at,
            _ => {
                let now = Instant::now();
                *observed = Some((record, now));
                now
            }
        }
    }

    /// Takes or renews the lease; true when this process holds it afterwards.
    async fn try_acquire_or_renew(&self) -> Result<bool, ClientError> {
        let now = MicroTime::now();
        let duration = i32::try_from(self.config.lease_duration.as_secs()).unwrap_or(i32::MAX);
        let Some(lease) = self.api.get_opt(&self.config.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta::named(&self.config.name),
                spec: LeaseSpec {
                    holder_identity: Some(self.config.identity.clone()),
                    lease_duration_seconds: Some(duration),
                    acquire_time: Some(now),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                },
                ..Lease::default()
            };
            return match self.api.create(&lease).await {
                Ok(l) => {
                    self.observe(&l);
                    Ok(true)
                }
                Err(e) if e.is_already_exists() => Ok(false),
                Err(e) => Err(e),
            };
        };
        let observed_at = self.observe(&lease);
        let holder = lease.spec.holder_identity.clone().filter(|h| !h.is_empty());
        let mine = holder.as_deref() == Some(self.config.identity.as_str());
        let expired = observed_at + self.config.lease_duration <= Instant::now();
        if holder.is_some() && !mine && !expired {
            return Ok(false);
        }
        let mut next = lease.clone();
        if !mine {
            next.spec.acquire_time = Some(now);
            next.spec.lease_transitions = Some(lease.spec.lease_transitions.unwrap_or(0) + 1);
        }
        next.spec.holder_identity = Some(self.config.identity.clone());
        next.spec.renew_time = Some(now);
        next.spec.lease_duration_seconds = Some(duration);
        match self.api.replace(&self.config.name, &next).await {
            Ok(l) => {
                self.observe(&l);
                Ok(true)
            }
            Err(e) if e.is_conflict() => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn release(&self) {
        if let Ok(Some(mut lease)) = self.api.get_opt(&self.config.name).await {
            if lease.spec.holder_identity.as_deref() == Some(self.config.identity.as_str()) {
                lease.spec.holder_identity = None;
                let _ = self.api.replace(&self.config.name, &lease).await;
            }
        }
    }

    /// Campaigns until `shutdown`; whenever this process becomes leader it runs `lead(stop)`, where `stop`
    /// fires when leadership is lost or on shutdown. Returns after shutdown (releasing the lease).
    pub async fn run<F, Fut>(&self, shutdown: Shutdown, lead: F)
    where
        F: Fn(Shutdown) -> Fut,
        Fut: Future<Output = ()>,
    {
        loop {
            // Campaign.
            loop {
                match self.try_acquire_or_renew().await {
                    Ok(true) => break,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(lease = %self.config.name, error = %e, "leader election failed")
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(self.config.retry_period) => {}
                    _ = shutdown.wait() => return,
                }
            }
            tracing::info!(lease = %self.config.name, identity = %self.config.identity, "became leader");
            self.leading.store(true, Ordering::SeqCst);
            let (stop, lead_shutdown) = Shutdown::new();
            let work = lead(lead_shutdown);
            tokio::pin!(work);
            let mut finished = false;
            let mut last_renew = Instant::now();
            let lost = loop {
                tokio::select! {
                    _ = &mut work, if !finished => finished = true,
                    _ = tokio::time::sleep(self.config.retry_period) => {
                        match self.try_acquire_or_renew().await {
                            Ok(true) => last_renew = Instant::now(),
                            _ if last_renew.elapsed() >= self.config.renew_deadline => break true,
                            _ => {}
                        }
                    }
                    _ = shutdown.wait() => break false,
                }
            };
            stop.trigger();
            if !finished {
                work.await;
            }
            self.leading.store(false, Ordering::SeqCst);
            if !lost {
                self.release().await;
                return;
            }
            tracing::warn!(lease = %self.config.name, "lost the lease; stopped leading");
        }
    }
}
