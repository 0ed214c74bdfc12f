//! Sharing the register with partners (SPEC 9): the master list as at the
//! first working day of each month, encrypted to the recipient with `age`
//! when it leaves the system and recorded (what, when, to whom, and a hash
//! of what was sent); the same list in the product for partners to see
//! without email; and status enquiries, answered only with a stated reason,
//! which is logged.

use std::str::FromStr;

use aftercare_core::calendar;
use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::db::sharing as q;
use crate::db::store::{self, Actor, AuditEntry};
use crate::db::{Db, DbError};
use crate::error::ServiceError;
use crate::services::export::{self, ExportView};
use crate::services::register::FieldErrors;

/// Why a share could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    #[error("`{0}` is not a month in the form YYYY-MM")]
    Month(String),
    #[error("{0} has no age recipient key: add one with `aftercare share recipients add`")]
    NoRecipient(String),
    #[error("the age recipient key is not valid: {0}")]
    BadKey(String),
    #[error("encryption failed: {0}")]
    Encrypt(String),
    #[error("could not write the spreadsheet: {0}")]
    File(#[from] aftercare_files::FileError),
    #[error(transparent)]
    Db(#[from] DbError),
}

pub use crate::db::sharing::ShareRow;

/// Parses `YYYY-MM` into the first working day of that month.
pub fn sharing_date(month: &str) -> Result<NaiveDate, ServiceError> {
    let bad = || ServiceError::from(ShareError::Month(month.to_string()));
    let (y, m) = month.trim().split_once('-').ok_or_else(bad)?;
    let (y, m): (i32, u32) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(1900..=9999).contains(&y) {
        return Err(bad());
    }
    calendar::first_working_day_of_month(y, m).ok_or_else(bad)
}

/// The sharing day whose list stands on `today`: this month's first
/// working day, or last month's before it.
pub fn sharing_day_on(today: NaiveDate) -> NaiveDate {
    let this = calendar::first_working_day_of_month(today.year(), today.month());
    match this {
        Some(d) if d <= today => d,
        _ => {
            let prev = today.with_day(1).and_then(|d| d.pred_opt()).unwrap_or(today);
            calendar::first_working_day_of_month(prev.year(), prev.month()).unwrap_or(today)
        }
    }
}

/// The master list's columns: the register import's own (so a partner can
/// load a share into its own system, or into Aftercare), then what the
/// rules derived. [`export::COLUMN_DICTIONARY`] says what each holds.
pub fn master_list_headers() -> Vec<&'static str> {
    export::detention_headers()
}

/// The organisations whose caseloads make up `org`'s master list: itself
/// and every body it is in partnership with. The MHA office shares one
/// complete list with both partners [Lincs 3.3], so a council and its ICB
/// see the same rows.
pub async fn list_partners(db: &Db, org: &str) -> Result<Vec<String>, DbError> {
    let mut orgs = vec![org.to_string()];
    for p in crate::db::care::partnerships(db).await? {
        let partner = if p.council_code == org {
            p.nhs_code
        } else if p.nhs_code == org {
            p.council_code
        } else {
            continue;
        };
        if !orgs.contains(&partner) {
            orgs.push(partner);
        }
    }
    Ok(orgs)
}

/// The master list for an organisation as at `as_of`: one row per
/// detention (the master-list fields of Lincs 3.0: name, date of birth,
/// NHS number or local id, GP practice, residence and place of detention at
/// the time of detention, date added) of each person eligible on that day
/// in the caseloads of the organisation and its partners. People never
/// eligible (s2 or s4 only) and people whose eligibility is still to be
/// decided are not on it. Facts dated on or before that day, with today's
/// corrections (`known_now`), so a list made later for an earlier month
/// carries what we now know about that date.
pub async fn master_list(
    db: &Db,
    org: &str,
    as_of: NaiveDate,
    today: NaiveDate,
) -> Result<Vec<Vec<String>>, DbError> {
    // Built from the caseloads alone: the database reads only the rows of
    // the people the partners have a part in (issue 12, finding 10).
    let orgs = list_partners(db, org).await?;
    let view = ExportView { as_of, historical: as_of < today, known_now: true };
    Ok(export::people_as_of(db, view, Some(&orgs))
        .await?
        .iter()
        .filter(|p| p.summary.eligible)
        .flat_map(export::detention_rows)
        .collect())
}

pub async fn set_recipient(
    db: &Db,
    actor: &Actor,
    org: &str,
    key: &str,
) -> Result<(), ServiceError> {
    age::x25519::Recipient::from_str(key.trim()).map_err(|e| ShareError::BadKey(e.to_string()))?;
    let mut tx = db.begin_write().await?;
    q::set_recipient(&mut tx, org, key.trim(), actor).await?;
    store::append_audit(
        &mut tx,
        actor,
        AuditEntry {
            action: "share.recipient_set",
            person_id: None,
            entity: "share_recipient",
            entity_id: Some(org.to_string()),
            reason: None,
            details: json!({"org": org, "age_recipient": key.trim()}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn shares(db: &Db, org: Option<&str>) -> Result<Vec<ShareRow>, DbError> {
    q::shares(db, org).await
}

/// The file format of a share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareFormat {
    Csv,
    Xlsx,
}

/// A share made: the encrypted bytes to deliver and the record kept.
pub struct Share {
    pub encrypted: Vec<u8>,
    pub record: ShareRow,
}

/// Makes the monthly share for an organisation: the master list as at the
/// first working day of `month`, encrypted to its age key, and recorded.
/// Returns None when `only_once` and that month was already shared with it.
pub async fn share_monthly(
    db: &Db,
    actor: &Actor,
    org: &str,
    month: &str,
    format: ShareFormat,
    only_once: bool,
    today: NaiveDate,
) -> Result<Option<Share>, ServiceError> {
    let as_of = sharing_date(month)?;
    let month = format!("{:04}-{:02}", as_of.year(), as_of.month());
    if only_once && shares(db, Some(org)).await?.iter().any(|s| s.month == month) {
        return Ok(None);
    }
    let key = q::recipient_key(db, org).await?;
    let key = key.ok_or_else(|| ShareError::NoRecipient(org.to_string()))?;
    let recipient =
        age::x25519::Recipient::from_str(&key).map_err(|e| ShareError::BadKey(e.to_string()))?;
    let rows = master_list(db, org, as_of, today).await?;
    let plain = match format {
        ShareFormat::Csv => aftercare_files::write_csv(&master_list_headers(), &rows),
        ShareFormat::Xlsx => aftercare_files::write_xlsx("Register", &master_list_headers(), &rows)
            .map_err(ShareError::from)?,
    };
    let sha = hex::encode(Sha256::digest(&plain));
    let encrypted =
        age::encrypt(&recipient, &plain).map_err(|e| ShareError::Encrypt(e.to_string()))?;
    let ext = if format == ShareFormat::Csv { "csv" } else { "xlsx" };
    let file_name = format!("s117-register-{org}-{month}.{ext}.age");
    let mut tx = db.begin_write().await?;
    let at = store::now();
    let id = q::insert_share(
        &mut tx,
        &q::NewShare {
            month: &month,
            as_of,
            recipient_org: org,
            format: ext,
            rows: rows.len() as i64,
            sha256: &sha,
            file_name: &file_name,
            at,
        },
        actor,
    )
    .await?;
    store::append_audit(&mut tx, actor, AuditEntry { action: "share.monthly", person_id: None, entity: "share", entity_id: Some(id.to_string()), reason: None, details: json!({"to": org, "month": month, "as_of": as_of, "rows": rows.len(), "sha256": sha, "format": ext}) }).await?;
    tx.commit().await?;
    let record = ShareRow {
        id,
        month,
        as_of,
        recipient_org: org.to_string(),
        format: ext.to_string(),
        rows: rows.len() as i64,
        sha256: sha,
        file_name,
        shared_at: at,
        shared_by: actor.username.clone(),
    };
    Ok(Some(Share { encrypted, record }))
}

/// A status enquiry: whom it is about, and why the asker needs to know.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct EnquiryForm {
    #[serde(default)]
    pub nhs_number: String,
    #[serde(default)]
    pub reason: String,
}

/// Checks an enquiry's fields: a valid NHS number and a reason.
pub fn check_enquiry(f: &EnquiryForm) -> Result<aftercare_core::NhsNumber, FieldErrors> {
    let mut errors = FieldErrors::new();
    let nhs = aftercare_core::NhsNumber::parse(&f.nhs_number)
        .map_err(|e| errors.push(("nhs_number".into(), e.to_string())))
        .ok();
    if f.reason.trim().chars().count() < 10 {
        errors.push((
            "reason".into(),
            "give your reason for asking, in at least 10 characters".into(),
        ));
    }
    match nhs {
        Some(n) if errors.is_empty() => Ok(n),
        _ => Err(errors),
    }
}

/// The answer to "is this person s117, and who is responsible?".
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StatusAnswer {
    pub nhs_number: String,
    /// On the register and in the asker's caseload. A person outside it is
    /// answered as if not on the register: "not in your caseload".
    pub on_register: bool,
    pub eligible: bool,
    pub entitled: bool,
    pub responsible_council: Option<String>,
    pub council_rule: Option<String>,
    pub responsible_nhs_commissioner: Option<String>,
    pub nhs_rule: Option<String>,
}

/// Whether `org` may be told a person's s117 status: it has a part in the
/// person, or is a partner (in a partnership) of the council or NHS
/// commissioner responsible for them [Lincs 2.4]. The server's own command
/// line (no organisation) answers for the whole register.
async fn answerable(db: &Db, org: Option<&str>, p: &store::PersonRow) -> Result<bool, DbError> {
    let Some(org) = org else { return Ok(true) };
    if store::org_has_part(db, p.id, org).await? {
        return Ok(true);
    }
    let bodies = [p.council_code.as_deref(), p.nhs_code.as_deref()];
    Ok(crate::db::care::partnerships(db).await?.iter().any(|x| {
        (x.council_code == org || x.nhs_code == org)
            && bodies.iter().flatten().any(|b| *b == x.council_code || *b == x.nhs_code)
    }))
}

/// Answers a status enquiry from a partner user, who must give a reason
/// (10 characters or more). Only people in the asker's caseload (or their
/// partners') are answered; anyone else is "not in your caseload", exactly as
/// someone not on the register, so the enquiry cannot test who is (issue 12,
/// finding 5). Every enquiry and its reason are logged, found or not.
pub async fn status_enquiry(
    db: &Db,
    actor: &Actor,
    nhs: &aftercare_core::NhsNumber,
    reason: &str,
) -> Result<StatusAnswer, DbError> {
    let found = store::person_by_nhs_number(db, nhs.as_str()).await?;
    let in_caseload = match &found {
        Some(p) => answerable(db, actor.org_code.as_deref(), p).await?,
        None => false,
    };
    store::audit_alone(
        db,
        actor,
        AuditEntry {
            action: "status.enquiry",
            person_id: found.as_ref().map(|p| p.id),
            entity: "person",
            entity_id: found.as_ref().map(|p| p.id.to_string()),
            reason: Some(reason),
            details: json!({"found": found.is_some(), "in_caseload": in_caseload, "nhs_number": nhs.as_str()}),
        },
    )
    .await?;
    Ok(match found.filter(|_| in_caseload) {
        None => StatusAnswer {
            nhs_number: nhs.to_string(),
            on_register: false,
            eligible: false,
            entitled: false,
            responsible_council: None,
            council_rule: None,
            responsible_nhs_commissioner: None,
            nhs_rule: None,
        },
        Some(p) => StatusAnswer {
            nhs_number: nhs.to_string(),
            on_register: true,
            eligible: p.eligible,
            entitled: p.entitled,
            responsible_council: p.council_code,
            council_rule: p.council_rule,
            responsible_nhs_commissioner: p.nhs_code,
            nhs_rule: p.nhs_rule,
        },
    })
}

impl From<ShareError> for ServiceError {
    fn from(e: ShareError) -> Self {
        let message = e.to_string();
        match e {
            ShareError::Month(_) => ServiceError::invalid("month", message),
            ShareError::NoRecipient(_) => ServiceError::conflict("no_recipient", message),
            ShareError::BadKey(_) => ServiceError::invalid("key", message),
            ShareError::Encrypt(_) | ShareError::File(_) => ServiceError::Internal(message),
            ShareError::Db(db) => ServiceError::Storage(db),
        }
    }
}
