//! Tokenisers (clkhash comparators) writing encoded token bytes into a reusable buffer.

use std::fmt::Write as _;

use crate::numbers::numeric_tokens;
use crate::schema::{Comparison, TextEncoding};

/// Encoded tokens of one value, stored back to back.
///
/// Three layouts: tokens packed back to back (`ends` holds each end offset); — the fast path for
/// plain UTF-8 n-grams — overlapping windows of the padded value in `bytes`, where `ends` holds
/// the byte offset of every character boundary and token `i` spans boundaries `i..i + n`; and —
/// the fastest path, for ASCII n-grams, where characters are bytes — token `i` is
/// `bytes[i..i + n]` (no `ends`).
#[derive(Debug, Default)]
pub struct TokenBuf {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    layout: Layout,
    chars: Vec<char>,
    text: String,
}

#[derive(Debug, Default, Clone, Copy)]
enum Layout {
    #[default]
    Packed,
    /// Windows of `n` characters over `ends`.
    Window(usize),
    /// Windows of `n` bytes.
    Fixed(usize),
}

impl TokenBuf {
    /// Number of tokens.
    pub fn len(&self) -> usize {
        match self.layout {
            Layout::Fixed(n) => (self.bytes.len() + 1).saturating_sub(n),
            Layout::Window(n) => (self.ends.len() + 1).saturating_sub(n + 1),
            Layout::Packed => self.ends.len(),
        }
    }

    /// The encoded bytes of token `i`.
    #[inline]
    pub fn token(&self, i: usize) -> &[u8] {
        match self.layout {
            Layout::Fixed(n) => &self.bytes[i..i + n],
            Layout::Window(n) => &self.bytes[self.ends[i]..self.ends[i + n]],
            Layout::Packed => {
                let start = if i == 0 { 0 } else { self.ends[i - 1] };
                &self.bytes[start..self.ends[i]]
            }
        }
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
        self.layout = Layout::Packed;
    }
}

/// Appends `s` encoded like Python's `str.encode(encoding)`.
fn encode_into(bytes: &mut Vec<u8>, s: &str, encoding: TextEncoding) -> Result<(), String> {
    match encoding {
        TextEncoding::Utf8 => bytes.extend_from_slice(s.as_bytes()),
        TextEncoding::Ascii => {
            if let Some(c) = s.chars().find(|c| !c.is_ascii()) {
                return Err(format!("'ascii' codec can't encode character {c:?}"));
            }
            bytes.extend_from_slice(s.as_bytes());
        }
        TextEncoding::Utf16 => {
            bytes.extend_from_slice(&[0xff, 0xfe]);
            for u in s.encode_utf16() {
                bytes.extend_from_slice(&u.to_le_bytes());
            }
        }
        TextEncoding::Utf32 => {
            bytes.extend_from_slice(&[0xff, 0xfe, 0, 0]);
            for c in s.chars() {
                bytes.extend_from_slice(&(c as u32).to_le_bytes());
            }
        }
    }
    Ok(())
}

fn push_token(
    buf: &mut Vec<u8>,
    ends: &mut Vec<usize>,
    s: &str,
    encoding: TextEncoding,
) -> Result<(), String> {
    encode_into(buf, s, encoding)?;
    ends.push(buf.len());
    Ok(())
}

/// Tokenises `word` with `comparison`, encoding each token. Empty input gives no tokens.
pub fn tokenize(
    word: &str,
    comparison: &Comparison,
    encoding: TextEncoding,
    out: &mut TokenBuf,
) -> Result<(), String> {
    out.clear();
    if word.is_empty() {
        return Ok(());
    }
    match *comparison {
        Comparison::Exact => push_token(&mut out.bytes, &mut out.ends, word, encoding),
        Comparison::Ngram {
            n,
            positional: false,
        } if encoding != TextEncoding::Utf16 && encoding != TextEncoding::Utf32 => {
            if encoding == TextEncoding::Ascii && !word.is_ascii() {
                return encode_into(&mut out.bytes, word, encoding);
            }
            let pad = n - 1;
            let TokenBuf {
                bytes,
                ends,
                layout,
                ..
            } = out;
            bytes.extend(std::iter::repeat_n(b' ', pad));
            bytes.extend_from_slice(word.as_bytes());
            bytes.extend(std::iter::repeat_n(b' ', pad));
            if word.is_ascii() {
                *layout = Layout::Fixed(n);
                return Ok(());
            }
            *layout = Layout::Window(n);
            ends.extend(0..pad);
            ends.extend(word.char_indices().map(|(i, _)| pad + i));
            let body_end = pad + word.len();
            ends.extend((0..=pad).map(|j| body_end + j));
            Ok(())
        }
        Comparison::Ngram { n, positional } => {
            let TokenBuf {
                bytes,
                ends,
                chars,
                text,
                ..
            } = out;
            chars.clear();
            let pad = n - 1;
            chars.extend(std::iter::repeat_n(' ', pad));
            chars.extend(word.chars());
            chars.extend(std::iter::repeat_n(' ', pad));
            if chars.len() < n {
                return Ok(());
            }
            for (i, window) in chars.windows(n).enumerate() {
                text.clear();
                if positional {
                    let _ = write!(text, "{} ", i + 1);
                }
                text.extend(window);
                push_token(bytes, ends, text, encoding)?;
            }
            Ok(())
        }
        Comparison::Numeric {
            distance_interval,
            resolution,
            fractional_precision,
        } => {
            let TokenBuf {
                bytes, ends, text, ..
            } = out;
            let mut failure = None;
            numeric_tokens(
                word,
                distance_interval,
                resolution,
                fractional_precision,
                text,
                |t| {
                    if let Err(e) = push_token(bytes, ends, t, encoding) {
                        failure.get_or_insert(e);
                    }
                },
            )?;
            failure.map_or(Ok(()), Err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(word: &str, c: Comparison, e: TextEncoding) -> Vec<Vec<u8>> {
        let mut buf = TokenBuf::default();
        tokenize(word, &c, e, &mut buf).unwrap();
        (0..buf.len()).map(|i| buf.token(i).to_vec()).collect()
    }

    fn strs(v: Vec<Vec<u8>>) -> Vec<String> {
        v.into_iter()
            .map(|b| String::from_utf8(b).unwrap())
            .collect()
    }

    #[test]
    fn bigrams_are_space_padded() {
        let t = strs(toks(
            "clkhash",
            Comparison::Ngram {
                n: 2,
                positional: false,
            },
            TextEncoding::Utf8,
        ));
        assert_eq!(t, [" c", "cl", "lk", "kh", "ha", "as", "sh", "h "]);
    }

    #[test]
    fn positional_ngrams_are_numbered_from_one() {
        let t = strs(toks(
            "ab",
            Comparison::Ngram {
                n: 2,
                positional: true,
            },
            TextEncoding::Utf8,
        ));
        assert_eq!(t, ["1  a", "2 ab", "3 b "]);
    }

    #[test]
    fn unigrams_are_not_padded_and_use_code_points() {
        let t = strs(toks(
            "zé",
            Comparison::Ngram {
                n: 1,
                positional: false,
            },
            TextEncoding::Utf8,
        ));
        assert_eq!(t, ["z", "é"]);
    }

    #[test]
    fn exact_and_empty() {
        assert_eq!(
            strs(toks("a b", Comparison::Exact, TextEncoding::Utf8)),
            ["a b"]
        );
        assert!(toks("", Comparison::Exact, TextEncoding::Utf8).is_empty());
        assert!(toks(
            "",
            Comparison::Ngram {
                n: 3,
                positional: true
            },
            TextEncoding::Utf8
        )
        .is_empty());
    }

    #[test]
    fn python_encodings_add_a_bom_per_token() {
        let t = toks("a", Comparison::Exact, TextEncoding::Utf16);
        assert_eq!(t, [vec![0xff, 0xfe, b'a', 0]]);
        let t = toks("a", Comparison::Exact, TextEncoding::Utf32);
        assert_eq!(t, [vec![0xff, 0xfe, 0, 0, b'a', 0, 0, 0]]);
        let mut buf = TokenBuf::default();
        assert!(tokenize("é", &Comparison::Exact, TextEncoding::Ascii, &mut buf).is_err());
    }
}
