//! Reading and writing the spreadsheets Aftercare exchanges: CSV and XLSX in,
//! with every problem reported by row and column; CSV and XLSX out.
//!
//! Architecture invariant: this crate is pure. Every function takes bytes and
//! returns values; there is no file system, network or clock here, so the
//! binary does the IO and the tests need no fixtures on disk.

pub mod error;
pub mod finance;
pub mod reference;
pub mod register;
pub mod reviews;
pub mod table;
pub mod write;

pub use error::{FileError, ImportErrors, RowError};
pub use finance::{ChargeRecord, Payer, PaymentRecord, parse_charges, parse_payments};
pub use reference::{ReferenceFile, read_reference, read_reference_from};
pub use register::{
    DetentionImport, PersonImport, RegisterFile, parse_register, parse_register_as_of,
};
pub use reviews::{ReviewImport, parse_reviews};
pub use table::{ColumnMapping, FileFormat, Table, TableRow, read_table};
pub use write::{write_csv, write_xlsx, write_xlsx_with_money};
