//! The dose-instruction table: real-world style UK instructions and how they
//! read. Each expectation is written `unit amount x doses-a-day`, then `prn`
//! for as-needed, `every Nh` when an interval of a day or more was given, and
//! `(alt unit amount)` for the same dose in another unit; or `unreadable: reason`.

use super::*;
use crate::reference::reference;
use crate::regimen::num;

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
            s
        }
    }
}

/// (instruction, expected reading)
const CASES: &[(&str, &str)] = &[
    // The examples in the issue.
    ("ONE to be taken TWICE a day", "count 1 x 2"),
    ("1-2 qds prn", "count 2 x 4 prn"),
    ("5ml up to four times a day when required", "ml 5 x 4 prn"),
    ("apply one patch every 72 hours", "patch 1 x 0.333 every 72h"),
    ("as directed", "unreadable: the instruction gives no dose ('as directed')"),
    // Latin abbreviations.
    ("1 od", "count 1 x 1"),
    ("1 OD", "count 1 x 1"),
    ("1 o.d.", "count 1 x 1"),
    ("1 om", "count 1 x 1"),
    ("1 O.M.", "count 1 x 1"),
    ("1 mane", "count 1 x 1"),
    ("2 nocte", "count 2 x 1"),
    ("1 NOCTE", "count 1 x 1"),
    ("1 bd", "count 1 x 2"),
    ("1 BD", "count 1 x 2"),
    ("1 b.d.", "count 1 x 2"),
    ("1 bid", "count 1 x 2"),
    ("2 BDS", "count 2 x 2"),
    ("1 tds", "count 1 x 3"),
    ("1 t.d.s.", "count 1 x 3"),
    ("1 tid", "count 1 x 3"),
    ("2 tds", "count 2 x 3"),
    ("1 qds", "count 1 x 4"),
    ("1 q.d.s.", "count 1 x 4"),
    ("1 qid", "count 1 x 4"),
    ("1 q.d.s. p.r.n.", "count 1 x 4 prn"),
    ("1 tab qds p.r.n.", "count 1 x 4 prn"),
    ("1 TAB BD", "count 1 x 2"),
    ("1 tab od", "count 1 x 1"),
    ("2 tabs qds", "count 2 x 4"),
    ("2 caps tds", "count 2 x 3"),
    ("1 cap bd", "count 1 x 2"),
    ("TDS", "count 1 x 3"),
    ("qds prn", "count 1 x 4 prn"),
    ("1 qqh", "count 1 x 6"),
    ("1 q4h", "count 1 x 6"),
    ("1 q4h prn", "count 1 x 6 prn"),
    ("1 q4-6h prn", "count 1 x 6 prn"),
    ("1 q12h", "count 1 x 2"),
    ("1 q 6 h", "count 1 x 4"),
    ("1 qod", "count 1 x 0.5 every 48h"),
    ("1 qhs", "count 1 x 1"),
    ("1 nocte prn", "count 1 x 1 prn"),
    ("ii bd", "count 2 x 2"),
    ("1 tab tds prn", "count 1 x 3 prn"),
    ("1 cap qds prn", "count 1 x 4 prn"),
    ("1 sos, max qds", "count 1 x 4 prn"),
    // Words and numbers.
    ("one twice daily", "count 1 x 2"),
    ("take one tablet twice a day", "count 1 x 2"),
    ("take two tablets three times daily", "count 2 x 3"),
    ("TWO TO BE TAKEN FOUR TIMES A DAY", "count 2 x 4"),
    ("ONE TO BE TAKEN THREE TIMES A DAY", "count 1 x 3"),
    ("ONE TO BE TAKEN FOUR TIMES A DAY", "count 1 x 4"),
    ("ONE TO BE TAKEN EACH DAY", "count 1 x 1"),
    ("ONE TO BE TAKEN EVERY 12 HOURS", "count 1 x 2"),
    ("TWO TO BE TAKEN TWICE A DAY", "count 2 x 2"),
    ("One To Be Taken Twice A Day", "count 1 x 2"),
    ("ONE TO BE TAKEN AT NIGHT", "count 1 x 1"),
    ("TWO TO BE TAKEN AT NIGHT", "count 2 x 1"),
    ("Take ONE capsule ONCE a day", "count 1 x 1"),
    ("ONE capsule TWICE a day", "count 1 x 2"),
    ("One capsule to be taken every twelve hours", "count 1 x 2"),
    ("Take one tablet every morning", "count 1 x 1"),
    ("Take one capsule three times a day", "count 1 x 3"),
    ("one three times a day", "count 1 x 3"),
    ("two four times a day", "count 2 x 4"),
    ("1 tablet 3 times a day", "count 1 x 3"),
    ("1 tablet three times daily", "count 1 x 3"),
    ("take 1 three times per day", "count 1 x 3"),
    ("1 thrice daily", "count 1 x 3"),
    ("1 tablet 4 times daily", "count 1 x 4"),
    ("2 tablets four times a day", "count 2 x 4"),
    ("Two capsules twice a day", "count 2 x 2"),
    ("1 capsule 3 x daily", "count 1 x 3"),
    ("1 tablet 2x daily", "count 1 x 2"),
    ("2x a day", "count 1 x 2"),
    ("1 x 3 daily", "count 1 x 3"),
    ("take 1 x2 daily", "count 1 x 2"),
    ("twice daily", "count 1 x 2"),
    ("1 daily", "count 1 x 1"),
    ("1 tablet daily", "count 1 x 1"),
    ("one a day", "count 1 x 1"),
    ("once a day", "count 1 x 1"),
    ("take one once daily", "count 1 x 1"),
    ("one each day", "count 1 x 1"),
    ("one every day", "count 1 x 1"),
    ("1 per day", "count 1 x 1"),
    ("3 tablets daily", "count 3 x 1"),
    ("6 tablets daily", "count 6 x 1"),
    ("8 tablets a day", "count 8 x 1"),
    ("Take ONE or TWO 4 times/day when required", "count 2 x 4 prn"),
    ("one tablet three times a day when required", "count 1 x 3 prn"),
    ("1 qds regularly", "count 1 x 4"),
    ("one four times a day regularly for pain", "count 1 x 4"),
    // Fractions.
    ("half a tablet twice a day", "count 0.5 x 2"),
    ("½ bd", "count 0.5 x 2"),
    ("1/2 tab bd", "count 0.5 x 2"),
    ("one and a half tablets twice daily", "count 1.5 x 2"),
    ("1½ tablets at night", "count 1.5 x 1"),
    // Ranges and maxima.
    ("1 or 2 four times a day when required", "count 2 x 4 prn"),
    ("1-2 every 4-6 hours", "count 2 x 6"),
    ("1-2 4-6 hourly prn", "count 2 x 6 prn"),
    ("ONE TO BE TAKEN EVERY 4 TO 6 HOURS WHEN REQUIRED", "count 1 x 6 prn"),
    ("ONE OR TWO TO BE TAKEN FOUR TIMES A DAY WHEN REQUIRED FOR PAIN", "count 2 x 4 prn"),
    ("1 or 2 up to 4 times a day", "count 2 x 4 prn"),
    ("take 1-2 tablets up to four times daily", "count 2 x 4 prn"),
    ("take one or two tablets up to four times a day", "count 2 x 4 prn"),
    ("Take 1 or 2 tablets every 4 to 6 hours as required", "count 2 x 6 prn"),
    ("Take 1-2 capsules 3-4 times a day when required", "count 2 x 4 prn"),
    ("Take 1 tablet 3-4 times a day", "count 1 x 4"),
    ("1-2 tablets 2-3 times daily", "count 2 x 3"),
    ("one or two at night", "count 2 x 1"),
    ("1-2 at night prn", "count 2 x 1 prn"),
    ("one or two every 4 hours", "count 2 x 6"),
    (
        "one or two tablets every four to six hours when required, maximum eight tablets in twenty four hours",
        "count 2 x 4 prn",
    ),
    ("1-2 tabs 4-6 hrly max 8 tabs in 24 hrs", "count 2 x 4"),
    ("1 four times a day max 8 in 24 hours", "count 1 x 4"),
    ("2 qds max 8/24", "count 2 x 4"),
    ("one to two tablets every 4 hours, max 8 per day", "count 2 x 4"),
    (
        "1-2 every 4 hours when required up to a maximum of 8 in 24 hours",
        "count 2 x 4 prn",
    ),
    ("take one capsule every 4 hours if needed (max 6 in 24 hrs)", "count 1 x 6 prn"),
    ("one when required, maximum 4 doses a day", "count 1 x 4 prn"),
    ("one when required, max four times a day", "count 1 x 4 prn"),
    ("1-2 prn max 8 a day", "count 2 x 4 prn"),
    ("1-2 qds prn, not more than 8 tablets in 24 hours", "count 2 x 4 prn"),
    ("2 every 4 hours no more than 4 doses in 24 hours", "count 2 x 4"),
    (
        "1-2 tablets every 4 to 6 hours when needed. Do not take more than 8 tablets in 24 hours",
        "count 2 x 4 prn",
    ),
    ("2 qds prn, do not exceed 6 tablets a day", "count 2 x 3 prn"),
    ("1-2 four hourly prn not to exceed 8 in 24 hours", "count 2 x 4 prn"),
    ("2 TABS QDS PRN MAX 8/24HRS", "count 2 x 4 prn"),
    ("TAKE ONE OR TWO TABLETS UP TO FOUR TIMES DAILY AS REQUIRED. MAX 8 IN 24 HOURS", "count 2 x 4 prn"),
    ("MAXIMUM DOSE 8 TABLETS IN 24 HOURS, 1-2 qds", "count 2 x 4"),
    ("1 CAPSULE TWICE A DAY 12 HOURS APART", "count 1 x 2"),
    ("1 tds/prn", "count 1 x 3 prn"),
    ("1 tablet when required up to 4 times a day", "count 1 x 4 prn"),
    ("1 to be taken 3 times a day", "count 1 x 3"),
    ("10mls 2 hourly prn", "ml 10 x 12 prn"),
    ("Use as directed. Apply one patch every week", "patch 1 x 0.143 every 168h"),
    ("2-4 tabs daily in divided doses", "count 4 x 1"),
    ("up to 8 tablets a day", "count 8 x 1 prn"),
    ("Take ONE tablet up to FOUR times a day", "count 1 x 4 prn"),
    ("2 tablets up to 4 times a day", "count 2 x 4 prn"),
    ("1 every 4 hours up to 6 times a day", "count 1 x 6 prn"),
    ("1-2 qds max 240mg a day", "count 2 x 4 (cap Mg 240)"),
    // When required.
    ("take 2 tablets 4 times a day when required for pain", "count 2 x 4 prn"),
    ("Take one every six hours when required", "count 1 x 4 prn"),
    ("Take 2 tablets every 6 hours when required", "count 2 x 4 prn"),
    ("2 at night when required", "count 2 x 1 prn"),
    ("one tablet every 8 hours if required", "count 1 x 3 prn"),
    ("one three times a day as necessary", "count 1 x 3 prn"),
    ("1 qds when reqd", "count 1 x 4 prn"),
    ("1 prn", "unreadable: as needed, but with no maximum number of doses a day"),
    ("one when required", "unreadable: as needed, but with no maximum number of doses a day"),
    ("when required", "unreadable: as needed, but with no amount or maximum number of doses a day"),
    ("PRN", "unreadable: as needed, but with no amount or maximum number of doses a day"),
    ("5ml prn", "unreadable: as needed, but with no maximum number of doses a day"),
    ("take one dose when required", "unreadable: as needed, but with no maximum number of doses a day"),
    // Intervals.
    ("take 1 tablet every 12 hours", "count 1 x 2"),
    ("1 12 hourly", "count 1 x 2"),
    ("one 12-hourly", "count 1 x 2"),
    ("1 12hrly", "count 1 x 2"),
    ("1 capsule 12 hourly", "count 1 x 2"),
    ("1 every 8 hours", "count 1 x 3"),
    ("one capsule 8 hourly", "count 1 x 3"),
    ("take 1 tablet every 4 hours", "count 1 x 6"),
    ("Take 1 tablet every 6-8 hours", "count 1 x 4"),
    ("take one capsule every 12 hours", "count 1 x 2"),
    ("one tablet twice a day (every 12 hours)", "count 1 x 2"),
    ("1 qds every 4-6 hours", "count 1 x 4"),
    ("1-2 4-6hrs prn", "count 2 x 6 prn"),
    // Times of day.
    ("take ONE tablet in the morning and ONE at night", "count 1 x 2"),
    ("one in the morning and two at night", "count 1 x 3"),
    ("2 mane 1 nocte", "count 1 x 3"),
    ("one in the morning and at night", "count 1 x 2"),
    ("one morning and night", "count 1 x 2"),
    ("one tablet each morning and each evening", "count 1 x 2"),
    ("one at 8am and one at 8pm", "count 1 x 2"),
    ("1 tablet at 8am, 2pm and 8pm", "count 1 x 3"),
    ("1 at 08:00 and 20:00", "count 1 x 2"),
    ("take one in the morning, one at lunchtime and one at night", "count 1 x 3"),
    ("1 tablet in the morning 1 tablet at lunchtime 2 tablets at night", "count 1 x 4"),
    ("take 2 tablets in the morning and 2 at night", "count 2 x 2"),
    ("1 tablet twice daily 8am and 8pm", "count 1 x 2"),
    ("Take ONE tablet TWICE daily (morning and evening)", "count 1 x 2"),
    ("one each night at bedtime", "count 1 x 1"),
    ("1 tablet at bedtime", "count 1 x 1"),
    ("take one on waking", "count 1 x 1"),
    ("1 daily at night", "count 1 x 1"),
    ("one daily in the morning", "count 1 x 1"),
    ("one in the morning (8am)", "count 1 x 1"),
    ("Take one capsule at night", "count 1 x 1"),
    ("ONE capsule to be taken in the MORNING", "count 1 x 1"),
    ("take one at night and one in the morning if required", "count 1 x 2 prn"),
    ("one with breakfast and evening meal", "count 1 x 2"),
    ("one every other day", "count 1 x 0.5 every 48h"),
    ("1 on alternate days", "count 1 x 0.5 every 48h"),
    // Noise that does not change the dose.
    ("1 twice a day for 5 days", "count 1 x 2"),
    ("one tablet to be taken twice a day, swallow whole", "count 1 x 2"),
    ("take one twice a day with food", "count 1 x 2"),
    ("1 bd x 2/52", "count 1 x 2"),
    ("one twice a day as directed", "count 1 x 2"),
    ("take one 30mg tablet twice a day", "count 1 x 2"),
    ("30mg/500mg 2 qds", "count 2 x 4"),
    ("Co-codamol 8/500 two tablets four times a day", "count 2 x 4"),
    ("10mg/5ml 5ml qds", "ml 5 x 4"),
    // Doses in mg.
    ("10mg bd", "mg 10 x 2"),
    ("30mg twice daily", "mg 30 x 2"),
    ("200mg bd", "mg 200 x 2"),
    ("15mg qds", "mg 15 x 4"),
    ("50-100mg qds prn", "mg 100 x 4 prn"),
    ("5mg every 4 hours when needed", "mg 5 x 6 prn"),
    ("2.5 - 5mg 4 hourly prn", "mg 5 x 6 prn"),
    ("10-20mg 4 hourly prn", "mg 20 x 6 prn"),
    ("take 20mg (10ml) every 4 hours when required", "mg 20 x 6 prn (alt Ml 10)"),
    ("10mg (5ml) 4 hourly prn", "mg 10 x 6 prn (alt Ml 5)"),
    // Liquids.
    ("10ml qds prn", "ml 10 x 4 prn"),
    ("5-10ml 4 hourly prn", "ml 10 x 6 prn"),
    ("2.5ml-5ml up to 6 times a day if needed", "ml 5 x 6 prn"),
    ("2.5ml qds prn", "ml 2.5 x 4 prn"),
    ("2.5ml 4 hourly as required", "ml 2.5 x 6 prn"),
    ("five ml four times a day", "ml 5 x 4"),
    ("20ml bd", "ml 20 x 2"),
    ("10 mls when required up to every 2 hours", "ml 10 x 12 prn"),
    ("5 mls every 2 hours when required", "ml 5 x 12 prn"),
    ("take 5ml-10ml every 2-4 hours when required", "ml 10 x 12 prn"),
    ("one 5ml spoonful four times a day", "ml 5 x 4"),
    ("two 5ml spoonfuls at night", "ml 10 x 1"),
    ("5 millilitres up to four times daily if required", "ml 5 x 4 prn"),
    // Patches.
    ("apply ONE patch weekly", "patch 1 x 0.143 every 168h"),
    ("change patch every 3 days", "patch 1 x 0.333 every 72h"),
    ("apply 1 patch every 7 days", "patch 1 x 0.143 every 168h"),
    ("apply one patch once a week", "patch 1 x 0.143 every 168h"),
    ("one patch to be applied every seven days", "patch 1 x 0.143 every 168h"),
    ("apply two patches every 72 hours", "patch 2 x 0.333 every 72h"),
    ("apply one patch twice weekly", "patch 1 x 0.286 every 84h"),
    ("1 patch every 3 days", "patch 1 x 0.333 every 72h"),
    ("1 every 72 hrs", "count 1 x 0.333 every 72h"),
    ("apply 1 patch q72h", "patch 1 x 0.333 every 72h"),
    ("replace patch every 72 hours", "patch 1 x 0.333 every 72h"),
    ("change every 3 days", "count 1 x 0.333 every 72h"),
    ("apply one patch every 72 hours as directed", "patch 1 x 0.333 every 72h"),
    ("Apply one patch to the skin every 7 days", "patch 1 x 0.143 every 168h"),
    ("one patch weekly", "patch 1 x 0.143 every 168h"),
    ("use one patch every week", "patch 1 x 0.143 every 168h"),
    ("APPLY ONE PATCH EVERY 72 HOURS", "patch 1 x 0.333 every 72h"),
    ("apply ONE patch every SEVEN days", "patch 1 x 0.143 every 168h"),
    ("APPLY ONE PATCH ONCE A WEEK", "patch 1 x 0.143 every 168h"),
    ("Apply TWO patches every week", "patch 2 x 0.143 every 168h"),
    ("Apply 1 patch every 3 days, remove old patch", "patch 1 x 0.333 every 72h"),
    ("Change patch every 72 hrs", "patch 1 x 0.333 every 72h"),
    ("1 patch weekly", "patch 1 x 0.143 every 168h"),
    ("apply 1 patch every 4 days", "patch 1 x 0.25 every 96h"),
    ("apply one patch every 96 hours", "patch 1 x 0.25 every 96h"),
    ("apply one patch on monday and thursday", "patch 1 x 0.286 every 84h"),
    ("apply a patch every 72 hours", "patch 1 x 0.333 every 72h"),
    ("apply one 25 microgram patch every 72 hours", "patch 1 x 0.333 every 72h"),
    ("1 patch", "patch 1 x -"),
    ("apply one patch", "patch 1 x -"),
    // Not readable.
    ("as dir", "unreadable: the instruction gives no dose ('as directed')"),
    ("use as directed", "unreadable: the instruction gives no dose ('as directed')"),
    ("AS DIRECTED BY DOCTOR", "unreadable: the instruction gives no dose ('as directed')"),
    ("apply as directed", "unreadable: the instruction gives no dose ('as directed')"),
    ("take as directed by pain clinic", "unreadable: the instruction gives no dose ('as directed')"),
    ("mdu", "unreadable: the instruction gives no dose ('as directed')"),
    ("m.d.u.", "unreadable: the instruction gives no dose ('as directed')"),
    ("ud", "unreadable: the instruction gives no dose ('as directed')"),
    ("as per pain team", "unreadable: the instruction gives no dose ('as directed')"),
    ("take as advised", "unreadable: the instruction gives no dose ('as directed')"),
    ("see label", "unreadable: the instruction gives no dose ('as directed')"),
    ("dose as per hospital letter", "unreadable: the instruction gives no dose ('as directed')"),
    ("", "unreadable: the instruction is empty"),
    ("  ...  ", "unreadable: the instruction is empty"),
    ("stat", "unreadable: a single dose, not a daily dose"),
    ("two stat", "unreadable: a single dose, not a daily dose"),
    ("reducing dose", "unreadable: a changing dose (titration or reduction) with no single daily amount"),
    (
        "2 bd reducing by 1 tablet weekly",
        "unreadable: a changing dose (titration or reduction) with no single daily amount",
    ),
    (
        "titrate as directed",
        "unreadable: a changing dose (titration or reduction) with no single daily amount",
    ),
    (
        "one daily increasing to one twice daily",
        "unreadable: a changing dose (titration or reduction) with no single daily amount",
    ),
    (
        "2 stat then 1 qds",
        "unreadable: a changing dose (titration or reduction) with no single daily amount",
    ),
    ("1 tablet", "unreadable: no frequency (how many times a day)"),
    ("take one", "unreadable: no frequency (how many times a day)"),
    ("5ml", "unreadable: no frequency (how many times a day)"),
    (
        "1 bd regularly and 1 prn",
        "unreadable: part of the instruction has no frequency (how many times a day)",
    ),
    ("for pain", "unreadable: no dose or frequency found"),
    ("repeat", "unreadable: no dose or frequency found"),
    ("10mg mane 1 tablet nocte", "unreadable: the parts of the instruction give doses in different units"),
];

#[test]
fn the_instruction_table_reads_as_expected() {
    let mut wrong = Vec::new();
    for (text, want) in CASES {
        let got = show(text);
        if got != *want {
            wrong.push(format!("{text:?}\n    want {want}\n    got  {got}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} instructions read wrongly:\n{}",
        wrong.len(),
        CASES.len(),
        wrong.join("\n")
    );
}

#[test]
fn the_table_has_at_least_150_instructions_without_repeats() {
    assert!(CASES.len() >= 150, "{}", CASES.len());
    let mut seen = std::collections::HashSet::new();
    for (text, _) in CASES {
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
