//! Workshop join codes as both ends read them: 8 characters of Crockford's
//! base32 (digits and letters without I, L, O, U), shown as `ABCD-2345`, and
//! typed any way: in any case, with or without the dash or spaces, O read as
//! 0 and I or L as 1. The server makes and checks codes with these; the web
//! app shows them and keeps a workshop's session under [`fold`]'s key.

/// The characters of a code: Crockford's base32.
pub const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters in a code (shown in two groups of four).
pub const LEN: usize = 8;

/// A code as typed, folded: upper case, without dashes or spaces, `O` read
/// as `0` and `I` or `L` as `1`. Not checked: see [`parse`].
pub fn fold(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect()
}

/// A code as typed, folded ([`fold`]); None when it cannot be a code.
pub fn parse(typed: &str) -> Option<String> {
    let code = fold(typed);
    let valid = code.len() == LEN && code.bytes().all(|b| ALPHABET.contains(&b));
    valid.then_some(code)
}

/// A code as people read it, `ABCD-2345`; anything not eight ASCII
/// characters once folded stays as folded.
pub fn display(typed: &str) -> String {
    let code = fold(typed);
    if code.len() == LEN && code.is_ascii() {
        format!("{}-{}", &code[..4], &code[4..])
    } else {
        code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_typed_any_way_and_shown_in_two_groups() {
        assert_eq!(parse("abcd-efgh").as_deref(), Some("ABCDEFGH"));
        assert_eq!(parse(" o1il 2345 ").as_deref(), Some("01112345"));
        assert_eq!(fold(" o1il 2345 "), "01112345");
        assert_eq!(parse("ABCD-EFG"), None, "too short");
        assert_eq!(parse("ABCD-EFGU"), None, "U is not in the alphabet");
        assert_eq!(parse("ABCD/EFGH"), None);
        assert_eq!(display("abcdefgh"), "ABCD-EFGH");
        assert_eq!(display("ABCD-EFGH"), "ABCD-EFGH");
        assert_eq!(display("abc"), "ABC");
    }
}
