//! `Shutdown`: a cloneable signal that tells long-running loops (informers, controllers, leader election)
//! to stop.

use tokio::sync::watch;

/// The sending side: call [`ShutdownTrigger::trigger`] once to stop everything holding a [`Shutdown`].
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

/// The receiving side; clone it into every task that must stop.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use skiff_core::shutdown::Shutdown;
/// let (trigger, shutdown) = Shutdown::new();
/// let task = tokio::spawn({
///     let s = shutdown.clone();
///     async move { s.wait().await; "stopped" }
/// });
/// trigger.trigger();
/// assert_eq!(task.await.unwrap(), "stopped");
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// A new signal, not yet triggered.
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (ShutdownTrigger(tx), Shutdown(rx))
    }

    /// A signal that never fires (for programs stopped by exiting).
    pub fn never() -> Shutdown {
        let (tx, rx) = watch::channel(false);
        std::mem::forget(tx);
        Shutdown(rx)
    }

    /// True once triggered.
    pub fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once triggered (or when the trigger is dropped).
    pub async fn wait(&self) {
        let mut rx = self.0.clone();
        let _ = rx.wait_for(|v| *v).await;
    }
}

impl ShutdownTrigger {
    /// Stops everything holding the matching [`Shutdown`].
    pub fn trigger(&self) {
        let _ = self.0.send(true);
    }

    /// Another receiver of this signal.
    pub fn subscribe(&self) -> Shutdown {
        Shutdown(self.0.subscribe())
    }
}

impl Drop for ShutdownTrigger {
    fn drop(&mut self) {
        let _ = self.0.send(true);
    }
}
