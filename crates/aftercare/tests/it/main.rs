//! The integration tests of the `aftercare` crate, gathered into one test
//! binary so the whole crate is linked once rather than once per file. Each
//! module is what used to be its own `tests/*.rs` binary; `common` is their
//! shared harness and `tidy` checks the source tree's layout rules.

mod common;

mod access;
mod accounts;
mod admin_pages;
mod api;
mod audit;
mod browser;
mod care;
mod cli;
mod detentions;
mod disputes;
mod edge;
mod endings;
mod facts;
mod fhir;
mod finance;
mod funding_decisions;
mod guarded;
mod letters;
mod logs;
mod notify;
mod openapi;
mod person_page;
mod reference;
mod refunds;
mod register;
mod reliability;
mod scoping;
mod search;
mod sessions;
mod sharing;
mod single_sign_on;
mod smoke;
mod standing;
mod storage;
mod tasks;
mod tidy;
