//! What an organisation's own spreadsheet headers hold: mapped once by a
//! user who may import, remembered per organisation (audited), and applied
//! to every later import by that organisation's users, from the browser and
//! from the command line.

use aftercare_files::ColumnMapping;
use aftercare_files::table::{HeaderMatch, HeaderRules, match_key};
use serde_json::json;

use crate::auth::User;
use crate::db::Db;
use crate::db::import_mappings::{self as store_mappings, MappingRow};
use crate::db::store::{self, Actor, AuditEntry};
use crate::error::ServiceError;

/// The two kinds of file imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    /// The master list: one row per detention.
    Register,
    /// Reviews held.
    Reviews,
}

impl ImportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Register => "register",
            ImportKind::Reviews => "reviews",
        }
    }

    pub fn parse(s: &str) -> Option<ImportKind> {
        match s {
            "register" => Some(ImportKind::Register),
            "reviews" => Some(ImportKind::Reviews),
            _ => None,
        }
    }

    /// In words: `the master list`.
    pub fn label(self) -> &'static str {
        match self {
            ImportKind::Register => "master list",
            ImportKind::Reviews => "reviews",
        }
    }

    /// Our columns for this kind of file.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            ImportKind::Register => &aftercare_files::register::REGISTER_IMPORT_COLUMNS,
            ImportKind::Reviews => &aftercare_files::reviews::REVIEW_COLUMNS,
        }
    }

    /// The common names of our columns.
    pub fn aliases(self) -> &'static [(&'static str, &'static str)] {
        match self {
            ImportKind::Register => aftercare_files::register::REGISTER_ALIASES,
            ImportKind::Reviews => aftercare_files::reviews::REVIEW_ALIASES,
        }
    }
}

/// Who may import files (and so map their headers): those who may change
/// the register, MHA administrators and lead professionals.
pub fn ensure_may_import(user: &User) -> Result<(), ServiceError> {
    if user.can_edit_register() {
        Ok(())
    } else {
        Err(ServiceError::forbidden(
            "forbidden",
            "only MHA administrators and lead professionals import files to the register".into(),
        ))
    }
}

/// The longest header remembered.
pub const MAX_HEADER_CHARS: usize = 200;

/// The organisation's mapping for one kind of file (empty without an
/// organisation: command-line work not done as a user or `--as-org`).
pub async fn mapping(
    db: &Db,
    org_code: Option<&str>,
    kind: ImportKind,
) -> Result<ColumnMapping, ServiceError> {
    let mut mapping = ColumnMapping::default();
    if let Some(org) = org_code {
        for row in store_mappings::current(db, org, kind.as_str()).await? {
            mapping.insert(&row.header, row.column_name.as_deref());
        }
    }
    Ok(mapping)
}

/// [`mapping`] of an organisation named by a person (`--as-org`): one not
/// known is refused rather than read as having no mapping.
pub async fn mapping_of_known_org(
    db: &Db,
    org_code: &str,
    kind: ImportKind,
) -> Result<ColumnMapping, ServiceError> {
    ensure_org(db, org_code).await?;
    mapping(db, Some(org_code), kind).await
}

async fn ensure_org(db: &Db, org_code: &str) -> Result<(), ServiceError> {
    if store::get_org(db, org_code).await?.is_none() {
        return Err(ServiceError::invalid(
            "org",
            format!(
                "no organisation `{}` is known (see `aftercare orgs list`)",
                aftercare_core::text::excerpt(org_code)
            ),
        ));
    }
    Ok(())
}

/// The organisation's remembered headers, to show.
pub async fn rows(
    db: &Db,
    org_code: &str,
    kind: ImportKind,
) -> Result<Vec<MappingRow>, ServiceError> {
    Ok(store_mappings::current(db, org_code, kind.as_str()).await?)
}

/// Remembers, for the user's organisation, what each header holds (one of
/// `kind`'s columns, or `None` to ignore it): by those who may import (who
/// may change the register). Each header's mapping is audited.
pub async fn remember(
    db: &Db,
    user: &User,
    kind: ImportKind,
    entries: &[(String, Option<String>)],
) -> Result<usize, ServiceError> {
    ensure_may_import(user)?;
    remember_for(db, &user.actor(), &user.org_code, kind, entries).await
}

/// [`remember`] for an organisation named on the command line (the
/// operator is trusted there, as for every command-line change).
pub async fn remember_for(
    db: &Db,
    actor: &Actor,
    org_code: &str,
    kind: ImportKind,
    entries: &[(String, Option<String>)],
) -> Result<usize, ServiceError> {
    ensure_org(db, org_code).await?;
    let empty = ColumnMapping::default();
    // Only our own column names are fixed: a common name we recognise
    // (an alias) may still be mapped otherwise, or ignored, by an
    // organisation whose spreadsheet uses it for something else.
    let ours = HeaderRules { known: kind.columns(), aliases: &[], mapping: &empty };
    let mut errors = Vec::new();
    let mut chosen: Vec<(&str, &str)> = Vec::new();
    for (i, (header, column)) in entries.iter().enumerate() {
        let field = format!("column_{i}");
        if let Err(e) = aftercare_core::text::check_line(header, MAX_HEADER_CHARS) {
            errors.push((field, format!("the column name {e}")));
            continue;
        }
        if match_key(header).is_empty() {
            errors.push((field, "a column name needs a letter or a digit".into()));
            continue;
        }
        if let HeaderMatch::Column(c) = ours.resolve(header) {
            errors.push((
                field,
                format!(
                    "“{header}” is already read as {}: there is nothing to choose",
                    aftercare_files::register::column_label(&c)
                ),
            ));
            continue;
        }
        if let Some(c) = column {
            if !kind.columns().contains(&c.as_str()) {
                errors.push((field, format!("choose what “{header}” holds from the list")));
                continue;
            }
            if let Some((other, _)) = chosen.iter().find(|(_, oc)| *oc == c.as_str()) {
                errors.push((
                    field,
                    format!(
                        "“{other}” and “{header}” are both chosen as {}: choose one, and ignore the other",
                        aftercare_files::register::column_label(c)
                    ),
                ));
                continue;
            }
            chosen.push((header, c));
        }
    }
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    let mut tx = db.begin_write().await?;
    for (header, column) in entries {
        let key = match_key(header);
        let id = store_mappings::set(
            &mut tx,
            org_code,
            kind.as_str(),
            (&key, header),
            column.as_deref(),
            actor,
        )
        .await?;
        store::append_audit(
            &mut tx,
            actor,
            AuditEntry {
                action: "import_mapping.recorded",
                person_id: None,
                entity: "import_mapping",
                entity_id: Some(id.to_string()),
                reason: None,
                details: json!({"org": org_code, "kind": kind.as_str(), "header": header, "column": column}),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(entries.len())
}
