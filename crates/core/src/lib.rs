//! The pure core of Aftercare: Section 117 domain types and the rules that
//! decide eligibility, entitlement and responsibility.
//!
//! Architecture invariant: this crate does no IO (no files, network, clock or
//! database) and so cannot fail for IO reasons. Everything here is a function
//! from facts to decisions; the edges (storage, HTTP, CLI) live elsewhere.

pub mod calendar;
pub mod date;
pub mod disputes;
pub mod funding;
pub mod money;
pub mod nhs_number;
pub mod org;
pub mod plan;
pub mod postcode;
pub mod reviews;
pub mod rules;
pub mod scenario;
pub mod section;
pub mod text;

pub use date::parse_date;
pub use money::Pence;
pub use nhs_number::NhsNumber;
pub use org::OrgCode;
pub use postcode::Postcode;
pub use section::Section;
