//! Reconcile metrics in Prometheus' text format (through `prometheus-client`).

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of the reconcile metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    /// The controller's name.
    pub controller: String,
}

/// Labels of the reconcile counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// The controller's name.
    pub controller: String,
    /// `success`, `error` or `requeue`.
    pub result: String,
}

/// What controllers record; register once per process with [`ControllerMetrics::register`].
#[derive(Clone)]
pub struct ControllerMetrics {
    /// `skiff_controller_reconcile_total{controller,result}`.
    pub reconciles: Family<ResultLabels, Counter>,
    /// `skiff_controller_reconcile_duration_seconds{controller}`.
    pub duration: Family<ControllerLabels, Histogram>,
    /// `skiff_workqueue_depth{controller}`.
    pub depth: Family<ControllerLabels, Gauge>,
    /// `skiff_workqueue_adds_total{controller}`.
    pub adds: Family<ControllerLabels, Counter>,
    /// `skiff_workqueue_retries_total{controller}`.
    pub retries: Family<ControllerLabels, Counter>,
    /// `skiff_workqueue_queue_duration_seconds{controller}`: time from add to get.
    pub queue_time: Family<ControllerLabels, Histogram>,
}

fn seconds_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Default for ControllerMetrics {
    fn default() -> Self {
        Self {
            reconciles: Family::default(),
            duration: Family::new_with_constructor(seconds_histogram),
            depth: Family::default(),
            adds: Family::default(),
            retries: Family::default(),
            queue_time: Family::new_with_constructor(seconds_histogram),
        }
    }
}

impl ControllerMetrics {
    /// New metrics, registered in `registry`.
    pub fn register(registry: &mut Registry) -> Arc<Self> {
        let m = Self::default();
        registry.register(
            "skiff_controller_reconcile",
            "Reconciles by result",
            m.reconciles.clone(),
        );
        registry.register(
            "skiff_controller_reconcile_duration_seconds",
            "Time spent in reconcile",
            m.duration.clone(),
        );
        registry.register(
            "skiff_workqueue_depth",
            "Keys waiting in the work queue",
            m.depth.clone(),
        );
        registry.register(
            "skiff_workqueue_adds",
            "Keys added to the work queue",
            m.adds.clone(),
        );
        registry.register(
            "skiff_workqueue_retries",
            "Rate-limited re-adds after failures",
            m.retries.clone(),
        );
        registry.register(
            "skiff_workqueue_queue_duration_seconds",
            "Time a key waited in the queue",
            m.queue_time.clone(),
        );
        Arc::new(m)
    }
}

/// Renders a registry in Prometheus' text exposition format.
pub fn encode_text(registry: &Registry) -> String {
    let mut out = String::new();
    let _ = prometheus_client::encoding::text::encode(&mut out, registry);
    out
}
