//! Administration of the reference data: organisations, partnerships, funding agreements and council letter templates, each change one write transaction with its audit record, so the command line only parses and prints.

use chrono::NaiveDate;
use serde_json::json;

use crate::db::care::PartnershipRow;
use crate::db::store::{self, Actor, AuditEntry, OrgRow};
use crate::db::{Db, DbError, Tx};
use crate::error::ServiceError;

/// Why an administrative change was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    BadOrgCode(String),
    #[error("unknown organisation kind `{0}`")]
    UnknownOrgKind(String),
    #[error("no successor organisation `{0}`: add it first")]
    NoSuchSuccessor(String),
    #[error("no organisation `{0}` (add it with `aftercare orgs add`)")]
    NoSuchOrg(String),
    /// Named bare where the command has always named it so (letters, shares).
    #[error("no organisation `{0}`")]
    NoOrg(String),
    #[error("unknown review policy `{0}` (known: {known})", known = aftercare_core::reviews::policy_names().join(", "))]
    UnknownReviewPolicy(String),
    #[error("unknown funding policy `{0}` (see `aftercare funding policies`)")]
    UnknownFundingPolicy(String),
    #[error("unknown letter `{0}`")]
    UnknownLetter(String),
    #[error("the audit details could not be written: {0}")]
    Details(#[from] serde_json::Error),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// An organisation as typed at the command line, before its codes are checked.
pub struct NewOrg<'a> {
    pub code: &'a str,
    pub name: String,
    pub kind: &'a str,
    pub successor: Option<&'a str>,
    /// The first day the organisation exists (None: always has).
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    /// The ODS code of an organisation named by its GSS code (a council):
    /// `None` keeps the one held (forms that do not show it), `Some("")`
    /// removes it.
    pub ods_code: Option<&'a str>,
}

/// Checks an ODS code given for the organisation `code`: only one named by
/// an ONS/GSS code has a second code, and the second is not GSS-shaped.
/// `Ok(None)` when it is blank (none held).
fn parse_ods_code(code: &str, ods: &str) -> Result<Option<String>, ServiceError> {
    if ods.trim().is_empty() {
        return Ok(None);
    }
    if !aftercare_core::org::is_gss_code(code) {
        return Err(ServiceError::invalid(
            "ods_code",
            format!(
                "`{code}` is already an ODS code: only an organisation named by an ONS/GSS code (a council, E10000016) has a separate ODS code"
            ),
        ));
    }
    let ods = aftercare_core::OrgCode::parse(ods)
        .map_err(|e| ServiceError::invalid("ods_code", e.to_string()))?;
    if ods.is_gss() {
        return Err(ServiceError::invalid(
            "ods_code",
            format!("`{ods}` is an ONS/GSS code, not an ODS code"),
        ));
    }
    Ok(Some(ods.to_string()))
}

/// Adds or replaces an organisation; returns its code as normalised.
pub async fn save_org(db: &Db, actor: &Actor, new: NewOrg<'_>) -> Result<String, ServiceError> {
    let parse = |c: &str| {
        aftercare_core::org::OrgCode::parse(c)
            .map(|c| c.to_string())
            .map_err(|e| AdminError::BadOrgCode(e.to_string()))
    };
    let code = parse(new.code)?;
    let kind = aftercare_core::org::OrgKind::parse(new.kind)
        .ok_or_else(|| AdminError::UnknownOrgKind(new.kind.to_string()))?;
    let successor = new.successor.map(parse).transpose()?;
    let ods_code = new.ods_code.map(|o| parse_ods_code(&code, o)).transpose()?;
    let keep_ods_code = ods_code.is_none();
    if successor.as_deref() == Some(code.as_str()) {
        return Err(ServiceError::invalid(
            "successor",
            "an organisation cannot be its own successor: choose another organisation, or none",
        ));
    }
    if let (Some(from), Some(to)) = (new.valid_from, new.valid_to)
        && to < from
    {
        return Err(ServiceError::invalid(
            "valid_to",
            "the last day must be on or after the first day",
        ));
    }
    let mut org = OrgRow {
        code: code.clone(),
        name: new.name,
        kind: kind.as_str().into(),
        valid_from: new.valid_from,
        valid_to: new.valid_to,
        successor_code: successor,
        address: None,
        ods_code: ods_code.flatten(),
    };
    let mut tx = db.begin_write().await?;
    // The letterhead address is not edited here: a change keeps it, and
    // the ODS code too unless one was given.
    if let Some(old) = store::get_org(&mut tx, &code).await? {
        org.address = old.address;
        if keep_ods_code {
            org.ods_code = old.ods_code;
        }
    }
    // Checked inside the write transaction, so a successor removed
    // meanwhile cannot be named.
    if let Some(s) = &org.successor_code
        && store::get_org(&mut tx, s).await?.is_none()
    {
        return Err(ServiceError::from(AdminError::NoSuchSuccessor(s.clone())));
    }
    store::upsert_org(&mut tx, &org).await?;
    store::append_audit(
        &mut tx,
        actor,
        AuditEntry {
            action: "organisation.saved",
            person_id: None,
            entity: "organisation",
            entity_id: Some(code.clone()),
            reason: None,
            details: serde_json::to_value(&org)?,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(code)
}

/// One organisation, for its edit form.
pub async fn org(db: &Db, code: &str) -> Result<Option<OrgRow>, ServiceError> {
    Ok(store::get_org(db, code).await?)
}

/// Every organisation, for listing.
pub async fn orgs(db: &Db) -> Result<Vec<OrgRow>, ServiceError> {
    Ok(store::list_orgs(db).await?)
}

/// Refuses a code no organisation on the register has.
pub async fn ensure_org(db: &Db, code: &str) -> Result<(), ServiceError> {
    match store::get_org(db, code).await? {
        Some(_) => Ok(()),
        None => Err(ServiceError::from(AdminError::NoOrg(code.to_string()))),
    }
}

async fn ensure_org_tx(tx: &mut Tx, code: &str) -> Result<(), ServiceError> {
    match store::get_org(&mut *tx, code).await? {
        Some(_) => Ok(()),
        None => Err(ServiceError::from(AdminError::NoSuchOrg(code.to_string()))),
    }
}

/// A council and an NHS commissioner working together, as typed.
pub struct NewPartnership {
    pub council: String,
    pub nhs: String,
    pub name: String,
    pub review_policy: String,
    pub qa_ratifies_endings: bool,
    /// Days a funding request may wait for a decision before it is a task.
    pub funding_decision_days: i64,
    /// An import row naming a code the reference data does not know is
    /// refused, not warned of.
    pub refuse_unknown_codes: bool,
}

/// Adds or replaces the partnership between a council and an NHS commissioner.
pub async fn save_partnership(
    db: &Db,
    actor: &Actor,
    new: NewPartnership,
) -> Result<(), ServiceError> {
    if aftercare_core::reviews::policy(&new.review_policy).is_none() {
        return Err(ServiceError::from(AdminError::UnknownReviewPolicy(new.review_policy)));
    }
    if !(1..=3650).contains(&new.funding_decision_days) {
        return Err(ServiceError::invalid(
            "funding_decision_days",
            "the days a funding request may wait are between 1 and 3650",
        ));
    }
    let row = PartnershipRow {
        id: 0,
        council_code: new.council,
        nhs_code: new.nhs,
        name: new.name,
        review_policy: new.review_policy,
        qa_ratifies_endings: new.qa_ratifies_endings,
        funding_decision_days: new.funding_decision_days,
        refuse_unknown_codes: new.refuse_unknown_codes,
    };
    let mut tx = db.begin_write().await?;
    for code in [&row.council_code, &row.nhs_code] {
        ensure_org_tx(&mut tx, code).await?;
    }
    crate::db::care::upsert_partnership(&mut tx, &row).await?;
    store::append_audit(
        &mut tx,
        actor,
        AuditEntry {
            action: "partnership.saved",
            person_id: None,
            entity: "partnership",
            entity_id: Some(format!("{}+{}", row.council_code, row.nhs_code)),
            reason: None,
            details: serde_json::to_value(&row)?,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Every partnership, for listing.
pub async fn partnerships(db: &Db) -> Result<Vec<PartnershipRow>, ServiceError> {
    Ok(crate::db::care::partnerships(db).await?)
}

/// Every funding agreement, by council, NHS body and start.
pub async fn agreements(db: &Db) -> Result<Vec<crate::db::care::AgreementRow>, ServiceError> {
    Ok(crate::db::care::agreements(db).await?)
}

/// The policy a funding agreement follows: a built-in one by name, or a
/// policy of the partnership's own.
pub enum AgreedPolicy {
    Named(String),
    Custom(aftercare_core::funding::FundingPolicy),
}

/// Records a funding agreement between a council and an NHS commissioner;
/// returns the policy's name.
pub async fn record_funding_agreement(
    db: &Db,
    actor: &Actor,
    council: &str,
    nhs: &str,
    policy: AgreedPolicy,
    from: NaiveDate,
    to: Option<NaiveDate>,
) -> Result<String, ServiceError> {
    let (policy, policy_json) = match policy {
        AgreedPolicy::Custom(custom) => {
            (custom.name.clone(), Some(serde_json::to_string(&custom)?))
        }
        AgreedPolicy::Named(name) => {
            if aftercare_core::funding::policy(&name).is_none() {
                return Err(ServiceError::from(AdminError::UnknownFundingPolicy(name)));
            }
            (name, None)
        }
    };
    let mut tx = db.begin_write().await?;
    // Checked inside the write transaction, so an organisation
    // removed meanwhile cannot be named by the agreement.
    for code in [council, nhs] {
        ensure_org_tx(&mut tx, code).await?;
    }
    let id = crate::db::care::insert_agreement(
        &mut tx,
        council,
        nhs,
        &policy,
        from,
        to,
        policy_json.as_deref(),
        actor,
    )
    .await?;
    store::append_audit(
        &mut tx,
        actor,
        AuditEntry {
            action: "funding_agreement.recorded",
            person_id: None,
            entity: "funding_agreement",
            entity_id: Some(id.to_string()),
            reason: None,
            details: json!({"council": council, "nhs": nhs, "policy": policy, "from": from, "to": to}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(policy)
}

/// Audits a computed re-set of the funding split (nothing else is written:
/// the bodies' governance decides whether to adopt it).
pub async fn record_reset_computed(
    db: &Db,
    actor: &Actor,
    agreement_id: i64,
    reset: &impl serde::Serialize,
) -> Result<(), ServiceError> {
    store::audit_alone(
        db,
        actor,
        AuditEntry {
            action: "funding_split.reset_computed",
            person_id: None,
            entity: "funding_agreement",
            entity_id: Some(agreement_id.to_string()),
            reason: None,
            details: serde_json::to_value(reset)?,
        },
    )
    .await?;
    Ok(())
}

fn ensure_letter_kind(kind: &str) -> Result<(), ServiceError> {
    if crate::services::letters::is_kind(kind) {
        Ok(())
    } else {
        Err(ServiceError::from(AdminError::UnknownLetter(kind.to_string())))
    }
}

/// The council's own letter of a kind, or the default one.
pub async fn letter_template(db: &Db, council: &str, kind: &str) -> Result<String, ServiceError> {
    ensure_letter_kind(kind)?;
    let own = crate::db::endings::letter_template(db, council, kind).await?;
    Ok(own.unwrap_or_else(|| crate::services::endings::default_template(kind).to_string()))
}

/// One of a council's letters: whether the council words it its own way.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CouncilLetter {
    pub kind: &'static str,
    pub title: String,
    /// The council has its own text; otherwise the default is used.
    pub own: bool,
}

/// Every letter a council may word its own way, and which it has.
pub async fn council_letters(db: &Db, council: &str) -> Result<Vec<CouncilLetter>, ServiceError> {
    let mut letters = Vec::new();
    for (kind, title) in crate::services::letters::template_kinds() {
        let text = letter_template(db, council, kind).await?;
        let own = text != crate::services::endings::default_template(kind);
        letters.push(CouncilLetter { kind, title, own });
    }
    Ok(letters)
}

/// The council of this code (`None`: no such organisation, or not a council).
pub async fn council(db: &Db, code: &str) -> Result<Option<OrgRow>, ServiceError> {
    Ok(org(db, code).await?.filter(|o| {
        aftercare_core::org::OrgKind::parse(&o.kind) == Some(aftercare_core::org::OrgKind::Council)
    }))
}

/// Refuses a letter that could not be saved, before its text is read.
pub async fn ensure_letter_target(db: &Db, council: &str, kind: &str) -> Result<(), ServiceError> {
    ensure_letter_kind(kind)?;
    ensure_org(db, council).await
}

/// Saves a council's own text for a letter, checked first: it must parse
/// as a template and name only the kind's placeholders (an unknown one is
/// refused by name). A template of the old `{name}` form is stored in the
/// new `{{ name }}` form.
pub async fn set_letter_template(
    db: &Db,
    actor: &Actor,
    council: &str,
    kind: &str,
    body: &str,
) -> Result<(), ServiceError> {
    ensure_letter_kind(kind)?;
    let body = crate::services::letters::check(kind, body)?;
    let body = body.as_str();
    let mut tx = db.begin_write().await?;
    if store::get_org(&mut tx, council).await?.is_none() {
        return Err(ServiceError::from(AdminError::NoOrg(council.to_string())));
    }
    crate::db::endings::set_letter_template(&mut tx, council, kind, body, actor).await?;
    store::append_audit(
        &mut tx,
        actor,
        AuditEntry {
            action: "letter_template.set",
            person_id: None,
            entity: "letter_template",
            entity_id: Some(format!("{council}:{kind}")),
            reason: None,
            details: json!({"council": council, "kind": kind, "body": body}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

impl From<AdminError> for ServiceError {
    fn from(e: AdminError) -> Self {
        let message = e.to_string();
        match e {
            AdminError::BadOrgCode(_) => ServiceError::invalid("code", message),
            AdminError::UnknownOrgKind(_) => ServiceError::invalid("kind", message),
            AdminError::NoSuchSuccessor(_) => ServiceError::invalid("successor", message),
            AdminError::NoSuchOrg(_) | AdminError::NoOrg(_) => {
                ServiceError::not_found("no_such_org", message)
            }
            AdminError::UnknownReviewPolicy(_) => ServiceError::invalid("review_policy", message),
            AdminError::UnknownFundingPolicy(_) => ServiceError::invalid("policy", message),
            AdminError::UnknownLetter(_) => ServiceError::invalid("letter", message),
            AdminError::Details(_) => ServiceError::Internal(message),
            AdminError::Db(db) => ServiceError::Storage(db),
        }
    }
}
