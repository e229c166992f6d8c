//! The pure half of case-finding: from a patient's issued items to their
//! current regimen, OME (through the real `assess`), flags, trend and their
//! contribution to the practice's monthly figures.
//!
//! Rules (documented for users in docs/casefinding.md):
//! - The current regimen as of a date is, for each product (drug, route,
//!   form, release, strength, paracetamol), its latest issue within the
//!   window (default 90 days, up to and including the date). Several issues
//!   of a product on that date with different instructions all count ("1 in
//!   the morning" and "2 at night" issued as two items); identical ones count once.
//! - An instruction that cannot be read is estimated from quantity and time:
//!   the quantity issued divided by the days until the next issue of the same
//!   product; for the latest issue, the previous issue's quantity over the days
//!   since it. Patches: patches issued × wear time ÷ days. The item is marked
//!   estimated, with the method in words. With no other issue to measure
//!   against, the dose is unknown and the patient's total is incomplete.
//! - Co-medications in the window feed the flags (benzodiazepine, gabapentinoid, …).
//!
//! No IO, no clock: `today` and the data come in as parameters.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Datelike, Months, NaiveDate};

use super::{Marker, TrendPoint, WorklistItem, WorklistPatient};
use crate::catalogue::choice_for_item;
use crate::flags::{evaluate_ids, FlagContext, FlagId, Severity};
use crate::import::dose::{DoseReader, DoseReading, DoseUnit, Unreadable};
use crate::import::product::{
    CoMedicationProduct, NotUnderstood, Product, ProductReader, Strength,
};
use crate::import::{regimen_item, with_dose_times};
use crate::input::FieldError;
use crate::item::{Item, Regimen};
use crate::ome::{calculate, calculate_numbers, convert_item};
use crate::patient::{PatientContext, RawPatient};
use crate::profile::Profile;
use crate::reference::risk::{DrugClass, PatientField};
use crate::reference::{LimitKind, Reference, ThresholdKind};
use crate::regimen::RawItem;
use crate::vocabulary::num;

/// Case-finding uses the UK profile: the extracts and the figures are UK ones.
pub(crate) const PROFILE: Profile = Profile::Uk;

/// A regimen item that passed validation, with its OME.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ItemEval {
    /// The item, as the consultation screen takes it.
    pub raw: RawItem,
    /// The same item validated (kept so each patient's assessment need not validate it again).
    pub item: Item,
    /// mg OME a day (`None`: the profile does not convert it, e.g. methadone).
    pub ome: Option<f64>,
}

/// Validates one item and converts it, or says why it is not a usable item.
pub(crate) fn evaluate(raw: RawItem, reference: &Reference) -> Result<ItemEval, String> {
    let regimen = Regimen::validate(std::slice::from_ref(&raw), "items", PROFILE, reference)
        .map_err(|errors| field_words(&errors))?;
    let Some(item) = regimen.items.into_iter().next() else {
        return Err("no item".into());
    };
    let ome = convert_item(&item, PROFILE, reference)
        .ome()
        .map(|o| o.get());
    Ok(ItemEval { raw, item, ome })
}

/// Field errors of a single item without the `items[0].` prefix.
fn field_words(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| {
            let path = e.path.strip_prefix("items[0].").unwrap_or(&e.path);
            format!("{path} {}", e.message)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Every distinct text of an extract, read once: product descriptions,
/// instructions, and the items that (description, instruction) pairs make.
/// Texts are read as they are first met; the worker threads then share it read-only.
#[derive(Debug)]
pub(crate) struct Interpreted<'r> {
    reference: &'r Reference,
    product_reader: ProductReader<'r>,
    dose_reader: DoseReader,
    /// By text index: the product, if the text has been read as a description.
    pub products: Vec<Option<Result<Product, NotUnderstood>>>,
    /// By text index: the reading, if the text has been read as an instruction.
    pub doses: Vec<Option<Result<DoseReading, Unreadable>>>,
    /// By text index: the product key id (same product, whatever the wording).
    pub product_keys: Vec<u32>,
    /// By text index: the catalogue label of the product.
    pub labels: Vec<Option<String>>,
    keys: HashMap<String, u32>,
    /// (description, instruction) → the item, or why the pair gives none.
    pub items: super::FastMap<(u32, u32), Result<Arc<ItemEval>, PairProblem>>,
}

/// Why a readable-looking pair gives no item.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PairProblem {
    /// The instruction cannot be read (or does not fit the product): estimate instead.
    Unreadable(String),
    /// The item is implausible (an entry error): the row is not understood.
    Invalid(String),
}

/// How a row of an extract is understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowKind {
    /// An opioid whose instruction was read.
    OpioidRead,
    /// An opioid whose instruction will be estimated.
    OpioidNotRead,
    /// A co-medication.
    CoMedication,
}

impl<'r> Interpreted<'r> {
    /// Nothing read yet.
    pub fn new(reference: &'r Reference) -> Interpreted<'r> {
        Interpreted {
            reference,
            product_reader: ProductReader::new(reference),
            dose_reader: DoseReader::new(reference),
            products: Vec::new(),
            doses: Vec::new(),
            product_keys: Vec::new(),
            labels: Vec::new(),
            keys: HashMap::new(),
            items: super::FastMap::default(),
        }
    }

    /// Makes room for texts up to `texts.len()`.
    pub fn grow(&mut self, texts: &[String]) {
        let n = texts.len();
        if self.products.len() < n {
            self.products.resize(n, None);
            self.doses.resize(n, None);
            self.product_keys.resize(n, u32::MAX);
            self.labels.resize(n, None);
        }
    }

    /// Reads text `idx` as a product description, once.
    pub fn read_drug(&mut self, idx: u32, text: &str) {
        let i = idx as usize;
        if self.products.get(i).is_some_and(Option::is_some) {
            return;
        }
        if self.products.len() <= i {
            self.products.resize(i + 1, None);
            self.doses.resize(i + 1, None);
            self.product_keys.resize(i + 1, u32::MAX);
            self.labels.resize(i + 1, None);
        }
        let product = self.product_reader.read(text);
        if let Ok(Product::Opioid(o)) = &product {
            let n = self.keys.len() as u32;
            self.product_keys[i] = *self.keys.entry(o.key()).or_insert(n);
            self.labels[i] = Some(label_of(o, self.reference));
        }
        self.products[i] = Some(product);
    }

    fn read_dose(&mut self, idx: u32, text: &str) {
        let i = idx as usize;
        if self.doses.len() <= i {
            self.grow_to(i + 1);
        }
        if self.doses[i].is_none() {
            self.doses[i] = Some(self.dose_reader.read(text));
        }
    }

    fn grow_to(&mut self, n: usize) {
        self.products.resize(n, None);
        self.doses.resize(n, None);
        self.product_keys.resize(n, u32::MAX);
        self.labels.resize(n, None);
    }

    /// Understands one row (and remembers the item its pair makes).
    pub fn classify(
        &mut self,
        drug: u32,
        dose: u32,
        texts: &[String],
    ) -> Result<RowKind, (crate::import::csv::Column, String)> {
        use crate::import::csv::Column;
        let reference = self.reference;
        if let Some(t) = texts.get(drug as usize) {
            self.read_drug(drug, t);
        }
        match self.products.get(drug as usize).and_then(Option::as_ref) {
            Some(Ok(Product::Opioid(_))) => {}
            Some(Ok(Product::CoMedication(c))) => {
                // Paracetamol's dose counts towards the daily paracetamol limit.
                if c.classes.contains(&DrugClass::Paracetamol) {
                    if let Some(t) = texts.get(dose as usize) {
                        self.read_dose(dose, t);
                    }
                }
                return Ok(RowKind::CoMedication);
            }
            Some(Err(NotUnderstood(reason))) => return Err((Column::Drug, reason.clone())),
            None => return Err((Column::Drug, "not read".into())),
        }
        if let Some(result) = self.items.get(&(drug, dose)) {
            return kind_of(result);
        }
        let Some(Some(Ok(Product::Opioid(opioid)))) = self.products.get(drug as usize).cloned()
        else {
            return Err((Column::Drug, "not read".into()));
        };
        let opioid = &opioid;
        if let Some(t) = texts.get(dose as usize) {
            self.read_dose(dose, t);
        }
        let reading = self.doses.get(dose as usize).and_then(Option::as_ref);
        let result = match reading {
            Some(Ok(r)) => match regimen_item(opioid, r) {
                Ok(raw) => match evaluate(
                    // A different dose at named times ("1 mane 2 nocte") is one timed item.
                    match texts
                        .get(dose as usize)
                        .and_then(|t| self.dose_reader.read_times(t))
                    {
                        Some(timed) => with_dose_times(raw, opioid, &timed),
                        None => raw,
                    },
                    reference,
                ) {
                    // Read, but not a plausible dose of this product: left unread (and estimated).
                    Ok(e) => match implausible_reading(&e.raw, opioid, reference) {
                        Some(why) => Err(PairProblem::Unreadable(why)),
                        None => Ok(Arc::new(e)),
                    },
                    Err(why) => Err(PairProblem::Invalid(format!(
                        "the item is implausible: {why}"
                    ))),
                },
                Err(Unreadable(why)) => Err(PairProblem::Unreadable(why)),
            },
            Some(Err(Unreadable(why))) => Err(PairProblem::Unreadable(why.clone())),
            None => Err(PairProblem::Unreadable("not read".into())),
        };
        // An unreadable instruction still needs a plausible product: check it with one unit a day.
        let result = match result {
            Err(PairProblem::Unreadable(why)) => match product_check(opioid, reference) {
                Ok(()) => Err(PairProblem::Unreadable(why)),
                Err(bad) => Err(PairProblem::Invalid(bad)),
            },
            other => other,
        };
        let kind = kind_of(&result);
        self.items.insert((drug, dose), result);
        kind
    }
}

/// How a row with this pair is understood.
fn kind_of(
    result: &Result<Arc<ItemEval>, PairProblem>,
) -> Result<RowKind, (crate::import::csv::Column, String)> {
    use crate::import::csv::Column;
    match result {
        Ok(_) => Ok(RowKind::OpioidRead),
        Err(PairProblem::Unreadable(_)) => Ok(RowKind::OpioidNotRead),
        // A strength problem is the description's; anything else the instruction's.
        Err(PairProblem::Invalid(why)) => Err((
            if why.contains("strength") {
                Column::Drug
            } else {
                Column::Dose
            },
            why.clone(),
        )),
    }
}

/// Why a reading that passed the entry limits is still not a plausible dose
/// of the product as read from free text ("11 four times a day" for morphine
/// 10 mg tablets): more units a dose than the case-finding table allows.
fn implausible_reading(
    raw: &RawItem,
    p: &crate::import::product::OpioidProduct,
    reference: &Reference,
) -> Option<String> {
    let max = reference
        .casefinding
        .setting(crate::reference::casefinding::CaseFindingSetting::ExtractMaxUnitsPerDose);
    // Doses by time of day: the largest of them.
    let units = raw.units_per_dose.or_else(|| {
        raw.doses
            .iter()
            .flatten()
            .filter_map(|d| d.units)
            .reduce(f64::max)
    })?;
    (units > max).then(|| {
        format!(
            "read as {} tablets or capsules a dose of {}, more than the {} a dose that is plausible when read from an extract",
            num(units),
            label_of(p, reference),
            num(max)
        )
    })
}

/// The product alone, at one unit once a day: catches an implausible strength
/// even when the instruction is unreadable.
fn product_check(
    p: &crate::import::product::OpioidProduct,
    reference: &Reference,
) -> Result<(), String> {
    let reading = DoseReading {
        unit: crate::import::dose::DoseUnit::Count,
        per_dose: 1.0,
        per_dose_min: 1.0,
        doses_per_day: Some(1.0),
        doses_per_day_min: Some(1.0),
        as_needed: false,
        alt: None,
        cap: None,
        interval_hours: None,
        ambiguous: None,
    };
    let reading = match p.strength {
        Strength::MgPerMl(_) => DoseReading {
            unit: crate::import::dose::DoseUnit::Ml,
            ..reading
        },
        _ => reading,
    };
    let raw = regimen_item(p, &reading).map_err(|e| e.0)?;
    evaluate(raw, reference)
        .map(|_| ())
        .map_err(|why| format!("the product is implausible: {why}"))
}

fn label_of(p: &crate::import::product::OpioidProduct, reference: &Reference) -> String {
    let raw = RawItem {
        drug: Some(p.drug.clone()),
        route: Some(p.route.as_str().to_string()),
        form: p.form.map(|f| f.as_str().to_string()),
        release: p.release.map(|r| r.as_str().to_string()),
        strength_mg: match p.strength {
            Strength::Mg(x) => Some(x),
            _ => None,
        },
        strength_mg_per_ml: match p.strength {
            Strength::MgPerMl(x) => Some(x),
            _ => None,
        },
        strength_mcg_per_hour: match p.strength {
            Strength::McgPerHour(x) => Some(x),
            _ => None,
        },
        paracetamol_mg: p.paracetamol_mg,
        naloxone_mg: p.naloxone_mg,
        ..RawItem::default()
    };
    let choice = choice_for_item(reference, &raw);
    if choice.product_id == "manual" {
        // Not a catalogue strength: describe it from its own fields.
        let mut d = p.describe();
        if let Some(first) = d.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        d
    } else {
        choice.label
    }
}

// ---------------------------------------------------------------------------
// Patients
// ---------------------------------------------------------------------------

// The stored shapes of an extract's patients and issues are the store's
// (`store::casefinding`), so the store never names this module.
pub(crate) use crate::store::casefinding::{IssueRec, PatientRec};

/// A month of the practice figures.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MonthSpan {
    /// `2026-01`.
    pub label: String,
    /// First day.
    pub start: NaiveDate,
    /// Last day counted (the month's end, or today for the current month).
    pub as_of: NaiveDate,
}

/// Everything a patient computation needs besides the data.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Today.
    pub today: NaiveDate,
    /// Current-regimen window in days.
    pub window_days: i64,
    /// Months of each trend.
    pub trend: Vec<MonthSpan>,
    /// Months of the practice figures.
    pub months: Vec<MonthSpan>,
    /// High-dose threshold of the profile (mg OME/day).
    pub high_dose: f64,
    /// Specialist-referral threshold of the profile, if any.
    pub specialist: Option<f64>,
}

/// The months from `first`'s month to `today`'s, each counted up to its last
/// day (today for the current month).
pub(crate) fn months_between(first: NaiveDate, today: NaiveDate) -> Vec<MonthSpan> {
    let mut out = Vec::new();
    let Some(mut start) = first.with_day(1) else {
        return out;
    };
    while start <= today {
        let next = start + Months::new(1);
        let end = next.pred_opt().unwrap_or(start);
        out.push(MonthSpan {
            label: format!("{:04}-{:02}", start.year(), start.month()),
            start,
            as_of: end.min(today),
        });
        start = next;
    }
    out
}

impl Settings {
    /// Settings for `today` with the reference thresholds; the figure months
    /// run from `first_issue`'s month.
    pub fn new(
        today: NaiveDate,
        window_days: i64,
        trend_months: u32,
        first_issue: Option<NaiveDate>,
        reference: &Reference,
    ) -> Settings {
        let trend_start = today
            .with_day(1)
            .map(|d| d - Months::new(trend_months.saturating_sub(1)))
            .unwrap_or(today);
        Settings {
            today,
            window_days,
            trend: months_between(trend_start, today),
            months: first_issue
                .map(|f| months_between(f.min(today), today))
                .unwrap_or_default(),
            high_dose: reference
                .threshold(PROFILE, ThresholdKind::HighDose)
                .map_or(f64::INFINITY, |t| t.mg_per_day),
            specialist: reference
                .threshold(PROFILE, ThresholdKind::SpecialistReferral)
                .map(|t| t.mg_per_day),
        }
    }
}

/// How an estimate was made (put into words only when shown).
#[derive(Debug, Clone, Copy, PartialEq)]
struct EstimateHow {
    /// Quantity it rests on.
    quantity: f64,
    /// Issue date of that quantity.
    from: NaiveDate,
    /// Next issue date.
    to: NaiveDate,
    /// Estimated amount a day.
    daily: f64,
    /// From the next issue (true) or from the previous one (false).
    forward: bool,
}

/// Why an issue has no dose (put into words only when shown).
#[derive(Debug, Clone, PartialEq)]
enum NoDose {
    /// The item is implausible.
    Invalid(String),
    /// Unreadable, and nothing to estimate from.
    NoOtherIssue,
    /// Unreadable, and the estimate is implausible.
    BadEstimate(String),
}

/// What is known about one issue's dose.
#[derive(Debug, Clone)]
enum DoseState {
    Read(Arc<ItemEval>),
    Estimated(Arc<ItemEval>, EstimateHow),
    Unknown(NoDose),
}

impl DoseState {
    fn eval(&self) -> Option<&ItemEval> {
        match self {
            DoseState::Read(e) | DoseState::Estimated(e, _) => Some(e),
            DoseState::Unknown(_) => None,
        }
    }

    fn is_read(&self) -> bool {
        matches!(self, DoseState::Read(_))
    }
}

/// The essentials of a patient on the worklist (all the ranking and filters need).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Summary {
    /// Total mg OME a day (from `assess`).
    pub ome: f64,
    /// No item's dose unknown or unconverted.
    pub complete: bool,
    /// An estimate is part of the total.
    pub estimated: bool,
    /// Flag ids, most severe first (information-only flags left out).
    pub flags: Vec<FlagId>,
    /// Audit marker bits (`Marker::bit`).
    pub markers: u32,
}

/// A patient's result.
#[derive(Debug, Clone)]
pub(crate) struct PatientResult {
    /// Set when an opioid is current.
    pub summary: Option<Summary>,
    /// The full worklist entry (rank not yet set), when asked for.
    pub entry: Option<WorklistPatient>,
    /// Sort key parts: dose band (2: at or above the specialist threshold, 1: high dose, 0: below).
    pub band: u8,
    /// Number of high-severity flags.
    pub high_flags: u32,
    /// Number of caution flags.
    pub caution_flags: u32,
    /// Per figure month: opioid items issued in it, and OME as of its end.
    pub monthly: Vec<(u32, f64)>,
}

/// Per-thread memory of estimated items (the same estimate recurs across patients).
#[derive(Debug, Default)]
pub(crate) struct EstimateCache {
    items: super::FastMap<(u32, u64), Result<Arc<ItemEval>, String>>,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Whole months from `from` to `to` (0 if `to` is earlier).
fn whole_months(from: NaiveDate, to: NaiveDate) -> i64 {
    let m =
        i64::from(to.year() - from.year()) * 12 + i64::from(to.month()) - i64::from(from.month());
    let m = if to.day() < from.day() { m - 1 } else { m };
    m.max(0)
}

/// An estimated item for `daily` units a day (tablets, mL or patches issued
/// per day) of the product in `drug`.
fn estimate_item(
    interp: &Interpreted<'_>,
    drug: u32,
    daily: f64,
    reference: &Reference,
) -> Result<ItemEval, String> {
    let Some(Ok(Product::Opioid(p))) = interp.products.get(drug as usize).and_then(Option::as_ref)
    else {
        return Err("not an opioid".into());
    };
    let mut raw = RawItem {
        drug: Some(p.drug.clone()),
        route: Some(p.route.as_str().to_string()),
        ..RawItem::default()
    };
    // Split a daily amount into doses only when one dose would exceed the
    // per-dose limit (the limits come from the reference tables).
    let split = |amount: f64, per_dose_limit: LimitKind| -> Result<(f64, f64), String> {
        let per = reference.limit(per_dose_limit).max;
        let most_doses = reference.limit(LimitKind::DosesPerDay).max;
        let n = (amount / per).ceil().max(1.0);
        if n > most_doses {
            return Err(format!(
                "{} a day is implausible; check the quantities",
                num(amount)
            ));
        }
        Ok((amount / n, n))
    };
    match p.strength {
        Strength::Mg(s) => {
            let (units, n) = split(daily, LimitKind::UnitsPerDose)?;
            raw.form = p.form.map(|f| f.as_str().to_string());
            raw.release = Some(p.release.unwrap_or_default().as_str().to_string());
            raw.strength_mg = Some(s);
            raw.units_per_dose = Some(units);
            raw.doses_per_day = Some(n);
            raw.paracetamol_mg = p.paracetamol_mg;
        }
        Strength::MgPerMl(s) => {
            let (ml, n) = split(daily, LimitKind::MlPerDose)?;
            raw.form = Some("solution".into());
            raw.release = Some(p.release.unwrap_or_default().as_str().to_string());
            raw.strength_mg_per_ml = Some(s);
            raw.ml_per_dose = Some(ml);
            raw.doses_per_day = Some(n);
        }
        Strength::McgPerHour(rate) => {
            let Some(w) = p.wear_hours else {
                return Err(
                    "this patch is not in the product catalogue, so its wear time is unknown"
                        .into(),
                );
            };
            // `daily` is patches issued a day; × wear time = patches worn at once.
            // 3- and 4-day patches count at the middle of their wear time.
            let worn = (daily * (w.min + w.max) / 2.0 / 24.0).round().max(1.0);
            raw.strength_mcg_per_hour = Some(rate);
            raw.patches = Some(worn);
        }
    }
    evaluate(raw, reference)
}

/// One patient's opioid issues by product, and each issue's dose.
struct Resolved<'a> {
    rec: &'a PatientRec,
    /// (product key, issue indexes in date order).
    groups: Vec<(u32, Vec<usize>)>,
    /// By issue index: the dose (opioids only).
    states: Vec<Option<DoseState>>,
    window: i64,
}

impl Resolved<'_> {
    /// The issues of group `g` that make the regimen as of `as_of`: its
    /// latest issue date within the window; on that date, distinct
    /// instructions (read ones if any were read, else the first).
    fn chosen(&self, g: usize, as_of: NaiveDate, mut each: impl FnMut(usize)) {
        let idx = &self.groups[g].1;
        let Some(pos) = idx.iter().rposition(|&i| self.rec.issues[i].date <= as_of) else {
            return;
        };
        let date = self.rec.issues[idx[pos]].date;
        if date <= as_of - chrono::Duration::days(self.window) {
            return;
        }
        let start = idx[..pos]
            .iter()
            .rposition(|&i| self.rec.issues[i].date != date)
            .map_or(0, |p| p + 1);
        let day = &idx[start..=pos];
        let read = |i: usize| self.states[i].as_ref().is_some_and(DoseState::is_read);
        let any_read = day.iter().any(|&i| read(i));
        let include = |k: usize| -> bool {
            let i = day[k];
            if any_read {
                read(i)
            } else {
                k == 0
            }
        };
        for k in 0..day.len() {
            if !include(k) {
                continue;
            }
            let dose = self.rec.issues[day[k]].dose;
            // Identical instructions on the day are more supply, not more dose.
            if (0..k).any(|j| include(j) && self.rec.issues[day[j]].dose == dose) {
                continue;
            }
            each(day[k]);
        }
    }

    fn ome_as_of(&self, as_of: NaiveDate) -> f64 {
        let mut total = 0.0;
        for g in 0..self.groups.len() {
            self.chosen(g, as_of, |i| {
                if let Some(o) = self.states[i]
                    .as_ref()
                    .and_then(DoseState::eval)
                    .and_then(|e| e.ome)
                {
                    total += o;
                }
            });
        }
        round2(total)
    }
}

/// Computes one patient: with `detail`, the full worklist entry; without,
/// only the summary and the figures contributions (much cheaper).
pub(crate) fn patient(
    rec: &PatientRec,
    interp: &Interpreted<'_>,
    settings: &Settings,
    cache: &mut EstimateCache,
    texts: &[String],
    detail: bool,
) -> PatientResult {
    let reference = interp.reference;
    let mut groups: Vec<(u32, Vec<usize>)> = Vec::new();
    let mut comeds: Vec<(usize, &CoMedicationProduct)> = Vec::new();
    let mut lost: Vec<usize> = Vec::new();
    let mut first_opioid: Option<NaiveDate> = None;
    for (i, issue) in rec.issues.iter().enumerate() {
        match interp
            .products
            .get(issue.drug as usize)
            .and_then(Option::as_ref)
        {
            Some(Ok(Product::Opioid(_))) => {
                let key = interp.product_keys[issue.drug as usize];
                match groups.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, v)) => v.push(i),
                    None => groups.push((key, vec![i])),
                }
                first_opioid.get_or_insert(issue.date);
            }
            Some(Ok(Product::CoMedication(c))) => comeds.push((i, c)),
            Some(Err(_)) => lost.push(i),
            None => {}
        }
    }

    // Each opioid issue's dose: read, estimated, or unknown.
    let mut states: Vec<Option<DoseState>> = vec![None; rec.issues.len()];
    for (_, idx) in &groups {
        for (pos, &i) in idx.iter().enumerate() {
            let issue = rec.issues[i];
            states[i] = Some(match interp.items.get(&(issue.drug, issue.dose)) {
                Some(Ok(e)) => DoseState::Read(e.clone()),
                Some(Err(PairProblem::Invalid(why))) => {
                    DoseState::Unknown(NoDose::Invalid(why.clone()))
                }
                _ => estimate(rec, idx, pos, interp, cache, reference),
            });
        }
    }
    let resolved = Resolved {
        rec,
        groups,
        states,
        window: settings.window_days.max(1),
    };

    // Figures: opioid items per month and OME at each month's end.
    let mut monthly = Vec::with_capacity(settings.months.len());
    for m in &settings.months {
        let items = resolved
            .groups
            .iter()
            .flat_map(|(_, idx)| idx.iter())
            .filter(|&&i| rec.issues[i].date >= m.start && rec.issues[i].date <= m.as_of)
            .count() as u32;
        let ome = if items > 0 {
            resolved.ome_as_of(m.as_of)
        } else {
            0.0
        };
        monthly.push((items, ome));
    }
    let mut result = PatientResult {
        summary: None,
        entry: None,
        band: 0,
        high_flags: 0,
        caution_flags: 0,
        monthly,
    };

    // The current regimen.
    let today = settings.today;
    let mut current: Vec<usize> = Vec::new();
    for g in 0..resolved.groups.len() {
        resolved.chosen(g, today, |i| current.push(i));
    }
    if current.is_empty() {
        return result;
    }
    let mut items = Vec::with_capacity(current.len());
    let mut estimated = false;
    let mut unknown = false;
    for &i in &current {
        match &resolved.states[i] {
            Some(DoseState::Read(e)) => items.push(e.item.clone()),
            Some(DoseState::Estimated(e, _)) => {
                estimated = true;
                items.push(e.item.clone());
            }
            _ => unknown = true,
        }
    }
    let from = today - chrono::Duration::days(resolved.window - 1);
    let in_window = |i: &usize| rec.issues[*i].date >= from && rec.issues[*i].date <= today;
    let mut co_medications: Vec<String> = comeds
        .iter()
        .filter(|(i, _)| in_window(i))
        .map(|(_, c)| c.generic.clone())
        .collect();
    co_medications.sort();
    co_medications.dedup();
    let mut warnings = Vec::new();
    let paracetamol = paracetamol_mg_per_day(rec, &comeds, &in_window, interp, &mut warnings);
    let months_on = first_opioid.map(|d| whole_months(d, today) as f64);
    let patient_input = RawPatient {
        age: rec.age,
        sex: rec.sex.map(|s| s.as_str().to_string()),
        co_medications: (!co_medications.is_empty()).then(|| co_medications.clone()),
        co_medication_paracetamol_mg_per_day: paracetamol,
        months_on_opioids: months_on,
        ..RawPatient::default()
    };
    let options = crate::ome::OmeOptions::default();
    // The real assessment (`assess`: the OME engine, then the flags): the
    // same validated items and patient context as `stepdown assess` would
    // build from them. Without `detail` the flags are not put into words.
    let (ome, regular, complete, flags) =
        match PatientContext::validate(&patient_input, "patient", reference) {
            Ok(patient) => {
                let had_items = !items.is_empty();
                let regimen = Regimen { items };
                // Without `detail` only the numbers are kept, so the
                // working and warnings are not written (a tenth of an import).
                let report = if detail {
                    calculate(&regimen, PROFILE, reference, &options)
                } else {
                    calculate_numbers(&regimen, PROFILE, reference, &options)
                };
                debug_assert!(
                    detail
                        || crate::ome::same_numbers(
                            &report,
                            &calculate(&regimen, PROFILE, reference, &options)
                        ),
                    "calculate_numbers differs from calculate"
                );
                let ctx = FlagContext {
                    regimen: &regimen,
                    ome: &report,
                    patient: &patient.patient,
                    profile: PROFILE,
                    reference,
                    options: &options,
                };
                let worded = || -> Vec<(FlagId, Severity)> {
                    crate::flags::evaluate(&ctx)
                        .iter()
                        .map(|f| (f.id, f.severity))
                        .collect()
                };
                let flags = if detail { worded() } else { evaluate_ids(&ctx) };
                debug_assert!(
                    detail || flags == worded(),
                    "evaluate_ids differs from evaluate"
                );
                if !had_items {
                    // No item with a dose: no total, but the patient's own risks
                    // still show (a benzodiazepine co-prescribed, older age, …).
                    warnings
                        .push("no current item has a usable dose, so the total is unknown".into());
                } else if detail {
                    warnings.extend(report.warnings.iter().cloned());
                    warnings.extend(patient.warnings.iter().cloned());
                }
                (
                    report.total_ome_mg_per_day,
                    report.regular_ome_mg_per_day,
                    had_items && report.complete && !unknown,
                    flags,
                )
            }
            Err(errors) => {
                warnings.push(format!("could not assess: {}", field_words(&errors)));
                (resolved.ome_as_of(today), 0.0, false, Vec::new())
            }
        };
    result.band = match settings.specialist {
        Some(s) if ome >= s => 2,
        _ if ome >= settings.high_dose => 1,
        _ => 0,
    };
    let markers = markers_of(rec, &resolved, &current, &comeds, &in_window, interp);
    result.high_flags = flags
        .iter()
        .filter(|(_, severity)| *severity == Severity::High)
        .count() as u32
        // Unclear directions are an audit finding that raises the patient.
        + u32::from(markers & Marker::UnclearDirections.bit() != 0);
    result.caution_flags = flags
        .iter()
        .filter(|(_, severity)| *severity == Severity::Caution)
        .count() as u32;
    // Information-only flags (driving, naloxone advice) are for the patient
    // view: on every row they would crowd out the risks.
    let flag_ids: Vec<FlagId> = flags
        .iter()
        .filter(|(_, severity)| *severity != Severity::Info)
        .map(|(id, _)| *id)
        .collect();
    let info_flags: Vec<FlagId> = flags
        .iter()
        .filter(|(_, severity)| *severity == Severity::Info)
        .map(|(id, _)| *id)
        .collect();
    result.summary = Some(Summary {
        ome,
        complete,
        estimated,
        flags: flag_ids.clone(),
        markers,
    });
    if !detail {
        return result;
    }

    // The full entry, with words.
    for &i in &lost {
        let issue = rec.issues[i];
        if let Some(Err(NotUnderstood(why))) = interp
            .products
            .get(issue.drug as usize)
            .and_then(Option::as_ref)
        {
            warnings.insert(
                0,
                format!(
                    "an issue on {} ('{}') is no longer understood and is left out: {why}",
                    issue.date,
                    texts.get(issue.drug as usize).map_or("", String::as_str)
                ),
            );
        }
    }
    let items = current
        .iter()
        .map(|&i| item_entry(&resolved, i, interp, texts))
        .collect();
    let trend = settings
        .trend
        .iter()
        .map(|m| TrendPoint {
            month: m.label.clone(),
            as_of: m.as_of.to_string(),
            ome_mg_per_day: resolved.ome_as_of(m.as_of),
        })
        .collect();
    let last_issued = current
        .iter()
        .map(|&i| rec.issues[i].date)
        .max()
        .map(|d| d.to_string())
        .unwrap_or_default();
    let (supply_ome, supply_complete) = supply_figure(&resolved, interp, cache, today);
    let figures_differ = supply_ome.is_some_and(|s| {
        let fraction = reference
            .casefinding
            .setting(crate::reference::casefinding::CaseFindingSetting::SupplyDifferFraction);
        (s - ome).abs() > fraction * s.max(ome)
    });
    result.entry = Some(WorklistPatient {
        rank: 0,
        patient_id: rec.extract_id.clone(),
        nhs_number: rec.nhs_number.clone(),
        age: rec.age,
        sex: rec.sex,
        ome_mg_per_day: ome,
        regular_ome_mg_per_day: regular,
        complete,
        estimated,
        supply_ome_mg_per_day: supply_ome,
        supply_complete,
        figures_differ,
        flags: flag_ids,
        info_flags,
        markers: Marker::from_bits(markers),
        items,
        co_medications,
        months_on_opioids: months_on,
        last_issued,
        trend,
        patient: patient_input,
        warnings,
        claim: None,
        practice_code: None,
    });
    result
}

/// The audit markers of a patient's current regimen and window (bits of [`Marker`]).
fn markers_of(
    rec: &PatientRec,
    resolved: &Resolved<'_>,
    current: &[usize],
    comeds: &[(usize, &CoMedicationProduct)],
    in_window: &dyn Fn(&usize) -> bool,
    interp: &Interpreted<'_>,
) -> u32 {
    let reference = interp.reference;
    let product = |i: usize| match interp
        .products
        .get(rec.issues[i].drug as usize)
        .and_then(Option::as_ref)
    {
        Some(Ok(Product::Opioid(p))) => Some(p),
        _ => None,
    };
    let mut bits = 0;
    let mut set = |m: Marker, on: bool| {
        if on {
            bits |= m.bit();
        }
    };
    set(
        Marker::UnclearDirections,
        current
            .iter()
            .any(|&i| !matches!(resolved.states[i], Some(DoseState::Read(_)))),
    );
    let products: Vec<_> = current.iter().filter_map(|&i| product(i)).collect();
    set(
        Marker::ImmediateReleaseOnly,
        !products.is_empty()
            && products.iter().all(|p| {
                !matches!(p.strength, Strength::McgPerHour(_))
                    && p.release.unwrap_or(crate::vocabulary::Release::Immediate)
                        == crate::vocabulary::Release::Immediate
            }),
    );
    set(
        Marker::Combination,
        products.iter().any(|p| p.paracetamol_mg.is_some()),
    );
    let most_ml = reference
        .casefinding
        .setting(crate::reference::casefinding::CaseFindingSetting::LiquidIssueMaxMl);
    set(
        Marker::LargeLiquidIssue,
        resolved
            .groups
            .iter()
            .flat_map(|(_, idx)| idx.iter())
            .any(|&i| {
                in_window(&i)
                    && rec.issues[i].quantity > most_ml
                    && product(i).is_some_and(|p| {
                        p.drug == "morphine" && matches!(p.strength, Strength::MgPerMl(_))
                    })
            }),
    );
    set(
        Marker::DependenceForming,
        comeds.iter().any(|(i, c)| {
            in_window(i)
                && c.classes
                    .iter()
                    .any(|k| reference.casefinding.dependence_forming().any(|d| d == *k))
        }),
    );
    bits
}

/// The supply-based OME: for each current product, its latest issue measured
/// back to the one before (the quantity then ÷ the days between), whatever the
/// instructions say; and whether every current product could be measured.
fn supply_figure(
    resolved: &Resolved<'_>,
    interp: &Interpreted<'_>,
    cache: &mut EstimateCache,
    today: NaiveDate,
) -> (Option<f64>, bool) {
    let mut total = 0.0;
    let mut measured = 0;
    let mut complete = true;
    for (g, (_, idx)) in resolved.groups.iter().enumerate() {
        let mut latest = None;
        resolved.chosen(g, today, |i| latest = Some(i));
        let Some(i) = latest else { continue };
        let Some(pos) = idx.iter().position(|&x| x == i) else {
            continue;
        };
        // Measured backwards only: the latest issue's own quantity has no end yet.
        let before: Vec<usize> = idx[..=pos].to_vec();
        match estimate(resolved.rec, &before, pos, interp, cache, interp.reference) {
            DoseState::Estimated(e, _) => match e.ome {
                Some(o) => {
                    total += o;
                    measured += 1;
                }
                None => complete = false,
            },
            _ => complete = false,
        }
    }
    ((measured > 0).then(|| round2(total)), complete)
}

/// Paracetamol a day from paracetamol issued outside the opioid products, for
/// the paracetamol-limit flag: for each paracetamol product in the window,
/// its latest issue's instruction read at its maximum. An instruction that
/// cannot be read is left out with a warning, and so is an implausible total
/// (above the reference input limit).
fn paracetamol_mg_per_day(
    rec: &PatientRec,
    comeds: &[(usize, &CoMedicationProduct)],
    in_window: &dyn Fn(&usize) -> bool,
    interp: &Interpreted<'_>,
    warnings: &mut Vec<String>,
) -> Option<f64> {
    let mut latest: Vec<(u32, usize)> = Vec::new();
    for (i, c) in comeds {
        if !c.classes.contains(&DrugClass::Paracetamol) || !in_window(i) {
            continue;
        }
        let drug = rec.issues[*i].drug;
        match latest.iter_mut().find(|(d, _)| *d == drug) {
            // Issues are in date order, so a later one replaces an earlier one.
            Some(slot) => slot.1 = *i,
            None => latest.push((drug, *i)),
        }
    }
    let mut total = 0.0;
    for (_, i) in latest {
        let issue = rec.issues[i];
        let strength = comeds
            .iter()
            .find(|(j, _)| *j == i)
            .and_then(|(_, c)| c.strength_mg);
        let reading = interp
            .doses
            .get(issue.dose as usize)
            .and_then(Option::as_ref);
        let mg = match (reading, strength) {
            (Some(Ok(r)), Some(s)) if r.unit == DoseUnit::Count => {
                r.doses_per_day.map(|d| r.per_dose * d * s)
            }
            (Some(Ok(r)), _) if r.unit == DoseUnit::Mg => r.doses_per_day.map(|d| r.per_dose * d),
            _ => None,
        };
        match mg {
            Some(mg) => total += mg,
            None => warnings.push(format!(
                "paracetamol issued on {}: the instruction was not read, so it is not counted towards the paracetamol limit",
                issue.date
            )),
        }
    }
    let limit = interp
        .reference
        .risk
        .patient_limit(PatientField::CoMedicationParacetamolMgPerDay)
        .max;
    if total > limit {
        warnings.push(format!(
            "paracetamol from other medicines reads as {} mg a day, which is implausible; it is not counted",
            num(total)
        ));
        return None;
    }
    (total > 0.0).then_some(total)
}

/// A current issue as a worklist item, with the estimate or the missing dose in words.
fn item_entry(
    resolved: &Resolved<'_>,
    i: usize,
    interp: &Interpreted<'_>,
    texts: &[String],
) -> WorklistItem {
    let issue = resolved.rec.issues[i];
    let text = |t: u32| texts.get(t as usize).cloned().unwrap_or_default();
    let instruction = text(issue.dose);
    let product = match interp
        .products
        .get(issue.drug as usize)
        .and_then(Option::as_ref)
    {
        Some(Ok(Product::Opioid(p))) => Some(p),
        _ => None,
    };
    let unit = match product.map(|p| p.strength) {
        Some(Strength::MgPerMl(_)) => "mL",
        Some(Strength::McgPerHour(_)) => "patches",
        _ => "tablets or capsules",
    };
    let why = || match interp.items.get(&(issue.drug, issue.dose)) {
        Some(Err(PairProblem::Unreadable(w))) => w.clone(),
        _ => "it was not read".into(),
    };
    let (eval, estimate, problem) = match &resolved.states[i] {
        Some(DoseState::Read(e)) => (Some(e.clone()), None, None),
        Some(DoseState::Estimated(e, how)) => {
            let span = if how.forward {
                "until the next issue of the same product"
            } else {
                "issued before this one, until this issue"
            };
            (
                Some(e.clone()),
                Some(format!(
                    "estimated: the instruction '{instruction}' cannot be read ({}); {} {unit} {span} ({} to {}, {} days) = {} {unit} a day",
                    why(),
                    num(how.quantity),
                    how.from,
                    how.to,
                    (how.to - how.from).num_days(),
                    num(how.daily)
                )),
                None,
            )
        }
        Some(DoseState::Unknown(NoDose::Invalid(w))) => (None, None, Some(w.clone())),
        Some(DoseState::Unknown(NoDose::NoOtherIssue)) => (
            None,
            None,
            Some(format!(
                "the instruction '{instruction}' cannot be read ({}), and there is no other issue of the same product with a quantity to estimate from",
                why()
            )),
        ),
        Some(DoseState::Unknown(NoDose::BadEstimate(bad))) => (
            None,
            None,
            Some(format!(
                "the instruction '{instruction}' cannot be read ({}), and the estimate from quantities is not usable: {bad}",
                why()
            )),
        ),
        None => (None, None, Some("not read".into())),
    };
    WorklistItem {
        label: interp
            .labels
            .get(issue.drug as usize)
            .cloned()
            .flatten()
            .unwrap_or_default(),
        drug: product.map(|p| p.drug.clone()).unwrap_or_default(),
        product_id: product.and_then(|p| p.product_id.clone()),
        description: text(issue.drug),
        instruction,
        last_issued: issue.date.to_string(),
        quantity: (issue.quantity > 0.0).then_some(issue.quantity),
        ome_mg_per_day: eval.as_ref().and_then(|e| e.ome),
        as_needed: eval.as_ref().is_some_and(|e| e.raw.as_needed == Some(true)),
        estimated: estimate.is_some(),
        dose_note: match (&resolved.states[i], interp.doses.get(issue.dose as usize)) {
            (Some(DoseState::Read(_)), Some(Some(Ok(r)))) => r.ambiguous.clone(),
            _ => None,
        },
        estimate,
        dose_problem: problem,
        item: eval.map(|e| e.raw.clone()),
    }
}

/// Estimates the dose of issue `idx[pos]` from quantities and intervals of
/// the same product: its own quantity until the next issue, else the previous
/// issue's quantity until this one.
fn estimate(
    rec: &PatientRec,
    idx: &[usize],
    pos: usize,
    interp: &Interpreted<'_>,
    cache: &mut EstimateCache,
    reference: &Reference,
) -> DoseState {
    let issue = rec.issues[idx[pos]];
    let date = issue.date;
    let qty_on = |d: NaiveDate| -> f64 {
        idx.iter()
            .map(|&i| rec.issues[i])
            .filter(|x| x.date == d)
            .map(|x| x.quantity)
            .sum()
    };
    let next = idx.iter().map(|&i| rec.issues[i].date).find(|d| *d > date);
    let prev = idx
        .iter()
        .rev()
        .map(|&i| rec.issues[i].date)
        .find(|d| *d < date);
    let (q, from, to, forward) = match (next, prev) {
        (Some(n), _) if qty_on(date) > 0.0 => (qty_on(date), date, n, true),
        (_, Some(p)) if qty_on(p) > 0.0 => (qty_on(p), p, date, false),
        _ => return DoseState::Unknown(NoDose::NoOtherIssue),
    };
    let days = (to - from).num_days();
    let daily = q / days as f64;
    let result = cache
        .items
        .entry((issue.drug, daily.to_bits()))
        .or_insert_with(|| estimate_item(interp, issue.drug, daily, reference).map(Arc::new))
        .clone();
    match result {
        Ok(e) => DoseState::Estimated(
            e,
            EstimateHow {
                quantity: q,
                from,
                to,
                daily,
                forward,
            },
        ),
        Err(bad) => DoseState::Unknown(NoDose::BadEstimate(bad)),
    }
}
