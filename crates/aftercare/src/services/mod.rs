//! Services: each owns a capability, takes domain input from the edges,
//! checks who may do it, and reads and writes through storage (`db/`) in
//! one transaction with its audit record. They return `ServiceError` and
//! hold no HTTP or command-line types.

pub mod access;
pub mod access_log;
pub mod accounts;
pub mod admin;
pub mod care;
pub mod demo;
pub mod detentions;
pub mod disputes;
pub mod endings;
pub mod export;
pub mod facts;
pub mod fhir;
pub mod finance;
pub mod funding_requests;
pub mod generate;
pub mod letters;
pub mod notify;
pub mod register;
pub mod sharing;
pub mod sign_in;
pub mod standing;
pub mod tasks;
pub mod views;
