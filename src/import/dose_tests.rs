//! The dose-instruction table: real-world style UK instructions and how they
//! read. Each expectation is written `unit amount x doses-a-day`, then `prn`
//! for as-needed, `every Nh` when an interval of a day or more was given, and
//! `(alt unit amount)` for the same dose in another unit; or `unreadable: reason`.

use super::*;
use crate::reference::reference;
use crate::vocabulary::num;

fn show(text: &str) -> String {
    let reader = DoseReader::new(reference());
    match reader.read(text) {
        Err(Unreadable(reason)) => format!("unreadable: {reason}"),
        Ok(r) => {
            let unit = match r.unit {
                DoseUnit::Count => "count",
                DoseUnit::Ml => "ml",
                DoseUnit::Mg => "mg",
                DoseUnit::Patch => "patch",
            };
            let mut s = format!(
                "{unit} {} x {}",
                num(r.per_dose),
                r.doses_per_day.map_or("-".to_string(), num)
            );
            if r.as_needed {
                s.push_str(" prn");
            }
            if let Some(h) = r.interval_hours.filter(|h| *h >= 24.0) {
                s.push_str(&format!(" every {}h", num(h)));
            }
            if let Some((u, v)) = r.alt {
                s.push_str(&format!(" (alt {u:?} {})", num(v)));
            }
            if let Some(c) = r.cap {
                s.push_str(&format!(" (cap {:?} {})", c.unit, num(c.amount)));
            }
            if r.ambiguous.is_some() {
                s.push_str(" ambiguous");
            }
            s
        }
    }
}

/// The table, as data: `tests/cases/dose_instructions.tsv` (instruction, tab, expected reading).
fn cases() -> Vec<(&'static str, &'static str)> {
    include_str!("../../tests/cases/dose_instructions.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            l.split_once('\t')
                .unwrap_or((l, "(no expected reading: add a tab)"))
        })
        .collect()
}

#[test]
fn the_instruction_table_reads_as_expected() {
    let cases = cases();
    let mut wrong = Vec::new();
    // Right (read to the expected figure), rightly unread, wrongly read (a
    // number where none or another was expected), wrongly unread.
    let (mut right, mut rightly_unread, mut wrongly_read, mut wrongly_unread) = (0, 0, 0, 0);
    for (text, want) in &cases {
        let got = show(text);
        match (
            got == *want,
            want.starts_with("unreadable"),
            got.starts_with("unreadable"),
        ) {
            (true, false, _) => right += 1,
            (true, true, _) => rightly_unread += 1,
            (false, _, false) => wrongly_read += 1,
            (false, _, true) => wrongly_unread += 1,
        }
        if got != *want {
            wrong.push(format!("{text:?}\n    want {want}\n    got  {got}"));
        }
    }
    println!(
        "dose table: {} instructions; right {right}, rightly unread {rightly_unread}, wrongly read {wrongly_read}, wrongly unread {wrongly_unread}",
        cases.len()
    );
    assert!(
        wrong.is_empty(),
        "{} of {} instructions read wrongly:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}

#[test]
fn the_table_has_at_least_600_instructions_without_repeats() {
    let cases = cases();
    assert!(cases.len() >= 600, "{}", cases.len());
    let mut seen = std::collections::HashSet::new();
    for (text, _) in &cases {
        assert!(seen.insert(*text), "repeated: {text}");
    }
}

#[test]
fn ranges_keep_their_lower_end() {
    let r = DoseReader::new(reference())
        .read("1-2 every 4-6 hours")
        .unwrap();
    assert_eq!((r.per_dose_min, r.per_dose), (1.0, 2.0));
    assert_eq!(
        (r.doses_per_day_min, r.doses_per_day),
        (Some(4.0), Some(6.0))
    );
    assert!(r.is_range());
    let r = DoseReader::new(reference()).read("1 bd").unwrap();
    assert!(!r.is_range());
}

proptest::proptest! {
    /// Whatever is typed, reading never panics and a reading is always a
    /// positive amount with a positive (or, for patches, absent) frequency.
    #[test]
    fn any_text_reads_or_says_why(text in "\\PC{0,60}") {
        let reader = DoseReader::new(reference());
        match reader.read(&text) {
            Ok(r) => {
                proptest::prop_assert!(r.per_dose.is_finite() && r.per_dose > 0.0, "{r:?}");
                if let Some(d) = r.doses_per_day {
                    proptest::prop_assert!(d.is_finite() && d > 0.0, "{r:?}");
                } else {
                    proptest::prop_assert!(r.unit == DoseUnit::Patch || r.cap.is_some(), "{r:?}");
                }
            }
            Err(Unreadable(reason)) => proptest::prop_assert!(!reason.is_empty()),
        }
    }

    /// Instructions built from parts read back to those parts.
    #[test]
    fn generated_instructions_read_back(
        amount in 1u32..=4,
        times in 1u32..=6,
        prn in proptest::bool::ANY,
        words in proptest::bool::ANY,
    ) {
        let names = ["one", "two", "three", "four", "five", "six"];
        let text = if words {
            format!("take {} tablets {} times a day{}", names[amount as usize - 1], names[times as usize - 1], if prn { " when required" } else { "" })
        } else {
            format!("{amount} x{times} daily{}", if prn { " prn" } else { "" })
        };
        let r = DoseReader::new(reference()).read(&text).unwrap();
        proptest::prop_assert_eq!(r.per_dose, f64::from(amount));
        proptest::prop_assert_eq!(r.doses_per_day, Some(f64::from(times)));
        proptest::prop_assert_eq!(r.as_needed, prn);
    }
}
