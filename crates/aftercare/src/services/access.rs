//! Who may change a person's record: only a user whose organisation has a
//! part in the person's care. A reason recorded to look (a break-glass grant)
//! opens the record for reading and never for writing, so a grant cannot be
//! turned into a lasting part (issue 12, finding 3).

use crate::auth::{Role, User};
use crate::db::store::{self, AuditEntry, GrantToReview};
use crate::db::{Db, Tx};
use crate::error::ServiceError;

/// The stable code of a change refused because the user's organisation has
/// no part in the person.
pub const NOT_IN_CASELOAD: &str = "not_in_caseload";

/// What a refused change says: it names neither the person nor the bodies.
pub const NOT_IN_CASELOAD_MESSAGE: &str = "this person is not in your caseload: your organisation has no part in their care, so you cannot change their record (a reason to look lets you read it, not change it)";

/// Refuses a change to a person's record unless the user's organisation has
/// a part in their care. Called inside the write transaction, before any
/// write, so the check and the change see the same record.
pub async fn ensure_part(tx: &mut Tx, user: &User, person_id: i64) -> Result<(), ServiceError> {
    if has_part(&mut *tx, user, person_id).await? {
        Ok(())
    } else {
        Err(ServiceError::not_in_caseload())
    }
}

/// Whether the user's organisation has a part in the person's care: the
/// check [`ensure_part`] makes, for pages deciding which change forms to
/// offer (a reason to look gives none).
pub async fn has_part(
    conn: impl Into<crate::db::Conn<'_>>,
    user: &User,
    person_id: i64,
) -> Result<bool, ServiceError> {
    Ok(store::org_has_part(conn, person_id, &user.org_code).await?)
}

/// Records a reason for looking at a person outside the user's scope; the
/// grant lasts the rest of the working day. The reason is checked before
/// the person is looked up, so the form does not tell an id nobody holds
/// from one outside the scope until a reason has been given.
pub async fn record_reason(
    db: &Db,
    user: &User,
    person_id: i64,
    reason: &str,
) -> Result<(), ServiceError> {
    let reason = reason.trim();
    if reason.chars().count() < 10 {
        return Err(ServiceError::invalid(
            "reason",
            "Enter your reason for looking, in at least 10 characters",
        ));
    }
    let mut tx = db.begin_write().await?;
    if store::get_person(&mut tx, person_id).await?.is_none() {
        return Err(ServiceError::no_such_person());
    }
    store::insert_access_grant(
        &mut tx,
        user.id,
        person_id,
        reason,
        store::now() + chrono::Duration::hours(crate::services::sign_in::SESSION_HOURS),
    )
    .await?;
    store::append_audit(
        &mut tx,
        &user.actor(),
        AuditEntry {
            action: "access.reason_recorded",
            person_id: Some(person_id),
            entity: "person",
            entity_id: Some(person_id.to_string()),
            reason: Some(reason),
            details: serde_json::json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    // Security event for the operator's log: no personal data, only ids.
    tracing::warn!(target: "security", event = "break_glass", user_id = user.id, person_id, "a reason to look was recorded");
    Ok(())
}

/// The reasons to look that wait for an auditor of the user's organisation:
/// each one alerts the auditors (issue 12, finding 3) until one reviews it.
pub async fn grants_to_review(db: &Db, user: &User) -> Result<Vec<GrantToReview>, ServiceError> {
    if !user.has(Role::Auditor) {
        return Err(not_auditor());
    }
    Ok(store::grants_to_review(db, &user.org_code).await?)
}

/// An auditor marks a reason to look reviewed, with a note; audited.
/// `Ok(false)`: it was already reviewed, or is not theirs to review.
pub async fn review_grant(
    db: &Db,
    user: &User,
    grant_id: i64,
    note: &str,
) -> Result<bool, ServiceError> {
    if !user.has(Role::Auditor) {
        return Err(not_auditor());
    }
    let note = note.trim();
    let note = if note.is_empty() { "reviewed" } else { note };
    let mut tx = db.begin_write().await?;
    let Some(person_id) =
        store::mark_grant_reviewed(&mut tx, grant_id, &user.org_code, &user.username, note).await?
    else {
        return Ok(false);
    };
    store::append_audit(
        &mut tx,
        &user.actor(),
        AuditEntry {
            action: "access.reason_reviewed",
            person_id: Some(person_id),
            entity: "access_grant",
            entity_id: Some(grant_id.to_string()),
            reason: Some(note),
            details: serde_json::json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Only the organisation's auditors review reasons to look.
fn not_auditor() -> ServiceError {
    ServiceError::forbidden("forbidden", "only auditors review reasons to look".into())
}
