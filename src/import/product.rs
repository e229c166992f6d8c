//! Product descriptions in prescribing extracts (dm+d style, e.g.
//! "Morphine 30mg modified-release tablets", "Co-codamol 30mg/500mg tablets",
//! "Fentanyl 25micrograms/hour transdermal patches", "Butec 10micrograms/hour")
//! → drug, route, form, release and strength.
//!
//! What is recognised, and from where:
//! - opioids by generic name (every drug in the OME factor tables), by UK
//!   brand (the catalogue's `brand_examples`) or by combination name
//!   (co-codamol, co-dydramol: the catalogue's `combination`);
//! - other medicines that change opioid risk (benzodiazepines, Z-drugs,
//!   gabapentinoids, antidepressants, …) through the co-medication table,
//!   by generic or brand name, so that they can raise flags;
//! - anything else is "not understood", with the reason.
//!
//! No clinical number is typed here: strengths come from the description and
//! are matched against the catalogue only to name the product line. Pure.

use serde::Serialize;

use super::text::{find_seq, tokenise, words, Tok};
use crate::reference::risk::DrugClass;
use crate::reference::{ProductRow, Reference, WearHours};
use crate::vocabulary::{num, Form, Release, Route};

/// Strength of one unit of an opioid product.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "unit", content = "value", rename_all = "snake_case")]
pub enum Strength {
    /// mg of the opioid in a tablet, capsule or other solid unit.
    Mg(f64),
    /// mg of the opioid per mL of a liquid.
    MgPerMl(f64),
    /// Micrograms an hour released by one patch.
    McgPerHour(f64),
}

impl Strength {
    /// The number, whatever its unit.
    pub fn value(self) -> f64 {
        match self {
            Strength::Mg(x) | Strength::MgPerMl(x) | Strength::McgPerHour(x) => x,
        }
    }

    /// The strength in words: "30 mg", "2 mg/mL", "25 micrograms/hour".
    pub fn words(self) -> String {
        match self {
            Strength::Mg(x) => format!("{} mg", num(x)),
            Strength::MgPerMl(x) => format!("{} mg/mL", num(x)),
            Strength::McgPerHour(x) => format!("{} micrograms/hour", num(x)),
        }
    }
}

/// An opioid product as read from its description.
#[derive(Debug, Clone, PartialEq)]
pub struct OpioidProduct {
    /// Lower-case generic name of the opioid (for combinations, the opioid part).
    pub drug: String,
    /// Route.
    pub route: Route,
    /// Form, when the description (or the brand) says; `None` for other solids.
    pub form: Option<Form>,
    /// Release; `None` for patches.
    pub release: Option<Release>,
    /// Strength of one unit.
    pub strength: Strength,
    /// Paracetamol per tablet or capsule of a combination product.
    pub paracetamol_mg: Option<f64>,
    /// Naloxone per tablet of oxycodone with naloxone (Targinact 20 mg/10 mg).
    pub naloxone_mg: Option<f64>,
    /// The catalogue product line it belongs to, if any.
    pub product_id: Option<String>,
    /// How long one patch is worn (patches in the catalogue only).
    pub wear_hours: Option<WearHours>,
    /// The brand named in the description, if any.
    pub brand: Option<String>,
}

impl OpioidProduct {
    /// A key that is equal for issues of the same product (drug, route, form,
    /// release, strength, paracetamol or naloxone), whatever the brand or
    /// wording; used to find the previous and next issue of a product.
    pub fn key(&self) -> String {
        let mut key = format!(
            "{}|{}|{}|{}|{}|{}",
            self.drug,
            self.route,
            self.form.map_or("", Form::as_str),
            self.release.map_or("", Release::as_str),
            self.strength.words(),
            self.paracetamol_mg.map(num).unwrap_or_default()
        );
        if let Some(n) = self.naloxone_mg {
            key.push_str(&format!("|naloxone {}", num(n)));
        }
        key
    }

    /// The product in words, e.g. "morphine 30 mg modified-release tablet".
    pub fn describe(&self) -> String {
        let release = match self.release {
            Some(Release::Modified) => " modified-release",
            _ => "",
        };
        let form = match (self.form, self.route) {
            (Some(f), _) => format!(" {f}"),
            (None, Route::Oral) => String::new(),
            (None, r) => format!(" ({r})"),
        };
        let combination = match (self.paracetamol_mg, self.naloxone_mg) {
            (Some(p), _) => format!(" with paracetamol {} mg", num(p)),
            (None, Some(n)) => format!(" with naloxone {} mg", num(n)),
            (None, None) => String::new(),
        };
        format!(
            "{} {}{combination}{release}{form}",
            self.drug,
            self.strength.words()
        )
    }
}

/// A medicine that is not an opioid but changes opioid risk.
#[derive(Debug, Clone, PartialEq)]
pub struct CoMedicationProduct {
    /// Generic name from the co-medication table.
    pub generic: String,
    /// Its classes.
    pub classes: Vec<DrugClass>,
    /// mg per tablet or capsule, when the description gives it (used for
    /// paracetamol, which counts towards the daily paracetamol limit).
    pub strength_mg: Option<f64>,
}

/// What a product description is.
#[derive(Debug, Clone, PartialEq)]
pub enum Product {
    /// An opioid, counted towards OME.
    Opioid(OpioidProduct),
    /// A co-medication, used for flags.
    CoMedication(CoMedicationProduct),
}

/// Why a description was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotUnderstood(pub String);

fn nu<T>(msg: impl Into<String>) -> Result<T, NotUnderstood> {
    Err(NotUnderstood(msg.into()))
}

/// Reads product descriptions against the reference tables. Build once and
/// reuse: it precomputes the brand and combination names.
#[derive(Debug)]
pub struct ProductReader<'r> {
    reference: &'r Reference,
    /// (name as words, catalogue row), longest names first so that
    /// "palladone sr" wins over "palladone".
    names: Vec<(Vec<String>, NameKind, &'r ProductRow)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameKind {
    Brand,
    Combination,
}

fn name_words(name: &str) -> Vec<String> {
    words(&tokenise(name))
        .into_iter()
        .map(str::to_string)
        .collect()
}

const MG: &[&str] = &["mg", "mgs", "milligram", "milligrams"];
const GRAM: &[&str] = &["g", "gram", "grams", "gm"];
const MCG: &[&str] = &["microgram", "micrograms", "mcg", "mcgs", "ug", "micrograms"];
const ML: &[&str] = &[
    "ml",
    "mls",
    "millilitre",
    "millilitres",
    "milliliter",
    "milliliters",
];
const HOUR: &[&str] = &["hour", "hours", "hr", "hrs", "h"];
const PATCH: &[&str] = &["patch", "patches", "transdermal"];
const TABLET: &[&str] = &["tablet", "tablets", "tab", "tabs", "caplet", "caplets"];
const CAPSULE: &[&str] = &["capsule", "capsules", "cap", "caps"];
const LIQUID: &[&str] = &[
    "solution",
    "liquid",
    "syrup",
    "linctus",
    "suspension",
    "elixir",
    "concentrate",
    "mixture",
];
const OTHER_SOLID: &[&str] = &["granules", "sachet", "sachets", "powder"];
const INJECTION: &[&str] = &[
    "injection",
    "injections",
    "ampoule",
    "ampoules",
    "infusion",
    "vial",
    "vials",
];
/// Words (or word pairs) that mean modified release in UK product names.
const MODIFIED: &[&[&str]] = &[
    &["modified", "release"],
    &["prolonged", "release"],
    &["sustained", "release"],
    &["slow", "release"],
    &["controlled", "release"],
    &["extended", "release"],
    &["m", "r"],
    &["mr"],
    &["sr"],
    &["xl"],
    &["cr"],
    &["la"],
    &["retard"],
    &["continus"],
];

/// One strength mention found in the text, with the token position it starts at.
#[derive(Debug, Clone, Copy)]
struct Mention {
    at: usize,
    kind: MentionKind,
}

#[derive(Debug, Clone, Copy)]
enum MentionKind {
    Mg(f64),
    MgPerMl(f64),
    McgPerHour(f64),
    /// "30mg/500mg" or "30/500": the opioid and paracetamol of a combination.
    Pair(f64, f64),
    /// A number with no unit.
    Bare(f64),
}

fn mentions(t: &[Tok]) -> Vec<Mention> {
    let mut out = Vec::new();
    let mut i = 0;
    let is = |j: usize, set: &[&str]| t.get(j).is_some_and(|x| x.is_any(set));
    while i < t.len() {
        let Some(n) = t[i].num() else {
            i += 1;
            continue;
        };
        let at = i;
        // N mg …
        if is(i + 1, MG) || is(i + 1, GRAM) {
            let mg = if is(i + 1, GRAM) { n * 1000.0 } else { n };
            // … / M ml, / ml, in M ml, per M ml
            let sep = i + 2;
            let joined = matches!(t.get(sep), Some(Tok::Slash))
                || t.get(sep).is_some_and(|x| x.is_any(&["in", "per"]));
            if joined {
                if let Some(m) = t.get(sep + 1).and_then(Tok::num) {
                    if is(sep + 2, ML) && m > 0.0 {
                        out.push(Mention {
                            at,
                            kind: MentionKind::MgPerMl(mg / m),
                        });
                        i = sep + 3;
                        continue;
                    }
                    if is(sep + 2, MG) || is(sep + 2, GRAM) {
                        let second = if is(sep + 2, GRAM) { m * 1000.0 } else { m };
                        out.push(Mention {
                            at,
                            kind: MentionKind::Pair(mg, second),
                        });
                        i = sep + 3;
                        continue;
                    }
                }
                if is(sep + 1, ML) {
                    out.push(Mention {
                        at,
                        kind: MentionKind::MgPerMl(mg),
                    });
                    i = sep + 2;
                    continue;
                }
            }
            out.push(Mention {
                at,
                kind: MentionKind::Mg(mg),
            });
            i += 2;
            continue;
        }
        // N micrograms (/ | per) hour, or N micrograms alone.
        if is(i + 1, MCG) {
            let per_hour = (matches!(t.get(i + 2), Some(Tok::Slash)) || is(i + 2, &["per", "an"]))
                && is(i + 3, HOUR);
            let compact_per_hour = is(i + 2, HOUR);
            if per_hour || compact_per_hour {
                out.push(Mention {
                    at,
                    kind: MentionKind::McgPerHour(n),
                });
                i += if per_hour { 4 } else { 3 };
            } else {
                out.push(Mention {
                    at,
                    kind: MentionKind::Mg(n / 1000.0),
                });
                // Remember it might be a patch rate written without "/hour".
                out.push(Mention {
                    at,
                    kind: MentionKind::Bare(n),
                });
                i += 2;
            }
            continue;
        }
        // N / M with no units (co-codamol "30/500").
        if matches!(t.get(i + 1), Some(Tok::Slash)) {
            if let Some(m) = t.get(i + 2).and_then(Tok::num) {
                out.push(Mention {
                    at,
                    kind: MentionKind::Pair(n, m),
                });
                i += 3;
                continue;
            }
        }
        out.push(Mention {
            at,
            kind: MentionKind::Bare(n),
        });
        i += 1;
    }
    out
}

impl<'r> ProductReader<'r> {
    /// A reader over `reference`.
    pub fn new(reference: &'r Reference) -> ProductReader<'r> {
        let mut names = Vec::new();
        for row in &reference.products.rows {
            for b in &row.brand_examples {
                names.push((name_words(b), NameKind::Brand, row));
            }
            if let Some(c) = &row.combination {
                names.push((name_words(&c.name), NameKind::Combination, row));
                // "Cocodamol" written as one word.
                let joined = name_words(&c.name).concat();
                names.push((vec![joined], NameKind::Combination, row));
            }
        }
        names.sort_by_key(|(w, _, _)| std::cmp::Reverse(w.len()));
        ProductReader { reference, names }
    }

    /// Reads one description.
    pub fn read(&self, text: &str) -> Result<Product, NotUnderstood> {
        let toks = tokenise(text);
        let ws = words(&toks);
        if ws.is_empty() {
            return nu("the drug description is empty");
        }

        // Which opioid: a combination or brand name, else a generic name.
        let named = self
            .names
            .iter()
            .find_map(|(seq, kind, row)| {
                let seq: Vec<&str> = seq.iter().map(String::as_str).collect();
                find_seq(&ws, &seq).map(|_| (*kind, *row, seq.join(" ")))
            })
            .filter(|(kind, row, _)| {
                // A brand shared by two lines (OxyNorm) is resolved by form below.
                *kind == NameKind::Combination || !row.brand_examples.is_empty()
            });
        let generics: Vec<&str> = self
            .reference
            .known_drugs()
            .iter()
            .map(String::as_str)
            .filter(|d| ws.contains(d))
            .collect();
        let drug = match (&named, generics.as_slice()) {
            (Some((_, row, _)), _) => row.drug.clone(),
            (None, [one]) => one.to_string(),
            (None, []) => return self.co_medication(text, &ws),
            (None, many) => {
                return nu(format!(
                    "the description names more than one opioid ({}); enter each product on its own row",
                    many.join(", ")
                ))
            }
        };
        let has = |set: &[&str]| ws.iter().any(|w| set.contains(w));
        let seq = |s: &[&str]| find_seq(&ws, s).is_some();

        // Route and form: from the words, else from the named product line.
        if has(INJECTION) {
            return nu(format!(
                "{drug} injection: injections are not counted (the route, under the skin, into a muscle or a vein, is not stated)"
            ));
        }
        if has(&["nasal", "spray"]) {
            return nu(format!(
                "{drug} nasal spray: the nasal route has no conversion in the reference tables"
            ));
        }
        let named_row = named.as_ref().map(|(_, row, _)| *row);
        let (mut route, mut form) = if has(PATCH) {
            (Some(Route::Transdermal), Some(Form::Patch))
        } else if has(&["sublingual"]) {
            (Some(Route::Sublingual), form_word(&ws))
        } else if has(&["buccal", "lozenge", "lozenges", "oromucosal"]) {
            (Some(Route::Buccal), form_word(&ws))
        } else if has(&["suppository", "suppositories", "rectal"]) {
            (Some(Route::Rectal), None)
        } else if has(LIQUID) || seq(&["oral", "drops"]) {
            (Some(Route::Oral), Some(Form::Solution))
        } else if let Some(f) = form_word(&ws) {
            (Some(Route::Oral), Some(f))
        } else if has(OTHER_SOLID) {
            (Some(Route::Oral), None)
        } else {
            (None, None)
        };

        // Strength.
        let found = mentions(&toks);
        // A combination named by its brand (Tramacet) counts as one named by
        // its combination name: the paracetamol comes from the catalogue.
        let combination = named
            .as_ref()
            .filter(|(k, row, _)| *k == NameKind::Combination || row.combination.is_some())
            .and_then(|(_, row, _)| row.combination.clone());
        let names_paracetamol = ws.contains(&"paracetamol");
        let mut paracetamol_mg = None;
        let strength = if combination.is_some() || names_paracetamol {
            // Combination: "30mg/500mg", "30/500", or "codeine 30mg … paracetamol 500mg".
            if let Some((o, p)) = found.iter().find_map(|m| match m.kind {
                MentionKind::Pair(o, p) => Some((o, p)),
                _ => None,
            }) {
                paracetamol_mg = Some(p);
                Some(Strength::Mg(o))
            } else if names_paracetamol {
                let at_drug = toks.iter().position(|t| t.is(&drug));
                let at_para = toks.iter().position(|t| t.is("paracetamol"));
                let near = |from: Option<usize>| {
                    from.and_then(|f| {
                        found.iter().find_map(|m| match m.kind {
                            MentionKind::Mg(x) if m.at > f => Some(x),
                            _ => None,
                        })
                    })
                };
                paracetamol_mg = near(at_para);
                near(at_drug).map(Strength::Mg)
            } else {
                // "Co-codamol 30mg tablets": the paracetamol comes from the catalogue.
                paracetamol_mg = combination.as_ref().map(|c| c.paracetamol_mg_per_unit);
                found.iter().find_map(|m| match m.kind {
                    MentionKind::Mg(x) => Some(Strength::Mg(x)),
                    _ => None,
                })
            }
        } else {
            let want_patch =
                form == Some(Form::Patch) || named_row.is_some_and(|r| r.form == Form::Patch);
            let want_liquid = form == Some(Form::Solution)
                || (form.is_none() && named_row.is_some_and(|r| r.form == Form::Solution));
            let first =
                |pick: fn(MentionKind) -> Option<Strength>| found.iter().find_map(|m| pick(m.kind));
            if want_patch {
                first(|k| match k {
                    MentionKind::McgPerHour(x) => Some(Strength::McgPerHour(x)),
                    _ => None,
                })
                .or_else(|| {
                    // "Butec 10 patches": a bare number that is one of the line's rates.
                    let rates = self.patch_rates(&drug);
                    first(|k| match k {
                        MentionKind::Bare(x) => Some(Strength::McgPerHour(x)),
                        _ => None,
                    })
                    .filter(|s| rates.contains(&s.value()))
                })
                // A strength in mg is reported as the wrong unit below.
                .or_else(|| first(mg_only))
            } else if want_liquid {
                first(|k| match k {
                    MentionKind::MgPerMl(x) => Some(Strength::MgPerMl(x)),
                    _ => None,
                })
                .or_else(|| {
                    // "Oramorph oral solution": a brand with a single strength.
                    named_row
                        .and_then(|r| r.strengths_mg_per_ml.as_deref())
                        .filter(|s| s.len() == 1)
                        .map(|s| Strength::MgPerMl(s[0]))
                })
                .or_else(|| first(mg_only))
            } else {
                first(|k| match k {
                    // "Oxycodone 10mg / Naloxone 5mg": the opioid is named first.
                    MentionKind::Mg(x) | MentionKind::Pair(x, _) => Some(Strength::Mg(x)),
                    MentionKind::MgPerMl(x) => Some(Strength::MgPerMl(x)),
                    MentionKind::McgPerHour(x) => Some(Strength::McgPerHour(x)),
                    _ => None,
                })
            }
        };
        // Oxycodone with naloxone: "Oxycodone 20mg / Naloxone 10mg" (the mg
        // after the word naloxone) or "Targinact 20mg/10mg" (the pair's second
        // part); a line named without its naloxone gets it from the catalogue below.
        let names_naloxone = ws.contains(&"naloxone")
            || named_row.is_some_and(|r| {
                r.other_ingredient
                    .as_ref()
                    .is_some_and(|o| o.name == "naloxone")
            });
        let naloxone_mg = if names_naloxone && combination.is_none() && !names_paracetamol {
            let at = toks.iter().position(|t| t.is("naloxone"));
            found
                .iter()
                .find_map(|m| match m.kind {
                    MentionKind::Pair(_, n) => Some(n),
                    MentionKind::Mg(n) if at.is_some_and(|a| m.at > a) => Some(n),
                    _ => None,
                })
                .filter(|n| n.is_finite() && *n > 0.0)
        } else {
            None
        };
        let Some(strength) = strength.filter(|s| s.value().is_finite() && s.value() > 0.0) else {
            return nu(format!(
                "{drug}: no strength found in the description (e.g. \"30mg\", \"10mg/5ml\", \"25micrograms/hour\")"
            ));
        };

        // The strength's unit settles a form the words left open.
        match strength {
            Strength::McgPerHour(_) => {
                if matches!(form, Some(f) if f != Form::Patch) {
                    return nu(format!(
                        "{drug}: a strength in micrograms/hour belongs to a patch, but the description says {}",
                        form.map_or("", Form::as_str)
                    ));
                }
                route = Some(Route::Transdermal);
                form = Some(Form::Patch);
            }
            Strength::MgPerMl(_) => {
                if matches!(form, Some(Form::Tablet | Form::Capsule | Form::Patch)) {
                    return nu(format!(
                        "{drug}: a strength in mg/mL belongs to a liquid, but the description says {}",
                        form.map_or("", Form::as_str)
                    ));
                }
                form = Some(Form::Solution);
                route.get_or_insert(Route::Oral);
            }
            Strength::Mg(_) => {
                if form == Some(Form::Patch) {
                    return nu(format!(
                        "{drug} patch: the strength must be in micrograms/hour (e.g. \"25micrograms/hour\")"
                    ));
                }
                if form == Some(Form::Solution) {
                    return nu(format!(
                        "{drug} liquid: the strength must be per mL (e.g. \"10mg/5ml\")"
                    ));
                }
                if route.is_none() {
                    if let Some(row) = named_row {
                        route = Some(row.route);
                        form = Some(row.form);
                    } else {
                        route = Some(Route::Oral);
                    }
                }
            }
        }
        let route = route.unwrap_or(Route::Oral);

        // Release: stated, else the named line's, else immediate. Patches have none.
        let release = if form == Some(Form::Patch) {
            None
        } else if MODIFIED.iter().any(|s| seq(s))
            || seq(&["12", "hour"])
            || seq(&["24", "hour"])
            || has(&["hourly"])
        {
            Some(Release::Modified)
        } else if seq(&["immediate", "release"]) || has(&["ir"]) {
            Some(Release::Immediate)
        } else {
            Some(
                named_row
                    .filter(|r| r.form == form.unwrap_or(r.form))
                    .and_then(|r| r.release)
                    .unwrap_or(Release::Immediate),
            )
        };
        let daily_hint = has(&["xl", "mxl"])
            || toks
                .windows(2)
                .any(|w| w[0].num() == Some(24.0) && w[1].is_any(HOUR))
            || seq(&["once", "daily"]);

        let mut product = OpioidProduct {
            drug,
            route,
            form,
            release,
            strength,
            paracetamol_mg,
            naloxone_mg,
            product_id: None,
            wear_hours: None,
            brand: named
                .as_ref()
                .filter(|(k, _, _)| *k == NameKind::Brand)
                .and_then(|(_, row, seq)| {
                    row.brand_examples
                        .iter()
                        .find(|b| name_words(b).join(" ") == *seq)
                        .cloned()
                }),
        };
        if let Some(row) = self.catalogue_row(&product, named_row, daily_hint, &ws) {
            product.product_id = Some(row.id.clone());
            product.wear_hours = row.wear_hours;
            if product.paracetamol_mg.is_none() {
                product.paracetamol_mg =
                    row.combination.as_ref().map(|c| c.paracetamol_mg_per_unit);
            }
            // "Targinact 20mg tablets": the naloxone comes from the catalogue.
            if product.naloxone_mg.is_none() && row.combination.is_none() {
                product.naloxone_mg = row
                    .second_part(product.strength.value())
                    .filter(|(name, _)| name == "naloxone")
                    .map(|(_, mg)| mg);
            }
        }
        Ok(Product::Opioid(product))
    }

    fn patch_rates(&self, drug: &str) -> Vec<f64> {
        self.reference
            .products_of(drug)
            .flat_map(|p| p.strengths_mcg_per_hour.clone().unwrap_or_default())
            .collect()
    }

    /// The catalogue line this product is a strength of: same drug, route,
    /// form (or another form of the line), release and strength. The named
    /// line wins; then a 24-hourly line if the description says so; else the first.
    fn catalogue_row(
        &self,
        p: &OpioidProduct,
        named: Option<&'r ProductRow>,
        daily_hint: bool,
        ws: &[&str],
    ) -> Option<&'r ProductRow> {
        let fits = |r: &&ProductRow| {
            let strengths: Vec<f64> = match p.strength {
                Strength::Mg(_) => {
                    let mut s = r.strengths_mg.clone().unwrap_or_default();
                    if let Some(f) = p.form {
                        if f != r.form {
                            s = r
                                .other_forms
                                .iter()
                                .filter(|o| o.form == f)
                                .flat_map(|o| o.strengths_mg.clone())
                                .collect();
                        }
                    }
                    s
                }
                Strength::MgPerMl(_) => r.strengths_mg_per_ml.clone().unwrap_or_default(),
                Strength::McgPerHour(_) => r.strengths_mcg_per_hour.clone().unwrap_or_default(),
            };
            r.drug == p.drug
                && r.route == p.route
                && (p.form == Some(Form::Patch)) == (r.form == Form::Patch)
                && (r.form == Form::Patch || r.release == p.release)
                && strengths
                    .iter()
                    .any(|s| (s - p.strength.value()).abs() < 1e-9)
                && p.paracetamol_mg.is_some() == r.combination.is_some()
                // Naloxone read from the description: never a plain line.
                && (p.naloxone_mg.is_none() || r.other_ingredient.is_some())
                // A line with a second ingredient (naloxone) only when the
                // description names it or the brand: plain oxycodone is not Targinact.
                && r.other_ingredient.as_ref().is_none_or(|o| {
                    ws.contains(&o.name.as_str()) || named.is_some_and(|n| n.id == r.id)
                })
        };
        let candidates: Vec<&ProductRow> = self
            .reference
            .products
            .rows
            .iter()
            .filter(|r| fits(r))
            .collect();
        if let Some(n) = named.filter(|n| candidates.iter().any(|c| c.id == n.id)) {
            return Some(n);
        }
        if let Some(r) = candidates.iter().find(|r| r.other_ingredient.is_some()) {
            return Some(r);
        }
        if daily_hint {
            if let Some(r) = candidates
                .iter()
                .find(|r| r.dosing_interval_hours.is_some_and(|h| h >= 24.0))
            {
                return Some(r);
            }
        }
        candidates.first().copied()
    }

    /// A non-opioid medicine that changes opioid risk, by its leading words
    /// ("Diazepam 5mg tablets") or any single word ("Generic Lyrica").
    fn co_medication(&self, text: &str, ws: &[&str]) -> Result<Product, NotUnderstood> {
        let risk = &self.reference.risk;
        let leading = (1..=ws.len().min(3))
            .rev()
            .find_map(|n| risk.co_medication(&ws[..n].join(" ")));
        let row = leading.or_else(|| ws.iter().find_map(|w| risk.co_medication(w)));
        match row {
            Some(r) => Ok(Product::CoMedication(CoMedicationProduct {
                generic: r.name.clone(),
                classes: r.classes.clone(),
                // A solid's strength only: a liquid's mg/mL is not a unit's.
                strength_mg: mentions(&tokenise(text))
                    .iter()
                    .find_map(|m| match m.kind {
                        MentionKind::Mg(x) => Some(x),
                        _ => None,
                    })
                    .filter(|_| !ws.iter().any(|w| LIQUID.contains(w))),
            })),
            None => nu(format!(
                "'{}' is not an opioid in the reference tables nor a co-medication that changes opioid risk (benzodiazepines, Z-drugs, gabapentinoids, antidepressants and the others in the co-medication table)",
                text.trim()
            )),
        }
    }
}

fn mg_only(k: MentionKind) -> Option<Strength> {
    match k {
        MentionKind::Mg(x) => Some(Strength::Mg(x)),
        _ => None,
    }
}

fn form_word(ws: &[&str]) -> Option<Form> {
    if ws.iter().any(|w| CAPSULE.contains(w)) {
        Some(Form::Capsule)
    } else if ws.iter().any(|w| {
        TABLET.contains(w)
            || matches!(
                *w,
                "effervescent" | "soluble" | "dispersible" | "orodispersible"
            )
    }) {
        Some(Form::Tablet)
    } else {
        None
    }
}

#[cfg(test)]
#[path = "product_tests.rs"]
mod tests;
