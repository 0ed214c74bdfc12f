//! Letters fit to send: each kind's placeholders, the built-in templates,
//! a council's own template checked when it is set (minijinja, strict: an
//! unknown placeholder is refused by name), filling in with what users typed
//! passed as data (never searched for placeholders), and the letter laid out
//! with letterhead, recipient, reference, NHS number and a named contact as
//! a tagged PDF (`crate::pdf`), easy read in large type.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::NaiveDate;
use minijinja::{Environment, UndefinedBehavior};

use crate::error::ServiceError;
use crate::pdf::{self, Block, Style};

/// A letter filled in, ready to show as a page or a PDF.
#[derive(Debug, Clone)]
pub struct Letter {
    pub kind: &'static str,
    /// The document title (PDF metadata, page heading).
    pub title: String,
    /// The council's name, at the head of the letter.
    pub letterhead: String,
    /// The council's address, if recorded.
    pub from_address: Option<String>,
    /// The recipient: the person's name (the register records no address),
    /// or the office or role written to.
    pub recipient: Vec<String>,
    /// Reference lines: our reference, NHS number, contact.
    pub reference: Vec<(String, String)>,
    pub date: NaiveDate,
    /// The filled-in text; paragraphs are separated by a blank line.
    pub body: String,
    pub easy_read: bool,
}

impl Letter {
    pub fn paragraphs(&self) -> Vec<String> {
        self.body.split("\n\n").map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect()
    }

    /// The letter as a tagged PDF (PDF/UA-1) in embedded fonts.
    pub fn pdf(&self) -> Result<Vec<u8>, ServiceError> {
        let mut blocks = vec![Block::Title(self.letterhead.clone())];
        if let Some(a) = &self.from_address {
            blocks.push(Block::Lines(a.split(',').map(|l| l.trim().to_string()).collect()));
        }
        blocks.push(Block::Space);
        if !self.recipient.is_empty() {
            blocks.push(Block::Lines(self.recipient.clone()));
        }
        let mut refs: Vec<String> =
            self.reference.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        refs.push(format!("Date: {}", aftercare_core::date::long_date(self.date)));
        blocks.push(Block::Lines(refs));
        blocks.push(Block::Heading(self.title.clone()));
        for para in self.paragraphs() {
            if self.easy_read {
                // One idea a line: each line its own paragraph.
                for line in para.lines().map(str::trim).filter(|l| !l.is_empty()) {
                    blocks.push(Block::Paragraph(line.to_string()));
                }
                blocks.push(Block::Space);
            } else {
                blocks.push(Block::Paragraph(para));
            }
        }
        let style = if self.easy_read { Style::EASY_READ } else { Style::STANDARD };
        Ok(pdf::render_styled(&self.title, style, &blocks)?)
    }
}

/// The letters produced when after-care ends.
pub const ENDING_KINDS: [(&str, &str); 6] = [
    ("person", "To the person"),
    ("person_easy_read", "To the person (easy read)"),
    ("mha_office", "To the MHA office"),
    ("gp", "To the GP"),
    ("providers", "To the providers"),
    ("council_finance", "To council finance"),
];

/// Every letter a council may word its own way, with what it is.
pub fn template_kinds() -> Vec<(&'static str, String)> {
    let mut v: Vec<(&'static str, String)> = ENDING_KINDS
        .iter()
        .map(|(k, l)| (*k, format!("Ending letter: {}", l.to_lowercase())))
        .collect();
    v.push(("factsheet", "Fact sheet for the person".into()));
    v.push(("reinstatement", "Reinstatement letter".into()));
    v.push(("reinstatement_easy_read", "Reinstatement letter (easy read)".into()));
    v
}

/// What a kind of letter is, in words (`None`: no such kind).
pub fn template_title(kind: &str) -> Option<String> {
    template_kinds().into_iter().find(|(k, _)| *k == kind).map(|(_, l)| l)
}

/// Every kind a council may set its own template for.
pub fn is_kind(kind: &str) -> bool {
    ENDING_KINDS.iter().any(|(k, _)| *k == kind)
        || matches!(kind, "factsheet" | "reinstatement" | "reinstatement_easy_read")
}

const ENDING_VARS: &[&str] = &[
    "name",
    "nhs_number",
    "end_date",
    "council",
    "nhs",
    "reasons",
    "today",
    "reference",
    "contact",
];
const FACTSHEET_VARS: &[&str] =
    &["name", "council", "nhs", "council_contact", "nhs_contact", "today", "reference", "contact"];
const REINSTATEMENT_VARS: &[&str] = &[
    "name",
    "nhs_number",
    "council",
    "nhs",
    "reinstated_on",
    "requested_by",
    "reason",
    "today",
    "reference",
    "contact",
];

/// The placeholders a kind of letter may use.
pub fn placeholders(kind: &str) -> &'static [&'static str] {
    match kind {
        "factsheet" => FACTSHEET_VARS,
        "reinstatement" | "reinstatement_easy_read" => REINSTATEMENT_VARS,
        _ => ENDING_VARS,
    }
}

/// Why a template was refused or could not be filled in.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error(
        "the {kind} letter uses an unknown placeholder `{{{{ {name} }}}}` (known: {known})",
        known = placeholders(kind).join(", ")
    )]
    UnknownPlaceholder { kind: String, name: String },
    #[error("the {kind} letter's template is not valid: {message}")]
    Syntax { kind: String, message: String },
    #[error("the {kind} letter could not be filled in: {message}")]
    Render { kind: String, message: String },
}

impl From<TemplateError> for ServiceError {
    fn from(e: TemplateError) -> Self {
        let message = e.to_string();
        match e {
            TemplateError::UnknownPlaceholder { .. } | TemplateError::Syntax { .. } => {
                ServiceError::invalid("template", message)
            }
            TemplateError::Render { .. } => ServiceError::conflict("letter_template", message),
        }
    }
}

/// A template of the old form (`{name}`, filled by string replacement) read
/// as minijinja (`{{ name }}`). A template that already uses `{{`, `{%` or
/// `{#` is taken as it is.
pub fn upgrade(template: &str) -> Cow<'_, str> {
    if template.contains("{{") || template.contains("{%") || template.contains("{#") {
        return Cow::Borrowed(template);
    }
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.find('}') {
            Some(j) if j > 0 && after[..j].chars().all(|c| c.is_ascii_lowercase() || c == '_') => {
                out.push_str("{{ ");
                out.push_str(&after[..j]);
                out.push_str(" }}");
                rest = &after[j + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    env
}

/// Checks a template for a kind: it parses, and names only the kind's
/// placeholders. Returns the template in the form to store.
pub fn check(kind: &str, template: &str) -> Result<String, TemplateError> {
    let source = upgrade(template).into_owned();
    let env = env();
    let t = env
        .template_from_str(&source)
        .map_err(|e| TemplateError::Syntax { kind: kind.to_string(), message: e.to_string() })?;
    let known = placeholders(kind);
    let mut unknown: Vec<String> = t
        .undeclared_variables(false)
        .into_iter()
        .filter(|v| !known.contains(&v.as_str()))
        .collect();
    unknown.sort();
    if let Some(name) = unknown.into_iter().next() {
        return Err(TemplateError::UnknownPlaceholder { kind: kind.to_string(), name });
    }
    Ok(source)
}

/// Fills in a template. The values are data: text a user typed is printed
/// as typed, whatever braces it holds.
pub fn fill(
    kind: &str,
    template: &str,
    values: &BTreeMap<&'static str, String>,
) -> Result<String, TemplateError> {
    let source = upgrade(template);
    env()
        .render_str(&source, values)
        .map_err(|e| TemplateError::Render { kind: kind.to_string(), message: e.to_string() })
}

/// The built-in template of each kind.
pub fn default_template(kind: &str) -> &'static str {
    match kind {
        "person" => {
            "Dear {{ name }},\n\nAfter a review of your needs and a meeting of the professionals involved in your care, {{ council }} and {{ nhs }} have both decided that you no longer need after-care under section 117 of the Mental Health Act 1983. Your section 117 after-care ended on {{ end_date }}.\n\nThe reasons are: {{ reasons }}\n\nIf you disagree with this decision, you have the right to challenge it. You can ask us to look at it again, use the complaints procedure of either organisation, and then complain to the Local Government and Social Care Ombudsman or the Parliamentary and Health Service Ombudsman. An advocate can help you.\n\nIf your mental health gets worse and you need support again because of it, you, your GP or any professional working with you can ask for your after-care to be reinstated. Contact {{ contact }} or the council and ask for a section 117 reinstatement; if it is urgent, say so.\n\nPlease quote {{ reference }} when you contact us.\n\nYours sincerely,\n\n{{ council }} and {{ nhs }}"
        }
        "person_easy_read" => {
            "Dear {{ name }},\n\nThis letter is about your after-care.\nAfter-care is help for your mental health.\nIt was free.\n\nThe help has stopped.\nIt stopped on {{ end_date }}.\n\nWe met to talk about you.\nWe think you are well now.\nWe think you do not need this help now.\nThe council agreed.\nThe NHS agreed.\n\nWhat we wrote about why:\n{{ reasons }}\n\nDo you think we are wrong?\nYou can tell us.\nYou can make a complaint.\nAn advocate can help you.\nAn advocate is someone on your side.\n\nDo you feel unwell again?\nYou can ask for the help to start again.\nYour doctor can ask for you.\nA worker can ask for you.\n\nWho to talk to:\n{{ contact }}\n\nFrom\n{{ council }}\n{{ nhs }}"
        }
        "mha_office" => {
            "Section 117: change of status\n\n{{ name }}, NHS number {{ nhs_number }}. Section 117 after-care ended on {{ end_date }} by the joint decision of {{ council }} and {{ nhs }}. Please update the register within 5 working days of the decision.\n\nReasons: {{ reasons }}\n\nContact: {{ contact }}."
        }
        "gp" => {
            "Dear Doctor,\n\n{{ name }}, NHS number {{ nhs_number }}\n\nSection 117 after-care for your patient ended on {{ end_date }} by the joint decision of {{ council }} and {{ nhs }}. If your patient's mental health deteriorates, you can ask for after-care to be reinstated, urgently if needed.\n\nReasons: {{ reasons }}\n\nContact: {{ contact }}."
        }
        "providers" => {
            "{{ name }}, NHS number {{ nhs_number }}\n\nSection 117 after-care ended on {{ end_date }}. Services provided from that date are no longer funded under section 117; the commissioners will confirm any continuing arrangements.\n\nContact: {{ contact }}."
        }
        "council_finance" => {
            "{{ name }}, NHS number {{ nhs_number }}\n\nSection 117 after-care ended on {{ end_date }}. Services before that date were free under section 117 and must not be charged for. Any services from that date may be assessed for charging under the Care Act 2014.\n\nContact: {{ contact }}."
        }
        "reinstatement" => {
            "Dear {{ name }},\n\nYour section 117 after-care has been reinstated from {{ reinstated_on }}. The ending of your after-care proved premature: {{ reason }}\n\nThe request came from {{ requested_by }}. {{ council }} and {{ nhs }} are again responsible for your after-care under section 117 of the Mental Health Act 1983. It is free: nobody may charge you for it.\n\nYour care co-ordinator will arrange to review your needs with you and agree an after-care plan. You can have an advocate to help you.\n\nContact: {{ contact }}. Please quote {{ reference }}.\n\nYours sincerely,\n\n{{ council }} and {{ nhs }}"
        }
        "reinstatement_easy_read" => {
            "Dear {{ name }},\n\nThis letter is about your after-care.\nAfter-care is help for your mental health.\nIt is free.\n\nYour after-care had stopped.\nNow it has started again.\nIt started again on {{ reinstated_on }}.\n\nWhy it started again:\n{{ reason }}\n\nIt was asked for by {{ requested_by }}.\n\nWhat happens next:\nYour worker will meet you.\nYou will talk about the help you need.\nYou will make a plan together.\n\nNobody can make you pay for this help.\nAn advocate can help you.\nAn advocate is someone on your side.\n\nWho to talk to:\n{{ contact }}\n\nFrom\n{{ council }}\n{{ nhs }}"
        }
        "factsheet" => {
            "This fact sheet is for {{ name }}.\n\nYou were detained in hospital under a section of the Mental Health Act 1983 that gives you the right to after-care under section 117 when you leave hospital. After-care is the help you need because of your mental health, to stay well and out of hospital.\n\nIt is free. Nobody may charge you for after-care provided under section 117, including medication for your mental health and specialist accommodation you need because of it. You should not be asked to claim housing benefit for s117 specialist accommodation.\n\nWho is responsible for your after-care: {{ council }} and {{ nhs }}. They must plan it with you, name a lead professional (care co-ordinator), write an after-care plan and review it. Who to contact about your care: {{ contact }}.\n\nYour views count. You can have an independent mental health advocate (IMHA) to help you. Your carer or nearest relative can be involved if you agree.\n\nAfter-care lasts until both {{ council }} and {{ nhs }} agree you no longer need it, after a review with you. It cannot end just because you left specialist services, because time has passed, or because you are no longer on a community treatment order. It cannot end while you are on a community treatment order.\n\nIf it ends too soon, you, your GP or anyone working with you can ask for it to be reinstated.\n\nIf you are unhappy, you can complain to {{ council }} or {{ nhs }}, and then to the Local Government and Social Care Ombudsman or the Parliamentary and Health Service Ombudsman.\n\nContact: {{ council_contact }}; {{ nhs_contact }}."
        }
        _ => "",
    }
}

// ------------------------------------------------------- letters sent

/// How a letter can be sent, with the words the pages use.
pub const METHODS: [(&str, &str); 4] = [
    ("post", "By post"),
    ("secure_email", "By secure email (for example NHSmail)"),
    ("email", "By email"),
    ("hand", "Handed over in person"),
];

fn method_label(method: &str) -> &'static str {
    METHODS.iter().find(|(m, _)| *m == method).map(|(_, l)| *l).unwrap_or("Another way")
}

/// Every kind of letter, as the `'static` name a [`Letter`] carries.
fn static_kind(kind: &str) -> Option<&'static str> {
    ENDING_KINDS
        .iter()
        .map(|(k, _)| *k)
        .chain(["factsheet", "reinstatement", "reinstatement_easy_read"])
        .find(|k| *k == kind)
}

/// What the sender chose on the letter's page.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct SendFields {
    /// The letter's text as the sender left it.
    #[serde(default)]
    pub letter_body: String,
    #[serde(default)]
    pub method: String,
    pub sent_on: Option<NaiveDate>,
}

/// The letter with the sender's text in place of the one filled in. Line
/// ends are made `\n`; the text must not be empty.
pub fn edited(mut letter: Letter, body: &str) -> Result<Letter, ServiceError> {
    let body = body.replace("\r\n", "\n").replace('\r', "\n");
    if body.trim().is_empty() {
        return Err(ServiceError::invalid(
            aftercare_core::text::LETTER_FIELD,
            "the letter has no text: enter what the letter says, or start again from the letter as filled in",
        ));
    }
    aftercare_core::text::check_letter_text(&body)
        .map_err(|e| ServiceError::invalid(aftercare_core::text::LETTER_FIELD, e.to_string()))?;
    letter.body = body.trim().to_string();
    Ok(letter)
}

/// Whether the user may record letters as sent: anyone who works on
/// people's care (not an auditor or a system administrator alone).
pub fn can_send(user: &crate::auth::User) -> bool {
    use crate::auth::Role;
    [
        Role::MhaAdministrator,
        Role::LeadProfessional,
        Role::Commissioner,
        Role::Finance,
        Role::QaGroup,
    ]
    .into_iter()
    .any(|r| user.has(r))
}

/// A letter as it was sent, with who recorded it, when and how.
#[derive(Debug, Clone)]
pub struct SentLetter {
    pub id: i64,
    pub letter: Letter,
    pub method: &'static str,
    pub sent_on: NaiveDate,
    /// Whether the sender changed the text filled in.
    pub edited: bool,
    pub recorded_by: String,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
    pub org_code: String,
}

impl TryFrom<crate::db::letters::SentLetterRow> for SentLetter {
    type Error = crate::db::DbError;
    fn try_from(r: crate::db::letters::SentLetterRow) -> Result<Self, Self::Error> {
        let corrupt =
            |what: &str| crate::db::DbError::Corrupt(format!("letter sent {}: {what}", r.id));
        let kind = static_kind(&r.kind).ok_or_else(|| corrupt("unknown kind"))?;
        let recipient: Vec<String> =
            serde_json::from_str(&r.recipient).map_err(|_| corrupt("recipient"))?;
        let reference: Vec<(String, String)> =
            serde_json::from_str(&r.reference_lines).map_err(|_| corrupt("reference lines"))?;
        Ok(SentLetter {
            id: r.id,
            method: method_label(&r.method),
            sent_on: r.sent_on,
            edited: r.edited,
            recorded_by: r.recorded_by,
            recorded_at: r.recorded_at,
            org_code: r.org_code,
            letter: Letter {
                kind,
                title: r.title,
                letterhead: r.letterhead,
                from_address: r.from_address,
                recipient,
                reference,
                date: r.letter_date,
                body: r.body,
                easy_read: r.easy_read,
            },
        })
    }
}

/// Records `letter` (already [`edited`]) as sent to or about the person:
/// the text as it went out is kept, and the person's history says who sent
/// what, when and how. Only someone whose organisation has a part in the
/// person sends their letters (checked in the write).
pub async fn record_sent(
    db: &crate::db::Db,
    user: &crate::auth::User,
    person_id: i64,
    letter: &Letter,
    original_body: &str,
    fields: &SendFields,
    today: NaiveDate,
) -> Result<i64, ServiceError> {
    if !can_send(user) {
        return Err(ServiceError::forbidden(
            "forbidden",
            "your role does not send letters: ask the MHA office or the person's lead professional"
                .into(),
        ));
    }
    let mut errors = Vec::new();
    if !METHODS.iter().any(|(m, _)| *m == fields.method) {
        errors.push(("method".to_string(), "choose how the letter was sent".to_string()));
    }
    match fields.sent_on {
        None => errors.push(("sent_on".into(), "enter the date the letter was sent".into())),
        Some(d) if d > today => errors.push((
            "sent_on".into(),
            "the date the letter was sent must be today or in the past".into(),
        )),
        Some(_) => {}
    }
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    let sent_on = fields.sent_on.expect("checked");
    let reference =
        letter.reference.iter().find(|(k, _)| k == "Our reference").map(|(_, v)| v.clone());
    let reference = reference.unwrap_or_default();
    let edited = letter.body.trim() != original_body.trim();
    let recipient = serde_json::to_string(&letter.recipient).expect("lines serialise");
    let reference_lines = serde_json::to_string(&letter.reference).expect("pairs serialise");
    let actor = user.actor();
    let mut tx = db.begin_write().await?;
    crate::services::access::ensure_part(&mut tx, user, person_id).await?;
    let id = crate::db::letters::insert(
        &mut tx,
        &crate::db::letters::NewSentLetter {
            person_id,
            kind: letter.kind,
            reference: &reference,
            title: &letter.title,
            letterhead: &letter.letterhead,
            from_address: letter.from_address.as_deref(),
            recipient: &recipient,
            reference_lines: &reference_lines,
            letter_date: letter.date,
            body: &letter.body,
            edited,
            easy_read: letter.easy_read,
            method: &fields.method,
            sent_on,
            org_code: &user.org_code,
        },
        &actor,
    )
    .await?;
    let said = format!(
        "{}: {}, {}{}",
        letter.title,
        method_label(&fields.method).to_lowercase(),
        aftercare_core::date::long_date(sent_on),
        if edited { " (text changed before sending)" } else { "" }
    );
    crate::services::audit_row(
        &mut tx,
        &actor,
        "letter.sent",
        person_id,
        "letter",
        id,
        Some(&said),
        serde_json::json!({"kind": letter.kind, "reference": reference, "method": fields.method, "sent_on": sent_on, "edited": edited}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// The letters sent to or about a person, newest first.
pub async fn sent_for_person(
    db: &crate::db::Db,
    person_id: i64,
) -> Result<Vec<SentLetter>, crate::db::DbError> {
    crate::db::letters::for_person(db, person_id)
        .await?
        .into_iter()
        .map(SentLetter::try_from)
        .collect()
}

/// One letter sent, as it went out.
pub async fn sent_one(
    db: &crate::db::Db,
    person_id: i64,
    id: i64,
) -> Result<Option<SentLetter>, crate::db::DbError> {
    crate::db::letters::one(db, person_id, id).await?.map(SentLetter::try_from).transpose()
}

// ------------------------------------------------------- postal address

/// Most lines an address may have, and characters a line.
const ADDRESS_LINES: usize = 8;

/// The person's postal address for letters, as lines (none recorded: empty).
pub async fn address_of(
    db: &crate::db::Db,
    person_id: i64,
) -> Result<Vec<String>, crate::db::DbError> {
    Ok(crate::db::letters::current_address(db, person_id)
        .await?
        .map(|a| a.lines().map(str::to_string).collect())
        .unwrap_or_default())
}

/// Records the person's postal address for letters (one line per line of
/// the text; empty clears it). By those who send letters, with a part in
/// the person (checked in the write); audited, and the address before is
/// kept as superseded.
pub async fn set_address(
    db: &crate::db::Db,
    user: &crate::auth::User,
    person_id: i64,
    text: &str,
) -> Result<(), ServiceError> {
    if !can_send(user) {
        return Err(ServiceError::forbidden(
            "forbidden",
            "your role does not record addresses: ask the MHA office or the person's lead professional".into(),
        ));
    }
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if lines.len() > ADDRESS_LINES {
        return Err(ServiceError::invalid(
            "address",
            format!("an address has at most {ADDRESS_LINES} lines; this has {}", lines.len()),
        ));
    }
    for (n, line) in lines.iter().enumerate() {
        aftercare_core::text::check_line(line, aftercare_core::text::MAX_NAME_CHARS).map_err(
            |e| ServiceError::invalid("address", format!("line {} of the address is {e}", n + 1)),
        )?;
    }
    let address = lines.join("\n");
    let actor = user.actor();
    let mut tx = db.begin_write().await?;
    crate::services::access::ensure_part(&mut tx, user, person_id).await?;
    let id = crate::db::letters::set_address(&mut tx, person_id, &address, &actor).await?;
    crate::services::audit_row(
        &mut tx,
        &actor,
        if address.is_empty() { "person.address_cleared" } else { "person.address_recorded" },
        person_id,
        "person_address",
        id,
        None,
        serde_json::json!({"lines": lines.len()}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_templates_read_as_minijinja() {
        assert_eq!(upgrade("Dear {name}, {x y} {}"), "Dear {{ name }}, {x y} {}");
        assert_eq!(upgrade("{{ name }} {a}"), "{{ name }} {a}");
    }

    #[test]
    fn every_default_template_passes_its_own_check() {
        for kind in ENDING_KINDS.iter().map(|(k, _)| *k).chain([
            "factsheet",
            "reinstatement",
            "reinstatement_easy_read",
        ]) {
            check(kind, default_template(kind)).unwrap();
        }
    }

    #[test]
    fn unknown_placeholders_are_refused_by_name() {
        let e = check("gp", "Dear {{ doctor_name }}").unwrap_err();
        assert!(e.to_string().contains("doctor_name"), "{e}");
        let e = check("gp", "Dear {doctor}").unwrap_err();
        assert!(e.to_string().contains("doctor"), "{e}");
    }

    #[test]
    fn typed_text_is_data() {
        let mut v = BTreeMap::new();
        v.insert("reasons", "see {{ name }} and {name}".to_string());
        v.insert("name", "Ann".to_string());
        assert_eq!(fill("gp", "{{ reasons }}", &v).unwrap(), "see {{ name }} and {name}");
    }
}
