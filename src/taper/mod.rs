//! Taper plans: a dated schedule of whole tablets, capsules, patches and
//! millilitres that exist as UK products, reducing a regimen's total oral
//! morphine equivalent step by step.

pub mod rules;
