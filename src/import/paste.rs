//! A medication list pasted from the clinical system (issue 18): one medicine
//! a line, the product and its dose instruction in columns (EMIS Web and
//! SystmOne copy their medication screens with a tab between columns). Each
//! line is read with the extract reader ([`super::product`], [`super::dose`],
//! [`super::regimen_item`]) into a regimen item, with how it was read; a line
//! that cannot be read says why. Nothing here is used until the clinician
//! confirms it (the desktop shows every reading and every line not read).
//!
//! The product and the dose are told apart only by the columns: a line with
//! no column break is not split by guesswork ("MST 30mg tablets two twice a
//! day" split in the wrong place would read as one tablet), it is listed as
//! not read.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::dose::DoseReader;
use super::product::{Product, ProductReader};
use super::{regimen_item, with_dose_times};
use crate::item::Regimen;
use crate::profile::Profile;
use crate::reference::casefinding::CaseFindingSetting;
use crate::reference::Reference;
use crate::regimen::RawItem;
use crate::vocabulary::num;

/// One line of the pasted list, as read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PastedLine {
    /// Line number in the pasted text, from 1.
    pub line: u32,
    /// The line as pasted (trimmed).
    pub text: String,
    /// The column read as the product description ("" when none was found).
    pub product_text: String,
    /// The column read as the dose instruction ("" when none was found).
    pub dose_text: String,
    /// The regimen item read from it; `None` when the line was not read.
    pub item: Option<RawItem>,
    /// How it was read, in words ("morphine 30 mg modified-release tablet: 2 a dose, 2 times a day").
    pub read_as: String,
    /// Why the reading may not be what the prescriber meant ("1/2" read as one or two).
    pub note: Option<String>,
    /// Why the line was not read (`item` is then `None`).
    pub problem: Option<String>,
    /// A medicine that is not an opioid but is in the co-medication table
    /// (sertraline, diazepam, pregabalin): its name as the patient context's
    /// `co_medications` takes it, offered for the clinician to add so the
    /// interaction flags (serotonergic, benzodiazepine, gabapentinoid) fire.
    pub co_medication: Option<String>,
}

/// The pasted list, line by line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PastedList {
    /// Every non-blank line, in order.
    pub lines: Vec<PastedLine>,
    /// Lines read into a regimen item.
    pub read: u32,
    /// Lines not read (neither an opioid item nor another medicine).
    pub unread: u32,
    /// Lines read as another medicine of the co-medication table.
    pub other_medicines: u32,
}

/// The columns of a pasted line: tabs, else runs of two or more spaces, else " - ".
fn columns(line: &str) -> Vec<String> {
    let split = |parts: Vec<&str>| -> Vec<String> {
        parts
            .into_iter()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    };
    if line.contains('\t') {
        return split(line.split('\t').collect());
    }
    let wide: Vec<String> = {
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut spaces = 0;
        for c in line.chars() {
            if c == ' ' {
                spaces += 1;
                continue;
            }
            if spaces >= 2 && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            } else if spaces == 1 && !cur.is_empty() {
                cur.push(' ');
            }
            spaces = 0;
            cur.push(c);
        }
        if !cur.is_empty() {
            out.push(cur);
        }
        out
    };
    if wide.len() > 1 {
        return wide;
    }
    split(line.split(" - ").collect())
}

fn dose_words(item: &RawItem) -> String {
    let mut parts = Vec::new();
    if let Some(doses) = &item.doses {
        parts.push(
            doses
                .iter()
                .map(|d| {
                    format!(
                        "{} {}",
                        d.time.clone().unwrap_or_default(),
                        d.units
                            .map(num)
                            .or_else(|| d.ml.map(|m| format!("{} mL", num(m))))
                            .unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
        );
    } else if let Some(p) = item.patches {
        parts.push(format!("{} patch(es) at a time", num(p)));
    } else {
        if let Some(u) = item.units_per_dose {
            parts.push(format!("{} a dose", num(u)));
        }
        if let Some(ml) = item.ml_per_dose {
            parts.push(format!("{} mL a dose", num(ml)));
        }
        if let Some(d) = item.doses_per_day {
            parts.push(format!(
                "{} {} a day",
                num(d),
                if d == 1.0 { "time" } else { "times" }
            ));
        }
    }
    if item.as_needed == Some(true) {
        parts.push("when needed (at most)".into());
    }
    parts.join(", ")
}

/// Reads one line, or says why it could not be read.
fn read_line(
    n: u32,
    text: &str,
    products: &ProductReader<'_>,
    doses: &DoseReader,
    reference: &Reference,
) -> PastedLine {
    let mut out = PastedLine {
        line: n,
        text: text.to_string(),
        product_text: String::new(),
        dose_text: String::new(),
        item: None,
        read_as: String::new(),
        note: None,
        problem: None,
        co_medication: None,
    };
    let cols = columns(text);
    // The first column that reads as a product (a date or a "Repeat" column may come first); the dose is the next one.
    let found = cols
        .iter()
        .enumerate()
        .find_map(|(i, c)| products.read(c).ok().map(|p| (i, p)));
    let Some((i, product)) = found else {
        out.problem = Some(match cols.first() {
            Some(first) => match products.read(first) {
                Err(e) => format!("the medicine was not recognised ({e})"),
                Ok(_) => "the medicine was not recognised".into(),
            },
            None => "the line is empty".into(),
        });
        return out;
    };
    out.product_text = cols[i].clone();
    let opioid = match product {
        Product::Opioid(o) => o,
        Product::CoMedication(c) => {
            // Not a regimen item: offered as another medicine for the risk
            // flags; its dose does not matter to them, so it is not read.
            out.read_as = format!("{}: another medicine, for the risk flags", c.generic);
            out.co_medication = Some(c.generic);
            return out;
        }
    };
    let Some(dose_text) = cols.get(i + 1) else {
        out.problem = Some(format!(
            "no dose instruction in a column after the medicine ({}): paste the list with its columns as the clinical system copies it (a tab between medicine and dose)",
            opioid.describe()
        ));
        return out;
    };
    out.dose_text = dose_text.clone();
    let reading = match doses.read(dose_text) {
        Ok(r) => r,
        Err(e) => {
            out.problem = Some(format!("the dose was not read ({})", e.0));
            return out;
        }
    };
    let raw = match regimen_item(&opioid, &reading) {
        Ok(raw) => match doses.read_times(dose_text) {
            Some(timed) => with_dose_times(raw, &opioid, &timed),
            None => raw,
        },
        Err(e) => {
            out.problem = Some(format!("the dose does not fit the product ({})", e.0));
            return out;
        }
    };
    if let Err(errors) =
        Regimen::validate(std::slice::from_ref(&raw), "items", Profile::Uk, reference)
    {
        out.problem = Some(format!(
            "read, but not a dose of this product: {}",
            errors
                .iter()
                .map(|e| format!(
                    "{} {}",
                    e.path.strip_prefix("items[0].").unwrap_or(&e.path),
                    e.message
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ));
        return out;
    }
    let max = reference
        .casefinding
        .setting(CaseFindingSetting::ExtractMaxUnitsPerDose);
    let units = raw.units_per_dose.or_else(|| {
        raw.doses
            .iter()
            .flatten()
            .filter_map(|d| d.units)
            .reduce(f64::max)
    });
    if let Some(u) = units.filter(|u| *u > max) {
        out.problem = Some(format!(
            "read as {} tablets or capsules a dose, more than the {} a dose that is plausible when read from text",
            num(u),
            num(max)
        ));
        return out;
    }
    out.read_as = format!("{}: {}", opioid.describe(), dose_words(&raw));
    out.note = reading.ambiguous.clone();
    out.item = Some(raw);
    out
}

/// Reads a pasted medication list, line by line (blank lines skipped).
pub fn read_pasted_list(text: &str, reference: &Reference) -> PastedList {
    let products = ProductReader::new(reference);
    let doses = DoseReader::new(reference);
    let lines: Vec<PastedLine> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            read_line(
                u32::try_from(i + 1).unwrap_or(u32::MAX),
                l.trim(),
                &products,
                &doses,
                reference,
            )
        })
        .collect();
    let read = lines.iter().filter(|l| l.item.is_some()).count();
    let other = lines.iter().filter(|l| l.co_medication.is_some()).count();
    PastedList {
        read: u32::try_from(read).unwrap_or(u32::MAX),
        unread: u32::try_from(lines.len() - read - other).unwrap_or(u32::MAX),
        other_medicines: u32::try_from(other).unwrap_or(u32::MAX),
        lines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::reference;

    #[test]
    fn reads_tab_separated_lines_and_lists_what_it_could_not_read() {
        let text =
            "Morphine 30mg modified-release tablets\tTwo To Be Taken Twice A Day\t112 tablet\n\
                    \n\
                    Co-codamol 30mg/500mg tablets\t1-2 four times a day when required\t100 tablet\n\
                    Sertraline 50mg tablets\tOne daily\t28 tablet\n\
                    Morphine 30mg modified-release tablets two twice a day\n\
                    Zzzz 10mg\tone daily\n";
        let list = read_pasted_list(text, reference());
        assert_eq!(list.lines.len(), 5, "the blank line is skipped");
        assert_eq!((list.read, list.other_medicines, list.unread), (2, 1, 2));
        let mst = list.lines[0].item.as_ref().unwrap();
        assert_eq!(mst.drug.as_deref(), Some("morphine"));
        assert_eq!(mst.strength_mg, Some(30.0));
        assert_eq!(
            (mst.units_per_dose, mst.doses_per_day),
            (Some(2.0), Some(2.0))
        );
        assert!(
            list.lines[0].read_as.contains("2 a dose, 2 times a day"),
            "{}",
            list.lines[0].read_as
        );
        let cocodamol = list.lines[1].item.as_ref().unwrap();
        assert_eq!(cocodamol.drug.as_deref(), Some("codeine"));
        assert_eq!(cocodamol.paracetamol_mg, Some(500.0));
        assert_eq!(cocodamol.as_needed, Some(true));
        assert_eq!(list.lines[1].line, 3, "line numbers count the blank line");
        // Sertraline is offered as another medicine (the serotonergic flag), never dropped.
        assert_eq!(list.lines[2].co_medication.as_deref(), Some("sertraline"));
        assert!(list.lines[2].item.is_none() && list.lines[2].problem.is_none());
        assert!(
            list.lines[3]
                .problem
                .as_ref()
                .unwrap()
                .contains("no dose instruction in a column"),
            "never split by guesswork: {:?}",
            list.lines[3].problem
        );
        assert!(list.lines[4]
            .problem
            .as_ref()
            .unwrap()
            .contains("not recognised"));
    }

    #[test]
    fn oxycodone_with_naloxone_keeps_its_naloxone() {
        let text = "Oxycodone 20mg / Naloxone 10mg modified-release tablets\tOne To Be Taken Twice A Day\t56 tablet\n\
                    Targinact 10mg/5mg prolonged-release tablets\tone twice a day\t56 tablet\n\
                    Oxycodone 20mg modified-release tablets\tone twice a day\t56 tablet\n";
        let list = read_pasted_list(text, reference());
        assert_eq!((list.read, list.unread), (3, 0), "{list:?}");
        let item = |i: usize| list.lines[i].item.clone().unwrap();
        assert_eq!(
            (item(0).strength_mg, item(0).naloxone_mg),
            (Some(20.0), Some(10.0))
        );
        assert_eq!(
            (item(1).strength_mg, item(1).naloxone_mg),
            (Some(10.0), Some(5.0))
        );
        assert_eq!(item(2).naloxone_mg, None, "plain oxycodone stays plain");
    }

    #[test]
    fn columns_come_from_tabs_then_wide_spaces_then_dashes() {
        assert_eq!(columns("A b\tc d\t"), ["A b", "c d"]);
        assert_eq!(columns("A b   c d"), ["A b", "c d"]);
        assert_eq!(columns("A b - c d"), ["A b", "c d"]);
        assert_eq!(columns("A b c d"), ["A b c d"]);
    }
}
