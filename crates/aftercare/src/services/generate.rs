//! `aftercare generate`: a synthetic register at any scale, written as the
//! files an operator would import — the master list (`register.csv`, the
//! demo generator's people), reviews held (`reviews.csv`) and the finance
//! feeds the reconciliation reads (`charges.csv`, `payments.csv`).
//!
//! Everything is invented and NHS numbers are in the 999 test range (see
//! [`NhsNumbers`]; past its 909,090 numbers people have a local id only).
//! The same seed and date give the same files. Rows are written as each
//! person is made, so memory does not grow with the number of people; each
//! file is written under a `.partial` name and renamed when complete.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Days, NaiveDate};

use crate::services::demo::{NhsNumbers, Rng, person_rows};

pub const REGISTER_FILE: &str = "register.csv";
pub const REVIEWS_FILE: &str = "reviews.csv";
pub const CHARGES_FILE: &str = "charges.csv";
pub const PAYMENTS_FILE: &str = "payments.csv";

/// How much was written.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Generated {
    pub people: u64,
    pub detentions: u64,
    pub reviews: u64,
    pub charges: u64,
    pub payments: u64,
}

/// Sections after which a person is entitled to after-care.
const QUALIFYING: [&str; 7] = ["3", "37", "37/41", "47", "47/49", "48", "45A"];

/// One CSV file written row by row, with the same quoting and formula
/// defusing as every other CSV the product writes.
struct CsvSink {
    headers: &'static [&'static str],
    header_len: usize,
    out: BufWriter<File>,
    partial: PathBuf,
    path: PathBuf,
}

impl CsvSink {
    fn create(dir: &Path, name: &str, headers: &'static [&'static str]) -> io::Result<CsvSink> {
        let path = dir.join(name);
        let partial = dir.join(format!("{name}.partial"));
        let mut out = BufWriter::with_capacity(1 << 16, File::create(&partial)?);
        let head = aftercare_files::write_csv(headers, &[]);
        out.write_all(&head)?;
        Ok(CsvSink { headers, header_len: head.len(), out, partial, path })
    }

    fn row(&mut self, row: Vec<String>) -> io::Result<()> {
        let bytes = aftercare_files::write_csv(self.headers, &[row]);
        self.out.write_all(&bytes[self.header_len..])
    }

    fn finish(self) -> io::Result<()> {
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&self.partial, &self.path)
    }
}

fn pounds(pence: u64) -> String {
    format!("{}.{:02}", pence / 100, pence % 100)
}

fn parse(d: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()
}

/// Writes the four files into `dir` (created if missing). `progress` is
/// called with the number of people written so far.
pub fn generate(
    dir: &Path,
    people: u64,
    seed: u64,
    regions: u64,
    today: NaiveDate,
    progress: &dyn Fn(u64),
) -> io::Result<Generated> {
    std::fs::create_dir_all(dir)?;
    let mut register =
        CsvSink::create(dir, REGISTER_FILE, &aftercare_files::register::REGISTER_COLUMNS)?;
    let mut reviews =
        CsvSink::create(dir, REVIEWS_FILE, &aftercare_files::reviews::REVIEW_COLUMNS)?;
    let mut charges =
        CsvSink::create(dir, CHARGES_FILE, &aftercare_files::finance::CHARGE_COLUMNS)?;
    let mut payments =
        CsvSink::create(dir, PAYMENTS_FILE, &aftercare_files::finance::PAYMENT_COLUMNS)?;
    // The register uses the demo generator's stream, so `generate` and
    // `demo` with the same seed describe the same people.
    let mut rng = Rng::new(seed);
    let mut numbers = NhsNumbers::new(seed);
    let mut extra = Rng::new(seed ^ 0xF1_4A_4C_E5);
    // A stream of its own, so that one region gives exactly the demo's people.
    let mut region_rng = Rng::new(seed ^ 0x5E_61_0A);
    let mut n = Generated::default();
    for i in 0..people {
        let nhs = numbers.next();
        let mut rows = person_rows(&mut rng, i as usize, nhs.as_deref(), today);
        if regions > 1 {
            let region = region_rng.below(regions);
            if region > 0 {
                for row in &mut rows {
                    in_region(row, region);
                }
            }
        }
        // (section, start, left hospital) of each detention, for the reviews and finance.
        let stays: Vec<(String, NaiveDate, Option<NaiveDate>)> = rows
            .iter()
            .filter_map(|r| Some((r[5].clone(), parse(&r[6])?, parse(&r[13]))))
            .collect();
        n.detentions += rows.len() as u64;
        for row in rows {
            register.row(row)?;
        }
        n.people += 1;
        if let Some(nhs) = nhs {
            for (k, (section, _, left)) in stays.iter().enumerate() {
                let Some(left) = *left else { continue };
                // After-care runs from leaving hospital until the next admission (or today).
                let until = stays.get(k + 1).map(|s| s.1).unwrap_or(today).min(today);
                if QUALIFYING.contains(&section.as_str()) {
                    person_after_care(
                        &mut extra,
                        &nhs,
                        left,
                        until,
                        &mut reviews,
                        &mut payments,
                        &mut charges,
                        &mut n,
                    )?;
                } else if extra.chance(10) && left < until {
                    // Care Act services after a short admission: rightly charged.
                    let from = left + Days::new(extra.below(60));
                    let to = (from + Days::new(27)).min(until);
                    if from <= to {
                        charges.row(vec![
                            nhs.clone(),
                            from.to_string(),
                            to.to_string(),
                            pounds(8_000 + extra.below(40_000)),
                            "home care".into(),
                        ])?;
                        n.charges += 1;
                    }
                }
            }
        }
        if i % 1024 == 0 {
            progress(i);
        }
    }
    progress(people);
    register.finish()?;
    reviews.finish()?;
    charges.finish()?;
    payments.finish()?;
    Ok(n)
}

/// Moves a register row into a copy of the demo partnerships: every
/// organisation code (council, GP practice, commissioners, hospital,
/// discharged to) gets the region's suffix.
fn in_region(row: &mut [String], region: u64) {
    for column in [7, 9, 10, 11, 12, 14] {
        if !row[column].is_empty() {
            row[column] = format!("{}-{region}", row[column]);
        }
    }
}

/// Reviews, commissioning payments and (now and then, wrongly) a charge for
/// one period of after-care from `left` until `until`.
#[allow(clippy::too_many_arguments)]
fn person_after_care(
    rng: &mut Rng,
    nhs: &str,
    left: NaiveDate,
    until: NaiveDate,
    reviews: &mut CsvSink,
    payments: &mut CsvSink,
    charges: &mut CsvSink,
    n: &mut Generated,
) -> io::Result<()> {
    const OUTCOMES: [&str; 5] = [
        "plan continued",
        "plan changed",
        "after-care continues; next review in a year",
        "",
        "plan continued with fewer visits",
    ];
    // Reviews: the first six weeks or so after leaving, then about yearly; some missed.
    let mut held = left + Days::new(28 + rng.below(35));
    while held < until {
        if rng.chance(80) {
            reviews.row(vec![nhs.into(), held.to_string(), (*rng.pick(&OUTCOMES)).into()])?;
            n.reviews += 1;
        }
        held = held + Days::new(300 + rng.below(120));
    }
    // A commissioned package for most, paid quarterly over the last year,
    // shared by the council and the NHS; now and then coded to the wrong stream.
    if rng.chance(60) {
        let weekly = 15_000 + rng.below(150_000);
        let mut from = left.max(until - Days::new(365));
        while from < until {
            let to = (from + Days::new(90)).min(until);
            for payer in ["council", "nhs"] {
                let stream = if rng.chance(4) { "other" } else { "s117" };
                payments.row(vec![
                    nhs.into(),
                    from.to_string(),
                    to.to_string(),
                    pounds(weekly * 13 / 2),
                    payer.into(),
                    stream.into(),
                ])?;
                n.payments += 1;
            }
            from = to + Days::new(1);
        }
    }
    // After-care is free: a charge in the period is an error to refund.
    if rng.chance(6) && left < until {
        let from = left + Days::new(rng.below((until - left).num_days().max(1) as u64));
        let to = (from + Days::new(27)).min(until);
        charges.row(vec![
            nhs.into(),
            from.to_string(),
            to.to_string(),
            pounds(15_000 + rng.below(75_000)),
            (*rng.pick(&["home care", "residential care", "day centre"])).into(),
        ])?;
        n.charges += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_valid_distinct_and_cover_the_test_range() {
        let mut numbers = NhsNumbers::new(117);
        let mut seen = std::collections::HashSet::new();
        while let Some(n) = numbers.next() {
            assert!(aftercare_core::NhsNumber::parse(&n).is_ok(), "{n}");
            assert!(n.starts_with("999"));
            assert!(seen.insert(n));
        }
        assert_eq!(seen.len(), 909_090);
    }

    #[test]
    fn regions_spread_people_over_suffixed_copies_of_the_partnerships() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path(), 600, 5, 30, today, &|_| {}).unwrap();
        let file = aftercare_files::parse_register(
            "register.csv",
            &std::fs::read(dir.path().join(REGISTER_FILE)).unwrap(),
        )
        .expect("a spread register still imports");
        let councils: std::collections::BTreeSet<String> = file
            .people
            .iter()
            .flat_map(|p| &p.detentions)
            .filter_map(|d| d.ordinary_residence.as_ref().map(|c| c.to_string()))
            .collect();
        assert!(councils.len() > 100, "{} councils", councils.len());
        assert!(councils.contains("E10000016") && councils.iter().any(|c| c.ends_with("-29")));
    }

    #[test]
    fn the_same_seed_gives_the_same_files() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let na = generate(a.path(), 300, 5, 1, today, &|_| {}).unwrap();
        let nb = generate(b.path(), 300, 5, 1, today, &|_| {}).unwrap();
        assert_eq!(na, nb);
        assert!(na.reviews > 0 && na.payments > 0 && na.charges > 0, "{na:?}");
        for f in [REGISTER_FILE, REVIEWS_FILE, CHARGES_FILE, PAYMENTS_FILE] {
            assert_eq!(
                std::fs::read(a.path().join(f)).unwrap(),
                std::fs::read(b.path().join(f)).unwrap(),
                "{f}"
            );
        }
        assert_eq!(
            std::fs::read(a.path().join(REGISTER_FILE)).unwrap(),
            crate::services::demo::register_csv(300, 5, today)
        );
        assert!(
            aftercare_files::parse_charges(
                "c.csv",
                &std::fs::read(a.path().join(CHARGES_FILE)).unwrap()
            )
            .is_ok()
        );
        assert!(
            aftercare_files::parse_payments(
                "p.csv",
                &std::fs::read(a.path().join(PAYMENTS_FILE)).unwrap()
            )
            .is_ok()
        );
        assert!(
            aftercare_files::parse_reviews(
                "r.csv",
                &std::fs::read(a.path().join(REVIEWS_FILE)).unwrap()
            )
            .is_ok()
        );
    }
}
