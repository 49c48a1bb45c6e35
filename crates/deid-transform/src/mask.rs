//! Masking: hide a value but keep its layout and, optionally, its last few characters.
//!
//! `***-**-6789` still tells a reader (or a support call) which number was meant without
//! disclosing it, and keeps separators, so the text around it reads as before. Masking is
//! not de-identification by itself: the kept characters are the caller's choice.

/// Replaces every letter and digit of `value` with `*`, except the last `keep_last` of them
/// — and always fewer than half of them, so a short value is never kept whole.
///
/// Everything else (separators, spaces, punctuation) stays where it is. Letters and digits
/// are Unicode ones, counted as characters, never bytes.
///
/// ```
/// use deid_transform::mask::mask;
///
/// assert_eq!(mask("123-45-6789", 4), "***-**-6789");
/// assert_eq!(mask("jane@x.org", 0), "****@*.***");
/// assert_eq!(mask("1234", 4), "***4");
/// ```
pub fn mask(value: &str, keep_last: usize) -> String {
    let letters_and_digits = value.chars().filter(|c| c.is_alphanumeric()).count();
    let hidden = letters_and_digits - keep_last.min(letters_and_digits.saturating_sub(1) / 2);
    let mut seen = 0;
    value
        .chars()
        .map(|c| {
            if !c.is_alphanumeric() {
                return c;
            }
            seen += 1;
            if seen <= hidden { '*' } else { c }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_letters_and_digits_but_keeps_layout() {
        for (value, keep_last, expected) in [
            ("123-45-6789", 4, "***-**-6789"),
            ("123-45-6789", 0, "***-**-****"),
            // Fewer than half of the 9 digits stay visible.
            ("123-45-6789", 5, "***-**-6789"),
            ("123-45-6789", 100, "***-**-6789"),
            ("1234", 4, "***4"),
            ("Ann Lee", 4, "*** *ee"),
            ("jane@x.org", 0, "****@*.***"),
            ("jane@x.org", 3, "****@*.org"),
            ("(312) 555-0142", 4, "(***) ***-0142"),
            ("José Müller", 2, "**** ****er"),
            ("Zoë 北京 ٣٤", 1, "*** ** *٤"),
            ("", 4, ""),
            ("--- ...", 0, "--- ..."),
        ] {
            assert_eq!(mask(value, keep_last), expected, "{value:?} {keep_last}");
        }
    }

    #[test]
    fn keeps_length_in_characters() {
        let value = "Ünïcödé-ß 42";
        assert_eq!(mask(value, 0).chars().count(), value.chars().count());
    }
}
