//! Demo data: a realistic, synthetic register for trying the product. Every
//! person is invented; NHS numbers are in the 999 test range. The register is
//! built as a master-list file and loaded through the real import, so the
//! demo exercises the same checks and rules as production data.

use aftercare_core::OrgCode;
use chrono::{Days, NaiveDate};

use crate::auth::{self, Role};
use crate::db::store::{self, Actor, NewUser, OrgRow};

/// The name the demo's records are made under (its history is loaded at
/// once, so nothing it records is a late register change).
pub const LOADER: &str = "demo-loader";
use crate::db::{Db, DbError};
use crate::error::ServiceError;
use crate::services::register;

/// Password of every demo account (printed at start-up; demo only).
pub const DEMO_PASSWORD: &str = "aftercare-demo";

/// A small, fast, seedable generator (SplitMix64): reproducible demo data
/// without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// One partnership: a council with its NHS commissioners and mental health trust.
pub struct Partnership {
    pub council: (&'static str, &'static str),
    pub icb: (&'static str, &'static str),
    pub ccg: (&'static str, &'static str),
    pub trust: (&'static str, &'static str),
}

pub const PARTNERSHIPS: [Partnership; 5] = [
    Partnership {
        council: ("E10000016", "Kent County Council"),
        icb: ("QKS", "NHS Kent and Medway ICB"),
        ccg: ("91Q", "NHS Kent and Medway CCG"),
        trust: ("RXY", "Kent and Medway Mental Health NHS Trust"),
    },
    Partnership {
        council: ("E10000019", "Lincolnshire County Council"),
        icb: ("QJM", "NHS Lincolnshire ICB"),
        ccg: ("71E", "NHS Lincolnshire CCG"),
        trust: ("RP7", "Lincolnshire Partnership NHS Foundation Trust"),
    },
    Partnership {
        council: ("E06000060", "Buckinghamshire Council"),
        icb: ("QU9", "NHS Buckinghamshire, Oxfordshire and Berkshire West ICB"),
        ccg: ("14Y", "NHS Buckinghamshire CCG"),
        trust: ("RNU", "Oxford Health NHS Foundation Trust"),
    },
    Partnership {
        council: ("E08000018", "Rotherham Metropolitan Borough Council"),
        icb: ("QF7", "NHS South Yorkshire ICB"),
        ccg: ("03L", "NHS Rotherham CCG"),
        trust: ("RXE", "Rotherham Doncaster and South Humber NHS Foundation Trust"),
    },
    Partnership {
        council: ("E08000017", "City of Doncaster Council"),
        icb: ("QF7", "NHS South Yorkshire ICB"),
        ccg: ("02X", "NHS Doncaster CCG"),
        trust: ("RXE", "Rotherham Doncaster and South Humber NHS Foundation Trust"),
    },
];

pub const NHS_ENGLAND: (&str, &str) = ("X24", "NHS England");

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid constant date")
}

/// The organisations of the demo partnerships, with CCG → ICB successors.
pub fn demo_orgs() -> Vec<OrgRow> {
    let mut orgs: Vec<OrgRow> = Vec::new();
    let mut add = |code: &str,
                   name: &str,
                   kind: &str,
                   valid_to: Option<NaiveDate>,
                   successor: Option<&str>| {
        if !orgs.iter().any(|o| o.code == code) {
            orgs.push(OrgRow {
                code: code.into(),
                name: name.into(),
                kind: kind.into(),
                valid_from: None,
                valid_to,
                successor_code: successor.map(String::from),
                address: None,
                ods_code: None,
            });
        }
    };
    for p in &PARTNERSHIPS {
        add(p.council.0, p.council.1, "council", None, None);
        add(p.icb.0, p.icb.1, "icb", None, None);
        add(p.ccg.0, p.ccg.1, "ccg", Some(date(2022, 6, 30)), Some(p.icb.0));
        add(p.trust.0, p.trust.1, "nhs_trust", None, None);
    }
    add(NHS_ENGLAND.0, NHS_ENGLAND.1, "nhs_england", None, None);
    orgs
}

const GIVEN: [&str; 40] = [
    "Amelia",
    "Oliver",
    "Isla",
    "George",
    "Ava",
    "Noah",
    "Mia",
    "Arthur",
    "Ivy",
    "Muhammad",
    "Grace",
    "Leo",
    "Freya",
    "Harry",
    "Lily",
    "Oscar",
    "Florence",
    "Archie",
    "Willow",
    "Jack",
    "Rosie",
    "Charlie",
    "Sophia",
    "Thomas",
    "Evie",
    "Jacob",
    "Aisha",
    "Kwame",
    "Priya",
    "Tomasz",
    "Siobhan",
    "Dylan",
    "Fatima",
    "Chen",
    "Olusegun",
    "Agnieszka",
    "Rhys",
    "Niamh",
    "Ravi",
    "Zainab",
];
const FAMILY: [&str; 40] = [
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
    "Thomas", "Clarke", "Jackson", "Wood", "Harris", "Edwards", "Turner", "Martin", "Cooper",
    "Hill", "Ward", "Hughes", "Moore", "Clark", "Khan", "Ahmed", "Okafor", "Nowak", "O'Brien",
    "Mensah", "Begum", "Kowalski",
];

/// A valid NHS number in the 999 test range.
pub fn test_nhs_number(rng: &mut Rng) -> String {
    loop {
        let body = format!("999{:06}", rng.below(1_000_000));
        let sum: u32 = body.bytes().zip((2..=10).rev()).map(|(b, w)| u32::from(b - b'0') * w).sum();
        let check = match 11 - (sum % 11) {
            11 => 0,
            10 => continue,
            n => n,
        };
        return format!("{body}{check}");
    }
}

const SECTIONS: [(&str, u64); 12] = [
    ("3", 40),
    ("2", 24),
    ("37", 5),
    ("37/41", 5),
    ("47", 2),
    ("47/49", 1),
    ("48", 1),
    ("45A", 1),
    ("136", 7),
    ("4", 3),
    ("5(2)", 5),
    ("mhsds:03", 6),
];

fn pick_section(rng: &mut Rng) -> &'static str {
    let total: u64 = SECTIONS.iter().map(|(_, w)| w).sum();
    let mut roll = rng.below(total);
    for (s, w) in SECTIONS {
        if roll < w {
            return s;
        }
        roll -= w;
    }
    "3"
}

/// NHS numbers for a synthetic register: every valid number in the 999
/// test range, once each, in an order set by the seed. The bodies
/// `999000000..=999999999` are visited in the order of the permutation
/// `k ↦ (a·k + b) mod 10⁶` (a bijection, as `a` is prime to 10⁶), and bodies
/// whose check digit would be 10 are skipped (and 9999999999, a
/// placeholder), so there are 909,090 numbers
/// before [`NhsNumbers::next`] returns `None`. Constant work per number, so
/// a register of any size is generated without searching for unused ones.
pub struct NhsNumbers {
    k: u64,
    a: u64,
    b: u64,
}

impl NhsNumbers {
    const RANGE: u64 = 1_000_000;

    pub fn new(seed: u64) -> NhsNumbers {
        let mut rng = Rng::new(seed ^ 0x0999_0999);
        let mut a = 1 + 2 * rng.below(Self::RANGE / 2);
        if a.is_multiple_of(5) {
            a += 2;
        }
        NhsNumbers { k: 0, a, b: rng.below(Self::RANGE) }
    }

    /// The next unused number, or `None` once the test range is used up.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<String> {
        while self.k < Self::RANGE {
            let body = format!("999{:06}", (self.a * self.k + self.b) % Self::RANGE);
            self.k += 1;
            let sum: u32 =
                body.bytes().zip((2..=10).rev()).map(|(b, w)| u32::from(b - b'0') * w).sum();
            let n = match 11 - (sum % 11) {
                10 => continue,
                11 => format!("{body}0"),
                n => format!("{body}{n}"),
            };
            // 9999999999 passes the check but is a placeholder, not a number.
            if n != "9999999999" {
                return Some(n);
            }
        }
        None
    }
}

/// The demo master list as CSV: one row per detention.
pub fn register_csv(people: usize, seed: u64, today: NaiveDate) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut numbers = NhsNumbers::new(seed);
    let mut rows: Vec<Vec<String>> = Vec::new();
    for i in 0..people {
        let nhs = numbers.next();
        rows.extend(person_rows(&mut rng, i, nhs.as_deref(), today));
    }
    aftercare_files::write_csv(&aftercare_files::register::REGISTER_COLUMNS, &rows)
}

/// One invented person's rows of the master list (one per detention, in the
/// order of [`aftercare_files::register::REGISTER_COLUMNS`]). Without an NHS
/// number the person is known by the local id alone.
pub fn person_rows(
    rng: &mut Rng,
    i: usize,
    nhs: Option<&str>,
    today: NaiveDate,
) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let nhs = nhs.unwrap_or_default().to_string();
    let home = rng.below(PARTNERSHIPS.len() as u64) as usize;
    let given = *rng.pick(&GIVEN);
    let family = *rng.pick(&FAMILY);
    let dob = date(1945, 1, 1) + Days::new(rng.below(60 * 365));
    let gp_practice = format!("{}{:05}", ["G", "K", "C", "H", "M"][home], 81000 + rng.below(90));
    let mut start =
        (date(2011, 1, 1) + Days::new(rng.below(15 * 365))).max(dob + Days::new(16 * 365));
    let mut living = home;
    let detentions = 1 + rng.below(3) as usize;
    for k in 0..detentions {
        if start >= today {
            break;
        }
        let section = pick_section(rng);
        let p = &PARTNERSHIPS[living];
        let nfa = rng.chance(3);
        let cross_border = rng.chance(5);
        let commissioner =
            |p: &Partnership, on: NaiveDate| if on >= date(2022, 7, 1) { p.icb.0 } else { p.ccg.0 };
        let gp_p = if cross_border { &PARTNERSHIPS[(living + 1) % PARTNERSHIPS.len()] } else { p };
        let stay =
            5 + rng.below(if section == "3" || section.starts_with("37") { 200 } else { 27 });
        let left = start + Days::new(stay);
        let still_in = k + 1 == detentions && left >= today;
        let discharged_to_idx =
            if rng.chance(15) { rng.below(PARTNERSHIPS.len() as u64) as usize } else { living };
        rows.push(vec![
            nhs.clone(),
            format!("L{:06}", i + 1),
            family.into(),
            given.into(),
            dob.to_string(),
            section.into(),
            start.to_string(),
            if nfa { String::new() } else { p.council.0.into() },
            if nfa { "yes".into() } else { "no".into() },
            gp_practice.clone(),
            commissioner(gp_p, start).into(),
            commissioner(p, start).into(),
            p.trust.0.into(),
            if still_in { String::new() } else { left.to_string() },
            if still_in { String::new() } else { PARTNERSHIPS[discharged_to_idx].council.0.into() },
            (start + Days::new(rng.below(5))).min(today).to_string(),
        ]);
        if still_in {
            break;
        }
        living = discharged_to_idx;
        start = left + Days::new(30 + rng.below(1500));
    }
    rows
}

/// A demo account.
pub struct DemoLogin {
    pub username: String,
    pub role: Role,
    pub org: String,
}

/// Which organisation each demo role belongs to (the Kent partnership).
fn demo_org_for(role: Role) -> &'static str {
    match role {
        Role::MhaAdministrator => "RXY",
        Role::LeadProfessional | Role::Finance | Role::Auditor => "E10000016",
        Role::Commissioner | Role::QaGroup => "QKS",
        Role::SystemAdministrator => NHS_ENGLAND.0,
    }
}

/// Fills an empty database with the demo register and one user per role.
/// Does nothing (and returns no logins) if the register already has people.
pub async fn seed(
    db: &Db,
    people: usize,
    seed: u64,
    today: NaiveDate,
) -> Result<Vec<DemoLogin>, ServiceError> {
    if store::count_people(db).await? > 0 {
        return Ok(Vec::new());
    }
    let actor = Actor { user_id: None, username: LOADER.into(), org_code: None };
    let mut tx = db.begin_write().await?;
    for org in demo_orgs() {
        store::upsert_org(&mut tx, &org).await?;
    }
    let hash = auth::hash_password(DEMO_PASSWORD).map_err(DbError::Corrupt)?;
    let mut logins = Vec::new();
    for role in Role::ALL {
        let username = format!("demo-{}", role.as_str().replace('_', "-"));
        if store::user_by_username(db, &username).await?.is_none() {
            let display = format!("Demo {}", role.label().to_lowercase());
            store::insert_user(
                &mut tx,
                &NewUser {
                    username: &username,
                    display_name: &display,
                    org_code: demo_org_for(role),
                    roles: role.as_str(),
                    team: Some("Demo team"),
                    password_hash: &hash,
                },
            )
            .await?;
        }
        logins.push(DemoLogin { username, role, org: demo_org_for(role).into() });
    }
    // The other side of the Kent partnership: the council's commissioner
    // (demo-commissioner is the ICB's), so both bodies can decide an ending;
    // and finance at Buckinghamshire, whose aligned budget has invoices.
    let extra = [
        ("demo-council-commissioner", "Demo council commissioner", "E10000016", Role::Commissioner),
        ("demo-bucks-finance", "Demo Buckinghamshire finance", "E06000060", Role::Finance),
    ];
    for (username, display_name, org_code, role) in extra {
        if store::user_by_username(db, username).await?.is_none() {
            store::insert_user(
                &mut tx,
                &NewUser {
                    username,
                    display_name,
                    org_code,
                    roles: role.as_str(),
                    team: Some("Demo team"),
                    password_hash: &hash,
                },
            )
            .await?;
        }
        logins.push(DemoLogin { username: username.into(), role, org: org_code.into() });
    }
    tx.commit().await?;
    let csv = register_csv(people, seed, today);
    register::import_register(db, &actor, "demo-register.csv", &csv, false, today, &|_, _| {})
        .await?;
    seed_care(db, &actor, seed, today).await?;
    seed_ending(db, today).await?;
    Ok(logins)
}

/// One ending proposed this week through the real workflow, so the Kent
/// deciders' home pages show a decision waiting for them.
async fn seed_ending(db: &Db, today: NaiveDate) -> Result<(), ServiceError> {
    let Some(row) = store::user_by_username(db, "demo-lead-professional").await? else {
        return Ok(());
    };
    let lead = crate::auth::User::from_row(&row);
    let cases = crate::services::care::all_cases(db, today).await?;
    let Some(c) = cases.iter().find(|c| {
        c.open_on(today).is_some_and(|e| {
            e.council.org.as_ref().is_some_and(|o| o.as_str() == "E10000016")
                && e.nhs.org.as_ref().is_some_and(|o| o.as_str() == "QKS")
        })
    }) else {
        return Ok(());
    };
    let day = |n: u64| (today - Days::new(n)).to_string();
    let review = crate::services::care::ReviewFields {
        held_on: day(6),
        attendees: "the person, care co-ordinator, psychiatrist".into(),
        person_views: "feels well and would like to stop".into(),
        still_needed: "no".into(),
        ..Default::default()
    };
    crate::services::care::record_review(db, &lead, c.person.id, &review, today).await?;
    let proposal = crate::services::endings::ProposalFields {
        proposed_on: day(2),
        reassessment_on: day(6),
        mdt_attendees: "care co-ordinator, psychiatrist, social worker".into(),
        person_views: "feels well and would like to stop".into(),
        imha_support: "yes".into(),
        reasons: "no_longer_needed".into(),
        reason_text: "needs met by universal services; stable for two years".into(),
        ..Default::default()
    };
    crate::services::endings::propose(db, &lead, c.person.id, &proposal, today).await?;
    Ok(())
}

/// Partnerships with their review policies, and for most entitled people a
/// lead professional, a plan and some reviews, so the worklists and
/// monitoring have something to show.
async fn seed_care(
    db: &Db,
    actor: &Actor,
    seed: u64,
    today: NaiveDate,
) -> Result<(), ServiceError> {
    use crate::db::care::{self, NewReview, PartnershipRow};
    use aftercare_core::Pence;
    use aftercare_core::plan::{
        AccommodationDetails, AccommodationType, Aspect, CarePlan, Funder, Need,
    };
    let mut rng = Rng::new(seed ^ 0x5117);
    let mut tx = db.begin_write().await?;
    let policies = ["default", "lincolnshire", "default", "rotherham", "rotherham"];
    for (p, policy) in PARTNERSHIPS.iter().zip(policies) {
        let row = PartnershipRow {
            id: 0,
            council_code: p.council.0.into(),
            nhs_code: p.icb.0.into(),
            name: format!("{} and {}", p.council.1, p.icb.1),
            review_policy: policy.into(),
            qa_ratifies_endings: policy == "lincolnshire",
            funding_decision_days: aftercare_core::plan::FUNDING_DECISION_DAYS,
            refuse_unknown_codes: false,
        };
        care::upsert_partnership(&mut tx, &row).await?;
    }
    let agreements: [(&str, &str, &str, NaiveDate, Option<NaiveDate>); 6] = [
        ("E10000016", "QKS", "fixed-50-50", date(2022, 7, 1), None),
        (
            "E10000019",
            "QJM",
            "lincolnshire-interim-2018",
            date(2018, 5, 1),
            Some(date(2022, 3, 31)),
        ),
        ("E10000019", "QJM", "lincolnshire-2022", date(2022, 4, 1), None),
        ("E06000060", "QU9", "aligned-bucks-2017", date(2017, 7, 1), None),
        ("E08000018", "QF7", "fixed-50-50", date(2022, 7, 1), None),
        ("E08000017", "QF7", "fixed-50-50", date(2022, 7, 1), None),
    ];
    for (council, nhs, policy, from, to) in agreements {
        care::insert_agreement(&mut tx, council, nhs, policy, from, to, None, actor).await?;
    }
    tx.commit().await?;
    let cases = crate::services::care::all_cases(db, today).await?;
    let teams = [
        "North community mental health team",
        "South community mental health team",
        "Forensic outreach team",
        "Early intervention team",
    ];
    let leads =
        ["Sam Okoro", "Jo Bright", "Alex Murray", "Nadia Rahman", "Chris Evans", "Pat Kowalczyk"];
    let mut tx = db.begin_write().await?;
    for c in &cases {
        let Some(e) = c.derivation.entitlements.last().filter(|e| e.end.is_none()) else {
            continue;
        };
        if rng.chance(80) {
            let team = *rng.pick(&teams);
            let lead = *rng.pick(&leads);
            care::set_lead_professional(
                &mut tx,
                c.person.id,
                lead,
                Some(team),
                e.council.org.as_ref().map(|o| o.as_str()),
                e.start,
                actor,
            )
            .await?;
        }
        if rng.chance(70) {
            let mut plan = CarePlan::default();
            plan.needs.push(Need {
                aspect: Aspect::ContinuingMentalHealthCare,
                description: "Community mental health support and medication review".into(),
                s117: true,
                s117_reason:
                    "Arises from the mental disorder; reduces the risk of relapse and readmission"
                        .into(),
                interventions: "Weekly visits by the care co-ordinator; monthly psychiatry review"
                    .into(),
                provider: "Community mental health team".into(),
                weekly_cost: Pence(12_000 + rng.below(20_000) as i64),
                start: e.start,
                end: None,
                funder: Funder::Nhs,
                accommodation: None,
            });
            if rng.chance(35) {
                plan.needs.push(Need {
                    aspect: Aspect::Accommodation,
                    description: "Supported living with 24-hour staff".into(),
                    s117: true,
                    s117_reason: "Specialised accommodation needed because of the mental disorder"
                        .into(),
                    interventions: "Support with daily living and medication".into(),
                    provider: "Harbour Supported Living".into(),
                    weekly_cost: Pence(90_000 + rng.below(120_000) as i64),
                    start: e.start,
                    end: None,
                    funder: Funder::Shared,
                    accommodation: Some(AccommodationDetails {
                        kind: AccommodationType::SupportedLiving,
                        preference: "Near family".into(),
                        interim_from: None,
                        top_up: None,
                    }),
                });
            }
            if rng.chance(20) {
                plan.needs.push(Need {
                    aspect: Aspect::PhysicalHealthCare,
                    description: "Help with mobility after a stroke".into(),
                    s117: false,
                    s117_reason:
                        "Does not arise from the mental disorder: a Care Act need, chargeable"
                            .into(),
                    interventions: "Home care twice a day".into(),
                    provider: "Homecare Ltd".into(),
                    weekly_cost: Pence(25_000),
                    start: e.start,
                    end: None,
                    funder: Funder::OtherChargeable,
                    accommodation: None,
                });
            }
            let body = serde_json::to_string(&plan).map_err(|e| DbError::Corrupt(e.to_string()))?;
            care::insert_plan_version(
                &mut tx,
                c.person.id,
                0,
                &body,
                plan.has_s117_need(),
                Some("demo plan"),
                actor,
            )
            .await?;
        }
        // Reviews, mostly on time, some late or missed.
        let mut held = e.start + Days::new(20 + rng.below(40));
        while held < today && rng.chance(75) {
            let r = NewReview {
                held_on: held,
                outcome: Some("plan continued"),
                attendees: Some("the person, care co-ordinator"),
                person_views: Some("wants to keep the current support"),
                still_needed: Some("yes"),
                plan_changes: None,
                source: "demo",
            };
            care::insert_review(&mut tx, c.person.id, &r, actor).await?;
            held = held + Days::new(150 + rng.below(300));
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Checks that an organisation code is usable (for the CLI).
pub fn parse_org(code: &str) -> Result<String, String> {
    OrgCode::parse(code).map(|c| c.to_string()).map_err(|e| e.to_string())
}
