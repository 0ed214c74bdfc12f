//! Who may change a person's record: only a user whose organisation has a
//! part in the person's care. A reason recorded to look (a break-glass grant)
//! opens the record for reading and never for writing, so a grant cannot be
//! turned into a lasting part (issue 12, finding 3).

use crate::auth::User;
use crate::db::Tx;
use crate::db::store;
use crate::register::RegisterError;

/// The stable code of a change refused because the user's organisation has
/// no part in the person.
pub const NOT_IN_CASELOAD: &str = "not_in_caseload";

/// What a refused change says: it names neither the person nor the bodies.
pub const NOT_IN_CASELOAD_MESSAGE: &str = "this person is not in your caseload: your organisation has no part in their care, so you cannot change their record (a reason to look lets you read it, not change it)";

/// Refuses a change to a person's record unless the user's organisation has
/// a part in their care. Called inside the write transaction, before any
/// write, so the check and the change see the same record.
pub async fn ensure_part(tx: &mut Tx, user: &User, person_id: i64) -> Result<(), RegisterError> {
    if store::org_has_part_tx(tx, person_id, &user.org_code).await? {
        Ok(())
    } else {
        Err(RegisterError::NotInCaseload)
    }
}
