//! A seat of several practices (issue 19) with extracts: each practice's
//! worklist, figures and cache stay its own, and a store on this computer
//! refuses a practice. The store's side (patients by practice) is tested in
//! store/practices_tests.rs, whose helpers these use. PostgreSQL tests run on
//! the test cluster (`tests/pg/with-cluster.sh`) and pass saying so without
//! it; the SQLite one always runs.

use super::synthetic::{generate, SyntheticOptions};
use super::{
    figures, import_csv, worklist, CaseFindingError, ImportOptions, Worklist, WorklistFilters,
};
use crate::reference::reference;
use crate::store::practices_tests::{field_error, options, seat, team, today};
use crate::store::test_pg::on_pg;
use crate::store::Store;

fn store_field_error(e: CaseFindingError) -> (String, String) {
    match e {
        CaseFindingError::Store(s) => field_error(s),
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn a_store_on_this_computer_refuses_a_practice() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open_with(dir.path().join("one.db"), options()).unwrap();
    let (field, _) = store_field_error(
        import_csv(&mut s, &extract(1), &import("A81001"), &mut |_| {}).unwrap_err(),
    );
    assert_eq!(field, "practice");
    let (field, _) = store_field_error(worklist(&mut s, &filters("A81001"), today()).unwrap_err());
    assert_eq!(field, "practice");
    let (field, _) = store_field_error(figures(&mut s, today(), Some("A81001")).unwrap_err());
    assert_eq!(field, "practice");
}

fn extract(seed: u64) -> Vec<u8> {
    let mut out = Vec::new();
    generate(
        &SyntheticOptions::new(400, seed, today()),
        reference(),
        &mut out,
    )
    .unwrap();
    out
}

fn import(practice: &str) -> ImportOptions {
    ImportOptions {
        file_name: "extract.csv".into(),
        today: today(),
        list_size: Some(8000),
        column_map: Default::default(),
        window_days: None,
        actor: None,
        exclusions: Vec::new(),
        practice: Some(practice.into()).filter(|p: &String| !p.is_empty()),
    }
}

fn filters(practice: &str) -> WorklistFilters {
    WorklistFilters {
        practice: Some(practice.into()).filter(|p: &String| !p.is_empty()),
        ..WorklistFilters::default()
    }
}

/// A worklist's patients as (practice, extract id, rank).
fn rows(w: &Worklist) -> Vec<(String, String, u32)> {
    w.patients
        .iter()
        .map(|p| {
            (
                p.practice_code.clone().unwrap_or_default(),
                p.patient_id.clone(),
                p.rank,
            )
        })
        .collect()
}

#[test]
fn each_practice_imports_its_extract_and_keeps_its_own_worklist() {
    on_pg(|| {
        let (schema, _owner) = team();
        let mut alice = seat(&schema, "seat_alice");
        let file = extract(7);

        // Which practice's extract: she must say.
        let (field, message) =
            store_field_error(import_csv(&mut alice, &file, &import(""), &mut |_| {}).unwrap_err());
        assert_eq!(field, "practice");
        assert!(
            message.contains("A81001") && message.contains("B82002"),
            "{message}"
        );

        // The same file into both practices: two imports, not "already imported".
        let a = import_csv(&mut alice, &file, &import("A81001"), &mut |_| {}).unwrap();
        let b = import_csv(&mut alice, &file, &import("b82002"), &mut |_| {}).unwrap();
        assert!(!a.already_imported && !b.already_imported);
        assert_ne!(a.import_id, b.import_id);
        assert!(a.patients_on_worklist > 0);
        assert_eq!(a.patients_on_worklist, b.patients_on_worklist);
        // Again into A81001: that one is recognised.
        assert!(
            import_csv(&mut alice, &file, &import("A81001"), &mut |_| {})
                .unwrap()
                .already_imported
        );

        // Never pooled: no practice is a field error, each list is one practice's.
        let (field, _) =
            store_field_error(worklist(&mut alice, &filters(""), today()).unwrap_err());
        assert_eq!(field, "practice");
        let (field, _) = store_field_error(figures(&mut alice, today(), None).unwrap_err());
        assert_eq!(field, "practice");
        let list_a = worklist(&mut alice, &filters("A81001"), today()).unwrap();
        let list_b = worklist(&mut alice, &filters("B82002"), today()).unwrap();
        assert_eq!(list_a.metrics.patients, a.patients_on_worklist);
        assert_eq!(list_b.metrics.patients, b.patients_on_worklist);
        assert!(list_a
            .patients
            .iter()
            .all(|p| p.practice_code.as_deref() == Some("A81001")));
        assert!(list_b
            .patients
            .iter()
            .all(|p| p.practice_code.as_deref() == Some("B82002")));
        // Ranks run 1..N in each.
        let ranks: Vec<u32> = list_a.patients.iter().map(|p| p.rank).collect();
        assert_eq!(
            ranks,
            (1..=list_a.patients.len() as u32).collect::<Vec<_>>()
        );
        let figures_a = figures(&mut alice, today(), Some("A81001")).unwrap();
        let figures_b = figures(&mut alice, today(), Some("B82002")).unwrap();
        assert_eq!(figures_a, figures_b, "the same extract: the same figures");
        assert!(!figures_b.months.is_empty());

        // Bob works for B82002 only: his list is that one, without saying so.
        let mut bob = seat(&schema, "seat_bob");
        assert_eq!(
            rows(&worklist(&mut bob, &WorklistFilters::default(), today()).unwrap()),
            rows(&list_b)
        );

        // Another extract into A81001, then a recomputation there (another
        // window): B82002's cache is untouched, and read unchanged.
        let before_b = schema.owner_strings(
            "SELECT string_agg(patient_id || ':' || rank, ',' ORDER BY rank)
             FROM cf_summaries WHERE practice_code = 'B82002'",
        );
        let a2 = import_csv(&mut alice, &extract(8), &import("A81001"), &mut |_| {}).unwrap();
        assert!(!a2.already_imported);
        let wider = WorklistFilters {
            window_days: Some(120),
            ..filters("A81001")
        };
        let list_a2 = worklist(&mut alice, &wider, today()).unwrap();
        assert_ne!(rows(&list_a2), rows(&list_a));
        assert_eq!(
            schema.owner_strings(
                "SELECT string_agg(patient_id || ':' || rank, ',' ORDER BY rank)
                 FROM cf_summaries WHERE practice_code = 'B82002'",
            ),
            before_b
        );
        assert_eq!(
            rows(&worklist(&mut alice, &filters("B82002"), today()).unwrap()),
            rows(&list_b)
        );
        assert_eq!(figures(&mut bob, today(), None).unwrap(), figures_b);
        // And the session is back as it was: alice sees both practices' patients.
        let seen: Vec<String> = alice
            .db()
            .prepare("SELECT DISTINCT practice_code FROM cf_patients ORDER BY 1")
            .unwrap()
            .query_map((), |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(seen, ["A81001", "B82002"]);
    });
}
