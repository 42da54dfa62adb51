//! I-Regexp (RFC 9485), the regular expressions of JSONPath's `match()` and `search()`
//! (RFC 9535 §2.4.6, §2.4.7): a pattern is checked against RFC 9485's grammar, then translated
//! to the `regex` crate's syntax, which matches in time linear in the text.
//!
//! The translation follows RFC 9485 §5.3 ("Mapping to other dialects"): `.` becomes `[^\n\r]`,
//! characters that are plain in I-Regexp but special in `regex` (`&`, `-`, `~` inside classes,
//! where `regex` has set operations) are escaped, `^` and `$` anchor at the text's start and
//! end (as the JSONPath Compliance Test Suite expects), and `match()` anchors the whole pattern
//! at both ends. A pattern that is not an I-Regexp, or that passes the limits
//! below, matches nothing: RFC 9535 makes such a call `LogicalFalse`, never an error.

use std::cell::RefCell;

use regex::{Regex, RegexBuilder};

/// Longest pattern compiled, in bytes. JSONPath literals are bounded by the placeholder's
/// length already; a pattern taken from the parameters may be up to their size.
pub const MAX_PATTERN_BYTES: usize = 1024;
/// How deeply groups may nest in a pattern (the translation recurses once per level).
pub const MAX_GROUP_DEPTH: usize = 32;
/// `regex`'s limits on one compiled pattern and on its lazy DFA's cache: a `{1000}` repetition
/// of a Unicode class passes the first and is refused, rather than taking megabytes.
pub const REGEX_SIZE_LIMIT: usize = 256 * 1024;
pub const REGEX_DFA_SIZE_LIMIT: usize = 256 * 1024;
/// Compiled patterns kept per thread: a filter tests every node with the same one or two.
const CACHE_SIZE: usize = 4;

/// How a pattern must match the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchoring {
    /// `match()`: the whole text.
    Whole,
    /// `search()`: any substring.
    Anywhere,
}

/// Whether `pattern`, as an I-Regexp, matches `text`; false when it is not an I-Regexp or
/// passes the limits.
pub fn is_match(pattern: &str, anchoring: Anchoring, text: &str) -> bool {
    thread_local! {
        static CACHE: RefCell<Vec<(String, Anchoring, Option<Regex>)>> = const { RefCell::new(Vec::new()) };
    }
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        let cached = cache
            .iter()
            .position(|(p, a, _)| p == pattern && *a == anchoring);
        if cached.is_none() {
            if cache.len() == CACHE_SIZE {
                cache.remove(0);
            }
            cache.push((pattern.to_owned(), anchoring, compile(pattern, anchoring)));
        }
        let entry = match cached {
            Some(at) => cache.get(at),
            None => cache.last(),
        };
        entry
            .and_then(|(_, _, regex)| regex.as_ref())
            .is_some_and(|regex| regex.is_match(text))
    })
}

/// The compiled pattern, or None when it is not an I-Regexp or passes the limits.
pub fn compile(pattern: &str, anchoring: Anchoring) -> Option<Regex> {
    let translated = translate(pattern)?;
    let anchored = match anchoring {
        Anchoring::Whole => format!(r"\A(?:{translated})\z"),
        Anchoring::Anywhere => translated,
    };
    RegexBuilder::new(&anchored)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
        .build()
        .ok()
}

/// `pattern` in the `regex` crate's syntax, or None when it is not an I-Regexp (RFC 9485 §3)
/// or passes `MAX_PATTERN_BYTES` or `MAX_GROUP_DEPTH`.
pub fn translate(pattern: &str) -> Option<String> {
    if pattern.len() > MAX_PATTERN_BYTES {
        return None;
    }
    let mut translation = Translation {
        chars: pattern.chars().collect(),
        pos: 0,
        depth: 0,
        out: String::with_capacity(pattern.len() * 2),
    };
    translation.regexp()?;
    (translation.pos == translation.chars.len()).then_some(translation.out)
}

struct Translation {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
    out: String,
}

impl Translation {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    fn eat(&mut self, c: char) -> bool {
        let found = self.peek() == Some(c);
        self.pos += usize::from(found);
        found
    }

    /// `i-regexp = branch *( "|" branch )`
    fn regexp(&mut self) -> Option<()> {
        self.branch()?;
        while self.eat('|') {
            self.out.push('|');
            self.branch()?;
        }
        Some(())
    }

    /// `branch = *piece`
    fn branch(&mut self) -> Option<()> {
        while self.peek().is_some_and(|c| c != '|' && c != ')') {
            self.piece()?;
        }
        Some(())
    }

    /// `piece = atom [ quantifier ]`
    fn piece(&mut self) -> Option<()> {
        self.atom()?;
        match self.peek() {
            Some(q @ ('*' | '+' | '?')) => {
                self.pos += 1;
                self.out.push(q);
            }
            Some('{') => self.range_quantifier()?,
            _ => {}
        }
        Some(())
    }

    /// `range-quantifier = "{" QuantExact [ "," [ QuantExact ] ] "}"`
    fn range_quantifier(&mut self) -> Option<()> {
        self.eat('{');
        let low = self.quant_exact()?;
        self.out.push('{');
        self.out.push_str(&low.to_string());
        if self.eat(',') {
            self.out.push(',');
            if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                let high = self.quant_exact()?;
                if high < low {
                    return None;
                }
                self.out.push_str(&high.to_string());
            }
        }
        self.eat('}').then(|| self.out.push('}'))
    }

    /// `QuantExact = 1*%x30-39`, as a number (a huge one fails `regex`'s limits later).
    fn quant_exact(&mut self) -> Option<u32> {
        let start = self.pos;
        let mut value: u32 = 0;
        while let Some(digit) = self.peek().and_then(|c| c.to_digit(10)) {
            value = value.saturating_mul(10).saturating_add(digit);
            self.pos += 1;
        }
        (self.pos > start).then_some(value)
    }

    /// `atom = NormalChar / charClass / ( "(" i-regexp ")" )`
    fn atom(&mut self) -> Option<()> {
        match self.next()? {
            '(' => {
                if self.depth == MAX_GROUP_DEPTH {
                    return None;
                }
                self.depth += 1;
                self.out.push_str("(?:");
                self.regexp()?;
                self.depth -= 1;
                self.eat(')').then(|| self.out.push(')'))
            }
            // RFC 9485 §5.3: `.` is any character but the two line ends.
            '.' => {
                self.out.push_str(r"[^\n\r]");
                Some(())
            }
            '[' => self.class_expression(),
            '\\' => self.escape(),
            // Quantifiers without an atom, and the characters that close what is not open.
            ')' | '*' | '+' | '?' | ']' | '{' | '}' | '|' => None,
            // The JSONPath Compliance Test Suite reads `^` and `$` as anchors at the start and
            // the end of the text ("functions, match, explicit caret"), as the regex dialects
            // RFC 9485 §5.3 maps to do.
            anchor @ ('^' | '$') => {
                self.out.push_str(if anchor == '^' { r"\A" } else { r"\z" });
                Some(())
            }
            plain => {
                push_literal(&mut self.out, plain);
                Some(())
            }
        }
    }

    /// After a `\`: `SingleCharEsc / charClassEsc`.
    fn escape(&mut self) -> Option<()> {
        match self.next()? {
            c @ ('(' | ')' | '*' | '+' | '-' | '.' | '?' | '[' | '\\' | ']' | '^' | '{' | '|'
            | '}') => {
                self.out.push('\\');
                self.out.push(c);
            }
            'n' => self.out.push_str(r"\n"),
            'r' => self.out.push_str(r"\r"),
            't' => self.out.push_str(r"\t"),
            p @ ('p' | 'P') => {
                let category = self.category()?;
                self.out.push('\\');
                self.out.push(p);
                self.out.push('{');
                self.out.push_str(&category);
                self.out.push('}');
            }
            _ => return None,
        }
        Some(())
    }

    /// `"{" charProp "}"` after `\p` or `\P`: a Unicode general category (RFC 9485 §3,
    /// `IsCategory`), one letter or one of its two-letter subcategories.
    fn category(&mut self) -> Option<String> {
        if !self.eat('{') {
            return None;
        }
        let mut name = String::new();
        while let Some(letter) = self.peek().filter(char::is_ascii_alphabetic) {
            name.push(letter);
            self.pos += 1;
        }
        if !self.eat('}') {
            return None;
        }
        const CATEGORIES: [(char, &str); 7] = [
            ('L', "lmotu"),
            ('M', "cen"),
            ('N', "dlo"),
            ('P', "cdefios"),
            ('Z', "lps"),
            ('S', "ckmo"),
            ('C', "cfno"),
        ];
        let mut letters = name.chars();
        let major = letters.next()?;
        let minor = letters.next();
        let (_, minors) = CATEGORIES.iter().find(|(m, _)| *m == major)?;
        let valid = match (minor, letters.next()) {
            (None, _) => true,
            (Some(minor), None) => minors.contains(minor),
            (Some(_), Some(_)) => false,
        };
        valid.then_some(name)
    }

    /// `charClassExpr = "[" [ "^" ] ( "-" / CCE1 ) *CCE1 [ "-" ] "]"`, after the `[`.
    fn class_expression(&mut self) -> Option<()> {
        self.out.push('[');
        if self.eat('^') {
            self.out.push('^');
        }
        let mut first = true;
        loop {
            match self.peek()? {
                ']' if !first => {
                    self.pos += 1;
                    self.out.push(']');
                    return Some(());
                }
                // A `-` only first or last.
                '-' if first || self.chars.get(self.pos + 1) == Some(&']') => {
                    self.pos += 1;
                    self.out.push_str(r"\-");
                }
                _ => self.class_element()?,
            }
            first = false;
        }
    }

    /// `CCE1 = ( CCchar [ "-" CCchar ] ) / charClassEsc`
    fn class_element(&mut self) -> Option<()> {
        let escaped_category =
            self.peek() == Some('\\') && matches!(self.chars.get(self.pos + 1), Some('p' | 'P'));
        if escaped_category {
            self.pos += 1;
            return self.escape();
        }
        let low = self.class_char()?;
        push_class_literal(&mut self.out, low);
        // `-` then `]` is the trailing literal `-`, not a range.
        if self.peek() == Some('-') && self.chars.get(self.pos + 1) != Some(&']') {
            self.pos += 1;
            let high = self.class_char()?;
            if high < low {
                return None;
            }
            self.out.push('-');
            push_class_literal(&mut self.out, high);
        }
        Some(())
    }

    /// `CCchar = ( %x00-2C / %x2E-5A / %x5E-10FFFF ) / SingleCharEsc`: the character.
    fn class_char(&mut self) -> Option<char> {
        let c = match self.next()? {
            '\\' => match self.next()? {
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                c @ ('(' | ')' | '*' | '+' | '-' | '.' | '?' | '[' | '\\' | ']' | '^' | '{'
                | '|' | '}') => c,
                _ => return None,
            },
            '-' | '[' | ']' => return None,
            c => c,
        };
        Some(c)
    }
}

/// One literal character outside a class, escaped when `regex` gives it a meaning.
fn push_literal(out: &mut String, c: char) {
    out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
}

/// One literal character inside a class: every ASCII punctuation character is escaped (the
/// `regex` crate allows it), since `&&`, `--`, `~~` and `[` mean set operations there.
fn push_class_literal(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str(r"\n"),
        '\r' => out.push_str(r"\r"),
        '\t' => out.push_str(r"\t"),
        c if c.is_ascii_punctuation() => {
            out.push('\\');
            out.push(c);
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> Option<bool> {
        compile(pattern, Anchoring::Whole).map(|r| r.is_match(text))
    }

    #[test]
    fn the_grammar_is_checked() {
        for valid in [
            "",
            "a",
            "a|b",
            "(a|b)*c",
            "a{2}",
            "a{2,}",
            "a{2,3}",
            "[a-z]",
            "[^a-z]",
            "[-a]",
            "[a-]",
            "[-]",
            r"\p{L}",
            r"\P{Lu}",
            r"[\p{Nd}x]",
            r"\.",
            r"\n",
            "^$",
            "a&&b",
            "[a&&b]",
            "[~~]",
            "()",
            "(|a)",
        ] {
            assert!(translate(valid).is_some(), "{valid:?} is an I-Regexp");
            assert!(
                compile(valid, Anchoring::Whole).is_some(),
                "{valid:?} compiles"
            );
        }
        for invalid in [
            "(",
            ")",
            "a**",
            "*",
            "+a",
            "{2}",
            "a{",
            "a{x}",
            "a{3,2}",
            "[",
            "]",
            "[]",
            "[a-]b]",
            "[z-a]",
            r"\d",
            r"\w",
            r"\b",
            r"\1",
            r"\p{Xx}",
            r"\p{Lx}",
            r"\p{IsBasicLatin}",
            r"\p{L",
            "(?:a)",
            "(?i)a",
            "a}",
            "[a--b]",
            "[[a]]",
            r"\",
        ] {
            assert!(
                translate(invalid).is_none(),
                "{invalid:?} is not an I-Regexp"
            );
        }
    }

    #[test]
    fn semantics_follow_rfc_9485() {
        // `.` is any character but \n and \r, astral ones included.
        assert_eq!(matches("a.c", "abc"), Some(true));
        assert_eq!(matches("a.c", "a😀c"), Some(true));
        assert_eq!(matches("a.c", "a\nc"), Some(false));
        assert_eq!(matches("a.c", "a\rc"), Some(false));
        assert_eq!(matches("a.c", "a\u{2028}c"), Some(true));
        // `^` and `$` anchor, as the compliance test suite expects.
        assert_eq!(matches("^a$", "a"), Some(true));
        assert!(!compile("a^", Anchoring::Anywhere).unwrap().is_match("a^"));
        assert!(compile("^a", Anchoring::Anywhere).unwrap().is_match("ab"));
        assert!(!compile("^b", Anchoring::Anywhere).unwrap().is_match("ab"));
        // Class set-operation spellings are plain too.
        assert_eq!(matches("[a&&b]+", "a&b"), Some(true));
        assert_eq!(matches("[a~~]", "~"), Some(true));
        assert_eq!(matches("[-a]", "-"), Some(true));
        assert_eq!(matches(r"\p{Lu}+", "ÀB"), Some(true));
        assert_eq!(matches(r"\P{Lu}", "a"), Some(true));
        assert!(compile("a", Anchoring::Anywhere).unwrap().is_match("xax"));
        assert!(!compile("a", Anchoring::Whole).unwrap().is_match("xax"));
    }

    #[test]
    fn limits_make_a_pattern_match_nothing() {
        let long = "a".repeat(MAX_PATTERN_BYTES + 1);
        assert!(!is_match(&long, Anchoring::Anywhere, "a"));
        assert!(is_match(&long[1..], Anchoring::Anywhere, &long[1..]));
        let deep = format!(
            "{}a{}",
            "(".repeat(MAX_GROUP_DEPTH + 1),
            ")".repeat(MAX_GROUP_DEPTH + 1)
        );
        assert!(translate(&deep).is_none());
        let deep = format!(
            "{}a{}",
            "(".repeat(MAX_GROUP_DEPTH),
            ")".repeat(MAX_GROUP_DEPTH)
        );
        assert!(translate(&deep).is_some());
        // Too large once compiled: refused by the size limit, not built.
        assert!(compile(r"\p{L}{1000}\p{L}{1000}", Anchoring::Whole).is_none());
    }
}
