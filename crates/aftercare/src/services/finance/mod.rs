//! Finance: what each body owes for a person's after-care (`costs`), the
//! invoices between partners (`invoice`) and reconciliation of payments
//! against the register (`reconcile`).

pub mod costs;
pub mod invoice;
pub mod reconcile;
