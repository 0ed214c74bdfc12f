//! Administration: users and API tokens, organisations, partnerships, funding agreements,
//! letters, backup and restore. Each change is a service call; this only parses and prints.

use aftercare::auth::{parse_roles, roles_to_string};
use aftercare::services::{accounts, single_sign_on};
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::common::*;
use super::*;
use aftercare::services::admin;

/// Adds a user account.
pub async fn users_add(
    database: &str,
    username: String,
    name: String,
    org: String,
    roles: String,
    team: Option<String>,
    password_stdin: bool,
) -> Result<ExitCode> {
    let db = open(database).await?;
    let roles = parse_roles(&roles).map_err(anyhow::Error::msg)?;
    let password = read_password(password_stdin)?;
    let actor = actor_for(&db, None).await?;
    accounts::add_user(
        &db,
        &actor,
        &accounts::NewAccount {
            username: &username,
            display_name: &name,
            org_code: &org,
            roles: &roles,
            team: team.as_deref(),
            password: &password,
        },
    )
    .await?;
    println!("added user {username} ({}) of {org}", roles_to_string(&roles));
    Ok(ExitCode::SUCCESS)
}

/// Disables a leaver, ending their sessions and tokens.
pub async fn users_disable(database: &str, username: String) -> Result<ExitCode> {
    let db = open(database).await?;
    let actor = actor_for(&db, None).await?;
    let ended = accounts::disable(&db, &actor, &username).await?;
    println!("disabled {username}; {ended} sessions and API tokens ended");
    Ok(ExitCode::SUCCESS)
}

/// Enables a disabled account.
pub async fn users_enable(database: &str, username: String) -> Result<ExitCode> {
    let db = open(database).await?;
    let actor = actor_for(&db, None).await?;
    accounts::enable(&db, &actor, &username).await?;
    println!("enabled {username}");
    Ok(ExitCode::SUCCESS)
}

/// Sets a new password.
pub async fn users_reset_password(
    database: &str,
    username: String,
    password_stdin: bool,
) -> Result<ExitCode> {
    let db = open(database).await?;
    let actor = actor_for(&db, None).await?;
    let password = read_password(password_stdin)?;
    let ended = accounts::reset_password(&db, &actor, &username, &password).await?;
    println!("set a new password for {username}; {ended} sessions and API tokens ended");
    Ok(ExitCode::SUCCESS)
}

/// Changes a user's roles.
pub async fn users_set_roles(database: &str, username: String, roles: String) -> Result<ExitCode> {
    let db = open(database).await?;
    let roles = parse_roles(&roles).map_err(anyhow::Error::msg)?;
    let actor = actor_for(&db, None).await?;
    accounts::set_roles(&db, &actor, &username, &roles).await?;
    println!("{username} now has the roles {}", roles_to_string(&roles));
    Ok(ExitCode::SUCCESS)
}

/// Links (or unlinks) an identity provider's subject to a user.
pub async fn users_identity(
    database: &str,
    username: String,
    provider: String,
    subject: String,
    link: bool,
) -> Result<ExitCode> {
    let db = open(database).await?;
    let actor = actor_for(&db, None).await?;
    let user = accounts::user_named(&db, &username).await?;
    if link {
        single_sign_on::link_identity(&db, &actor, user.id, &provider, &subject).await?;
        println!("{provider} subject {subject} now signs in as {username}");
    } else {
        single_sign_on::unlink_identity(&db, &actor, user.id, &provider, &subject).await?;
        println!(
            "{provider} subject {subject} no longer signs in as {username}; their sessions have ended"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Switches password sign-in on or off for an organisation's users.
pub async fn password_sign_in(database: &str, org: String, allowed: bool) -> Result<ExitCode> {
    let db = open(database).await?;
    let actor = actor_for(&db, None).await?;
    single_sign_on::set_password_sign_in(&db, &actor, &org, allowed).await?;
    if allowed {
        println!("users of {org} may sign in with a password");
    } else {
        println!("users of {org} sign in through an identity provider only");
    }
    Ok(ExitCode::SUCCESS)
}

/// Revokes API tokens.
pub async fn tokens_revoke(database: &str, user: Option<String>) -> Result<ExitCode> {
    let db = open(database).await?;
    let actor = actor_for(&db, None).await?;
    let n = accounts::revoke_tokens(&db, &actor, user.as_deref()).await?;
    match user {
        Some(u) => println!("revoked {n} API tokens of {u}"),
        None => println!("revoked {n} API tokens"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Lists the user accounts.
pub async fn users_list(database: &str) -> Result<ExitCode> {
    let db = open(database).await?;
    for u in aftercare::services::accounts::users(&db).await? {
        println!(
            "{}\t{}\t{}\t{}{}",
            u.username,
            u.org_code,
            u.roles,
            u.display_name,
            if u.disabled { "\t(disabled)" } else { "" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Adds or replaces an organisation.
pub async fn orgs_add(
    database: &str,
    code: String,
    name: String,
    kind: String,
    successor: Option<String>,
    (valid_from, valid_to): (Option<NaiveDate>, Option<NaiveDate>),
    ods_code: Option<String>,
) -> Result<ExitCode> {
    let db = open(database).await?;
    let actor = actor_for(&db, None).await?;
    // An update that does not name the first day keeps the one recorded.
    let valid_from = match valid_from {
        Some(d) => Some(d),
        None => admin::orgs(&db)
            .await?
            .into_iter()
            .find(|o| o.code == code.trim().to_uppercase())
            .and_then(|o| o.valid_from),
    };
    let new = admin::NewOrg {
        code: &code,
        name,
        kind: &kind,
        successor: successor.as_deref(),
        valid_from,
        valid_to,
        ods_code: ods_code.as_deref(),
    };
    let code = admin::save_org(&db, &actor, new).await?;
    println!("saved organisation {code}");
    Ok(ExitCode::SUCCESS)
}

/// Lists the organisations.
pub async fn orgs_list(database: &str) -> Result<ExitCode> {
    let db = open(database).await?;
    for o in admin::orgs(&db).await? {
        println!(
            "{}\t{}\t{}{}{}",
            o.code,
            o.kind,
            o.name,
            o.valid_from.map(|d| format!("\tfrom {d}")).unwrap_or_default(),
            o.successor_code.map(|s| format!("\t→ {s}")).unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Adds or replaces a partnership.
pub async fn partnerships_add(database: &str, new: admin::NewPartnership) -> Result<ExitCode> {
    let db = open(database).await?;
    let actor = actor_for(&db, None).await?;
    let (council, nhs) = (new.council.clone(), new.nhs.clone());
    admin::save_partnership(&db, &actor, new).await?;
    println!("saved partnership {council} + {nhs}");
    Ok(ExitCode::SUCCESS)
}

/// Records a funding agreement.
pub async fn funding_agree(
    database: &str,
    council: String,
    nhs: String,
    policy: String,
    from: NaiveDate,
    to: Option<NaiveDate>,
    policy_file: Option<PathBuf>,
) -> Result<ExitCode> {
    let db = open(database).await?;
    let policy = match policy_file {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("failed to read {}", path.display()))?;
            let custom: aftercare_core::funding::FundingPolicy = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a funding policy", path.display()))?;
            admin::AgreedPolicy::Custom(custom)
        }
        None => admin::AgreedPolicy::Named(policy),
    };
    let actor = actor_for(&db, None).await?;
    let policy =
        admin::record_funding_agreement(&db, &actor, &council, &nhs, policy, from, to).await?;
    println!("recorded agreement {policy} between {council} and {nhs} from {from}");
    Ok(ExitCode::SUCCESS)
}

/// Shows a council's letter.
pub async fn letters_show(database: &str, council: String, kind: String) -> Result<ExitCode> {
    let db = open(database).await?;
    print!("{}", admin::letter_template(&db, &council, &kind).await?);
    println!();
    Ok(ExitCode::SUCCESS)
}

/// Saves a council's own letter.
pub async fn letters_set(
    database: &str,
    council: String,
    kind: String,
    file: PathBuf,
) -> Result<ExitCode> {
    let db = open(database).await?;
    // Refused before the file is read, as it always was.
    admin::ensure_letter_target(&db, &council, &kind).await?;
    let body = std::fs::read_to_string(&file)
        .with_context(|| format!("failed to read {}", file.display()))?;
    let actor = actor_for(&db, None).await?;
    admin::set_letter_template(&db, &actor, &council, &kind, &body).await?;
    println!("saved the {kind} letter for {council}");
    Ok(ExitCode::SUCCESS)
}

/// Lists the partnerships.
pub async fn partnerships_list(database: &str) -> Result<ExitCode> {
    let db = open(database).await?;
    for p in admin::partnerships(&db).await? {
        println!(
            "{}\t{}\t{}\treviews: {}\tfunding decisions within {} days{}{}",
            p.council_code,
            p.nhs_code,
            p.name,
            p.review_policy,
            p.funding_decision_days,
            if p.qa_ratifies_endings { "\tQA group ratifies endings" } else { "" },
            if p.refuse_unknown_codes { "\tunknown codes refused at import" } else { "" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Backs up the database.
pub async fn backup(database: &str, output: PathBuf) -> Result<ExitCode> {
    let s = aftercare::db::backup::backup(database, &output)
        .await
        .with_context(|| format!("backup of {} failed", redact_url(database)))?;
    println!("backed up {s} to {}", output.display());
    Ok(ExitCode::SUCCESS)
}

/// Restores a backup into an empty database.
pub async fn restore(database: &str, input: PathBuf) -> Result<ExitCode> {
    let s = aftercare::db::backup::restore(database, &input)
        .await
        .with_context(|| format!("restore into {} failed", redact_url(database)))?;
    println!("restored {s} from {}", input.display());
    Ok(ExitCode::SUCCESS)
}
