//! Readability measures for patient-facing text: Flesch reading ease with a
//! self-contained English syllable counter (no dictionary, no dependencies).
//!
//! Flesch reading ease = 206.835 − 1.015 × (words ÷ sentences) − 84.6 × (syllables ÷ words).
//! 60 to 70 is "plain English"; NHS patient information aims for 60 or more.

/// Counts of the parts of a text that the Flesch formula uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TextCounts {
    /// Sentences: ended by `.`, `!` or `?`, or by a line break (headings, list
    /// items and table lines are read as units of their own).
    pub sentences: usize,
    /// Words: runs of letters or digits.
    pub words: usize,
    /// Syllables over all words.
    pub syllables: usize,
}

/// Counts sentences, words and syllables.
pub fn counts(text: &str) -> TextCounts {
    let mut c = TextCounts::default();
    for line in text.lines() {
        let mut words_in_sentence = 0;
        for token in line.split_whitespace() {
            let word: String = token
                .trim_matches(|ch: char| !ch.is_alphanumeric())
                .to_string();
            if !word.is_empty() {
                c.words += 1;
                c.syllables += syllables(&word);
                words_in_sentence += 1;
            }
            if token.ends_with(['.', '!', '?']) && words_in_sentence > 0 {
                c.sentences += 1;
                words_in_sentence = 0;
            }
        }
        if words_in_sentence > 0 {
            c.sentences += 1;
        }
    }
    c
}

/// Flesch reading ease of `text`; `None` if it has no words.
pub fn flesch_reading_ease(text: &str) -> Option<f64> {
    let c = counts(text);
    if c.words == 0 || c.sentences == 0 {
        return None;
    }
    let words = c.words as f64;
    Some(206.835 - 1.015 * (words / c.sentences as f64) - 84.6 * (c.syllables as f64 / words))
}

/// Estimated syllables in one English word (at least 1).
///
/// Counts groups of vowels (y counts as a vowel except at the start of a word), then
/// corrects the commonest silent endings: a final "e" ("take"), except in consonant +
/// "le" ("table"); "-ed" except after t or d ("reduced" but "needed"); "-es" except
/// after s, x, z, ch, sh, c or g ("tablets" is unaffected, "doses" keeps two).
/// A number counts as two syllables, a fair average for how dates and doses are
/// read aloud ("thirty", "twenty twenty-six", "one").
pub fn syllables(word: &str) -> usize {
    let w: String = word
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    if w.is_empty() {
        return 0;
    }
    if w.chars().all(|c| c.is_ascii_digit()) {
        return 2;
    }
    // Hyphenated or apostrophised words were joined above; count on letters only.
    let chars: Vec<char> = w.chars().filter(|c| c.is_alphabetic()).collect();
    if chars.is_empty() {
        return 1;
    }
    let is_vowel = |i: usize| -> bool {
        match chars[i] {
            'a' | 'e' | 'i' | 'o' | 'u' => true,
            'y' => i > 0,
            _ => false,
        }
    };
    let mut count = 0usize;
    let mut prev = false;
    for i in 0..chars.len() {
        let v = is_vowel(i);
        if v && !prev {
            count += 1;
        }
        prev = v;
    }
    let n = chars.len();
    let ends = |s: &str| w.ends_with(s);
    if n > 2 && chars[n - 1] == 'e' && !is_vowel(n - 2) {
        let consonant_le = chars[n - 2] == 'l' && n > 3 && !is_vowel(n - 3);
        if !consonant_le {
            count = count.saturating_sub(1);
        }
    } else {
        let silent_ed =
            n > 3 && ends("ed") && !is_vowel(n - 3) && !matches!(chars[n - 3], 't' | 'd');
        let silent_es = n > 3
            && ends("es")
            && !is_vowel(n - 3)
            && !matches!(chars[n - 3], 's' | 'x' | 'z' | 'c' | 'g')
            && !ends("ches")
            && !ends("shes");
        if silent_ed || silent_es {
            count = count.saturating_sub(1);
        }
    }
    count.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syllables_of_common_words() {
        let cases = [
            ("you", 1),
            ("your", 1),
            ("we", 1),
            ("the", 1),
            ("take", 1),
            ("tablet", 2),
            ("tablets", 2),
            ("table", 2),
            ("people", 2),
            ("medicine", 3),
            ("medication", 4),
            ("reduce", 2),
            ("reduced", 2),
            ("needed", 2),
            ("doses", 2),
            ("changes", 2),
            ("makes", 1),
            ("patches", 2),
            ("overdose", 3),
            ("breathing", 2),
            ("morning", 2),
            ("evening", 3),
            ("Tuesday", 2),
            ("December", 3),
            ("slowly", 2),
            ("capsule", 2),
            ("every", 3),
            ("pharmacy", 3),
            ("30", 2),
            ("yawning", 2),
        ];
        for (word, n) in cases {
            assert_eq!(syllables(word), n, "{word}");
        }
    }

    #[test]
    fn flesch_of_known_texts() {
        // Very plain text scores high; dense clinical prose scores low.
        let plain = "We will lower your dose slowly. Take one tablet in the morning. Call us if it is hard.";
        let dense = "Opioid-induced hyperalgesia necessitates individualised pharmacological rationalisation, \
                     incorporating multidisciplinary consideration of neuropathic comorbidities.";
        let p = flesch_reading_ease(plain).unwrap_or(0.0);
        let d = flesch_reading_ease(dense).unwrap_or(100.0);
        assert!(p > 80.0, "plain scored {p}");
        assert!(d < 10.0, "dense scored {d}");
        assert_eq!(flesch_reading_ease("  \n "), None);
    }

    #[test]
    fn lines_end_sentences() {
        let c = counts("Your plan\n\u{2022} aches or cramps\nTake it. Then rest!");
        assert_eq!(c.sentences, 4);
        assert_eq!(c.words, 9);
    }
}
