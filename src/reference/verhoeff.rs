//! The Verhoeff check digit that SNOMED CT identifiers (and so dm+d VMP and
//! AMP codes, which are SNOMED identifiers) end with. A code in the reference
//! that fails it was mistyped, so the reference tests reject it.

const D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];

const P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/// Whether `code` is all digits and its last digit is the Verhoeff check digit
/// of the rest (SNOMED CT identifiers are 6 to 18 digits).
pub fn is_valid(code: &str) -> bool {
    if code.len() < 6 || code.len() > 18 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let mut c = 0u8;
    for (i, b) in code.bytes().rev().enumerate() {
        let digit = usize::from(b - b'0');
        c = D[usize::from(c)][usize::from(P[i % 8][digit])];
    }
    c == 0
}

#[cfg(test)]
mod tests {
    use super::is_valid;

    #[test]
    fn known_snomed_identifiers_pass() {
        // SNOMED CT concept ids as published (OpenPrescribing opioid_ing_form_ome.csv:
        // buprenorphine 387173000, fentanyl 373492002, codeine phosphate 261000;
        // a UK dm+d extension id, oxycodone pectinate 17632411000001105).
        for code in ["387173000", "373492002", "261000", "17632411000001105"] {
            assert!(is_valid(code), "{code}");
        }
    }

    #[test]
    fn a_changed_or_swapped_digit_fails() {
        assert!(!is_valid("387173001"));
        assert!(!is_valid("378173000"));
        assert!(!is_valid("17632411000001106"));
        assert!(!is_valid("12345"));
        assert!(!is_valid("38717300a"));
    }
}
