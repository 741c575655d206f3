//! Event (core/v1): a report of something that happened to an object (`kubectl describe`, `kubectl get events`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ObjectReference;
use crate::meta::{MicroTime, Time};
use crate::{object, SelectableField};

object! {
    /// An Event. Repeats are aggregated: `count` grows and `lastTimestamp` moves.
    pub struct Event {
        /// The object the event is about.
        #[serde(default)]
        pub involved_object: ObjectReference,
        /// Short CamelCase reason (`Scheduled`, `Pulled`, `BackOff`...).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reason: Option<String>,
        /// Human-readable description.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub message: Option<String>,
        /// The component that reported it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub source: Option<EventSource>,
        /// When it was first seen.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub first_timestamp: Option<Time>,
        /// When it was last seen.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub last_timestamp: Option<Time>,
        /// How many times it was seen.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub count: Option<i32>,
        /// `Normal` or `Warning`.
        #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
        pub type_: Option<String>,
        /// When it was first observed, with microseconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub event_time: Option<MicroTime>,
        /// Data about a series of events (newer events API).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub series: Option<EventSeries>,
        /// What action was taken or failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub action: Option<String>,
        /// A second object involved.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub related: Option<ObjectReference>,
        /// Controller that emitted the event, e.g. `skiff.io/scheduler`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reporting_component: Option<String>,
        /// Instance of that controller, e.g. a node name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reporting_instance: Option<String>,
    }
    resource {
        kind: "Event", group: "", version: "v1",
        plural: "events", singular: "event", short_names: ["ev"], scope: Namespaced,
        // As Kubernetes' field selectors for the kind (its `ToSelectableFields`).
        selectable_fields: [
            SelectableField::string("involvedObject.kind"),
            SelectableField::string("involvedObject.namespace"),
            SelectableField::string("involvedObject.name"),
            SelectableField::string("involvedObject.uid"),
            SelectableField::string("involvedObject.apiVersion"),
            SelectableField::string("involvedObject.resourceVersion"),
            SelectableField::string("involvedObject.fieldPath"),
            SelectableField::string("reason"),
            SelectableField::string("reportingComponent"),
            SelectableField { label: "source", path: "source.component", absent: "" },
            SelectableField::string("type"),
        ],
    }
}

/// Who reported an event.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventSource {
    /// Component, e.g. `kubelet`, `default-scheduler`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// Node name, for node-local components.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// A series of repeated events.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventSeries {
    /// Occurrences so far.
    #[serde(default)]
    pub count: i32,
    /// When the last one was observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_observed_time: Option<MicroTime>,
}
