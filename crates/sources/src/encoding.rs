//! The text encodings source files come in: UTF-8 (a byte-order mark allowed) and UTF-16,
//! little or big endian, which needs its byte-order mark. A UTF-16 file is read as its
//! UTF-8 transcoding (the mark kept, as U+FEFF), so spans index that text; `pin` edits the
//! same text and writes it back in UTF-16 with the file's byte order.

use std::borrow::Cow;

/// How a file's text is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Utf8,
    Utf16Le,
    Utf16Be,
}

/// Why bytes are not text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotText {
    /// Invalid UTF-8 at this byte offset.
    Utf8 { offset: usize },
    /// A UTF-16 file of an odd number of bytes.
    OddLength,
    /// An unpaired UTF-16 surrogate at this byte offset.
    Surrogate { offset: usize },
}

impl Encoding {
    /// The encoding announced by the byte-order mark of `bytes` (UTF-8 without one).
    pub(crate) fn of(bytes: &[u8]) -> Self {
        match bytes {
            [0xff, 0xfe, ..] => Encoding::Utf16Le,
            [0xfe, 0xff, ..] => Encoding::Utf16Be,
            _ => Encoding::Utf8,
        }
    }

    /// `bytes` as UTF-8 text: borrowed when they are UTF-8, transcoded from UTF-16.
    pub(crate) fn decode(self, bytes: &[u8]) -> Result<Cow<'_, str>, NotText> {
        let big = match self {
            Encoding::Utf8 => {
                return std::str::from_utf8(bytes)
                    .map(Cow::Borrowed)
                    .map_err(|e| NotText::Utf8 {
                        offset: e.valid_up_to(),
                    })
            }
            Encoding::Utf16Le => false,
            Encoding::Utf16Be => true,
        };
        if !bytes.len().is_multiple_of(2) {
            return Err(NotText::OddLength);
        }
        let units = bytes.chunks_exact(2).map(|pair| {
            let pair = [pair[0], pair[1]];
            if big {
                u16::from_be_bytes(pair)
            } else {
                u16::from_le_bytes(pair)
            }
        });
        let mut text = String::with_capacity(bytes.len());
        let mut offset = 0;
        for c in char::decode_utf16(units) {
            let c = c.map_err(|_| NotText::Surrogate { offset })?;
            offset += c.len_utf16() * 2;
            text.push(c);
        }
        Ok(Cow::Owned(text))
    }

    /// `text` (UTF-8) in this encoding.
    pub(crate) fn encode(self, text: &str) -> Vec<u8> {
        match self {
            Encoding::Utf8 => text.as_bytes().to_vec(),
            Encoding::Utf16Le => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
            Encoding::Utf16Be => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_round_trips_with_its_mark_and_byte_order() {
        let text = "\u{feff}image: café 🐳\n";
        for encoding in [Encoding::Utf16Le, Encoding::Utf16Be] {
            let bytes = encoding.encode(text);
            assert_eq!(Encoding::of(&bytes), encoding);
            assert_eq!(encoding.decode(&bytes).unwrap(), text);
        }
        assert_eq!(Encoding::Utf16Le.encode("\u{feff}a"), [0xff, 0xfe, b'a', 0]);
        assert_eq!(Encoding::Utf16Be.encode("\u{feff}a"), [0xfe, 0xff, 0, b'a']);
    }

    #[test]
    fn broken_utf16_and_utf8_are_not_text() {
        assert_eq!(
            Encoding::Utf16Le.decode(&[0xff, 0xfe, b'a']),
            Err(NotText::OddLength)
        );
        // `a` then a lone high surrogate.
        assert_eq!(
            Encoding::Utf16Le.decode(&[0xff, 0xfe, b'a', 0, 0x00, 0xd8]),
            Err(NotText::Surrogate { offset: 4 })
        );
        assert_eq!(
            Encoding::Utf8.decode(b"ab\xff"),
            Err(NotText::Utf8 { offset: 2 })
        );
    }
}
