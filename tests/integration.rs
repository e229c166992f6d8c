//! The one integration-test binary (as ripgrep does): every file in tests/
//! is a module of this crate, so the stepdown library and its dependencies
//! are linked once instead of once per file. That keeps a cold `make test`
//! faster and its target/ small enough for a small CI disk.

mod common {
    pub mod cli;
    pub mod leaflet_plans;
    pub mod plan_checks;
    pub mod store_location;
}
#[path = "fuzz/json.rs"]
mod fuzz_json;

// The store's own test support (src/store/test_pg.rs, shared with its unit
// tests rather than copied): a schema of its own on the test cluster for
// each test, and `on_both_backends!`. It names `super::{OpenOptions, Store}`
// (the library's, here) and itself as `crate::store::test_pg`.
use stepdown::store::{OpenOptions, Store};
#[allow(dead_code)]
#[path = "../src/store/test_pg.rs"]
mod test_pg;
mod store {
    pub(crate) use super::test_pg;
}

mod assess_cli;
mod assess_props;
mod audit_chain;
mod casefinding_cli;
mod cli_closed_output;
mod concurrency_cli;
mod error_text;
mod fuzz_cli;
mod fuzz_import;
mod fuzz_store;
mod hazard_log;
mod import_hardening;
mod layering;
mod leaflet_cli;
mod leaflet_pdf;
mod ome_cli;
mod ome_props;
mod outcomes_cli;
mod pg_schema;
mod plan_cli;
mod plan_props;
mod plan_snapshots;
mod record_cli;
mod reference_currency;
mod store_cli;
mod store_concurrency;
mod store_migrate;
mod store_pg;
mod store_reliability;
mod store_seats;
mod store_tls;
