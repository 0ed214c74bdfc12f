//! A person's record's version for conflict checks: the `ETag` sent with
//! a person and their plan, and the `If-Match` a change to them may send,
//! checked by the write itself (under the write lock, see
//! `db::EXPECTED_PERSON_VERSION`), so two systems holding the same version
//! cannot both write: the second is told 412 `stale_version`.

use axum::extract::Request;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::db::store;
use crate::web::{ApiError, AppError, AppState};

/// The person's version as an entity tag: `"7"`.
pub async fn etag(state: &AppState, person_id: i64) -> Result<HeaderValue, ApiError> {
    let v = store::person_version(&state.db, person_id).await?;
    HeaderValue::from_str(&format!("\"{v}\"")).map_err(|_| ApiError(AppError::Internal))
}

/// The person a change under `/people/{id}/` is about.
fn person_of(path: &str) -> Option<i64> {
    let mut parts = path.split('/').skip_while(|p| *p != "people").skip(1);
    let id = parts.next()?.parse().ok()?;
    // `/people/{id}` itself takes no change; something under it does.
    parts.next().map(|_| id)
}

/// The version an `If-Match` names: `"7"` or `W/"7"`; `*` (any) names none.
fn version_in(value: &str) -> Result<Option<i64>, ()> {
    let v = value.trim();
    if v == "*" {
        return Ok(None);
    }
    let v = v.strip_prefix("W/").unwrap_or(v);
    let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).ok_or(())?;
    v.parse().map(Some).map_err(|_| ())
}

/// Runs a change to a person with the version its `If-Match` names, for
/// the write to check; a tag that names no version cannot match (412).
pub async fn if_match(req: Request, next: Next) -> Response {
    let person = person_of(req.uri().path()).filter(|_| req.method() == Method::POST);
    let (Some(person), Some(value)) = (person, req.headers().get(header::IF_MATCH)) else {
        return next.run(req).await;
    };
    match value.to_str().map_err(|_| ()).and_then(version_in) {
        Ok(None) => next.run(req).await,
        Ok(Some(version)) => {
            crate::db::EXPECTED_PERSON_VERSION.scope((person, version), next.run(req)).await
        }
        Err(()) => ApiError(AppError::from(crate::db::DbError::StaleVersion)).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_under_a_person_name_them() {
        assert_eq!(person_of("/api/v1/people/12/facts"), Some(12));
        assert_eq!(person_of("/people/12/plan/needs"), Some(12));
        assert_eq!(person_of("/api/v1/people/12"), None);
        assert_eq!(person_of("/api/v1/people"), None);
        assert_eq!(person_of("/api/v1/people/x/facts"), None);
        assert_eq!(person_of("/api/v1/endings/3/decisions"), None);
    }

    #[test]
    fn entity_tags_are_read_strong_or_weak() {
        assert_eq!(version_in("\"7\""), Ok(Some(7)));
        assert_eq!(version_in(" W/\"7\" "), Ok(Some(7)));
        assert_eq!(version_in("*"), Ok(None));
        assert_eq!(version_in("7"), Err(()));
        assert_eq!(version_in("\"seven\""), Err(()));
    }
}
