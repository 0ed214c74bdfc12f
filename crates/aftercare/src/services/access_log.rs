//! The access log: who read what, when, and whether under a break-glass
//! grant. Every read of a person's record (through
//! [`crate::services::views::ensure_can_view`], which every person page and API read
//! passes), every export, list download and letter writes one row.
//!
//! Cheap enough at national scale: one insert per read (no hash chain, no
//! writers' lock, no foreign keys), one row per export however many people
//! it holds (its kind, row count and filter), and one index, by person.
//! A read whose row cannot be written fails: an unlogged read is refused
//! rather than served.

use std::sync::{Arc, Mutex};

use crate::auth::Session;
use crate::db::access_log as q;
use crate::db::store::Actor;
use crate::db::{Db, DbError};

/// The request a session serves, for the access log: its method and path
/// (ids only), the route template it matched, and the people already logged
/// in it.
#[derive(Clone, Debug, Default)]
pub struct RequestInfo {
    /// e.g. `GET /people/12/plan`.
    pub route: String,
    /// e.g. `/people/{id}/plan`.
    pub template: String,
    logged: Arc<Mutex<Vec<i64>>>,
}

impl RequestInfo {
    pub fn new(method: &str, path: &str, template: &str) -> RequestInfo {
        RequestInfo {
            route: format!("{method} {path}"),
            template: template.to_string(),
            logged: Arc::default(),
        }
    }

    /// True the first time a person is read in this request.
    fn first_read_of(&self, person_id: i64) -> bool {
        match self.logged.lock() {
            Ok(seen) if seen.contains(&person_id) => false,
            Ok(mut seen) => {
                seen.push(person_id);
                true
            }
            // A poisoned lock: log again rather than miss a read.
            Err(_) => true,
        }
    }
}

/// What was read. Stored as its stable text ([`AccessKind::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessKind {
    /// The person's page.
    PersonPage,
    /// `GET /api/v1/people/{id}`.
    ApiPerson,
    /// `GET /api/v1/people/{id}/history`.
    ApiHistory,
    Plan,
    Assessment,
    Factsheet,
    Letter,
    /// Any other page or form about one person (what-if, endings, disputes…).
    PersonOther,
    /// Any other API call about one person.
    ApiOther,
    /// The people list or a search of it (its filter and count).
    PeopleList,
    /// The worklists, funding and no-charge pages: lists of many people.
    WorklistPage,
    FundingPage,
    FinancePage,
    WorklistCsv,
    MonitoringCsv,
    FundingCsv,
    FinanceCsv,
    MasterListPage,
    /// The invoices page: a quarter's recharge lines, one per client.
    InvoicePage,
    /// An invoice downloaded as PDF or CSV.
    InvoiceFile,
    /// `GET /api/v1/refunds`.
    ApiRefunds,
    MasterListCsv,
    MasterListXlsx,
    /// `aftercare export register`.
    RegisterExport,
    /// `aftercare export fhir`.
    FhirExport,
    /// `aftercare audit access`: reading the access log is itself a read.
    AccessLogRead,
    /// `aftercare what-if --nhs-number`.
    CliWhatIf,
    /// A reconciliation upload's findings (their count), in the product or
    /// by `aftercare reconcile`.
    Reconciliation,
    RefundsPage,
    /// `aftercare reviews due`.
    CliReviewsDue,
    /// `aftercare funding costs`.
    CliFundingCosts,
    CliRefunds,
    /// A row of an imported register file that matched someone outside the
    /// importer's caseload: the import's answer says they are on the
    /// register, so that is a read, logged (detail: the file's name).
    ImportMatch,
}

impl AccessKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessKind::PersonPage => "person_page",
            AccessKind::ApiPerson => "api_person",
            AccessKind::ApiHistory => "api_history",
            AccessKind::Plan => "plan",
            AccessKind::Assessment => "assessment",
            AccessKind::Factsheet => "factsheet",
            AccessKind::Letter => "letter",
            AccessKind::PersonOther => "person_other",
            AccessKind::ApiOther => "api_other",
            AccessKind::PeopleList => "people_list",
            AccessKind::WorklistPage => "worklist_page",
            AccessKind::FundingPage => "funding_page",
            AccessKind::FinancePage => "finance_page",
            AccessKind::WorklistCsv => "export.worklist_csv",
            AccessKind::MonitoringCsv => "export.monitoring_csv",
            AccessKind::FundingCsv => "export.funding_csv",
            AccessKind::FinanceCsv => "export.finance_csv",
            AccessKind::MasterListPage => "master_list_page",
            AccessKind::InvoicePage => "invoice_page",
            AccessKind::InvoiceFile => "export.invoice",
            AccessKind::MasterListCsv => "export.master_list_csv",
            AccessKind::MasterListXlsx => "export.master_list_xlsx",
            AccessKind::RegisterExport => "export.register",
            AccessKind::FhirExport => "export.fhir",
            AccessKind::AccessLogRead => "access_log",
            AccessKind::CliWhatIf => "cli_what_if",
            AccessKind::Reconciliation => "reconciliation",
            AccessKind::RefundsPage => "list.refunds",
            AccessKind::ApiRefunds => "api.refunds",
            AccessKind::CliReviewsDue => "export.reviews_due",
            AccessKind::CliFundingCosts => "export.funding_costs",
            AccessKind::CliRefunds => "export.refunds",
            AccessKind::ImportMatch => "import.match_outside_caseload",
        }
    }

    /// The kind of a read of one person from the route that served it (the
    /// route template, e.g. `/people/{id}/plan`).
    pub fn of_route(template: &str) -> AccessKind {
        match template {
            "/people/{id}" => AccessKind::PersonPage,
            "/api/v1/people/{id}" => AccessKind::ApiPerson,
            "/api/v1/people/{id}/history" => AccessKind::ApiHistory,
            "/people/{id}/plan" => AccessKind::Plan,
            "/people/{id}/assessment" => AccessKind::Assessment,
            "/people/{id}/factsheet" => AccessKind::Factsheet,
            "/endings/{pid}/letters/{kind}"
            | "/people/{id}/reinstatement-letter"
            | "/people/{id}/reinstatement-letter/easy-read"
            | "/people/{id}/letters/{letter_id}" => AccessKind::Letter,
            t if t.starts_with("/api/") => AccessKind::ApiOther,
            _ => AccessKind::PersonOther,
        }
    }
}

pub use crate::db::access_log::AccessRow;

/// A read to record.
pub struct Access<'a> {
    pub kind: AccessKind,
    pub person_id: Option<i64>,
    /// Method and path (ids only, never names), e.g. `GET /people/12/plan`.
    pub route: Option<&'a str>,
    pub rows: Option<i64>,
    /// An export's filter, a letter's kind.
    pub detail: Option<&'a str>,
}

/// Writes one row. For a read of a person, the grant is found in the same
/// statement: the newest unexpired grant of the user for the person, when
/// their organisation has no part in them.
pub async fn record(db: &Db, actor: &Actor, access: Access<'_>) -> Result<(), DbError> {
    q::insert(db, actor, &access).await
}

/// Records a read of one person by a signed-in user, once per request
/// (pages that check access twice write one row).
pub async fn person_read(db: &Db, s: &Session, person_id: i64) -> Result<(), DbError> {
    if !s.request.first_read_of(person_id) {
        return Ok(());
    }
    let kind = AccessKind::of_route(&s.request.template);
    record(
        db,
        &s.user.actor(),
        Access {
            kind,
            person_id: Some(person_id),
            route: Some(&s.request.route),
            rows: None,
            detail: None,
        },
    )
    .await
}

/// Records an export, list or download of many people by a signed-in user:
/// one row, with how many rows it held and its filter.
pub async fn export(
    db: &Db,
    s: &Session,
    kind: AccessKind,
    rows: usize,
    detail: Option<&str>,
) -> Result<(), DbError> {
    record(
        db,
        &s.user.actor(),
        Access {
            kind,
            person_id: None,
            route: Some(&s.request.route),
            rows: Some(rows as i64),
            detail: detail.filter(|d| !d.is_empty()),
        },
    )
    .await
}

/// The newest reads of a person, newest first, at most `limit`.
pub async fn for_person(db: &Db, person_id: i64, limit: i64) -> Result<Vec<AccessRow>, DbError> {
    q::for_person(db, person_id, limit).await
}

/// How many reads of a person are logged.
pub async fn count_for_person(db: &Db, person_id: i64) -> Result<i64, DbError> {
    q::count_for_person(db, person_id).await
}

/// Every export and list of many people, newest first, at most `limit`.
pub async fn exports(db: &Db, limit: i64) -> Result<Vec<AccessRow>, DbError> {
    q::exports(db, limit).await
}
