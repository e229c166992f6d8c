//! The crate's shared vocabulary, at the bottom of the module graph: the
//! closed word lists that the reference tables, the clinical modules and the
//! store all name (routes, releases, forms, flag ids and severities), the one
//! macro that gives such a list its JSON names, labels and parser, the
//! nearest-name hint every "unknown word" error uses, and how a number is
//! written for people ([`num`]). It names no other module of the crate, so
//! anything may use it without making a cycle (tests/layering.rs).

use std::collections::BTreeSet;

/// A closed vocabulary as an enum: each variant's JSON name (serde and ts-rs
/// use it), optionally words for people, and `ALL`, `as_str`, `label`,
/// `parse` (case-insensitive), `unknown` (the error message with the nearest
/// names) and `Display`. Attributes before the name go on the enum
/// (`#[ts(export)]` for the UI's bindings, an extra `#[derive(Default)]`). One definition, so the names in JSON, in errors and
/// in the TypeScript bindings cannot drift apart.
///
/// ```text
/// vocabulary!(
///     /// Doc.
///     Sex, "sex" {
///         /// Doc.
///         Female => "female", "female",
///     }
/// );
/// ```
/// The label (after the JSON name) is optional for the whole list.
macro_rules! vocabulary {
    (
        $(#[$doc:meta])*
        $name:ident, $what:literal {
            $( $(#[$vdoc:meta])* $variant:ident => $json:literal, $label:literal ),+ $(,)?
        }
    ) => {
        $crate::vocabulary::vocabulary!(@enum
            $(#[$doc])* $name, $what { $( $(#[$vdoc])* $variant => $json ),+ }
        );

        impl $name {
            /// Words for people, as used in flag rationales.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
        }
    };
    (
        $(#[$doc:meta])*
        $name:ident, $what:literal {
            $( $(#[$vdoc:meta])* $variant:ident => $json:literal ),+ $(,)?
        }
    ) => {
        $crate::vocabulary::vocabulary!(@enum
            $(#[$doc])* $name, $what { $( $(#[$vdoc])* $variant => $json ),+ }
        );
    };
    (@enum
        $(#[$doc:meta])*
        $name:ident, $what:literal {
            $( $(#[$vdoc:meta])* $variant:ident => $json:literal ),+
        }
    ) => {
        // The derive first: `#[ts(export)]` among the caller's attributes
        // needs it introduced.
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            PartialOrd,
            Ord,
            serde::Serialize,
            serde::Deserialize,
            ts_rs::TS,
        )]
        $(#[$doc])*
        pub enum $name {
            $( $(#[$vdoc])* #[serde(rename = $json)] $variant, )+
        }

        impl $name {
            /// Every value, in the order error messages list them.
            pub const ALL: [$name; [$($json),+].len()] = [$($name::$variant),+];

            /// The JSON name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $json),+ }
            }

            /// Parses the JSON name (case-insensitive, surrounding spaces ignored).
            pub fn parse(s: &str) -> Option<$name> {
                let s = s.trim().to_ascii_lowercase();
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }

            /// The error for a word that is none of these, with the nearest
            /// names if it looks like a typo.
            pub fn unknown(got: &str) -> String {
                $crate::vocabulary::unknown_word($what, got, &Self::ALL.map(Self::as_str))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use vocabulary;

/// "unknown route 'orall' (did you mean oral? accepted: oral, ...)": the
/// word that was not recognised, the nearest accepted ones, and all of them.
pub(crate) fn unknown_word(what: &str, got: &str, accepted: &[&str]) -> String {
    let all = accepted.join(", ");
    match nearest(&got.trim().to_lowercase(), accepted.iter().copied()).as_slice() {
        [] => format!("unknown {what} '{got}' (accepted: {all})"),
        close => format!(
            "unknown {what} '{got}' (did you mean {}? accepted: {all})",
            close.join(" or ")
        ),
    }
}

/// The candidates closest to `word` by edit distance, if close enough to be a
/// plausible typo (at most a third of the word's length, and at least 2 edits
/// allowed). Levenshtein from strsim (already built in for clap).
pub(crate) fn nearest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Vec<String> {
    let allowed = (word.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, &str)> = candidates
        .map(|c| (strsim::levenshtein(word, c), c))
        .filter(|(d, _)| *d <= allowed)
        .collect();
    let Some(best) = scored.iter().map(|(d, _)| *d).min() else {
        return Vec::new();
    };
    scored.retain(|(d, _)| *d == best);
    scored
        .into_iter()
        .map(|(_, c)| c.to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

vocabulary!(
    /// How serious a flag is. Ordered most severe first.
    #[ts(export)]
    Severity, "severity" {
        /// Act before or during this review.
        High => "high",
        /// Take into account when planning.
        Caution => "caution",
        /// Worth telling the patient; no change needed on its own.
        Info => "info",
    }
);

vocabulary!(
    /// Stable flag identifiers. The first seventeen are the contract's table;
    /// the rest are additions a UK clinician expects.
    #[ts(export)]
    FlagId, "flag" {
        /// Total OME at or above the high-dose threshold.
        HighDose => "high-dose",
        /// CDC profile: 50 ≤ total < 90 MME/day.
        DoseCaution => "dose-caution",
        /// A benzodiazepine or Z-drug among co-medications.
        Benzodiazepine => "benzodiazepine",
        /// Gabapentin or pregabalin among co-medications.
        Gabapentinoid => "gabapentinoid",
        /// Two or more different opioids.
        MultipleOpioids => "multiple-opioids",
        /// Renal impairment relevant to the regimen.
        RenalImpairment => "renal-impairment",
        /// Hepatic impairment recorded.
        HepaticImpairment => "hepatic-impairment",
        /// COPD, asthma or sleep apnoea.
        Respiratory => "respiratory",
        /// History of overdose or substance use disorder.
        OverdoseRisk => "overdose-risk",
        /// History of alcohol misuse.
        Alcohol => "alcohol",
        /// A serotonergic opioid with a serotonergic co-medication.
        Serotonergic => "serotonergic",
        /// Age at or above the older-adult threshold.
        OlderAdult => "older-adult",
        /// Pregnancy or breastfeeding.
        Pregnancy => "pregnancy",
        /// Paracetamol above the daily maximum.
        ParacetamolLimit => "paracetamol-limit",
        /// A fentanyl patch in an opioid-naive patient.
        FentanylOpioidNaive => "fentanyl-opioid-naive",
        /// An item the profile cannot convert.
        Unconvertible => "unconvertible",
        /// On opioids for the long-term threshold or longer.
        LongTermUse => "long-term-use",
        /// At or above the specialist-referral dose (UK: about 300 mg/day).
        VeryHighDose => "very-high-dose",
        /// Immediate-release together with modified-release or a patch.
        ImmediateAndModifiedRelease => "immediate-and-modified-release",
        /// Several patches worn at once.
        SeveralPatches => "several-patches",
        /// Tramadol or tapentadol with epilepsy.
        SeizureRisk => "seizure-risk",
        /// Depression or a mental health disorder.
        MentalHealth => "mental-health",
        /// Driving advice for any opioid regimen under review.
        Driving => "driving",
        /// Overdose risk factors present and no naloxone listed.
        Naloxone => "naloxone",
        /// Another CNS depressant (antipsychotic, sedating antihistamine) with an opioid.
        CnsDepressant => "cns-depressant",
        /// A drug's daily dose or dosing interval is beyond its licensed limit for this patient.
        AboveLicensedMaximum => "above-licensed-maximum",
        /// Morphine oral solution supplied in more than the audit quantity at one issue.
        MorphineSolutionQuantity => "morphine-solution-quantity",
    }
);

vocabulary!(
    /// How a medicine is given.
    #[ts(export)]
    Route, "route" {
        /// Swallowed (tablets, capsules, oral solutions).
        Oral => "oral",
        /// Through the skin (patches).
        Transdermal => "transdermal",
        /// Under the tongue.
        Sublingual => "sublingual",
        /// Against the inside of the cheek.
        Buccal => "buccal",
        /// Injected under the skin.
        Subcutaneous => "subcutaneous",
        /// Injected into a muscle.
        Intramuscular => "intramuscular",
        /// Injected into a vein.
        Intravenous => "intravenous",
        /// Suppositories.
        Rectal => "rectal",
    }
);

vocabulary!(
    /// How quickly a tablet, capsule or liquid releases the drug.
    #[derive(Default)]
    #[ts(export)]
    Release, "release" {
        /// Immediate release (the default).
        #[default]
        Immediate => "immediate",
        /// Modified (prolonged, sustained) release, 12- or 24-hourly.
        Modified => "modified",
    }
);

vocabulary!(
    /// Pharmaceutical form. It decides which amount fields an item needs.
    #[ts(export)]
    Form, "form" {
        /// Tablet (including soluble and modified-release tablets).
        Tablet => "tablet",
        /// Capsule.
        Capsule => "capsule",
        /// Oral solution or other liquid measured in mL.
        Solution => "solution",
        /// Transdermal patch.
        Patch => "patch",
    }
);

/// The two solid oral forms; a solid item may also leave its form unstated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SolidForm {
    /// Tablet.
    Tablet,
    /// Capsule.
    Capsule,
}

impl From<SolidForm> for Form {
    fn from(f: SolidForm) -> Form {
        match f {
            SolidForm::Tablet => Form::Tablet,
            SolidForm::Capsule => Form::Capsule,
        }
    }
}

/// Formats a number for people: no trailing zeros, at most 3 decimals.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    // Nearly every number shown has at most three decimals (60, 2.5, 0.125):
    // written from integers, without exact float formatting (a tenth of a
    // case-finding import's CPU time went there, issue 16). When v × 1000 is
    // a whole number, v is within 1e-13 of that many thousandths, far from
    // any rounding boundary, so this gives exactly what `{:.3}` gives;
    // `num_fast_path_matches_the_general_one` checks it.
    let thousandths = v * 1000.0;
    if thousandths.abs() < 1e15 && thousandths == thousandths.trunc() {
        let n = thousandths as i64;
        let (int, frac) = (n.unsigned_abs() / 1000, n.unsigned_abs() % 1000);
        let mut out = String::with_capacity(12);
        if n < 0 {
            out.push('-');
        }
        out.push_str(&int.to_string());
        if frac != 0 {
            let digits = format!("{frac:03}");
            out.push('.');
            out.push_str(digits.trim_end_matches('0'));
        }
        return out;
    }
    num_general(v)
}

/// [`num`] for any finite number: three decimals, trailing zeros dropped.
fn num_general(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_words_get_the_nearest() {
        for f in FlagId::ALL {
            assert_eq!(FlagId::parse(f.as_str()), Some(f));
            assert_eq!(
                serde_json::to_value(f).unwrap(),
                serde_json::json!(f.as_str())
            );
        }
        assert_eq!(Severity::parse(" High "), Some(Severity::High));
        assert_eq!(
            Severity::unknown("hihg"),
            "unknown severity 'hihg' (did you mean high? accepted: high, caution, info)"
        );
        assert!(nearest("zzzzzz", ["oral"].into_iter()).is_empty());
    }

    #[test]
    fn num_fast_path_matches_the_general_one() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut values: Vec<f64> = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            0.125,
            0.1,
            0.2,
            0.3,
            2.5,
            60.0,
            90.0,
            120.0,
            0.001,
            -0.001,
            0.0005,
            0.0015,
            1e-7,
            999.9995,
            123_456.789,
            1e14,
            -2.75,
            7.0 / 3.0,
        ];
        for _ in 0..200_000 {
            let r = next();
            values.push(match r % 4 {
                // Thousandths, as doses and totals mostly are.
                0 => (r >> 8) as f64 % 10_000_000.0 / 1000.0,
                1 => ((r >> 8) as f64 % 100_000.0) / 8.0,
                2 => f64::from_bits(r) % 1e6,
                _ => (r >> 11) as f64 / (1u64 << 53) as f64 * 1000.0 - 500.0,
            });
        }
        for v in values.into_iter().filter(|v| v.is_finite()) {
            let general = num_general(v);
            let general = if general == "-0" {
                "0".to_string()
            } else {
                general
            };
            assert_eq!(num(v), general, "{v:e}");
        }
    }
}
