//! Synthetic prescribing extracts of any size, with their ground truth, for
//! tests and the benchmark (never real data).
//!
//! The mix: one to three opioid lines per patient from common UK products
//! (modified-release morphine and oxycodone, co-codamol, codeine, tramadol,
//! dihydrocodeine, tapentadol, oral morphine solution, fentanyl and
//! buprenorphine patches, and a little methadone), issued every 14, 28 or 56
//! days with a few days' slack, some stopped; instructions written the ways
//! practices write them, about one in twelve unreadable ("as directed");
//! co-medications (benzodiazepines, Z-drugs, gabapentinoids, antidepressants,
//! paracetamol); a few malformed rows of every kind the importer must refuse.
//!
//! The ground truth is computed here, independently of the importer, from
//! what was generated: each patient's total OME as of `today` under the
//! documented rules (latest issue of each product within the window; an
//! unreadable instruction estimated from the previous issue's quantity over
//! the days since it), from the regimen the generator chose and the reference
//! conversion factors; which patients have an estimate, which are
//! incomplete; and the line and kind of every row that must be refused.

use std::collections::BTreeMap;
use std::io::{self, Write};

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::nhs_number::check_digit;
use crate::profile::Profile;
use crate::reference::casefinding::CaseFindingSetting;
use crate::reference::{Conversion, Reference};
use crate::vocabulary::Route;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticOptions {
    /// Data rows to write (exactly).
    pub rows: usize,
    /// Seed: the same seed and options give the same file.
    pub seed: u64,
    /// The date the extract is taken (no issue after it, except the rows meant to be refused).
    pub today: NaiveDate,
    /// Days of history before `today` (shorter history: more patients for the same rows).
    pub history_days: i64,
    /// Malformed rows per 10,000.
    pub malformed_per_10000: u32,
    /// Patients in 1,000 put on the exclusion list (`Truth::exclusions`),
    /// alternately for palliative care and opioid dependence treatment.
    pub excluded_per_1000: u32,
    /// The file's shape: Stepdown's own columns, or a clinical-system export.
    pub shape: ExportShape,
}

/// The shape of the written file (the rows and the truth are the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExportShape {
    /// `patient_id,issue_date,drug,dose,quantity,age,sex,nhs_number`.
    #[default]
    Standard,
    /// A SystmOne Strategic Reporting `SRPrimaryCareMedication` file (format
    /// version 89, the `systmone-sr` preset): its 30 columns, dates as
    /// `14 Mar 2026 10:00:00`, quantities with their unit (`56 tablet`); no
    /// age, sex or NHS number (those are in another file). Identifiers other
    /// than the patient's are placeholders; product codes are left blank.
    SystmOneSr,
    /// The CSV export of Stepdown's EMIS Web list report (the `emis-web`
    /// preset; the recipe in `assets/emis/`): its headings, a title line and
    /// a blank line above the header (to test that they are skipped: whether
    /// EMIS Web writes any is not verified), dates as `14-Mar-2026` or
    /// `14/03/2026` (both read; which EMIS writes is not verified), NHS
    /// numbers spaced `943 476 5919`, sex `Female`/`Male`, the quantity's unit
    /// in its own column.
    EmisWeb,
}

/// The headings of Stepdown's EMIS Web list report, in the recipe's order
/// (source: `assets/import_presets.json`, preset `emis-web`;
/// `assets/emis/stepdown-opioid-issues-report.md`).
pub const EMIS_HEADERS: [&str; 9] = [
    "EMIS number",
    "NHS number",
    "Age",
    "Sex",
    "Issue date",
    "Drug",
    "Dosage",
    "Quantity",
    "Quantity unit",
];

/// The lines the `EmisWeb` shape writes above its header: a title and a blank line.
const EMIS_TITLE: &str = "Stepdown opioid issues (synthetic sample: never real data; the lines above the header test that a report title is skipped)";

/// The headers of a SystmOne `SRPrimaryCareMedication` file, format version
/// 89 (source: `assets/import_presets.json`, preset `systmone-sr`).
const SR_HEADERS: [&str; 30] = [
    "RowIdentifier",
    "IDOrganisationVisibleTo",
    "DateEventRecorded",
    "DateEvent",
    "IDProfileEnteredBy",
    "IDDoneBy",
    "TextualEventDoneBy",
    "IDOrganisationDoneAt",
    "IDMultiLexProduct",
    "IDMultiLexPack",
    "IDMultiLexDMD",
    "NameOfMedication",
    "DateMedicationStart",
    "DateMedicationEnd",
    "MedicationDosage",
    "MedicationQuantity",
    "IsSupervised",
    "SupervisedDose",
    "UnsupervisedDose",
    "IsRepeatMedication",
    "IsOtherMedication",
    "IsDentalMedication",
    "IsHospitalMedication",
    "IDRepeatTemplate",
    "IDReferralIn",
    "IDEvent",
    "IDPatient",
    "IDOrganisation",
    "IDOrganisationRegisteredAt",
    "RemovedData",
];

/// The unit a SystmOne quantity is written with, from the product's description.
fn sr_unit(drug: &str) -> &'static str {
    let d = drug.to_ascii_lowercase();
    if d.contains("patch") {
        "patch"
    } else if d.contains("solution") || d.contains("liquid") || d.contains("suspension") {
        "ml"
    } else if d.contains("capsule") {
        "capsule"
    } else {
        "tablet"
    }
}

impl SyntheticOptions {
    /// Defaults: a year of history, 30 malformed rows in 10,000.
    pub fn new(rows: usize, seed: u64, today: NaiveDate) -> SyntheticOptions {
        SyntheticOptions {
            rows,
            seed,
            today,
            history_days: 365,
            malformed_per_10000: 30,
            excluded_per_1000: 0,
            shape: ExportShape::Standard,
        }
    }
}

/// The expected result for one patient on the worklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatientTruth {
    /// Total mg OME a day as of `today`.
    pub ome_mg_per_day: f64,
    /// The total includes an estimated dose.
    pub estimated: bool,
    /// False when a current item has no dose or is not converted.
    pub complete: bool,
    /// A benzodiazepine or Z-drug was issued in the window.
    pub benzodiazepine: bool,
    /// A gabapentinoid was issued in the window.
    pub gabapentinoid: bool,
    /// The supply-based total: each current product's issue before its
    /// latest, quantity ÷ days to the latest (issue 16); `None` when no
    /// current product has two issues.
    #[serde(default)]
    pub supply_ome_mg_per_day: Option<f64>,
    /// Every current product measured from supply.
    #[serde(default)]
    pub supply_complete: bool,
    /// A current instruction could not be read (the unclear-directions marker).
    #[serde(default)]
    pub unclear_directions: bool,
    /// Every current opioid is immediate-release (no modified-release, no patch).
    #[serde(default)]
    pub immediate_release_only: bool,
    /// A current combination product (co-codamol, co-dydramol).
    #[serde(default)]
    pub combination: bool,
    /// Morphine oral solution issued above 300 mL at once in the window.
    #[serde(default)]
    pub large_liquid_issue: bool,
    /// A dependence-forming co-medication (benzodiazepine, Z-drug,
    /// gabapentinoid, antidepressant) issued in the window.
    #[serde(default)]
    pub dependence_forming: bool,
    /// Why the patient is on the exclusion list, if they are (then they are
    /// left off the worklist and counted apart).
    #[serde(default)]
    pub excluded: Option<String>,
}

/// A row the importer must refuse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedRow {
    /// Line in the file.
    pub line: u64,
    /// What is wrong with it (`bad-date`, `unknown-drug`, …).
    pub kind: String,
    /// The column the importer should name (`None` for a short row).
    pub column: Option<String>,
}

/// Ground truth of a generated extract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    /// The extract's today.
    pub today: String,
    /// Current-regimen window used.
    pub window_days: u32,
    /// Data rows written.
    pub rows: usize,
    /// Different patients in the rows the importer must accept.
    pub patients_in_file: usize,
    /// Patients with an opioid current as of today, by identifier.
    pub patients: BTreeMap<String, PatientTruth>,
    /// Every row that must be refused.
    pub refused: Vec<RefusedRow>,
    /// The exclusion list to import with the file: (patient, reason).
    #[serde(default)]
    pub exclusions: Vec<(String, String)>,
}

/// SplitMix64: small, fast and fully determined by the seed.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn weighted<'a, T>(&mut self, items: &'a [(u32, T)]) -> &'a T {
        let total: u64 = items.iter().map(|(w, _)| u64::from(*w)).sum();
        let mut x = self.below(total);
        for (w, t) in items {
            if x < u64::from(*w) {
                return t;
            }
            x -= u64::from(*w);
        }
        &items[items.len() - 1].1
    }
}

/// How one product is measured.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Unit {
    /// Tablets or capsules of `mg` (and `paracetamol` mg).
    Solid { mg: f64 },
    /// A liquid of `mg_per_ml`.
    Liquid { mg_per_ml: f64 },
    /// A patch of `rate` micrograms/hour worn `wear` hours (min, max).
    Patch { rate: f64, wear: (f64, f64) },
}

/// A dose: amount a dose (units, mL or patches), doses a day, as needed, and its wordings.
#[derive(Debug, Clone, Copy)]
struct Regimen {
    amount: f64,
    doses: f64,
    as_needed: bool,
    words: &'static [&'static str],
}

#[derive(Debug, Clone, Copy)]
struct Template {
    /// Product line: two templates of one family are the same product to the
    /// importer (a brand and its generic), so a patient gets at most one of them.
    family: &'static str,
    /// Description with `{}` for the strength.
    text: &'static str,
    drug: &'static str,
    route: Route,
    strengths: &'static [f64],
    kind: fn(f64) -> Unit,
    regimens: &'static [Regimen],
}

const fn r(amount: f64, doses: f64, words: &'static [&'static str]) -> Regimen {
    Regimen {
        amount,
        doses,
        as_needed: false,
        words,
    }
}

const fn prn(amount: f64, doses: f64, words: &'static [&'static str]) -> Regimen {
    Regimen {
        amount,
        doses,
        as_needed: true,
        words,
    }
}

const ONE_BD: Regimen = r(
    1.0,
    2.0,
    &[
        "ONE to be taken TWICE a day",
        "1 bd",
        "take one tablet twice a day",
        "1 tablet every 12 hours",
        "one twice daily",
        "1 BD",
        // Issue 16: supply wording and alternatives (counted at the upper end).
        "1 tab bd dispense weekly",
        "one twice a day - weekly dosette",
        "1 od or bd",
        "one once or twice daily",
        "1 tablet twice times daily",
    ],
);
const TWO_BD: Regimen = r(
    2.0,
    2.0,
    &[
        "TWO to be taken TWICE a day",
        "2 bd",
        "take two twice daily",
    ],
);
const ONE_TDS: Regimen = r(
    1.0,
    3.0,
    &[
        "1 tds",
        "ONE to be taken THREE times a day",
        "one three times daily",
        "one with meals",
        "1 tds, 7 day supply",
    ],
);
const ONE_QDS: Regimen = r(
    1.0,
    4.0,
    &[
        "1 qds",
        "ONE to be taken FOUR times a day",
        "take one four times a day",
    ],
);
const TWO_QDS: Regimen = r(
    2.0,
    4.0,
    &[
        "2 qds",
        "TWO to be taken FOUR times a day",
        "take two tablets four times daily",
    ],
);
const PRN_1_2_QDS: Regimen = prn(
    2.0,
    4.0,
    &[
        "1-2 qds prn",
        "one or two up to four times a day when required",
        "1-2 every 4-6 hours when required, max 8 in 24 hours",
        "ONE or TWO to be taken FOUR times a day when required",
        // Issue 16: "1/2" counted as two (and marked), a per-dose maximum.
        "1/2 qds prn",
        "4 times daily when required max 1 or 2 tabs",
    ],
);
const PRN_1_QDS: Regimen = prn(
    1.0,
    4.0,
    &[
        "1 qds prn",
        "ONE to be taken up to FOUR times a day when required",
    ],
);
const PRN_1_4H: Regimen = prn(
    1.0,
    6.0,
    &["1 every 4 hours when required", "one 4 hourly prn"],
);

const SOLID_MR: &[Regimen] = &[ONE_BD, ONE_BD, ONE_BD, TWO_BD];
const SOLID_WEAK: &[Regimen] = &[
    ONE_QDS,
    TWO_QDS,
    PRN_1_2_QDS,
    PRN_1_2_QDS,
    PRN_1_QDS,
    ONE_TDS,
];
const LIQUID_PRN: &[Regimen] = &[
    prn(
        5.0,
        4.0,
        &["5ml up to four times a day when required", "5ml qds prn"],
    ),
    prn(
        5.0,
        6.0,
        &["5ml every 4 hours when required", "5ml 4 hourly prn"],
    ),
    prn(
        10.0,
        6.0,
        &[
            "10ml every 4 hours when required",
            "two 5ml spoonfuls every 4 hours when required",
        ],
    ),
    prn(2.5, 4.0, &["2.5ml up to four times a day if needed"]),
];
const PATCH_72H: &[Regimen] = &[
    r(
        1.0,
        1.0 / 3.0,
        &[
            "apply one patch every 72 hours",
            "APPLY ONE PATCH EVERY 3 DAYS",
            "change patch every 72 hours",
        ],
    ),
    r(1.0, 1.0 / 3.0, &["apply one patch every 72 hours"]),
    r(2.0, 1.0 / 3.0, &["apply two patches every 72 hours"]),
];
const PATCH_7D: &[Regimen] = &[r(
    1.0,
    1.0 / 7.0,
    &[
        "apply ONE patch weekly",
        "apply one patch every 7 days",
        "one patch to be applied every seven days",
    ],
)];
const PATCH_TWICE_WEEKLY: &[Regimen] = &[r(1.0, 2.0 / 7.0, &["apply one patch twice weekly"])];
const METHADONE: &[Regimen] = &[r(10.0, 1.0, &["10ml daily", "take 10ml once a day"])];

fn solid(mg: f64) -> Unit {
    Unit::Solid { mg }
}
fn liquid(mg_per_ml: f64) -> Unit {
    Unit::Liquid { mg_per_ml }
}
fn patch72(rate: f64) -> Unit {
    Unit::Patch {
        rate,
        wear: (72.0, 72.0),
    }
}
fn patch7d(rate: f64) -> Unit {
    Unit::Patch {
        rate,
        wear: (168.0, 168.0),
    }
}
fn patch34(rate: f64) -> Unit {
    Unit::Patch {
        rate,
        wear: (72.0, 96.0),
    }
}

/// (weight, product line). Weights follow rough primary-care use.
const TEMPLATES: &[(u32, Template)] = &[
    (
        8,
        Template {
            family: "morphine-mr-tab",
            text: "Morphine {}mg modified-release tablets",
            drug: "morphine",
            route: Route::Oral,
            strengths: &[10.0, 15.0, 30.0, 60.0],
            kind: solid,
            regimens: SOLID_MR,
        },
    ),
    (
        3,
        Template {
            family: "morphine-mr-tab",
            text: "MST Continus {}mg tablets",
            drug: "morphine",
            route: Route::Oral,
            strengths: &[10.0, 30.0],
            kind: solid,
            regimens: SOLID_MR,
        },
    ),
    (
        3,
        Template {
            family: "morphine-mr-cap",
            text: "Zomorph {}mg capsules",
            drug: "morphine",
            route: Route::Oral,
            strengths: &[10.0, 30.0, 60.0],
            kind: solid,
            regimens: SOLID_MR,
        },
    ),
    (
        6,
        Template {
            family: "oxycodone-mr",
            text: "Oxycodone {}mg modified-release tablets",
            drug: "oxycodone",
            route: Route::Oral,
            strengths: &[5.0, 10.0, 20.0, 40.0],
            kind: solid,
            regimens: SOLID_MR,
        },
    ),
    (
        2,
        Template {
            family: "oxycodone-mr",
            text: "OxyContin {}mg prolonged-release tablets",
            drug: "oxycodone",
            route: Route::Oral,
            strengths: &[10.0, 20.0],
            kind: solid,
            regimens: SOLID_MR,
        },
    ),
    (
        2,
        Template {
            family: "oxycodone-mr",
            text: "Longtec {}mg prolonged-release tablets",
            drug: "oxycodone",
            route: Route::Oral,
            strengths: &[5.0, 10.0],
            kind: solid,
            regimens: SOLID_MR,
        },
    ),
    (
        3,
        Template {
            family: "oxycodone-ir-cap",
            text: "Oxycodone {}mg capsules",
            drug: "oxycodone",
            route: Route::Oral,
            strengths: &[5.0, 10.0],
            kind: solid,
            regimens: &[PRN_1_QDS, PRN_1_4H],
        },
    ),
    (
        8,
        Template {
            family: "codeine-tab",
            text: "Codeine {}mg tablets",
            drug: "codeine",
            route: Route::Oral,
            strengths: &[15.0, 30.0, 60.0],
            kind: solid,
            regimens: SOLID_WEAK,
        },
    ),
    (
        16,
        Template {
            family: "co-codamol-tab",
            text: "Co-codamol {}mg/500mg tablets",
            drug: "codeine",
            route: Route::Oral,
            strengths: &[30.0],
            kind: solid,
            regimens: &[TWO_QDS, PRN_1_2_QDS, PRN_1_2_QDS, ONE_QDS],
        },
    ),
    (
        4,
        Template {
            family: "co-codamol-cap",
            text: "Co-codamol {}mg/500mg capsules",
            drug: "codeine",
            route: Route::Oral,
            strengths: &[30.0],
            kind: solid,
            regimens: &[TWO_QDS, PRN_1_2_QDS],
        },
    ),
    (
        3,
        Template {
            family: "co-codamol-tab",
            text: "Co-codamol {}mg/500mg tablets",
            drug: "codeine",
            route: Route::Oral,
            strengths: &[8.0],
            kind: solid,
            regimens: &[PRN_1_2_QDS],
        },
    ),
    (
        3,
        Template {
            family: "co-dydramol",
            text: "Co-dydramol {}mg/500mg tablets",
            drug: "dihydrocodeine",
            route: Route::Oral,
            strengths: &[10.0],
            kind: solid,
            regimens: &[TWO_QDS, PRN_1_2_QDS],
        },
    ),
    (
        4,
        Template {
            family: "dihydrocodeine-tab",
            text: "Dihydrocodeine {}mg tablets",
            drug: "dihydrocodeine",
            route: Route::Oral,
            strengths: &[30.0],
            kind: solid,
            regimens: &[ONE_TDS, ONE_QDS, PRN_1_QDS],
        },
    ),
    (
        10,
        Template {
            family: "tramadol-cap",
            text: "Tramadol {}mg capsules",
            drug: "tramadol",
            route: Route::Oral,
            strengths: &[50.0],
            kind: solid,
            regimens: &[ONE_QDS, TWO_QDS, PRN_1_2_QDS, ONE_TDS],
        },
    ),
    (
        3,
        Template {
            family: "tramadol-mr",
            text: "Tramadol {}mg modified-release tablets",
            drug: "tramadol",
            route: Route::Oral,
            strengths: &[100.0, 150.0],
            kind: solid,
            regimens: SOLID_MR,
        },
    ),
    (
        2,
        Template {
            family: "tapentadol-mr",
            text: "Tapentadol {}mg modified-release tablets",
            drug: "tapentadol",
            route: Route::Oral,
            strengths: &[50.0, 100.0],
            kind: solid,
            regimens: SOLID_MR,
        },
    ),
    (
        1,
        Template {
            family: "tapentadol-mr",
            text: "Palexia SR {}mg tablets",
            drug: "tapentadol",
            route: Route::Oral,
            strengths: &[50.0, 100.0],
            kind: solid,
            regimens: SOLID_MR,
        },
    ),
    (
        2,
        Template {
            family: "morphine-ir-tab",
            text: "Sevredol {}mg tablets",
            drug: "morphine",
            route: Route::Oral,
            strengths: &[10.0],
            kind: solid,
            regimens: &[PRN_1_4H],
        },
    ),
    (
        5,
        Template {
            family: "morphine-liquid",
            text: "Morphine 10mg/5ml oral solution",
            drug: "morphine",
            route: Route::Oral,
            strengths: &[2.0],
            kind: liquid,
            regimens: LIQUID_PRN,
        },
    ),
    (
        2,
        Template {
            family: "morphine-liquid",
            text: "Oramorph 10mg/5ml oral solution",
            drug: "morphine",
            route: Route::Oral,
            strengths: &[2.0],
            kind: liquid,
            regimens: LIQUID_PRN,
        },
    ),
    (
        1,
        Template {
            family: "oxycodone-liquid",
            text: "Oxycodone 5mg/5ml oral solution",
            drug: "oxycodone",
            route: Route::Oral,
            strengths: &[1.0],
            kind: liquid,
            regimens: LIQUID_PRN,
        },
    ),
    (
        4,
        Template {
            family: "fentanyl-patch",
            text: "Fentanyl {}micrograms/hour transdermal patches",
            drug: "fentanyl",
            route: Route::Transdermal,
            strengths: &[12.0, 25.0, 37.5, 50.0, 75.0],
            kind: patch72,
            regimens: PATCH_72H,
        },
    ),
    (
        1,
        Template {
            family: "fentanyl-patch",
            text: "Matrifen {}micrograms/hour transdermal patches",
            drug: "fentanyl",
            route: Route::Transdermal,
            strengths: &[12.0, 25.0],
            kind: patch72,
            regimens: PATCH_72H,
        },
    ),
    (
        3,
        Template {
            family: "buprenorphine-7d",
            text: "Butec {}micrograms/hour transdermal patches",
            drug: "buprenorphine",
            route: Route::Transdermal,
            strengths: &[5.0, 10.0, 15.0, 20.0],
            kind: patch7d,
            regimens: PATCH_7D,
        },
    ),
    (
        2,
        Template {
            family: "buprenorphine-7d",
            text: "BuTrans {}micrograms/hour transdermal patches",
            drug: "buprenorphine",
            route: Route::Transdermal,
            strengths: &[5.0, 10.0, 20.0],
            kind: patch7d,
            regimens: PATCH_7D,
        },
    ),
    (
        1,
        Template {
            family: "buprenorphine-3-4d",
            text: "Buprenorphine {}micrograms/hour transdermal patches",
            drug: "buprenorphine",
            route: Route::Transdermal,
            strengths: &[35.0],
            kind: patch34,
            regimens: PATCH_TWICE_WEEKLY,
        },
    ),
    (
        1,
        Template {
            family: "methadone",
            text: "Methadone 1mg/ml oral solution",
            drug: "methadone",
            route: Route::Oral,
            strengths: &[1.0],
            kind: liquid,
            regimens: METHADONE,
        },
    ),
];

/// (description, instruction, class) of co-medications.
const CO_MEDICATIONS: &[(&str, &str, Class)] = &[
    ("Diazepam 5mg tablets", "1 tds", Class::Benzo),
    ("Diazepam 2mg tablets", "1 bd", Class::Benzo),
    ("Temazepam 10mg tablets", "1 nocte", Class::Benzo),
    (
        "Zopiclone 7.5mg tablets",
        "ONE to be taken at night",
        Class::Benzo,
    ),
    ("Pregabalin 75mg capsules", "1 bd", Class::Gaba),
    (
        "Pregabalin 150mg capsules",
        "ONE to be taken TWICE a day",
        Class::Gaba,
    ),
    ("Gabapentin 300mg capsules", "1 tds", Class::Gaba),
    ("Sertraline 50mg tablets", "1 od", Class::Antidepressant),
    (
        "Amitriptyline 10mg tablets",
        "1-2 at night",
        Class::Antidepressant,
    ),
    (
        "Duloxetine 60mg gastro-resistant capsules",
        "ONE each day",
        Class::Antidepressant,
    ),
    ("Paracetamol 500mg tablets", "2 qds", Class::Other),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Benzo,
    Gaba,
    /// An antidepressant: dependence-forming (casefinding.json), no flag of its own here.
    Antidepressant,
    Other,
}

const UNREADABLE: &[&str] = &[
    "as directed",
    "use as directed",
    "AS DIRECTED",
    "as per pain clinic letter",
    "",
    "take as advised",
    "mdu",
];

/// One issue the generator writes, with what the truth needs.
#[derive(Debug, Clone)]
struct Issue {
    date: NaiveDate,
    quantity: f64,
    instruction: String,
    readable: bool,
}

#[derive(Debug, Clone)]
struct Line {
    family: String,
    description: String,
    drug: &'static str,
    route: Route,
    unit: Unit,
    regimen: Regimen,
    issues: Vec<Issue>,
}

#[derive(Debug, Clone)]
struct Row {
    patient: String,
    date: NaiveDate,
    drug: String,
    dose: String,
    quantity: String,
    age: String,
    sex: &'static str,
    nhs: String,
    /// Refused rows: the kind and column.
    refused: Option<(&'static str, Option<&'static str>)>,
    /// Short row (fewer fields).
    short: bool,
    /// Co-medication class, for the truth.
    class: Option<Class>,
    tiebreak: u64,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn fmt_num(x: f64) -> String {
    crate::vocabulary::num(x)
}

fn nhs_number(rng: &mut Rng) -> String {
    loop {
        let mut nine = [0u8; 9];
        // Test-range numbers (999…) are never issued to patients; good for synthetic data.
        nine[0] = 9;
        nine[1] = 9;
        nine[2] = 9;
        for d in nine.iter_mut().skip(3) {
            *d = rng.below(10) as u8;
        }
        if let Some(c) = check_digit(&nine) {
            let mut s: String = nine.iter().map(|d| char::from(b'0' + d)).collect();
            s.push(char::from(b'0' + c));
            if !s.bytes().all(|b| b == b'9') {
                return s;
            }
        }
    }
}

/// The OME of a regimen read from its instruction, the way the engine totals
/// it (the same order of operations, so the figures agree to the last digit).
fn item_ome(line: &Line, reference: &Reference) -> Option<f64> {
    let Conversion::Factor { factor, .. } =
        reference.conversion(Profile::Uk, line.drug, line.route)
    else {
        return None;
    };
    let r = line.regimen;
    Some(match line.unit {
        Unit::Solid { mg } => round2(mg * (r.amount * r.doses) * factor),
        Unit::Liquid { mg_per_ml } => round2(mg_per_ml * r.amount * r.doses * factor),
        Unit::Patch { rate, .. } => {
            let per = reference
                .patch_label(line.drug, rate)
                .map_or(rate, |l| l.counts_as_mcg_per_hour);
            round2(per * r.amount * factor)
        }
    })
}

/// The OME of an estimate: `q` issued and lasting `days`.
fn estimated_ome(line: &Line, q: f64, days: i64, reference: &Reference) -> Option<f64> {
    let Conversion::Factor { factor, .. } =
        reference.conversion(Profile::Uk, line.drug, line.route)
    else {
        return None;
    };
    let daily = q / days as f64;
    Some(match line.unit {
        Unit::Solid { mg } => round2(mg * daily * factor),
        Unit::Liquid { mg_per_ml } => round2(mg_per_ml * daily * 1.0 * factor),
        Unit::Patch { rate, wear } => {
            let worn = (daily * (wear.0 + wear.1) / 2.0 / 24.0).round().max(1.0);
            let per = reference
                .patch_label(line.drug, rate)
                .map_or(rate, |l| l.counts_as_mcg_per_hour);
            round2(per * worn * factor)
        }
    })
}

/// Writes a synthetic extract of exactly `options.rows` data rows to `out`
/// and returns its ground truth.
pub fn generate(
    options: &SyntheticOptions,
    reference: &Reference,
    out: &mut dyn Write,
) -> io::Result<Truth> {
    let mut rng = Rng(options.seed ^ 0x5354_5044);
    let today = options.today;
    let window = reference
        .casefinding
        .setting(CaseFindingSetting::CurrentWindowDays) as i64;
    let history = options.history_days.max(30);
    let malformed_target =
        (options.rows as u64 * u64::from(options.malformed_per_10000) / 10_000) as usize;
    let good_target = options.rows.saturating_sub(malformed_target);

    let mut rows: Vec<Row> = Vec::with_capacity(options.rows);
    let mut truth_patients = BTreeMap::new();
    let mut exclusions: Vec<(String, String)> = Vec::new();
    let mut n = 0usize;
    while rows.len() < good_target {
        n += 1;
        let id = format!("P{n:07}");
        // Every so many patients go on the exclusion list, whatever they are issued.
        let excluded = (options.excluded_per_1000 > 0
            && (n as u64 * u64::from(options.excluded_per_1000)) % 1000
                < u64::from(options.excluded_per_1000))
        .then(|| {
            if exclusions.len().is_multiple_of(2) {
                "palliative care register"
            } else {
                "opioid dependence treatment"
            }
            .to_string()
        });
        if let Some(why) = &excluded {
            exclusions.push((id.clone(), why.clone()));
        }
        let age = 18 + rng.below(78);
        let sex = if rng.chance(55) { "F" } else { "M" };
        let age_text = if rng.chance(8) {
            String::new()
        } else {
            age.to_string()
        };
        let nhs = if rng.chance(70) {
            nhs_number(&mut rng)
        } else {
            String::new()
        };

        // Opioid lines: distinct products.
        let count = *rng.weighted(&[(60, 1usize), (30, 2), (10, 3)]);
        let mut lines: Vec<Line> = Vec::new();
        for _ in 0..count {
            let t = rng.weighted(TEMPLATES);
            let strength = *rng.pick(t.strengths);
            let description = t.text.replace("{}", &fmt_num(strength));
            let family = format!("{}@{}", t.family, fmt_num(strength));
            if lines.iter().any(|l| l.family == family) {
                continue;
            }
            lines.push(Line {
                family,
                description,
                drug: t.drug,
                route: t.route,
                unit: (t.kind)(strength),
                regimen: *rng.pick(t.regimens),
                issues: Vec::new(),
            });
        }
        let mut patient_rows: Vec<Row> = Vec::new();
        let row = |date: NaiveDate, drug: String, dose: String, quantity: String| Row {
            patient: id.clone(),
            date,
            drug,
            dose,
            quantity,
            age: age_text.clone(),
            sex,
            nhs: nhs.clone(),
            refused: None,
            short: false,
            class: None,
            tiebreak: 0,
        };
        for line in &mut lines {
            let interval = *rng.weighted(&[(70, 28i64), (10, 14), (20, 56)]);
            let start = today - Duration::days(rng.below(history as u64) as i64);
            let stopped = rng.chance(15);
            let end = if stopped {
                start + Duration::days(rng.below((today - start).num_days().max(1) as u64) as i64)
            } else {
                today
            };
            let mut date = start;
            while date <= end {
                let daily_use = match line.unit {
                    Unit::Patch { wear, .. } => line.regimen.amount * 24.0 / wear.0.min(wear.1),
                    _ => {
                        let most = line.regimen.amount * line.regimen.doses;
                        if line.regimen.as_needed {
                            most * (50 + rng.below(51)) as f64 / 100.0
                        } else {
                            most
                        }
                    }
                };
                let quantity = (daily_use * interval as f64).ceil().max(1.0);
                let readable = !rng.chance(8);
                let instruction = if readable {
                    (*rng.pick(line.regimen.words)).to_string()
                } else {
                    (*rng.pick(UNREADABLE)).to_string()
                };
                line.issues.push(Issue {
                    date,
                    quantity,
                    instruction,
                    readable,
                });
                date += Duration::days(interval + rng.below(4) as i64);
            }
        }
        // Co-medications.
        for _ in 0..rng.below(3) {
            let (drug, dose, class) = *rng.pick(CO_MEDICATIONS);
            let interval = 28;
            let start = today - Duration::days(rng.below(history as u64) as i64);
            let mut date = start;
            while date <= today {
                let mut r = row(date, drug.into(), dose.into(), "56".into());
                r.class = Some(class);
                patient_rows.push(r);
                date += Duration::days(interval);
            }
        }
        for line in &lines {
            for i in &line.issues {
                patient_rows.push(row(
                    i.date,
                    line.description.clone(),
                    i.instruction.clone(),
                    fmt_num(i.quantity),
                ));
            }
        }
        if rows.len() + patient_rows.len() > good_target {
            // The last patient is cut short: keep the rows, drop their truth
            // (recomputed below from exactly what was written).
            let keep = good_target - rows.len();
            patient_rows.sort_by_key(|r| r.date);
            patient_rows.truncate(keep);
            let kept: std::collections::HashSet<(String, NaiveDate, String)> = patient_rows
                .iter()
                .map(|r| (r.drug.clone(), r.date, r.dose.clone()))
                .collect();
            for line in &mut lines {
                let d = line.description.clone();
                line.issues
                    .retain(|i| kept.contains(&(d.clone(), i.date, i.instruction.clone())));
            }
        }
        let dates_of = |class: Class| -> Vec<NaiveDate> {
            patient_rows
                .iter()
                .filter(|r| r.class == Some(class))
                .map(|r| r.date)
                .collect()
        };
        let benzo_dates = dates_of(Class::Benzo);
        let gaba_dates = dates_of(Class::Gaba);
        let antidepressant_dates = dates_of(Class::Antidepressant);
        rows.extend(patient_rows);

        // Truth, as of today.
        let from = today - Duration::days(window - 1);
        let mut total = 0.0;
        let mut current = false;
        let mut estimated = false;
        let mut complete = true;
        let (mut supply, mut supply_measured, mut supply_complete) = (0.0, 0, true);
        let mut unclear = false;
        let (mut ir_only, mut combination, mut large_liquid) = (true, false, false);
        for line in &lines {
            // Families are "template@strength".
            let family = line.family.split('@').next().unwrap_or_default();
            if family == "morphine-liquid" {
                large_liquid |= line
                    .issues
                    .iter()
                    .any(|i| i.date >= from && i.date <= today && i.quantity > 300.0);
            }
            let Some(last) = line.issues.last() else {
                continue;
            };
            if last.date < from {
                continue;
            }
            current = true;
            unclear |= !last.readable;
            ir_only &= !(family.contains("-mr") || matches!(line.unit, Unit::Patch { .. }));
            combination |= family.starts_with("co-");
            // The second figure, from supply alone.
            match line.issues.len().checked_sub(2).map(|k| &line.issues[k]) {
                Some(prev) => match estimated_ome(
                    line,
                    prev.quantity,
                    (last.date - prev.date).num_days(),
                    reference,
                ) {
                    Some(x) => {
                        supply += x;
                        supply_measured += 1;
                    }
                    None => supply_complete = false,
                },
                None => supply_complete = false,
            }
            let ome = if last.readable {
                item_ome(line, reference)
            } else if line.issues.len() >= 2 {
                let prev = &line.issues[line.issues.len() - 2];
                estimated = true;
                estimated_ome(
                    line,
                    prev.quantity,
                    (last.date - prev.date).num_days(),
                    reference,
                )
            } else {
                complete = false;
                continue;
            };
            match ome {
                Some(x) => total += x,
                None => complete = false,
            }
        }
        if current {
            let in_window = |dates: &[NaiveDate]| dates.iter().any(|d| *d >= from && *d <= today);
            truth_patients.insert(
                id.clone(),
                PatientTruth {
                    ome_mg_per_day: round2(total),
                    estimated,
                    complete,
                    benzodiazepine: in_window(&benzo_dates),
                    gabapentinoid: in_window(&gaba_dates),
                    supply_ome_mg_per_day: (supply_measured > 0).then(|| round2(supply)),
                    supply_complete,
                    unclear_directions: unclear,
                    immediate_release_only: ir_only,
                    combination,
                    large_liquid_issue: large_liquid,
                    dependence_forming: in_window(&benzo_dates)
                        || in_window(&gaba_dates)
                        || in_window(&antidepressant_dates),
                    excluded: excluded.clone(),
                },
            );
        }
    }

    // Malformed rows, each of a kind the importer must refuse.
    let kinds: &[(&str, Option<&str>)] = &[
        ("bad-date", Some("issue_date")),
        ("future-date", Some("issue_date")),
        ("missing-patient", Some("patient_id")),
        ("bad-quantity", Some("quantity")),
        ("unknown-drug", Some("drug")),
        ("no-strength", Some("drug")),
        ("implausible-dose", Some("dose")),
        ("short-row", None),
    ];
    for k in 0..malformed_target {
        let (kind, column) = kinds[k % kinds.len()];
        let date = today - Duration::days(rng.below(history as u64) as i64);
        let mut r = Row {
            patient: format!("X{k:06}"),
            date,
            drug: "Morphine 10mg modified-release tablets".into(),
            dose: "1 bd".into(),
            quantity: "56".into(),
            age: "60".into(),
            sex: "F",
            nhs: String::new(),
            refused: Some((kind, column)),
            short: false,
            class: None,
            tiebreak: 0,
        };
        match kind {
            "future-date" => r.date = today + Duration::days(30),
            "missing-patient" => r.patient = String::new(),
            "bad-quantity" => r.quantity = "lots".into(),
            "unknown-drug" => r.drug = "Amoxicillin 500mg capsules".into(),
            "no-strength" => r.drug = "Morphine modified-release tablets".into(),
            "implausible-dose" => r.dose = "take 50 tablets four times a day".into(),
            "short-row" => r.short = true,
            _ => {}
        }
        rows.push(r);
    }

    // Extracts come in date order; patients interleave.
    for r in &mut rows {
        r.tiebreak = rng.next();
    }
    rows.sort_by_key(|r| (r.date, r.tiebreak));

    match options.shape {
        ExportShape::Standard => writeln!(
            out,
            "patient_id,issue_date,drug,dose,quantity,age,sex,nhs_number"
        )?,
        ExportShape::SystmOneSr => writeln!(out, "{}", SR_HEADERS.join(","))?,
        ExportShape::EmisWeb => {
            writeln!(out, "{EMIS_TITLE}\n")?;
            writeln!(out, "{}", EMIS_HEADERS.join(","))?;
        }
    }
    // Data rows start after the header and, for EMIS, its two lines above.
    let first_data_line: u64 = match options.shape {
        ExportShape::EmisWeb => 4,
        _ => 2,
    };
    let mut refused = Vec::new();
    let quote = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    for (i, r) in rows.iter().enumerate() {
        let line = i as u64 + first_data_line;
        let date = match r.refused {
            Some(("bad-date", _)) if options.shape == ExportShape::SystmOneSr => {
                "31 Feb 2026 10:00:00".to_string()
            }
            Some(("bad-date", _)) if options.shape == ExportShape::EmisWeb => {
                "31-Feb-2026".to_string()
            }
            // Half the EMIS dates as 14-Mar-2026, half as 14/03/2026.
            _ if options.shape == ExportShape::EmisWeb && r.tiebreak % 2 == 0 => {
                r.date.format("%d-%b-%Y").to_string()
            }
            _ if options.shape == ExportShape::EmisWeb => r.date.format("%d/%m/%Y").to_string(),
            Some(("bad-date", _)) => "31/02/2026".to_string(),
            _ if options.shape == ExportShape::SystmOneSr => {
                r.date.format("%d %b %Y 10:00:00").to_string()
            }
            // Half the dates ISO, half UK style, as different systems export them.
            _ if r.tiebreak % 2 == 0 => r.date.format("%Y-%m-%d").to_string(),
            _ => r.date.format("%d/%m/%Y").to_string(),
        };
        if options.shape == ExportShape::SystmOneSr {
            let quantity = match r.quantity.parse::<f64>() {
                Ok(_) => format!("{} {}", r.quantity, sr_unit(&r.drug)),
                Err(_) => r.quantity.clone(),
            };
            let repeat = if r.tiebreak % 3 == 0 { "false" } else { "true" };
            let drug = quote(&r.drug);
            let dose = quote(&r.dose);
            let row_id = (i + 1).to_string();
            let patient = quote(&r.patient);
            let fields: Vec<&str> = if r.short {
                vec![&row_id, "1", &date, &date]
            } else {
                vec![
                    &row_id, "1", &date, &date, "1", "1", "", "1", "", "", "", &drug, &date, "",
                    &dose, &quantity, "false", "", "", repeat, "false", "false", "false", "", "",
                    "", &patient, "1", "1", "0",
                ]
            };
            writeln!(out, "{}", fields.join(","))?;
        } else if options.shape == ExportShape::EmisWeb {
            let nhs = if r.nhs.len() == 10 {
                format!("{} {} {}", &r.nhs[..3], &r.nhs[3..6], &r.nhs[6..])
            } else {
                r.nhs.clone()
            };
            let sex = match r.sex {
                "F" => "Female",
                "M" => "Male",
                other => other,
            };
            let unit = if r.quantity.parse::<f64>().is_ok() {
                sr_unit(&r.drug)
            } else {
                ""
            };
            if r.short {
                writeln!(out, "{},{},{},{}", quote(&r.patient), nhs, r.age, sex)?;
            } else {
                writeln!(
                    out,
                    "{},{},{},{},{},{},{},{},{}",
                    quote(&r.patient),
                    nhs,
                    r.age,
                    sex,
                    date,
                    quote(&r.drug),
                    quote(&r.dose),
                    r.quantity,
                    unit
                )?;
            }
        } else if r.short {
            writeln!(out, "{},{},{}", quote(&r.patient), date, quote(&r.drug))?;
        } else {
            writeln!(
                out,
                "{},{},{},{},{},{},{},{}",
                quote(&r.patient),
                date,
                quote(&r.drug),
                quote(&r.dose),
                r.quantity,
                r.age,
                r.sex,
                r.nhs
            )?;
        }
        if let Some((kind, column)) = r.refused {
            refused.push(RefusedRow {
                line,
                kind: kind.to_string(),
                column: column.map(str::to_string),
            });
        }
    }
    let ids: std::collections::HashSet<&str> = rows
        .iter()
        .filter(|r| r.refused.is_none())
        .map(|r| r.patient.as_str())
        .collect();
    Ok(Truth {
        today: today.to_string(),
        window_days: window as u32,
        rows: rows.len(),
        patients_in_file: ids.len(),
        patients: truth_patients,
        refused,
        exclusions,
    })
}
