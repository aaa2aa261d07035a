//! Incremental UTF-8 validation that fails as soon as a byte makes the text invalid,
//! even mid-frame, and carries a split character across fragments.

#[derive(Debug, Default)]
pub struct Utf8Validator {
    carry: [u8; 4],
    len: usize,
}

#[derive(Debug, PartialEq, Eq)]
pub struct InvalidUtf8;

impl Utf8Validator {
    pub fn reset(&mut self) {
        self.len = 0;
    }

    /// Validates the next piece of text.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), InvalidUtf8> {
        // First finish the character split at the end of the previous piece.
        while self.len > 0 {
            let Some((&b, rest)) = data.split_first() else {
                return Ok(());
            };
            self.carry[self.len] = b;
            self.len += 1;
            data = rest;
            match std::str::from_utf8(&self.carry[..self.len]) {
                Ok(_) => self.len = 0,
                Err(e) if e.error_len().is_some() => {
                    // Start afresh should anyone feed it again: the text is lost anyway.
                    self.len = 0;
                    return Err(InvalidUtf8);
                }
                Err(_) => {} // still a valid prefix of a character
            }
        }
        match std::str::from_utf8(data) {
            Ok(_) => Ok(()),
            // `error_len() == None`: the input ends inside a character that may still complete.
            Err(e) if e.error_len().is_none() => {
                let rest = &data[e.valid_up_to()..];
                self.carry[..rest.len()].copy_from_slice(rest);
                self.len = rest.len();
                Ok(())
            }
            Err(_) => Err(InvalidUtf8),
        }
    }

    /// True when the text so far ends on a character boundary.
    pub fn is_complete(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_in_pieces(text: &[u8], piece: usize) -> Result<bool, InvalidUtf8> {
        let mut v = Utf8Validator::default();
        for chunk in text.chunks(piece.max(1)) {
            v.feed(chunk)?;
        }
        Ok(v.is_complete())
    }

    #[test]
    fn split_characters_are_carried() {
        let text = "κόσμε → 🌍 voxel".as_bytes();
        for piece in 1..text.len() {
            assert_eq!(feed_in_pieces(text, piece), Ok(true), "piece {piece}");
        }
        // Ends mid-character: valid so far, not complete.
        assert_eq!(feed_in_pieces(&"🌍".as_bytes()[..3], 1), Ok(false));
    }

    #[test]
    fn feeding_after_an_error_is_harmless() {
        let mut v = Utf8Validator::default();
        // A four-byte character broken at its fourth byte fills the carry.
        assert_eq!(v.feed(&[0xf0, 0x90, 0x80]), Ok(()));
        assert_eq!(v.feed(b"A"), Err(InvalidUtf8));
        assert_eq!(v.feed(&[0x80, 0x80]), Err(InvalidUtf8));
        assert_eq!(v.feed("é".as_bytes()), Ok(()));
    }

    #[test]
    fn fails_fast_on_the_first_bad_byte() {
        let mut v = Utf8Validator::default();
        assert_eq!(v.feed(&[0xce, 0xba]), Ok(()));
        // 0xF4 0x90 can never start a valid character (above U+10FFFF): fail at once.
        assert_eq!(v.feed(&[0xf4]), Ok(()));
        assert_eq!(v.feed(&[0x90]), Err(InvalidUtf8));
        let mut v = Utf8Validator::default();
        assert_eq!(v.feed(&[0xed, 0xa0, 0x80]), Err(InvalidUtf8), "surrogate");
        let mut v = Utf8Validator::default();
        assert_eq!(v.feed(&[0xc0, 0x80]), Err(InvalidUtf8), "overlong");
    }
}
