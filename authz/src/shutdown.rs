//! Stopping background workers without cutting a delivery in half: the
//! server raises a signal, and each worker checks it only between units of
//! work (a SCIM pass, an event delivery round), so what is in flight
//! finishes and is recorded; then the server waits for them (bounded by
//! the drain grace period) before it closes the pool.

use tokio::sync::watch;

/// A worker's view of the stop signal.
#[derive(Clone)]
pub struct Stop(watch::Receiver<bool>);

/// Raises the signal (dropping it raises it too).
pub struct StopSender(watch::Sender<bool>);

/// A new signal, not raised.
pub fn channel() -> (StopSender, Stop) {
    let (tx, rx) = watch::channel(false);
    (StopSender(tx), Stop(rx))
}

impl StopSender {
    pub fn stop(&self) {
        let _ = self.0.send(true);
    }
}

impl Stop {
    /// Resolves once the signal is raised (at once if it already was).
    pub async fn raised(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}
