//! Where the services write their audit records: the store and the time of
//! the request. A failed append is logged and never reaches the client (an
//! audit fault must not turn a sign-in into an error page).

use super::Store;

/// The audit log as a service sees it: records stamped with the time the
/// request is handled at.
#[derive(Clone, Copy)]
pub struct Audit<'a> {
    pub store: &'a Store,
    pub now: i64,
}

impl Audit<'_> {
    /// Appends one record; a failure is logged, never shown to the client.
    pub async fn record(&self, kind: &str, actor: &str, subject: &str, data: serde_json::Value) {
        if let Err(e) = self
            .store
            .append_audit(self.now, kind, actor, subject, &data)
            .await
        {
            tracing::error!(error = %e, kind, "audit append failed");
        }
    }

    /// Appends one record together with `stmts`, all or none
    /// ([`Store::append_audit_with`]). Unlike [`Audit::record`] a failure is
    /// the caller's: the statements did not commit either.
    pub(crate) async fn record_with(
        &self,
        kind: &str,
        actor: &str,
        subject: &str,
        data: serde_json::Value,
        stmts: Vec<super::Stmt>,
    ) -> super::Result<Vec<u64>> {
        self.store
            .append_audit_with(self.now, kind, actor, subject, &data, stmts)
            .await
    }
}
