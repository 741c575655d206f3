//! The event recorder: writes core/v1 Events about objects the way client-go's recorder does.
//!
//! Repeats of an event raise its count (and last timestamp, as `kubectl describe` shows them); similar
//! events that differ only in their message are combined; a source that publishes too many events about
//! one object is throttled. The rules and their numbers are in [`correlator`].

pub mod correlator;
pub mod expiry;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use tokio::sync::mpsc;

use correlator::{Correlation, Correlator, Draft, Remembered, COMBINED_PREFIX};

use crate::client::{Api, Client, ClientError};
use crate::kinds::{Event, EventSource, ObjectReference};
use crate::meta::{MicroTime, ObjectMeta, Time};

/// `Normal` or `Warning`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    /// Something expected happened.
    Normal,
    /// Something went wrong.
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// How many keys each of a [`Recorder`]'s tables remembers (client-go's cache size).
pub const MAX_REMEMBERED: usize = 4096;

/// Publishes events for one component (e.g. `scheduler`, or `kubelet` on host `node-1`).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::sync::Arc;
/// use skiff_core::client::{Api, InProcessClient, ListParams};
/// use skiff_core::events::{EventType, Recorder};
/// use skiff_core::kinds::{Event, ObjectReference, Pod};
/// use skiff_core::store::MemoryStore;
///
/// let client = InProcessClient::shared(Arc::new(MemoryStore::new()));
/// let recorder = Recorder::new(client.clone(), "kubelet", Some("node-1"));
/// let mut pod = Pod::named("web");
/// pod.metadata.namespace = Some("default".into());
/// let about = ObjectReference::to(&pod);
/// recorder.publish(&about, EventType::Warning, "BackOff", "Back-off restarting failed container").await.unwrap();
/// recorder.publish(&about, EventType::Warning, "BackOff", "Back-off restarting failed container").await.unwrap();
/// let events = Api::<Event>::namespaced(client, "default").list(&ListParams::default()).await.unwrap();
/// assert_eq!(events.items.len(), 1);
/// assert_eq!(events.items[0].count, Some(2));
/// # });
/// ```
///
/// [`publish`](Self::publish) writes and waits; [`record`](Self::record) queues the event for one
/// background writer and returns at once, as client-go's broadcaster does, so a burst of events
/// is written one at a time instead of as many concurrent requests.
pub struct Recorder {
    core: Arc<Core>,
    queue: OnceLock<mpsc::Sender<Queued>>,
}

/// Events waiting for a recorder's background writer, at most (client-go: 1,000); more are dropped.
pub const MAX_QUEUED: usize = 1000;

struct Queued {
    about: ObjectReference,
    type_: EventType,
    reason: String,
    message: String,
}

struct Core {
    client: Arc<dyn Client>,
    component: String,
    host: Option<String>,
    state: Mutex<State>,
}

/// What a recorder remembers: the correlator's tables and the names of the events it wrote, by key.
#[derive(Debug)]
struct State {
    correlator: Correlator,
    written: Remembered<String>,
}

fn text(o: &Option<String>) -> &str {
    o.as_deref().unwrap_or_default()
}

impl Recorder {
    /// A recorder for `component` (and `host`, for node-local components).
    pub fn new(client: Arc<dyn Client>, component: &str, host: Option<&str>) -> Self {
        Self {
            core: Arc::new(Core {
                client,
                component: component.to_string(),
                host: host.map(str::to_string),
                state: Mutex::new(State {
                    correlator: Correlator::default(),
                    written: Remembered::new(MAX_REMEMBERED),
                }),
            }),
            queue: OnceLock::new(),
        }
    }

    /// Records that `reason`/`message` happened to `about`, after the [`correlator`]'s rules:
    ///
    /// - a repeat of an event this recorder wrote increments its `count` and moves `lastTimestamp`;
    /// - past ten distinct messages with the same reason about the same object, one event
    ///   `(combined from similar events): <message>` is counted up instead;
    /// - past the spam budget (25 at once about one object and reason, then one per 5 minutes)
    ///   nothing is written and `Ok(None)` is returned.
    ///
    /// Otherwise the event as stored is returned.
    pub async fn publish(
        &self,
        about: &ObjectReference,
        type_: EventType,
        reason: &str,
        message: &str,
    ) -> Result<Option<Event>, ClientError> {
        self.core.publish(about, type_, reason, message).await
    }

    /// Queues the event for this recorder's background writer (started on first use, on the current
    /// Tokio runtime) and returns at once: false when [`MAX_QUEUED`] events are already waiting and
    /// this one is dropped. Events are best effort, in Kubernetes too; errors are logged at debug level.
    ///
    /// # Panics
    ///
    /// On first use outside a Tokio runtime.
    pub fn record(
        &self,
        about: ObjectReference,
        type_: EventType,
        reason: &str,
        message: &str,
    ) -> bool {
        let queue = self.queue.get_or_init(|| {
            let (tx, mut rx) = mpsc::channel::<Queued>(MAX_QUEUED);
            let core = self.core.clone();
            tokio::spawn(async move {
                while let Some(q) = rx.recv().await {
                    if let Err(e) = core.publish(&q.about, q.type_, &q.reason, &q.message).await {
                        tracing::debug!(error = %e, reason = q.reason, "could not record an event");
                    }
                }
            });
            tx
        });
        queue
            .try_send(Queued {
                about,
                type_,
                reason: reason.to_string(),
                message: message.to_string(),
            })
            .is_ok()
    }
}

impl Core {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn publish(
        &self,
        about: &ObjectReference,
        type_: EventType,
        reason: &str,
        message: &str,
    ) -> Result<Option<Event>, ClientError> {
        let namespace = about
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".into());
        let draft = Draft {
            source_and_object: [
                &self.component,
                text(&self.host),
                text(&about.kind),
                &namespace,
                text(&about.name),
                text(&about.uid),
                text(&about.api_version),
            ],
            field_path: text(&about.field_path),
            type_: type_.as_str(),
            reason,
            message,
        };
        let (key, message, known) = {
            let mut state = self.state();
            match state.correlator.correlate(&draft, Instant::now()) {
                Correlation::Skip => return Ok(None),
                Correlation::Write { key, combined } => {
                    let message = if combined {
                        format!("{COMBINED_PREFIX}{message}")
                    } else {
                        message.to_string()
                    };
                    (key, message, state.written.get_mut(key).cloned())
                }
            }
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        let now = Time::now();
        if let Some(name) = known {
            if let Some(mut ev) = api.get_opt(&name).await? {
                ev.count = Some(ev.count.unwrap_or(1) + 1);
                ev.last_timestamp = Some(now);
                ev.message = Some(message.clone());
                match api.replace(&name, &ev).await {
                    Ok(ev) => return Ok(Some(ev)),
                    Err(e) if e.is_conflict() || e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let stamp = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let name = format!("{}.{:x}", about.name.as_deref().unwrap_or("object"), stamp);
        let ev = Event {
            metadata: ObjectMeta::named(&name).in_namespace(&namespace),
            involved_object: about.clone(),
            reason: Some(reason.to_string()),
            message: Some(message),
            source: Some(EventSource {
                component: Some(self.component.clone()),
                host: self.host.clone(),
            }),
            first_timestamp: Some(now),
            last_timestamp: Some(now),
            count: Some(1),
            type_: Some(type_.as_str().to_string()),
            event_time: Some(MicroTime::now()),
            reporting_component: Some(self.component.clone()),
            reporting_instance: self.host.clone(),
            ..Event::default()
        };
        let created = api.create(&ev).await?;
        self.state().written.insert(key, name);
        Ok(Some(created))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{InProcessClient, ListParams};
    use crate::kinds::ReplicaSet;
    use crate::store::MemoryStore;

    #[tokio::test]
    async fn similar_events_are_combined_and_a_flood_is_throttled() {
        let client = InProcessClient::shared(Arc::new(MemoryStore::new()));
        let recorder = Recorder::new(client.clone(), "replicaset-controller", None);
        let mut rs = ReplicaSet::named("web");
        rs.metadata.namespace = Some("default".into());
        rs.metadata.uid = Some("u1".into());
        let about = ObjectReference::to(&rs);
        let mut published = 0;
        for i in 0..100 {
            let message = format!("Created pod: web-{i}");
            if recorder
                .publish(&about, EventType::Normal, "SuccessfulCreate", &message)
                .await
                .unwrap()
                .is_some()
            {
                published += 1;
            }
        }
        assert_eq!(published, 25, "the spam budget");
        let events = Api::<Event>::namespaced(client, "default")
            .list(&ListParams::default())
            .await
            .unwrap()
            .items;
        assert_eq!(events.len(), 10, "nine single events and one combined");
        let combined: Vec<&Event> = events
            .iter()
            .filter(|e| text(&e.message).starts_with(COMBINED_PREFIX))
            .collect();
        assert_eq!(combined.len(), 1);
        assert_eq!(combined[0].count, Some(16));
        assert_eq!(
            text(&combined[0].message),
            "(combined from similar events): Created pod: web-24"
        );
    }

    #[tokio::test]
    async fn recorded_events_are_written_in_order_by_the_background_writer() {
        let client = InProcessClient::shared(Arc::new(MemoryStore::new()));
        let recorder = Recorder::new(client.clone(), "kubelet", Some("node-1"));
        let mut pod = crate::kinds::Pod::named("web");
        pod.metadata.namespace = Some("default".into());
        let about = ObjectReference::to(&pod);
        for reason in ["Pulled", "Created", "Started"] {
            assert!(recorder.record(about.clone(), EventType::Normal, reason, reason));
        }
        let api = Api::<Event>::namespaced(client, "default");
        let mut reasons = Vec::new();
        for _ in 0..100 {
            let mut events = api.list(&ListParams::default()).await.unwrap().items;
            events.sort_by_key(|e| {
                e.metadata
                    .resource_version
                    .clone()
                    .unwrap_or_default()
                    .parse::<u64>()
                    .unwrap_or(0)
            });
            reasons = events.iter().map(|e| text(&e.reason).to_string()).collect();
            if reasons.len() == 3 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(reasons, ["Pulled", "Created", "Started"]);
    }
}
