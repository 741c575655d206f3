//! Events expire: Kubernetes' API server keeps each event for `--event-ttl` (1 hour) after its last
//! write. Skiff's stores have no leases, so [`run`] sweeps instead: every minute it deletes the events
//! last written more than the TTL ago. Without it every pod start would leave its events forever.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use skiff_core::client::{Api, InProcessClient, ListParams};
//! use skiff_core::events::{expiry, EventType, Recorder};
//! use skiff_core::kinds::{Event, ObjectReference, Pod};
//! use skiff_core::store::MemoryStore;
//!
//! let client = InProcessClient::shared(Arc::new(MemoryStore::new()));
//! let mut pod = Pod::named("web");
//! pod.metadata.namespace = Some("default".into());
//! Recorder::new(client.clone(), "kubelet", Some("node-1"))
//!     .publish(&ObjectReference::to(&pod), EventType::Normal, "Started", "Started container web")
//!     .await
//!     .unwrap();
//! // An hour and a second later, the event is gone.
//! let later = chrono::Utc::now() + chrono::Duration::seconds(3601);
//! assert_eq!(expiry::expire(&client, expiry::DEFAULT_TTL, later).await.unwrap(), 1);
//! let left = Api::<Event>::all(client).list(&ListParams::default()).await.unwrap();
//! assert!(left.items.is_empty());
//! # });
//! ```

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::client::{Api, Client, ClientError, DeleteParams, ListParams};
use crate::kinds::Event;
use crate::shutdown::Shutdown;

/// How long an event is kept after its last write (Kubernetes' `--event-ttl` default).
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);

/// Events listed per page while sweeping.
const PAGE: usize = 500;

/// When `event` was last written: `lastTimestamp`, else `eventTime`, else its creation.
pub fn last_written(event: &Event) -> Option<DateTime<Utc>> {
    event
        .last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or(event.event_time.as_ref().map(|t| t.0))
        .or(event.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// Deletes, in every namespace, the events last written more than `ttl` before `now`; returns how
/// many. An event written again since it was listed is kept (the delete is conditional on its
/// resourceVersion).
pub async fn expire(
    client: &Arc<dyn Client>,
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<usize, ClientError> {
    let api: Api<Event> = Api::all(client.clone());
    let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
    let mut params = ListParams::default().limit(PAGE);
    let mut expired = 0;
    loop {
        let page = api.list(&params).await?;
        for event in &page.items {
            if last_written(event).is_none_or(|t| now - t <= ttl) {
                continue;
            }
            let (Some(ns), Some(name)) = (&event.metadata.namespace, &event.metadata.name) else {
                continue;
            };
            let delete = DeleteParams {
                precondition_resource_version: event.metadata.resource_version.clone(),
                ..DeleteParams::default()
            };
            match Api::<Event>::namespaced(client.clone(), ns)
                .delete(name, &delete)
                .await
            {
                Ok(_) => expired += 1,
                Err(e) if e.is_not_found() || e.is_conflict() => {}
                Err(e) => return Err(e),
            }
        }
        match page.metadata.continue_ {
            Some(token) => params.continue_token = Some(token),
            None => return Ok(expired),
        }
    }
}

/// How often [`run`] sweeps for a given TTL: every minute, or every tenth of a shorter TTL.
pub fn sweep_interval(ttl: Duration) -> Duration {
    (ttl / 10).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// Sweeps expired events every [`sweep_interval`] until `shutdown`. Errors are logged and the next
/// sweep tries again.
pub async fn run(client: Arc<dyn Client>, ttl: Duration, shutdown: Shutdown) {
    let every = sweep_interval(ttl);
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = tokio::time::sleep(every) => {}
        }
        match expire(&client, ttl, Utc::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(expired = n, "expired events"),
            Err(e) => tracing::warn!(error = %e, "cannot expire events"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::InProcessClient;
    use crate::kinds::ObjectReference;
    use crate::meta::{ObjectMeta, Time};
    use crate::store::MemoryStore;

    fn event(name: &str, last: DateTime<Utc>) -> Event {
        Event {
            metadata: ObjectMeta::named(name).in_namespace("default"),
            involved_object: ObjectReference::default(),
            last_timestamp: Some(Time(last)),
            ..Event::default()
        }
    }

    #[tokio::test]
    async fn only_events_older_than_the_ttl_go_across_pages() {
        let client = InProcessClient::shared(Arc::new(MemoryStore::new()));
        let api: Api<Event> = Api::namespaced(client.clone(), "default");
        let now = Utc::now();
        for i in 0..(PAGE + 20) {
            api.create(&event(
                &format!("old-{i:04}"),
                now - chrono::Duration::minutes(61),
            ))
            .await
            .unwrap();
        }
        api.create(&event("fresh", now - chrono::Duration::minutes(59)))
            .await
            .unwrap();
        let expired = expire(&client, DEFAULT_TTL, now).await.unwrap();
        assert_eq!(expired, PAGE + 20);
        let left: Vec<String> = api
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|e| e.metadata.name)
            .collect();
        assert_eq!(left, ["fresh"]);
    }

    #[test]
    fn sweeps_every_minute_or_a_tenth_of_a_short_ttl() {
        assert_eq!(sweep_interval(DEFAULT_TTL), Duration::from_secs(60));
        assert_eq!(
            sweep_interval(Duration::from_secs(30)),
            Duration::from_secs(3)
        );
        assert_eq!(
            sweep_interval(Duration::from_millis(100)),
            Duration::from_secs(1)
        );
    }
}
