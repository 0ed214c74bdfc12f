//! Finance: what each body owes for a person's after-care (`costs`), the
//! invoices between partners (`invoice`) and reconciliation of payments
//! against the register (`reconcile`), and the refunds owed to people charged
//! while entitled (`refunds`).

pub mod costs;
pub mod invoice;
pub mod reconcile;
pub mod refunds;
