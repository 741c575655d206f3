//! The event recorder: writes core/v1 Events about objects, aggregating repeats (count, first and last
//! timestamp) the way `kubectl describe` shows them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct AggregationKey {
    uid: String,
    kind: String,
    namespace: String,
    name: String,
    type_: EventType,
    reason: String,
    message: String,
}

/// How many distinct events a [`Recorder`] remembers for aggregation.
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
pub struct Recorder {
    client: Arc<dyn Client>,
    component: String,
    host: Option<String>,
    seen: Mutex<HashMap<AggregationKey, (String, String)>>,
}

impl Recorder {
    /// A recorder for `component` (and `host`, for node-local components).
    pub fn new(client: Arc<dyn Client>, component: &str, host: Option<&str>) -> Self {
        Self {
            client,
            component: component.to_string(),
            host: host.map(str::to_string),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Records that `reason`/`message` happened to `about`. A repeat of an event this recorder wrote
    /// increments its `count` and moves `lastTimestamp` instead of writing a new one.
    pub async fn publish(
        &self,
        about: &ObjectReference,
        type_: EventType,
        reason: &str,
        message: &str,
    ) -> Result<Event, ClientError> {
        let namespace = about
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".into());
        let key = AggregationKey {
            uid: about.uid.clone().unwrap_or_default(),
            kind: about.kind.clone().unwrap_or_default(),
            namespace: namespace.clone(),
            name: about.name.clone().unwrap_or_default(),
            type_,
            reason: reason.to_string(),
            message: message.to_string(),
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        let existing = self
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        let now = Time::now();
        if let Some((_, name)) = existing {
            if let Some(mut ev) = api.get_opt(&name).await? {
                ev.count = Some(ev.count.unwrap_or(1) + 1);
                ev.last_timestamp = Some(now);
                match api.replace(&name, &ev).await {
                    Ok(ev) => return Ok(ev),
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
            message: Some(message.to_string()),
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
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded like client-go's event cache (4,096 entries): when full it starts over, so a repeat
        // of a long-forgotten event becomes a new Event instead of memory growing without end.
        if seen.len() >= MAX_REMEMBERED {
            seen.clear();
        }
        seen.insert(key, (namespace, name));
        Ok(created)
    }
}
