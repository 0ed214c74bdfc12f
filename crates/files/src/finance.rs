//! Finance feeds for reconciliation (SPEC 9): council client-charging records
//! and commissioning payments, one row per charge or payment, checked cell by
//! cell like the register.

use aftercare_core::date::NaiveDate;
use aftercare_core::{NhsNumber, Pence};

use crate::error::{Collector, ImportErrors};
use crate::register::Cells;
use crate::table::{UnknownColumns, read_table};

pub const CHARGE_COLUMNS: [&str; 6] =
    ["nhs_number", "charged_from", "charged_to", "amount", "service", "charged_party"];
pub const PAYMENT_COLUMNS: [&str; 6] =
    ["nhs_number", "period_from", "period_to", "amount", "payer", "funding_stream"];

/// A charge the council made to a person for a period (dates inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRecord {
    pub line: usize,
    pub nhs_number: NhsNumber,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub amount: Pence,
    pub service: Option<String>,
    /// Who was charged when not the person (e.g. "Mrs A Smith, mother"):
    /// a refund is owed to whoever paid.
    pub charged_party: Option<String>,
}

/// Who made a commissioning payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payer {
    Council,
    Nhs,
}

/// A commissioning payment for a person's care over a period (dates inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRecord {
    pub line: usize,
    pub nhs_number: NhsNumber,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub amount: Pence,
    pub payer: Payer,
    /// Coded to s117 (rather than other funding).
    pub s117: bool,
}

fn table_rows(
    file_name: &str,
    table: &crate::table::Table,
    columns: &[&str],
    required: &[&str],
    errors: &mut Collector,
) -> Option<crate::table::HeaderMap> {
    let map = match table.map_headers(columns, UnknownColumns::Reject) {
        Ok(map) => map,
        Err(e) => {
            errors.extend(e);
            return None;
        }
    };
    for name in required {
        if !map.has(name) {
            errors.push(table.header_line, name, "required column is missing");
        }
    }
    let _ = file_name;
    errors.is_empty().then_some(map)
}

fn amount(c: &mut Cells<'_>, column: &str) -> Option<Pence> {
    let text = c.text(column).to_string();
    if text.trim().is_empty() {
        c.fail(column, "required, but blank");
        return None;
    }
    match Pence::parse_pounds(&text) {
        Ok(p) => Some(p),
        Err(e) => {
            c.fail(column, e.to_string());
            None
        }
    }
}

fn required_nhs(c: &mut Cells<'_>) -> Option<NhsNumber> {
    match c.nhs_number("nhs_number") {
        Ok(Some(n)) => Some(n),
        Ok(None) => {
            c.fail("nhs_number", "required, but blank");
            None
        }
        Err(()) => None,
    }
}

fn period(c: &mut Cells<'_>, from_col: &str, to_col: &str) -> Option<(NaiveDate, NaiveDate)> {
    let from = c.required_date(from_col);
    let to = c.required_date(to_col);
    match (from, to) {
        (Some(f), Some(t)) if t < f => {
            c.fail(to_col, format!("the period ends ({t}) before it starts ({f})"));
            None
        }
        (Some(f), Some(t)) => Some((f, t)),
        _ => None,
    }
}

/// Reads and checks a charging file: all rows or none.
pub fn parse_charges(file_name: &str, bytes: &[u8]) -> Result<Vec<ChargeRecord>, ImportErrors> {
    let table = read_table(file_name, bytes).map_err(|e| ImportErrors::unreadable(file_name, e))?;
    let mut errors = Collector::default();
    let Some(map) = table_rows(
        file_name,
        &table,
        &CHARGE_COLUMNS,
        &["nhs_number", "charged_from", "charged_to", "amount"],
        &mut errors,
    ) else {
        return Err(errors.into_errors(file_name));
    };
    let mut out = Vec::with_capacity(table.rows.len());
    for row in &table.rows {
        let mut c = Cells::new(&map, row, &mut errors);
        let nhs = required_nhs(&mut c);
        let period = period(&mut c, "charged_from", "charged_to");
        let amount = amount(&mut c, "amount");
        let service = c.optional_line("service", 200);
        let charged_party = c.optional_line("charged_party", 200);
        if let (Some(nhs_number), Some((from, to)), Some(amount)) = (nhs, period, amount) {
            out.push(ChargeRecord {
                line: row.line,
                nhs_number,
                from,
                to,
                amount,
                service,
                charged_party,
            });
        }
    }
    errors.finish(file_name)?;
    Ok(out)
}

/// Reads and checks a payments file: all rows or none.
pub fn parse_payments(file_name: &str, bytes: &[u8]) -> Result<Vec<PaymentRecord>, ImportErrors> {
    let table = read_table(file_name, bytes).map_err(|e| ImportErrors::unreadable(file_name, e))?;
    let mut errors = Collector::default();
    let Some(map) = table_rows(file_name, &table, &PAYMENT_COLUMNS, &PAYMENT_COLUMNS, &mut errors)
    else {
        return Err(errors.into_errors(file_name));
    };
    let mut out = Vec::with_capacity(table.rows.len());
    for row in &table.rows {
        let mut c = Cells::new(&map, row, &mut errors);
        let nhs = required_nhs(&mut c);
        let period = period(&mut c, "period_from", "period_to");
        let amount = amount(&mut c, "amount");
        let payer = match c.text("payer").trim().to_ascii_lowercase().as_str() {
            "council" => Some(Payer::Council),
            "nhs" => Some(Payer::Nhs),
            other => {
                c.fail(
                    "payer",
                    format!("`{}` is not council or nhs", aftercare_core::text::excerpt(other)),
                );
                None
            }
        };
        let s117 = match c.text("funding_stream").trim().to_ascii_lowercase().as_str() {
            "s117" => Some(true),
            "other" => Some(false),
            other => {
                c.fail(
                    "funding_stream",
                    format!("`{}` is not s117 or other", aftercare_core::text::excerpt(other)),
                );
                None
            }
        };
        if let (Some(nhs_number), Some((from, to)), Some(amount), Some(payer), Some(s117)) =
            (nhs, period, amount, payer, s117)
        {
            out.push(PaymentRecord { line: row.line, nhs_number, from, to, amount, payer, s117 });
        }
    }
    errors.finish(file_name)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_charges_and_reports_row_errors() {
        let ok = "nhs_number,charged_from,charged_to,amount,service\n9434765919,2024-01-01,2024-01-31,310.00,home care\n";
        assert_eq!(parse_charges("c.csv", ok.as_bytes()).unwrap()[0].amount, Pence(31_000));
        let bad =
            "nhs_number,charged_from,charged_to,amount\n9434765918,2024-01-01,2023-12-31,abc\n";
        let e = parse_charges("c.csv", bad.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("row 2, column nhs_number:"), "{e}");
        assert!(e.contains("row 2, column charged_to: the period ends"), "{e}");
        assert!(e.contains("row 2, column amount:"), "{e}");
    }

    #[test]
    fn reads_payments() {
        let ok = "nhs_number,period_from,period_to,amount,payer,funding_stream\n9434765919,2024-01-01,2024-03-31,1000,NHS,s117\n";
        let p = &parse_payments("p.csv", ok.as_bytes()).unwrap()[0];
        assert_eq!((p.payer, p.s117), (Payer::Nhs, true));
        let bad = "nhs_number,period_from,period_to,amount,payer,funding_stream\n9434765919,2024-01-01,2024-03-31,1000,trust,maybe\n";
        let e = parse_payments("p.csv", bad.as_bytes()).unwrap_err().to_string();
        assert!(
            e.contains("row 2, column payer:") && e.contains("row 2, column funding_stream:"),
            "{e}"
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = parse_charges("c.csv", s.as_bytes());
            let _ = parse_payments("p.csv", s.as_bytes());
        }
    }
}
