//! Event handlers: what an informer calls when its cache changes.

use std::sync::Arc;

/// Called by an informer, in order, for every change of its cache. Handlers must be quick (enqueue a key,
/// update a counter): they run on the informer's task.
pub trait EventHandler<K>: Send + Sync {
    /// A new object (also called for every cached object when the handler is added late).
    fn on_add(&self, obj: &Arc<K>);
    /// A changed object.
    fn on_update(&self, old: &Arc<K>, new: &Arc<K>);
    /// A removed object (its last known state).
    fn on_delete(&self, obj: &Arc<K>);
}

/// An [`EventHandler`] from one closure that gets the old (if any) and new (if any) object.
pub struct FnHandler<F>(pub F);

impl<K, F> EventHandler<K> for FnHandler<F>
where
    F: Fn(Option<&Arc<K>>, Option<&Arc<K>>) + Send + Sync,
{
    fn on_add(&self, obj: &Arc<K>) {
        (self.0)(None, Some(obj))
    }
    fn on_update(&self, old: &Arc<K>, new: &Arc<K>) {
        (self.0)(Some(old), Some(new))
    }
    fn on_delete(&self, obj: &Arc<K>) {
        (self.0)(Some(obj), None)
    }
}
