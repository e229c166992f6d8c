//! Shared generators for the fuzz tests: arbitrary JSON trees, mutations of
//! valid inputs (wrong types, extreme numbers, unknown fields, deep nesting,
//! long strings, removed fields) and text-level damage (truncation, stray
//! bytes, NaN and out-of-range literals that JSON cannot carry).
//!
//! Case counts: each property runs `cases(default)` cases, where the default
//! keeps `make test` bounded on two cores and `PROPTEST_CASES=N` raises it
//! for longer local runs.

#![allow(dead_code)]

use proptest::prelude::*;
use serde_json::{Map, Value};

/// `PROPTEST_CASES` if set (longer local runs), else `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// Field names the commands know (so random objects often hit real
/// validation paths), plus near misses and junk.
pub const KEYS: &[&str] = &[
    "items",
    "patient",
    "drug",
    "route",
    "release",
    "form",
    "strength_mg",
    "units_per_dose",
    "doses_per_day",
    "strength_mg_per_ml",
    "ml_per_dose",
    "strength_mcg_per_hour",
    "patches",
    "as_needed",
    "paracetamol_mg",
    "start_date",
    "taper",
    "pauses",
    "preset",
    "reduction_percent",
    "of",
    "interval_days",
    "target_ome_mg_per_day",
    "slow_last_third",
    "lengthen_interval",
    "order",
    "after_step",
    "days",
    "age",
    "sex",
    "weight_kg",
    "egfr",
    "conditions",
    "history",
    "co_medications",
    "co_medication_paracetamol_mg_per_day",
    "opioid_naive",
    "months_on_opioids",
    "edits",
    "action",
    "step",
    "item",
    "doses",
    "time",
    "units",
    "count",
    "ml",
    "intent",
    "reason",
    "Items",
    "drugs",
    "strength",
    "",
    " ",
    "__proto__",
    "\u{0}",
    "é",
    "🙂",
];

/// Words the commands know as values, plus near misses.
pub const WORDS: &[&str] = &[
    "morphine",
    "Morphine",
    " morphine ",
    "oxycodone",
    "codeine",
    "tramadol",
    "fentanyl",
    "buprenorphine",
    "methadone",
    "tapentadol",
    "hydromorphone",
    "diamorphine",
    "heroin",
    "oral",
    "transdermal",
    "sublingual",
    "buccal",
    "subcutaneous",
    "immediate",
    "modified",
    "solution",
    "tablet",
    "original",
    "current",
    "standard",
    "morning",
    "evening",
    "night",
    "lunchtime",
    "set_dose",
    "set_length",
    "add_pause",
    "set_order",
    "hold-or-reversal",
    "2026-12-01",
    "2026-02-30",
    "01/12/2026",
    "9999-12-31",
    "0000-01-01",
    "-2026-01-01",
    "copd",
    "sleep-apnoea",
    "gabapentin",
    "pregabalin",
    "diazepam",
    "NaN",
    "Infinity",
    "-0",
    "1e999",
    "",
    "null",
    "\u{202e}",
    "\u{0}",
    "a\u{7}b",
    "line\nbreak",
];

/// Numbers at and beyond every boundary serde_json can carry.
pub fn arb_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => (-3i64..=200).prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        2 => any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        2 => prop::sample::select(vec![
            0.0,
            -0.0,
            -1.0,
            0.1,
            0.25,
            0.5,
            1.5,
            2.5,
            12.0,
            37.5,
            4000.0,
            1e-300,
            5e-324,
            1e15,
            9_007_199_254_740_993.0,
            1e300,
            f64::MAX,
            f64::MIN,
        ])
        .prop_map(Value::from),
    ]
}

/// Strings: known words, random Unicode, control characters, long.
pub fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(WORDS).prop_map(str::to_string),
        3 => "\\PC{0,24}",
        1 => "[\\x00-\\x1f\\x7f]{0,4}",
        1 => (1usize..=4, prop::sample::select(WORDS))
            .prop_map(|(n, w)| w.repeat(n * 5_000)),
    ]
}

/// An object key.
pub fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(KEYS).prop_map(str::to_string),
        1 => "\\PC{0,12}",
    ]
}

/// Any JSON value, up to six levels deep.
pub fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        arb_number(),
        arb_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((arb_key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// One change to a JSON document, applied at the `at`-th node (modulo the
/// number of nodes) in a depth-first walk.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Replace the node with another value (wrong type, extreme number…).
    Replace(usize, Value),
    /// Remove the node from its parent.
    Remove(usize),
    /// Add a field to an object node (unknown or duplicate name).
    AddField(usize, String, Value),
    /// Wrap the node in `depth` arrays or objects.
    Nest(usize, usize, bool),
    /// Put the node in a list twice or make a list of it `n` times.
    Repeat(usize, usize),
}

pub fn arb_mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<usize>();
    prop_oneof![
        5 => (at, arb_json()).prop_map(|(a, v)| Mutation::Replace(a, v)),
        3 => (at, arb_number()).prop_map(|(a, v)| Mutation::Replace(a, v)),
        2 => at.prop_map(Mutation::Remove),
        3 => (at, arb_key(), arb_json()).prop_map(|(a, k, v)| Mutation::AddField(a, k, v)),
        1 => (at, 1usize..200, any::<bool>()).prop_map(|(a, d, o)| Mutation::Nest(a, d, o)),
        1 => (at, 2usize..400).prop_map(|(a, n)| Mutation::Repeat(a, n)),
    ]
}

/// Paths to every node: each step is an object key or an array index.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn paths(v: &Value, here: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(here.clone());
    match v {
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                here.push(Step::Index(i));
                paths(x, here, out);
                here.pop();
            }
        }
        Value::Object(o) => {
            for (k, x) in o {
                here.push(Step::Key(k.clone()));
                paths(x, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn node_mut<'a>(v: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    let mut cur = v;
    for s in path {
        cur = match (s, cur) {
            (Step::Key(k), Value::Object(o)) => o.get_mut(k)?,
            (Step::Index(i), Value::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn pick(v: &Value, at: usize) -> Vec<Step> {
    let mut out = Vec::new();
    paths(v, &mut Vec::new(), &mut out);
    out.swap_remove(at % out.len())
}

/// Applies `m` to `doc`.
pub fn mutate(doc: &mut Value, m: &Mutation) {
    match m {
        Mutation::Replace(at, new) => {
            let p = pick(doc, *at);
            if let Some(n) = node_mut(doc, &p) {
                *n = new.clone();
            }
        }
        Mutation::Remove(at) => {
            let mut p = pick(doc, *at);
            let Some(last) = p.pop() else {
                *doc = Value::Null;
                return;
            };
            match (node_mut(doc, &p), last) {
                (Some(Value::Object(o)), Step::Key(k)) => {
                    o.remove(&k);
                }
                (Some(Value::Array(a)), Step::Index(i)) if i < a.len() => {
                    a.remove(i);
                }
                _ => {}
            }
        }
        Mutation::AddField(at, k, v) => {
            let p = pick(doc, *at);
            if let Some(Value::Object(o)) = node_mut(doc, &p) {
                o.insert(k.clone(), v.clone());
            } else if let Some(Value::Array(a)) = node_mut(doc, &p) {
                a.push(v.clone());
            }
        }
        Mutation::Nest(at, depth, object) => {
            let p = pick(doc, *at);
            if let Some(n) = node_mut(doc, &p) {
                let mut x = n.take();
                for _ in 0..*depth {
                    x = if *object {
                        let mut o = Map::new();
                        o.insert("items".into(), x);
                        Value::Object(o)
                    } else {
                        Value::Array(vec![x])
                    };
                }
                *n = x;
            }
        }
        Mutation::Repeat(at, n) => {
            let p = pick(doc, *at);
            if let Some(node) = node_mut(doc, &p) {
                let x = node.clone();
                *node = Value::Array(vec![x; *n]);
            }
        }
    }
}

/// Text-level damage to a serialised document.
#[derive(Debug, Clone)]
pub enum TextDamage {
    /// Keep only the first `n` bytes (at a character boundary).
    Truncate(usize),
    /// Insert a string at byte offset `at`.
    Insert(usize, String),
    /// Replace the `k`-th number literal with something JSON does not allow
    /// or cannot represent (NaN, Infinity, 1e999, 0x10, +1, .5, 01).
    BadNumber(usize, &'static str),
    /// Nest the document `n` levels deep in arrays (beyond any parser limit).
    DeepNest(usize),
    /// Repeat a key in the top object (duplicate field).
    DuplicateKey,
}

pub fn arb_text_damage() -> impl Strategy<Value = TextDamage> {
    prop_oneof![
        2 => any::<usize>().prop_map(TextDamage::Truncate),
        2 => (any::<usize>(), prop_oneof![
            "\\PC{1,4}",
            Just(",".to_string()),
            Just("}".to_string()),
            Just("\"".to_string()),
            Just("\u{0}".to_string()),
            Just("\u{feff}".to_string()),
            Just("//".to_string()),
        ])
            .prop_map(|(a, s)| TextDamage::Insert(a, s)),
        3 => (any::<usize>(), prop::sample::select(vec![
            "NaN", "-NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1E+400", "0x10",
            "+1", ".5", "01", "1.", "-", "1e", "99999999999999999999999999999",
        ]))
            .prop_map(|(k, s)| TextDamage::BadNumber(k, s)),
        1 => (100usize..20_000).prop_map(TextDamage::DeepNest),
        1 => Just(TextDamage::DuplicateKey),
    ]
}

fn char_floor(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Applies `d` to `text`.
pub fn damage(text: &str, d: &TextDamage) -> String {
    match d {
        TextDamage::Truncate(n) => {
            let cut = char_floor(text, n % (text.len() + 1));
            text[..cut].to_string()
        }
        TextDamage::Insert(at, s) => {
            let at = char_floor(text, at % (text.len() + 1));
            format!("{}{}{}", &text[..at], s, &text[at..])
        }
        TextDamage::BadNumber(k, lit) => {
            // Number literals start with a digit or '-' outside strings.
            let bytes = text.as_bytes();
            let mut starts = Vec::new();
            let mut in_str = false;
            let mut i = 0;
            while i < bytes.len() {
                let c = bytes[i];
                if in_str {
                    if c == b'\\' {
                        i += 1;
                    } else if c == b'"' {
                        in_str = false;
                    }
                } else if c == b'"' {
                    in_str = true;
                } else if c == b'-' || c.is_ascii_digit() {
                    let start = i;
                    while i < bytes.len() && b"-+.eE0123456789".contains(&bytes[i]) {
                        i += 1;
                    }
                    starts.push((start, i));
                    continue;
                }
                i += 1;
            }
            match starts.get(k % starts.len().max(1)) {
                Some(&(a, b)) => format!("{}{}{}", &text[..a], lit, &text[b..]),
                None => format!("[{lit}]"),
            }
        }
        TextDamage::DeepNest(n) => format!("{}{}{}", "[".repeat(*n), text, "]".repeat(*n)),
        TextDamage::DuplicateKey => match text.find('{') {
            Some(i) => format!("{}\"items\": 1, {}", &text[..=i], &text[i + 1..]),
            None => text.to_string(),
        },
    }
}

/// Valid inputs from the repository's case files, as JSON documents.
pub fn seeds(file: &str, keep: &[&str]) -> Vec<Value> {
    let path = format!("{}/tests/cases/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let cases: Vec<Value> = serde_json::from_str(&text).expect("case file is JSON");
    cases
        .into_iter()
        .map(|c| {
            let mut doc = Map::new();
            for k in keep {
                if let Some(v) = c.get(*k) {
                    doc.insert((*k).to_string(), v.clone());
                }
            }
            Value::Object(doc)
        })
        .collect()
}

/// A generated input: a valid seed with up to `n` mutations, or any JSON at
/// all, then sometimes damaged as text.
#[derive(Debug, Clone)]
pub struct Input {
    pub text: String,
}

pub fn arb_input(seeds: Vec<Value>) -> impl Strategy<Value = Input> {
    let seeded = (
        prop::sample::select(seeds),
        prop::collection::vec(arb_mutation(), 0..4),
    )
        .prop_map(|(mut doc, ms)| {
            for m in &ms {
                mutate(&mut doc, m);
            }
            doc
        });
    let doc = prop_oneof![4 => seeded, 1 => arb_json()];
    (doc, prop::option::weighted(0.25, arb_text_damage())).prop_map(|(doc, d)| {
        let text = doc.to_string();
        Input {
            text: match d {
                Some(d) => damage(&text, &d),
                None => text,
            },
        }
    })
}
