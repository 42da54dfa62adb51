//! The spellings in which a text may carry a secret, as views of the text: the text itself,
//! its JSON string escapes decoded once, twice and three times (`\u0064`, `\"`, `\/`,
//! `\\u0064`), and its percent-encoding decoded (`%64`), also inside JSON escapes. Each view is a stream of decoded bytes, each with the
//! range of the original text it came from, so that a secret found in a view is masked in the
//! original, spelled as it was.
//!
//! Decoding is lenient: anything that is not a complete escape passes through as it is, and an
//! escape cut off by the end of the text is dropped (a cut text is masked up to its end).

/// One decoded byte and the original bytes `start..end` it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Unit {
    pub byte: u8,
    pub start: usize,
    pub end: usize,
}

/// The text as it is, byte by byte.
pub(crate) fn plain(text: &str) -> impl Iterator<Item = Unit> + '_ {
    text.bytes().enumerate().map(|(i, byte)| Unit {
        byte,
        start: i,
        end: i + 1,
    })
}

/// Longest escape: a surrogate pair, `\ud83d\ude00`.
const LOOKAHEAD: usize = 12;

/// JSON string escapes of `inner` decoded (one level; apply twice for a JSON text quoted
/// inside a JSON string).
pub(crate) struct JsonUnescape<I: Iterator<Item = Unit>> {
    inner: std::iter::Peekable<I>,
    /// Decoded bytes of the last escape, not yet returned.
    pending: std::collections::VecDeque<Unit>,
    /// Units read ahead that turned out not to be an escape.
    held: std::collections::VecDeque<Unit>,
}

impl<I: Iterator<Item = Unit>> JsonUnescape<I> {
    pub(crate) fn new(inner: I) -> Self {
        JsonUnescape {
            inner: inner.peekable(),
            pending: Default::default(),
            held: Default::default(),
        }
    }

    fn next_unit(&mut self) -> Option<Unit> {
        self.held.pop_front().or_else(|| self.inner.next())
    }

    /// Reads up to `n` more units into a buffer (fewer at the end of the input).
    fn read_ahead(&mut self, n: usize, into: &mut Vec<Unit>) {
        while into.len() < n {
            match self.next_unit() {
                Some(u) => into.push(u),
                None => break,
            }
        }
    }

    /// `\uXXXX` at the start of `units` (after the backslash), as a UTF-16 code unit.
    fn code_unit(units: &[Unit]) -> Option<u16> {
        let [u, a, b, c, d] = units else { return None };
        if u.byte != b'u' {
            return None;
        }
        let hex = [a.byte, b.byte, c.byte, d.byte];
        let text = std::str::from_utf8(&hex).ok()?;
        u16::from_str_radix(text, 16).ok()
    }

    /// Decodes the escape that starts with `backslash`; false when it is not one (the units
    /// read ahead are then held back and the backslash passes as it is).
    fn decode_escape(&mut self, backslash: Unit) -> bool {
        let mut ahead = Vec::with_capacity(LOOKAHEAD);
        self.read_ahead(1, &mut ahead);
        let simple = ahead.first().and_then(|u| match u.byte {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            _ => None,
        });
        if let (Some(byte), Some(last)) = (simple, ahead.first()) {
            self.pending.push_back(Unit {
                byte,
                start: backslash.start,
                end: last.end,
            });
            return true;
        }
        self.read_ahead(5, &mut ahead);
        let decoded = match ahead.get(..5).and_then(Self::code_unit) {
            Some(high @ 0xD800..=0xDBFF) => {
                self.read_ahead(11, &mut ahead);
                let low = ahead
                    .get(5)
                    .filter(|u| u.byte == b'\\')
                    .and_then(|_| ahead.get(6..11))
                    .and_then(Self::code_unit)
                    .filter(|low| (0xDC00..=0xDFFF).contains(low));
                low.and_then(|low| {
                    let c =
                        0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                    Some((char::from_u32(c)?, 11))
                })
            }
            Some(unit) => char::from_u32(u32::from(unit)).map(|c| (c, 5)),
            None => None,
        };
        match decoded {
            Some((c, used)) => {
                let end = ahead.get(used - 1).map_or(backslash.end, |u| u.end);
                let mut buf = [0u8; 4];
                for &byte in c.encode_utf8(&mut buf).as_bytes() {
                    self.pending.push_back(Unit {
                        byte,
                        start: backslash.start,
                        end,
                    });
                }
                self.held.extend(ahead.into_iter().skip(used));
                true
            }
            None => {
                // A `\u` cut off by the end of the text: dropped (see the module comment).
                let cut = ahead.len() < 5 && ahead.first().is_some_and(|u| u.byte == b'u');
                if !cut {
                    self.held.extend(ahead);
                }
                cut
            }
        }
    }
}

impl<I: Iterator<Item = Unit>> Iterator for JsonUnescape<I> {
    type Item = Unit;

    fn next(&mut self) -> Option<Unit> {
        loop {
            if let Some(u) = self.pending.pop_front() {
                return Some(u);
            }
            let unit = self.next_unit()?;
            if unit.byte != b'\\' || !self.decode_escape(unit) {
                return Some(unit);
            }
        }
    }
}

/// Percent-encoding (`%2F`, `%C3%A9`) of `inner` decoded.
pub(crate) struct PercentDecode<I: Iterator<Item = Unit>> {
    inner: I,
    /// Units read ahead that turned out not to be an escape.
    held: std::collections::VecDeque<Unit>,
}

impl<I: Iterator<Item = Unit>> PercentDecode<I> {
    pub(crate) fn new(inner: I) -> Self {
        PercentDecode {
            inner,
            held: Default::default(),
        }
    }

    fn next_unit(&mut self) -> Option<Unit> {
        self.held.pop_front().or_else(|| self.inner.next())
    }
}

impl<I: Iterator<Item = Unit>> Iterator for PercentDecode<I> {
    type Item = Unit;

    fn next(&mut self) -> Option<Unit> {
        let unit = self.next_unit()?;
        if unit.byte != b'%' {
            return Some(unit);
        }
        let hex = |u: &Unit| char::from(u.byte).to_digit(16);
        let mut ahead = Vec::with_capacity(2);
        while ahead.len() < 2 {
            match self.next_unit() {
                Some(u) => ahead.push(u),
                None => break,
            }
        }
        match ahead.as_slice() {
            [high, low] => match (hex(high), hex(low)) {
                (Some(h), Some(l)) => Some(Unit {
                    byte: (h * 16 + l) as u8,
                    start: unit.start,
                    end: low.end,
                }),
                _ => {
                    self.held.extend(ahead);
                    Some(unit)
                }
            },
            // Cut off by the end of the text: dropped (see the module comment).
            rest if rest.iter().all(|u| hex(u).is_some()) => None,
            _ => {
                self.held.extend(ahead);
                Some(unit)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(units: impl Iterator<Item = Unit>) -> (String, Vec<(usize, usize)>) {
        let units: Vec<Unit> = units.collect();
        let bytes: Vec<u8> = units.iter().map(|u| u.byte).collect();
        (
            String::from_utf8_lossy(&bytes).into_owned(),
            units.iter().map(|u| (u.start, u.end)).collect(),
        )
    }

    #[test]
    fn json_escapes_decode_with_their_original_ranges() {
        let (text, ranges) = decoded(JsonUnescape::new(plain(r#"a\"\u00e9\/"#)));
        assert_eq!(text, "a\"é/");
        assert_eq!(ranges, [(0, 1), (1, 3), (3, 9), (3, 9), (9, 11)]);
        let (text, _) = decoded(JsonUnescape::new(plain(r"\ud83d\ude00!")));
        assert_eq!(text, "😀!");
    }

    #[test]
    fn twice_escaped_decodes_in_two_levels() {
        let twice = r#"\\u0064op\\\"x"#;
        let once = JsonUnescape::new(plain(twice));
        let (text, ranges) = decoded(JsonUnescape::new(once));
        assert_eq!(text, "dop\"x");
        assert_eq!(ranges[0], (0, 7));
    }

    #[test]
    fn what_is_not_an_escape_passes_as_it_is() {
        for text in [r"\x", r"\u12g4", r"\ud83d!", "\\", r"a\\"] {
            let (out, _) = decoded(JsonUnescape::new(plain(text)));
            let expected = if text == r"a\\" { r"a\" } else { text };
            assert_eq!(out, expected, "{text}");
        }
    }

    #[test]
    fn an_escape_cut_by_the_end_is_dropped() {
        assert_eq!(decoded(JsonUnescape::new(plain(r"ab\u00"))).0, "ab");
        assert_eq!(decoded(PercentDecode::new(plain("ab%6"))).0, "ab");
        assert_eq!(decoded(PercentDecode::new(plain("ab%"))).0, "ab");
    }

    #[test]
    fn percent_escapes_decode() {
        let (text, ranges) = decoded(PercentDecode::new(plain("a%20b%C3%A9%zz%4")));
        assert_eq!(text, "a bé%zz");
        assert_eq!(ranges[1], (1, 4));
        // Inside JSON escapes: `%5\u0042` is `%5B`, which is `[`.
        let (text, _) = decoded(PercentDecode::new(JsonUnescape::new(plain(r"%5\u0042"))));
        assert_eq!(text, "[");
    }
}
