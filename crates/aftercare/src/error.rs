//! The one error every service returns: invalid input (with each field and
//! why), forbidden, not found, conflict, or a storage failure. Each refusal
//! carries a stable code; the HTTP edge turns the kind into a status in one
//! place (`web::AppError: From<ServiceError>`), the CLI prints the message.

use aftercare_files::ImportErrors;

use crate::db::DbError;

/// Problems with a form or JSON body: each field with why, in the order
/// found, so a page can show them beside the fields.
pub type FieldErrors = Vec<(String, String)>;

/// A refusal as the user is told it: a stable code and a plain message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

/// Why a service did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Fields to correct (422, `validation_failed`).
    #[error("{}", summary(.0))]
    Invalid(FieldErrors),
    /// A file whose rows do not pass their checks, each problem naming the
    /// file, row, field and reason; nothing was written.
    #[error("{0}")]
    InvalidFile(ImportErrors),
    /// The user may not do this (wrong role, organisation or body): 403.
    #[error("{}", .0.message)]
    Forbidden(Refusal),
    /// The user's organisation has no part in the person (or nobody holds
    /// the id): a reason must be recorded before the record is shown. A
    /// kind of forbidden that pages answer with the reason form.
    #[error("your organisation has no part in this person's care: state your reason for looking")]
    ReasonRequired(i64),
    /// Nothing of that kind with that id: 404.
    #[error("{}", .0.message)]
    NotFound(Refusal),
    /// The change does not fit the record as it now stands (already done,
    /// lapsed, out of order, or changed since it was seen): 409.
    #[error("{}", .0.message)]
    Conflict(Refusal),
    /// Storage failed (500; a unique index refusing a second row is a 409).
    #[error(transparent)]
    Storage(#[from] DbError),
    /// Something else failed on our side (hashing, encryption, writing a
    /// file, the server stopping): 500, its text logged, never shown.
    #[error("{0}")]
    Internal(String),
}

/// The reasons alone, as the command line prints a refusal.
fn summary(fields: &FieldErrors) -> String {
    fields.iter().map(|(_, r)| r.as_str()).collect::<Vec<_>>().join("; ")
}

impl ServiceError {
    /// One field to correct.
    pub fn invalid(field: &str, reason: impl Into<String>) -> ServiceError {
        ServiceError::Invalid(vec![(field.to_string(), reason.into())])
    }

    pub fn forbidden(code: &'static str, message: String) -> ServiceError {
        ServiceError::Forbidden(Refusal { code, message })
    }

    pub fn not_found(code: &'static str, message: String) -> ServiceError {
        ServiceError::NotFound(Refusal { code, message })
    }

    pub fn conflict(code: &'static str, message: String) -> ServiceError {
        ServiceError::Conflict(Refusal { code, message })
    }

    /// No person with that id (or none this user may know of).
    pub fn no_such_person() -> ServiceError {
        ServiceError::not_found("not_found", "no such person".into())
    }

    /// The user's organisation has no part in the person: refused naming no one.
    pub fn not_in_caseload() -> ServiceError {
        ServiceError::forbidden(
            crate::services::access::NOT_IN_CASELOAD,
            crate::services::access::NOT_IN_CASELOAD_MESSAGE.into(),
        )
    }

    /// The stable code of a refusal (`validation_failed`, `invalid_file`,
    /// `reason_required` and `internal` for the kinds without their own).
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::Invalid(_) => "validation_failed",
            ServiceError::InvalidFile(_) => "invalid_file",
            ServiceError::ReasonRequired(_) => "reason_required",
            ServiceError::Forbidden(r) | ServiceError::NotFound(r) | ServiceError::Conflict(r) => {
                r.code
            }
            ServiceError::Storage(_) | ServiceError::Internal(_) => "internal",
        }
    }

    /// The error as field problems, for a page that shows it beside its
    /// form: fields as they are, any other refusal against `field`.
    pub fn fields(&self, field: &str) -> FieldErrors {
        match self {
            ServiceError::Invalid(f) => f.clone(),
            other => vec![(field.to_string(), other.to_string())],
        }
    }

    /// Renames the fields of a field error to the ids they have on a page
    /// where several forms share it.
    pub fn point_fields(self, id: impl Fn(&str) -> String) -> ServiceError {
        match self {
            ServiceError::Invalid(fields) => {
                ServiceError::Invalid(fields.into_iter().map(|(f, r)| (id(&f), r)).collect())
            }
            other => other,
        }
    }
}

impl From<FieldErrors> for ServiceError {
    fn from(fields: FieldErrors) -> Self {
        ServiceError::Invalid(fields)
    }
}

impl From<ImportErrors> for ServiceError {
    fn from(e: ImportErrors) -> Self {
        ServiceError::InvalidFile(e)
    }
}

impl From<sqlx::Error> for ServiceError {
    fn from(e: sqlx::Error) -> Self {
        ServiceError::Storage(DbError::Sqlx(e))
    }
}

/// Serialising our own values (audit details) failed: a fault on our side.
impl From<serde_json::Error> for ServiceError {
    fn from(e: serde_json::Error) -> Self {
        ServiceError::Internal(format!("could not serialise: {e}"))
    }
}
