//! Aftercare: the Section 117 after-care register. This crate is the edge
//! around the pure core (`aftercare-core`): storage, HTTP pages and API, and
//! the services that put them together. The binary's command line is in
//! `main.rs` and `cli/`.

pub mod access;
pub mod access_log;
pub mod accounts;
pub mod admin;
pub mod api;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod care;
pub mod costs;
pub mod db;
pub mod demo;
pub mod derive;
pub mod detentions;
pub mod disputes;
pub mod endings;
pub mod error;
pub mod export;
pub mod facts;
pub mod fhir;
pub mod generate;
pub mod invoice;
pub mod pdf;
pub mod reconcile;
pub mod register;
pub mod sharing;
pub mod sign_in;
pub mod views;
pub mod web;
