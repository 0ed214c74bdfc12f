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
        for (path, item) in openapi.paths.paths.iter_mut() {
            if path.starts_with("/api/v1/people/{id}/")
                && let Some(op) = item.post.as_mut()
            {
                if_match(op);
            }
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
    paged(op);
}

/// A change to a person may send the version it was made from.
fn if_match(op: &mut Operation) {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let parameter = ParameterBuilder::new()
        .name("If-Match")
        .parameter_in(ParameterIn::Header)
        .description(Some("The person's `ETag` as read: the change is refused (412 `stale_version`) if their record changed since"))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build();
    op.parameters.get_or_insert_with(Vec::new).push(RefOr::T(parameter));
    op.responses.responses.insert(
        "412".into(),
        RefOr::T(error("The person's record changed since the version in `If-Match` (`stale_version`): read it again")),
    );
}

/// A list cut into pages (its answer an array, with `page_size` among its
/// parameters) says so in its headers: the whole length and the links.
fn paged(op: &mut Operation) {
    use utoipa::openapi::header::HeaderBuilder;
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let pages = op.parameters.iter().flatten().any(|p| match p {
        RefOr::T(p) => p.name == "page_size",
        RefOr::Ref(_) => false,
    });
    let Some(RefOr::T(ok)) = op.responses.responses.get_mut("200") else { return };
    let array = ok.content.get("application/json").is_some_and(|c| match c {
        RefOr::T(c) => {
            matches!(&c.schema, Some(RefOr::T(utoipa::openapi::schema::Schema::Array(_))))
        }
        RefOr::Ref(_) => false,
    });
    if !(pages && array) {
        return;
    }
    let header = |kind: Type, description: &str| {
        HeaderBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(kind)))
            .description(Some(description))
            .build()
    };
    ok.headers.insert(
        "X-Total-Count".into(),
        RefOr::T(header(Type::Integer, "The number of items in the whole list")),
    );
    ok.headers.insert(
        "Link".into(),
        RefOr::T(header(Type::String, "The first, previous, next and last pages (RFC 8288)")),
    );
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
