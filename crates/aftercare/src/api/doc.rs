//! The OpenAPI document's finishing: every response described, and the
//! statuses any operation can answer with (from the HTTP edge, sign-in and
//! the body reader) listed on every operation they apply to, so a client
//! generated from the document knows every status it may see.

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::{Content, RefOr, Response, ResponseBuilder};

/// Adds the bearer scheme, a description to each response that has none,
/// and the statuses every operation shares.
pub struct Finish;

impl utoipa::Modify for Finish {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        for item in openapi.paths.paths.values_mut() {
            for op in operations(item) {
                finish(op);
            }
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch]
        .into_iter()
        .filter_map(Option::as_mut)
}

/// What any operation may answer, and why: (status, when it applies, description).
const SHARED: &[(&str, Applies, &str)] = &[
    (
        "400",
        Applies::Always,
        "The request could not be read: a malformed path, query or body (`bad_request`, `bad_query`, `bad_json`)",
    ),
    ("401", Applies::SignedIn, "Not signed in, or the token has ended (`not_signed_in`)"),
    (
        "403",
        Applies::SignedIn,
        "Not permitted (`forbidden`), a reason is needed to see this person (`reason_required`), or a cookie-signed change without its CSRF token (`csrf_failed`)",
    ),
    ("404", Applies::WithPathId, "No such record, or none the caller may see (`not_found`)"),
    ("408", Applies::Always, "The request took too long to arrive (`request_timeout`)"),
    ("413", Applies::WithBody, "The request body is too large (`payload_too_large`)"),
    ("414", Applies::Always, "The address is too long (`uri_too_long`)"),
    (
        "422",
        Applies::WithBody,
        "Fields to correct, each named with its reason (`validation_failed`)",
    ),
    ("431", Applies::Always, "The request headers are too large (`headers_too_large`)"),
    (
        "500",
        Applies::Always,
        "Something went wrong on the server; nothing was changed (`internal`)",
    ),
];

#[derive(Clone, Copy, PartialEq)]
enum Applies {
    Always,
    SignedIn,
    WithPathId,
    WithBody,
}

fn finish(op: &mut Operation) {
    let signed_in = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let with_body = op.request_body.is_some();
    let with_path_id = op.parameters.iter().flatten().any(|p| match p {
        RefOr::T(p) => p.parameter_in == utoipa::openapi::path::ParameterIn::Path,
        RefOr::Ref(_) => false,
    });
    for (status, applies, description) in SHARED {
        let applies = match applies {
            Applies::Always => true,
            Applies::SignedIn => signed_in,
            Applies::WithPathId => with_path_id,
            Applies::WithBody => with_body,
        };
        if applies && !op.responses.responses.contains_key(*status) {
            op.responses.responses.insert((*status).into(), RefOr::T(error(description)));
        }
    }
    for (status, response) in op.responses.responses.iter_mut() {
        if let RefOr::T(r) = response
            && r.description.is_empty()
        {
            r.description = default_description(status).into();
        }
    }
}

fn error(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            Content::new(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody"))),
        )
        .build()
}

/// A response the operation declared without words: what its status means.
fn default_description(status: &str) -> &'static str {
    match status {
        "200" => "The result",
        "201" => "Recorded: the new record's id",
        "204" => "Done; nothing to send back",
        "401" => "Not signed in, or the token has ended (`not_signed_in`)",
        "403" => "Not permitted (`forbidden`, `reason_required`)",
        "404" => "No such record, or none the caller may see (`not_found`)",
        "409" => "Refused by the state of the record (the code says which check)",
        "422" => "Fields to correct, each named with its reason",
        "429" => "Too many attempts: wait the seconds given in `Retry-After` (`rate_limited`)",
        _ => "See the error code",
    }
}
