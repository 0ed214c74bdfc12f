//! Paged lists: every list the API answers with is cut into pages by
//! `page` (from 1) and `page_size` (1 to 1,000; 100 when left out), the
//! whole list's length in `X-Total-Count` and the neighbouring pages in an
//! RFC 8288 `Link` header, so a client walks a long list without the answer
//! changing shape.

use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::web::{ApiError, AppState};

/// The page size when none is asked for.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// The largest page size.
pub const MAX_PAGE_SIZE: usize = 1000;

/// Which page of a list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// The page, from 1 (a page past the end is empty).
    #[serde(default)]
    pub page: Option<i64>,
    /// Items a page, 1 to 1,000 (100 when left out; others are brought
    /// within those bounds).
    #[serde(default)]
    pub page_size: Option<i64>,
}

/// The page asked for, and where the request was (for the links).
pub struct Paging {
    page: usize,
    size: usize,
    uri: Uri,
}

impl axum::extract::FromRequestParts<AppState> for Paging {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let p: PageParams = super::query_of(&parts.uri)?;
        // The address as sent, before the API's router took its prefix off.
        let uri = match parts.extensions.get::<axum::extract::OriginalUri>() {
            Some(axum::extract::OriginalUri(uri)) => uri.clone(),
            None => parts.uri.clone(),
        };
        Ok(Paging::new(&p, uri))
    }
}

impl Paging {
    pub fn new(p: &PageParams, uri: Uri) -> Paging {
        let size = p.page_size.unwrap_or(DEFAULT_PAGE_SIZE as i64).clamp(1, MAX_PAGE_SIZE as i64);
        let page = p.page.unwrap_or(1).clamp(1, i64::from(u32::MAX));
        Paging { page: page as usize, size: size as usize, uri }
    }

    /// The items of this page, and the whole list's length.
    pub fn cut<T>(&self, items: Vec<T>) -> (Vec<T>, usize) {
        let total = items.len();
        let start = (self.page - 1).saturating_mul(self.size);
        (items.into_iter().skip(start).take(self.size).collect(), total)
    }

    /// This page of `items`, as the answer.
    pub fn of<T: Serialize>(&self, items: Vec<T>) -> Paged<T> {
        let (items, total) = self.cut(items);
        Paged { items, total, links: self.links(total) }
    }

    /// The `Link` header's value: first, previous, next and last pages.
    fn links(&self, total: usize) -> String {
        let last = total.div_ceil(self.size).max(1);
        let mut rels = vec![("first", 1)];
        if self.page > 1 {
            rels.push(("prev", (self.page - 1).min(last)));
        }
        if self.page < last {
            rels.push(("next", self.page + 1));
        }
        rels.push(("last", last));
        rels.iter()
            .map(|(rel, page)| format!("<{}>; rel=\"{rel}\"", self.link(*page)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The request's own address with `page` (and the page size) set.
    fn link(&self, page: usize) -> String {
        let mut pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(self.uri.query().unwrap_or("")).unwrap_or_default();
        pairs.retain(|(k, _)| k != "page" && k != "page_size");
        pairs.push(("page".into(), page.to_string()));
        pairs.push(("page_size".into(), self.size.to_string()));
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        format!("{}?{query}", self.uri.path())
    }
}

/// One page of a list: its items as a JSON array, with the headers.
pub struct Paged<T> {
    items: Vec<T>,
    total: usize,
    links: String,
}

impl<T> Paged<T> {
    /// The items on this page.
    pub fn on_page(&self) -> usize {
        self.items.len()
    }
}

impl<T: Serialize> IntoResponse for Paged<T> {
    fn into_response(self) -> Response {
        let mut r = axum::Json(self.items).into_response();
        let headers = r.headers_mut();
        headers.insert("x-total-count", HeaderValue::from(self.total));
        if let Ok(v) = HeaderValue::from_str(&self.links) {
            headers.insert(header::LINK, v);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paging(query: &str) -> Paging {
        let uri: Uri = format!("/api/v1/users{query}").parse().unwrap();
        let p: PageParams = serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap();
        Paging::new(&p, uri)
    }

    #[test]
    fn pages_cut_the_list_and_link_their_neighbours() {
        let p = paging("?page=2&page_size=3&q=smith");
        let (items, total) = p.cut((1..=8).collect::<Vec<_>>());
        assert_eq!((items, total), (vec![4, 5, 6], 8));
        assert_eq!(
            p.links(8),
            "</api/v1/users?q=smith&page=1&page_size=3>; rel=\"first\", \
             </api/v1/users?q=smith&page=1&page_size=3>; rel=\"prev\", \
             </api/v1/users?q=smith&page=3&page_size=3>; rel=\"next\", \
             </api/v1/users?q=smith&page=3&page_size=3>; rel=\"last\""
        );
    }

    #[test]
    fn sizes_and_pages_out_of_bounds_are_brought_within_them() {
        assert_eq!(paging("").size, DEFAULT_PAGE_SIZE);
        assert_eq!(paging("?page_size=0").size, 1);
        assert_eq!(paging("?page_size=99999").size, MAX_PAGE_SIZE);
        let far = paging("?page=-5");
        assert_eq!(far.page, 1);
        let past = paging(&format!("?page={}", i64::MAX));
        assert_eq!(past.cut(vec![1, 2, 3]), (vec![], 3), "past the end: empty, no overflow");
        assert!(!past.links(3).contains("rel=\"next\""));
        // An empty list is one empty page.
        assert_eq!(paging("").links(0).matches("page=1&").count(), 2);
    }
}
