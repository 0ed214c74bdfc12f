//! Services: each owns a capability, takes domain input from the edges,
//! checks who may do it, and reads and writes through storage (`db/`) in
//! one transaction with its audit record. They return `ServiceError` and
//! hold no HTTP or command-line types.

pub mod access;
pub mod access_log;
pub mod accounts;
pub mod admin;
pub mod care;
pub mod demo;
pub mod detentions;
pub mod disputes;
pub mod endings;
pub mod export;
pub mod facts;
pub mod fhir;
pub mod finance;
pub mod funding_requests;
pub mod generate;
pub mod import_jobs;
pub mod import_mappings;
pub mod letters;
pub mod notify;
pub mod reference;
pub mod register;
pub mod sharing;
pub mod sign_in;
pub mod single_sign_on;
pub mod standing;
pub mod tasks;
pub mod views;

/// Appends the audit record of a change to one row about a person (the
/// shape most services write), in the change's transaction.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn audit_row(
    tx: &mut crate::db::Tx,
    actor: &crate::db::store::Actor,
    action: &str,
    person_id: i64,
    entity: &str,
    id: i64,
    reason: Option<&str>,
    details: serde_json::Value,
) -> Result<(), crate::db::DbError> {
    crate::db::store::append_audit(
        tx,
        actor,
        crate::db::store::AuditEntry {
            action,
            person_id: Some(person_id),
            entity,
            entity_id: Some(id.to_string()),
            reason,
            details,
        },
    )
    .await?;
    Ok(())
}
