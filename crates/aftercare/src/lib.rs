//! Aftercare: the Section 117 after-care register. This crate is the edge
//! around the pure core (`aftercare-core`): storage, HTTP pages and API, and
//! the services that put them together. The binary's command line is in
//! `main.rs` and `cli/`.

pub mod api;
pub mod auth;
pub mod db;
pub mod derive;
pub mod error;
pub mod mail;
pub mod pdf;
pub mod services;
pub mod web;
