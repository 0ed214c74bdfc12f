//! The command line: raw flags parsed by clap, then one function per command
//! in the topic's file, which calls a service and prints. Every command that
//! changes the register records who ran it (`--actor`).

mod admin;
mod audit;
mod care;
mod common;
mod finance;
mod notify;
mod reference;
mod register;
mod serve;
mod sharing;

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "aftercare",
    version,
    about = "The Section 117 after-care register",
    propagate_version = true
)]
pub struct Cli {
    /// Database URL: sqlite://PATH (created if missing) or postgres://…
    #[arg(
        long,
        global = true,
        env = "AFTERCARE_DATABASE_URL",
        default_value = "sqlite://aftercare.db"
    )]
    pub database: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the web pages and the JSON API.
    Serve(ServeArgs),
    /// Manage user accounts.
    #[command(subcommand)]
    Users(UsersCommand),
    /// API tokens (from `POST /api/v1/session`).
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Manage organisations (councils, ICBs, CCGs, trusts).
    #[command(subcommand)]
    Orgs(OrgsCommand),
    /// Import files into the register.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Export the register.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Check the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Check worked cases against the rules engine.
    #[command(subcommand)]
    Scenarios(ScenariosCommand),
    /// Email notifications of tasks (SMTP settings: AFTERCARE_SMTP_*; see the README).
    #[command(subcommand)]
    Notify(NotifyCommand),
    /// Load the demo organisations, users and register into an empty database.
    Demo(DemoArgs),
    /// Show how entitlement and responsibility would change if something happened.
    WhatIf(WhatIfArgs),
    /// Recompute every person's entitlement and responsibility (after a rules or organisation change).
    Recompute,
    /// Reviews: what is due.
    #[command(subcommand)]
    Reviews(ReviewsCommand),
    /// Compare council charges and commissioning payments with the register.
    Reconcile {
        /// Council client-charging records: nhs_number, charged_from, charged_to, amount, service.
        #[arg(long)]
        charges: PathBuf,
        /// Commissioning payments: nhs_number, period_from, period_to, amount, payer (council/nhs), funding_stream (s117/other).
        #[arg(long)]
        payments: PathBuf,
        #[arg(long, value_parser = parse_date_arg)]
        as_of: Option<NaiveDate>,
        #[arg(long, value_enum, default_value = "csv")]
        format: Format,
        #[arg(long)]
        output: Option<PathBuf>,
        /// Store the run and add each charge made while entitled to the refund
        /// ledger (once: recording the same files again adds nothing).
        #[arg(long)]
        record: bool,
        /// The user recording it (default: the operating-system user).
        #[arg(long = "as")]
        as_user: Option<String>,
    },
    /// The refund ledger: refunds owed to people charged while entitled.
    #[command(subcommand)]
    Refunds(RefundsCommand),
    /// Funding between the council and the NHS commissioner.
    #[command(subcommand)]
    Funding(FundingCommand),
    /// Letter templates a partnership can change.
    #[command(subcommand)]
    Letters(LettersCommand),
    /// Share the master list with partners, encrypted.
    #[command(subcommand)]
    Share(ShareCommand),
    /// The NHS's and ONS's reference files: GP practices, postcodes, ICB codes.
    #[command(subcommand)]
    Reference(ReferenceCommand),
    /// Partnerships (a council and an NHS commissioner) and their policies.
    #[command(subcommand)]
    Partnerships(PartnershipsCommand),
    /// Write a synthetic register as importable files: register.csv, reviews.csv, charges.csv and payments.csv.
    Generate(GenerateArgs),
    /// Back up the database to a new file (SQLite: VACUUM INTO; PostgreSQL: pg_dump, custom format). Safe while serving.
    Backup {
        #[arg(long)]
        output: PathBuf,
    },
    /// Restore a backup into the --database given, which must be new or empty.
    Restore {
        #[arg(long)]
        input: PathBuf,
    },
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    #[arg(long, default_value_t = 1000)]
    pub people: u64,
    #[arg(long, default_value_t = 117)]
    pub seed: u64,
    /// Folder to write the files to (created if missing).
    #[arg(long, default_value = ".")]
    pub out_dir: PathBuf,
    /// Spread people over this many copies of the demo partnerships, with
    /// codes suffixed `-1`, `-2`, … (30 gives 150 councils, about England's
    /// number), so that caseloads are national-sized rather than five councils'.
    #[arg(long, default_value_t = 1)]
    pub regions: u64,
    /// The date the register is generated as of (default today); with the seed it fixes the output.
    #[arg(long, value_parser = parse_date_arg)]
    pub today: Option<NaiveDate>,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8117")]
    pub listen: String,
    /// Fill an empty database with a synthetic register and demo users.
    #[arg(long)]
    pub demo: bool,
    /// Number of people in the demo register.
    #[arg(long, default_value_t = 300)]
    pub demo_people: usize,
    /// Serve for plain HTTP: cookies without the Secure attribute and no
    /// Strict-Transport-Security. Off by default, even on 127.0.0.1 (a
    /// same-host TLS proxy forwards there); `--demo` on a loopback address
    /// turns it on, so the demo works at http://127.0.0.1.
    #[arg(long, alias = "insecure-cookies", env = "AFTERCARE_PLAIN_HTTP")]
    pub plain_http: bool,
    /// Connections open at once; more wait until one closes.
    #[arg(long, default_value_t = 512)]
    pub max_connections: usize,
    /// Seconds a client has to send a request's headers (also how long an
    /// idle keep-alive connection stays open).
    #[arg(long, default_value_t = 10)]
    pub header_timeout_secs: u64,
    /// Seconds a request may take before it is answered 408.
    #[arg(long, default_value_t = 120)]
    pub request_timeout_secs: u64,
    /// Behind a TLS proxy on the same host: take a loopback request's client
    /// address from the last X-Forwarded-For entry (for log-in back-off).
    #[arg(long, env = "AFTERCARE_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,
    /// Single sign-on: a JSON file naming the site's address and each
    /// OpenID Connect provider (see the README, "Single sign-on").
    #[arg(long, env = "AFTERCARE_SSO_FILE")]
    pub sso: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    #[arg(long, default_value_t = 300)]
    pub people: usize,
    #[arg(long, default_value_t = 117)]
    pub seed: u64,
}

#[derive(Args, Debug)]
pub struct WhatIfArgs {
    /// The person, by NHS number (from the register)…
    #[arg(long, conflicts_with = "scenario")]
    pub nhs_number: Option<String>,
    /// …or a history in the scenario format (see shared/scenarios/README.md).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// redetained, moved, left_hospital or died.
    #[arg(long)]
    pub kind: String,
    #[arg(long)]
    pub on: String,
    /// For redetained: the section (default 3).
    #[arg(long, default_value = "")]
    pub section: String,
    /// For redetained and moved: the council where the person lives.
    #[arg(long, default_value = "")]
    pub living_in: String,
    /// The commissioner of the person's GP practice.
    #[arg(long, default_value = "")]
    pub gp_commissioner: String,
    /// Print the full before/after derivations as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Create a user. The password is read from AFTERCARE_PASSWORD or, failing that, one line of standard input.
    Add {
        #[arg(long)]
        username: String,
        /// The name shown to other users.
        #[arg(long)]
        name: String,
        /// Code of the user's organisation (must exist: see `orgs add`).
        #[arg(long)]
        org: String,
        /// Comma-separated roles: mha_administrator, lead_professional, commissioner, finance, qa_group, auditor, system_administrator.
        #[arg(long)]
        roles: String,
        #[arg(long)]
        team: Option<String>,
        /// Read the password from standard input only, never the environment.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Disable a user (a leaver): they cannot sign in, and their sessions and API tokens end at once.
    Disable { username: String },
    /// Let a disabled user sign in again.
    Enable { username: String },
    /// Set a new password (ending the user's sessions and tokens). Read from
    /// AFTERCARE_PASSWORD, or one line of standard input.
    ResetPassword {
        username: String,
        /// Read the password from standard input only, never the environment
        /// (for scripts: `printf '%s\n' "$P" | aftercare users reset-password NAME --password-stdin`).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Replace a user's roles (comma-separated, as for `users add`).
    SetRoles { username: String, roles: String },
    /// Set the email address a user's task notifications go to (leave it
    /// out to send them none), with immediate messages and the daily
    /// digest on unless turned off.
    SetEmail {
        username: String,
        email: Option<String>,
        /// No immediate messages (tasks with a deadline go in the digest).
        #[arg(long)]
        no_immediate: bool,
        /// No daily digest.
        #[arg(long)]
        no_digest: bool,
    },
    /// Link an identity provider's subject (its `sub`) to a user: that
    /// subject then signs in as them (`serve --sso` names the providers).
    LinkIdentity {
        username: String,
        #[arg(long)]
        provider: String,
        #[arg(long)]
        subject: String,
    },
    /// Remove a subject's link to a user (their sessions end).
    UnlinkIdentity {
        username: String,
        #[arg(long)]
        provider: String,
        #[arg(long)]
        subject: String,
    },
    /// Whether an organisation's users may sign in with a password (`off`:
    /// only through an identity provider).
    PasswordSignIn {
        #[arg(long)]
        org: String,
        #[arg(value_parser = ["on", "off"])]
        setting: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum NotifyCommand {
    /// Write the messages due into the outbox and send what is due, once
    /// (`serve` does this every AFTERCARE_NOTIFY_INTERVAL_SECS when SMTP is configured).
    Run {
        /// Write no digests this time (immediate messages only).
        #[arg(long)]
        no_digest: bool,
    },
    /// List the outbox: each message's kind, recipient and state.
    Status,
}

#[derive(Subcommand, Debug)]
pub enum TokensCommand {
    /// Revoke API tokens: one user's (`--user NAME`) or everyone's (`--all`).
    Revoke {
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        user: Option<String>,
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum OrgsCommand {
    /// Add or update an organisation.
    Add {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        /// council, icb, ccg, pct, nhs_trust, nhs_england, gp_practice or independent_hospital.
        #[arg(long)]
        kind: String,
        /// Code of the successor body (a CCG's ICB).
        #[arg(long)]
        successor: Option<String>,
        /// First day the organisation existed (kept as it was if not given).
        #[arg(long, value_parser = parse_date_arg)]
        valid_from: Option<NaiveDate>,
        /// Last day the organisation existed.
        #[arg(long, value_parser = parse_date_arg)]
        valid_to: Option<NaiveDate>,
        /// A council's ODS code, beside the ONS/GSS code it is named by
        /// (kept as it was if not given; an empty value removes it).
        #[arg(long)]
        ods_code: Option<String>,
    },
    /// List organisations.
    List,
}

#[derive(Subcommand, Debug)]
pub enum ReviewsCommand {
    /// One row per entitled person: the next review, its due date and how overdue it is.
    Due {
        #[arg(long, value_parser = parse_date_arg)]
        as_of: NaiveDate,
        /// Use this schedule for everyone (default, lincolnshire, rotherham, buckinghamshire) instead of each partnership's.
        #[arg(long)]
        policy: Option<String>,
        #[arg(long, value_enum, default_value = "csv")]
        format: DueFormat,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum DueFormat {
    /// `nhs_number,review,due,overdue_days`
    Csv,
    /// The same with name, policy, responsible bodies and lead professional.
    Wide,
}

#[derive(Subcommand, Debug)]
pub enum RefundsCommand {
    /// Every refund with what is owed, paid and outstanding.
    List {
        /// Only this council's refunds.
        #[arg(long)]
        council: Option<String>,
        #[arg(long, value_enum, default_value = "csv")]
        format: Format,
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Records a payment of a person's refund.
    Pay {
        #[arg(long)]
        nhs_number: String,
        /// In pounds, e.g. 1250.00.
        #[arg(long)]
        amount: String,
        #[arg(long, value_parser = parse_date_arg)]
        on: NaiveDate,
        #[arg(long)]
        reference: Option<String>,
        /// Which refund, where the person has more than one outstanding.
        #[arg(long)]
        refund: Option<i64>,
        #[arg(long = "as")]
        as_user: Option<String>,
    },
    /// Waives what is outstanding on a person's refund, with the reason.
    Waive {
        #[arg(long)]
        nhs_number: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        refund: Option<i64>,
        #[arg(long = "as")]
        as_user: Option<String>,
    },
    /// Records a charge taken outside the charging file (fees a relative
    /// paid, a top-up): the part taken while the person was entitled, unless
    /// for a need the plan marks not s117, is owed back to whoever paid.
    AddCharge {
        #[arg(long)]
        nhs_number: String,
        /// The first day charged for.
        #[arg(long, value_parser = parse_date_arg)]
        from: NaiveDate,
        /// The last day charged for.
        #[arg(long, value_parser = parse_date_arg)]
        to: NaiveDate,
        /// In pounds, e.g. 1250.00.
        #[arg(long)]
        amount: String,
        /// The service charged for, as the plan names it.
        #[arg(long)]
        service: Option<String>,
        /// Who paid, when not the person (e.g. "Mrs A Smith, mother").
        #[arg(long)]
        charged_party: Option<String>,
        #[arg(long = "as")]
        as_user: Option<String>,
    },
    /// Records housing benefit received for the accommodation, offset from the refund.
    HousingBenefit {
        #[arg(long)]
        nhs_number: String,
        /// In pounds.
        #[arg(long)]
        amount: String,
        #[arg(long)]
        refund: Option<i64>,
        #[arg(long = "as")]
        as_user: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum FundingCommand {
    /// Split one weekly cost between the council and the NHS by a funding policy.
    Split {
        /// fixed-50-50, lincolnshire-interim-2018, lincolnshire-2022, aligned-bucks-2017, kent-cohorts, transforming-care.
        #[arg(long)]
        policy: String,
        /// Pounds and pence, e.g. 1499.99.
        #[arg(long)]
        weekly_cost: String,
        /// over-65-residential-home, s37-41-residential:HEALTH% or under-65-24-hour:HEALTH%.
        #[arg(long)]
        cohort: Option<String>,
        #[arg(long)]
        age: Option<u32>,
        /// Whole months since discharge (transforming care).
        #[arg(long)]
        months_since_discharge: Option<u32>,
        /// A fully funded NHS Continuing Healthcare package is in place.
        #[arg(long)]
        fully_chc: bool,
        #[arg(long, value_enum, default_value = "text")]
        format: SplitFormat,
    },
    /// List the built-in funding policies, or print one as JSON to adapt (`--json NAME`).
    Policies {
        #[arg(long)]
        json: Option<String>,
    },
    /// Record a funding agreement between a council and an NHS commissioner.
    Agree {
        #[arg(long)]
        council: String,
        #[arg(long)]
        nhs: String,
        /// A built-in policy (see `funding policies`), unless --policy-file is given.
        #[arg(long, default_value = "")]
        policy: String,
        #[arg(long, value_parser = parse_date_arg)]
        from: NaiveDate,
        #[arg(long, value_parser = parse_date_arg)]
        to: Option<NaiveDate>,
        /// The partnership's own terms: a policy as JSON (start from `funding policies --json NAME`); its name replaces --policy.
        #[arg(long)]
        policy_file: Option<PathBuf>,
    },
    /// What each body owes, per person, need and month.
    Costs {
        #[arg(long, value_parser = parse_date_arg)]
        from: NaiveDate,
        #[arg(long, value_parser = parse_date_arg)]
        to: NaiveDate,
        #[arg(long, value_enum, default_value = "csv")]
        format: Format,
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// The quarterly recharge invoice in arrears under an aligned budget.
    Invoice {
        #[arg(long)]
        council: String,
        #[arg(long)]
        nhs: String,
        /// The financial year's starting calendar year (2024 for 2024/25).
        #[arg(long)]
        year: i32,
        /// 1 (April to June) to 4 (January to March).
        #[arg(long)]
        quarter: u8,
        #[arg(long, value_enum, default_value = "csv")]
        format: InvoiceFormat,
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// The annual 10% random sample of a partnership's cases (seeded), as a file to record each case's decision-tool outcome in.
    Sample {
        #[arg(long)]
        council: String,
        #[arg(long)]
        nhs: String,
        #[arg(long)]
        year: i32,
        #[arg(long)]
        seed: u64,
    },
    /// Re-set an aligned budget's split from the scored sample (case_ref, qualifies_for_health_funding yes/no, annual_cost).
    Reset {
        #[arg(long)]
        council: String,
        #[arg(long)]
        nhs: String,
        #[arg(long)]
        outcomes: PathBuf,
        /// The year's pooled spending the variance is measured on (pounds); default the partnership's costs for the financial year.
        #[arg(long)]
        pooled_total: Option<String>,
        #[arg(long)]
        year: i32,
    },
}

#[derive(Subcommand, Debug)]
pub enum LettersCommand {
    /// Print the template in use for a council (its own, or the built-in one).
    Show {
        #[arg(long)]
        council: String,
        /// person, person_easy_read, mha_office, gp, providers, council_finance or factsheet.
        #[arg(long)]
        kind: String,
    },
    /// Replace a council's template with the text of a file. Placeholders: {name}, {nhs_number}, {end_date}, {council}, {nhs}, {reasons}, {today}.
    Set {
        #[arg(long)]
        council: String,
        #[arg(long)]
        kind: String,
        #[arg(long)]
        file: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum ReferenceCommand {
    /// Load reference files, each recognised by its content: the ODS GP
    /// practice file (epraccur), the ONS postcode directory (ONSPD or NSPL)
    /// and the ONS ICB lookup. A file loaded before is not loaded again.
    Load {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The user recorded as loading them (the only administrator when left out).
        #[arg(long)]
        actor: Option<String>,
    },
    /// List the files loaded, newest first.
    List,
}

#[derive(Subcommand, Debug)]
pub enum ShareCommand {
    /// Set the age public key (age1…) an organisation's copies are encrypted to.
    Recipient {
        #[arg(long)]
        org: String,
        #[arg(long)]
        age_recipient: String,
    },
    /// Write the master list as at the first working day of a month, encrypted to the recipient, and record it.
    Monthly {
        #[arg(long)]
        org: String,
        /// YYYY-MM; this month if left out.
        #[arg(long)]
        month: Option<String>,
        #[arg(long, value_enum, default_value = "csv")]
        format: Format,
        /// Folder to write the encrypted file to.
        #[arg(long, default_value = ".")]
        out_dir: PathBuf,
        /// For a daily timer: act only on the month's first working day, and only once per month.
        #[arg(long)]
        if_due: bool,
    },
    /// List what was shared with whom.
    List,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum InvoiceFormat {
    Csv,
    Pdf,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum SplitFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum PartnershipsCommand {
    /// Add or update a partnership.
    Add {
        #[arg(long)]
        council: String,
        #[arg(long)]
        nhs: String,
        #[arg(long)]
        name: String,
        /// Review schedule: default, lincolnshire, rotherham or buckinghamshire.
        #[arg(long, default_value = "default")]
        review_policy: String,
        /// Endings need the joint quality-assurance group's ratification.
        #[arg(long)]
        qa_ratifies_endings: bool,
        /// Days a funding request on a plan need may wait for the decision of
        /// the body asked before it is a task for that body's commissioners.
        #[arg(long, default_value_t = aftercare_core::plan::FUNDING_DECISION_DAYS)]
        funding_decision_days: i64,
        /// An import row naming a code the reference data does not know is
        /// refused, not warned of.
        #[arg(long)]
        refuse_unknown_codes: bool,
    },
    /// List partnerships.
    List,
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Import the master list (CSV or XLSX): all rows or none.
    Register {
        file: PathBuf,
        /// Check the file and report what would change, without changing anything.
        #[arg(long)]
        dry_run: bool,
        /// User name to record as making the change (default: the operating system user).
        #[arg(long, env = "AFTERCARE_ACTOR")]
        actor: Option<String>,
        /// Read the file's headers by this organisation's column mapping
        /// (default: the organisation of --actor's user, if any).
        #[arg(long, value_name = "CODE")]
        as_org: Option<String>,
    },
    /// Import reviews held (`nhs_number`, `held_on`, optional `outcome`): all rows or none.
    Reviews {
        file: PathBuf,
        #[arg(long)]
        dry_run: bool,
        #[arg(long, env = "AFTERCARE_ACTOR")]
        actor: Option<String>,
        /// Read the file's headers by this organisation's column mapping.
        #[arg(long, value_name = "CODE")]
        as_org: Option<String>,
    },
    /// Remember what an organisation's own headers hold, for its later
    /// imports from here and the browser: `"HEADER=COLUMN"` or `"HEADER=ignore"`.
    MapColumns {
        /// The organisation whose spreadsheets these are.
        #[arg(long, value_name = "CODE")]
        org: String,
        /// The kind of file: register (the master list) or reviews.
        #[arg(long, default_value = "register")]
        kind: String,
        #[arg(required = true, value_name = "HEADER=COLUMN")]
        pairs: Vec<String>,
        #[arg(long, env = "AFTERCARE_ACTOR")]
        actor: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

/// The rows of a register export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportLayout {
    People,
    Detentions,
}

#[derive(Subcommand, Debug)]
pub enum ExportCommand {
    /// One row per person: identity, eligibility, responsible bodies and rule ids.
    Register {
        /// Reproduce the register as it stood at the end of this date.
        #[arg(long, value_parser = parse_date_arg)]
        as_of: Option<NaiveDate>,
        /// With --as-of: use today's corrected records, limited to facts dated by then.
        #[arg(long, requires = "as_of")]
        known_now: bool,
        /// `people`: one row per person; `detentions`: one row per detention
        /// in the import's own columns plus the derived ones (re-importable).
        #[arg(long, value_enum, default_value = "people")]
        layout: ExportLayout,
        #[arg(long, value_enum, default_value = "csv")]
        format: Format,
        /// Write to this file instead of standard output (required for xlsx).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// A FHIR R4 (UK Core) Bundle: Patient, Organization, EpisodeOfCare per entitlement, CarePlan per current plan.
    Fhir {
        /// collection (to read), or transaction or batch (for a FHIR server to load at its base:
        /// conditional creates on business identifiers, so loading it again duplicates nothing).
        #[arg(long = "type", value_enum, default_value = "collection")]
        bundle_type: FhirBundleType,
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

/// The kinds of FHIR bundle `export fhir` writes.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum FhirBundleType {
    Collection,
    Transaction,
    Batch,
}

impl From<FhirBundleType> for aftercare::services::fhir::BundleType {
    fn from(t: FhirBundleType) -> Self {
        use aftercare::services::fhir::BundleType;
        match t {
            FhirBundleType::Collection => BundleType::Collection,
            FhirBundleType::Transaction => BundleType::Transaction,
            FhirBundleType::Batch => BundleType::Batch,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check that no audit record was edited, removed or reordered (each is
    /// authenticated with the audit key), and that no detention or fact row a
    /// record wrote was changed or deleted. With a checkpoint, also that no
    /// record up to its head was removed (truncation).
    Verify {
        /// A checkpoint written by `aftercare audit checkpoint` (or with a monthly share).
        #[arg(long)]
        checkpoint: Option<PathBuf>,
    },
    /// Write a checkpoint of the trail's head (id, MAC, count, time;
    /// authenticated with the audit key) to keep outside the database.
    Checkpoint {
        #[arg(long)]
        output: PathBuf,
    },
    /// Who has read a person's record (pages, API, letters), newest first.
    Access {
        #[arg(long)]
        nhs_number: String,
        #[arg(long, value_enum, default_value = "table")]
        format: AccessFormat,
        /// The auditor asking (a user name); recorded in the access log.
        #[arg(long)]
        actor: Option<String>,
        /// At most this many reads, newest first.
        #[arg(long, default_value_t = 1000)]
        limit: i64,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum AccessFormat {
    Table,
    Csv,
}

#[derive(Subcommand, Debug)]
pub enum ScenariosCommand {
    /// Run scenario files (or folders of them) through the rules engine.
    Check {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

fn parse_date_arg(s: &str) -> Result<NaiveDate, String> {
    aftercare_core::parse_date(s).map_err(|e| e.to_string())
}

/// Runs the command given: one arm per command, each a function of its topic.
pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let db = cli.database.as_str();
    match cli.command {
        Command::Serve(args) => serve::serve(db, args).await,
        Command::Demo(args) => serve::demo(db, args).await,
        Command::Users(UsersCommand::Add { username, name, org, roles, team, password_stdin }) => {
            admin::users_add(db, username, name, org, roles, team, password_stdin).await
        }
        Command::Users(UsersCommand::List) => admin::users_list(db).await,
        Command::Users(UsersCommand::Disable { username }) => {
            admin::users_disable(db, username).await
        }
        Command::Users(UsersCommand::Enable { username }) => {
            admin::users_enable(db, username).await
        }
        Command::Users(UsersCommand::ResetPassword { username, password_stdin }) => {
            admin::users_reset_password(db, username, password_stdin).await
        }
        Command::Users(UsersCommand::SetRoles { username, roles }) => {
            admin::users_set_roles(db, username, roles).await
        }
        Command::Users(UsersCommand::SetEmail { username, email, no_immediate, no_digest }) => {
            notify::set_email(db, username, email, !no_immediate, !no_digest).await
        }
        Command::Users(UsersCommand::LinkIdentity { username, provider, subject }) => {
            admin::users_identity(db, username, provider, subject, true).await
        }
        Command::Users(UsersCommand::UnlinkIdentity { username, provider, subject }) => {
            admin::users_identity(db, username, provider, subject, false).await
        }
        Command::Users(UsersCommand::PasswordSignIn { org, setting }) => {
            admin::password_sign_in(db, org, setting == "on").await
        }
        Command::Notify(NotifyCommand::Run { no_digest }) => notify::run(db, no_digest).await,
        Command::Notify(NotifyCommand::Status) => notify::status(db).await,
        Command::Tokens(TokensCommand::Revoke { user, all: _ }) => {
            admin::tokens_revoke(db, user).await
        }
        Command::Orgs(OrgsCommand::Add {
            code,
            name,
            kind,
            successor,
            valid_from,
            valid_to,
            ods_code,
        }) => {
            admin::orgs_add(db, code, name, kind, successor, (valid_from, valid_to), ods_code).await
        }
        Command::Orgs(OrgsCommand::List) => admin::orgs_list(db).await,
        Command::Import(ImportCommand::Register { file, dry_run, actor, as_org }) => {
            register::import_register(db, file, dry_run, actor, as_org).await
        }
        Command::Import(ImportCommand::Reviews { file, dry_run, actor, as_org }) => {
            care::import_reviews(db, file, dry_run, actor, as_org).await
        }
        Command::Import(ImportCommand::MapColumns { org, kind, pairs, actor }) => {
            register::map_columns(db, org, kind, pairs, actor).await
        }
        Command::Export(ExportCommand::Register { as_of, known_now, layout, format, output }) => {
            register::export_register(db, as_of, known_now, layout, format, output).await
        }
        Command::Export(ExportCommand::Fhir { bundle_type, output }) => {
            register::export_fhir(db, bundle_type.into(), output).await
        }
        Command::Audit(AuditCommand::Verify { checkpoint }) => audit::verify(db, checkpoint).await,
        Command::Audit(AuditCommand::Checkpoint { output }) => audit::checkpoint(db, output).await,
        Command::Audit(AuditCommand::Access { nhs_number, format, actor, limit }) => {
            audit::access(db, nhs_number, format, actor, limit).await
        }
        Command::Scenarios(ScenariosCommand::Check { paths }) => register::scenarios_check(&paths),
        Command::WhatIf(args) => register::what_if(db, args).await,
        Command::Recompute => register::recompute(db).await,
        Command::Generate(args) => register::generate(args).await,
        Command::Reviews(ReviewsCommand::Due { as_of, policy, format }) => {
            care::reviews_due(db, as_of, policy, format).await
        }
        Command::Reconcile { charges, payments, as_of, format, output, record, as_user } => {
            let record = record.then_some(as_user);
            finance::reconcile(db, charges, payments, as_of, format, output, record).await
        }
        Command::Refunds(c) => finance::refunds(db, c).await,
        Command::Funding(FundingCommand::Split {
            policy,
            weekly_cost,
            cohort,
            age,
            months_since_discharge,
            fully_chc,
            format,
        }) => {
            finance::split(
                policy,
                weekly_cost,
                cohort,
                age,
                months_since_discharge,
                fully_chc,
                format,
            )
            .await
        }
        Command::Funding(FundingCommand::Policies { json: Some(name) }) => {
            finance::policy_json(name).await
        }
        Command::Funding(FundingCommand::Policies { json: None }) => finance::policies().await,
        Command::Funding(FundingCommand::Agree { council, nhs, policy, from, to, policy_file }) => {
            admin::funding_agree(db, council, nhs, policy, from, to, policy_file).await
        }
        Command::Funding(FundingCommand::Costs { from, to, format, output }) => {
            finance::costs(db, from, to, format, output).await
        }
        Command::Funding(FundingCommand::Invoice {
            council,
            nhs,
            year,
            quarter,
            format,
            output,
        }) => finance::invoice(db, council, nhs, year, quarter, format, output).await,
        Command::Funding(FundingCommand::Sample { council, nhs, year, seed }) => {
            finance::sample(db, council, nhs, year, seed).await
        }
        Command::Funding(FundingCommand::Reset { council, nhs, outcomes, pooled_total, year }) => {
            finance::reset(db, council, nhs, outcomes, pooled_total, year).await
        }
        Command::Letters(LettersCommand::Show { council, kind }) => {
            admin::letters_show(db, council, kind).await
        }
        Command::Letters(LettersCommand::Set { council, kind, file }) => {
            admin::letters_set(db, council, kind, file).await
        }
        Command::Share(ShareCommand::Recipient { org, age_recipient }) => {
            sharing::recipient(db, org, age_recipient).await
        }
        Command::Share(ShareCommand::Monthly { org, month, format, out_dir, if_due }) => {
            sharing::monthly(db, org, month, format, out_dir, if_due).await
        }
        Command::Share(ShareCommand::List) => sharing::list(db).await,
        Command::Reference(ReferenceCommand::Load { files, actor }) => {
            reference::load(db, files, actor).await
        }
        Command::Reference(ReferenceCommand::List) => reference::list(db).await,
        Command::Partnerships(PartnershipsCommand::Add {
            council,
            nhs,
            name,
            review_policy,
            qa_ratifies_endings,
            funding_decision_days,
            refuse_unknown_codes,
        }) => {
            let new = aftercare::services::admin::NewPartnership {
                council,
                nhs,
                name,
                review_policy,
                qa_ratifies_endings,
                funding_decision_days,
                refuse_unknown_codes,
            };
            admin::partnerships_add(db, new).await
        }
        Command::Partnerships(PartnershipsCommand::List) => admin::partnerships_list(db).await,
        Command::Backup { output } => admin::backup(db, output).await,
        Command::Restore { input } => admin::restore(db, input).await,
    }
}
