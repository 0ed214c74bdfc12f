//! Reading and writing the spreadsheets Aftercare exchanges.
