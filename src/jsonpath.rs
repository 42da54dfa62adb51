//! A small hand-written parser for RFC 9535 JSONPath queries.
//!
//! It builds the same `serde_json_path_core` AST as `serde_json_path::JsonPath::parse` and
//! accepts exactly the same queries, including that crate's few departures from the RFC (marked
//! "serde_json_path:" below); `match()` and `search()` run I-Regexps (src/iregexp.rs). Evaluate
//! the result with `Queryable::query(&query, value, value)`.
//!
//! Why not serde_json_path's own parser, now that the component links `regex` anyway: it would
//! cost only ~36 KB more, and render the fixture no faster (1.01× and 1.65× the time in two
//! runs on a loaded machine: docs/jsonpath-parser.md, made by bench/jsonpath_parser.py), but its `JsonPath` keeps the parsed AST private, so a query
//! cannot be costed before it runs (`worst_case_visits`). Measured through the component:
//! `$.deep..*..*..*..*` over a 100-level chain then takes half a second instead of being refused
//! in 2 ms, and `length($.big)` at each of 100,000 items 23 s instead of 31 ms; its `match()` also
//! runs `regex` syntax, not I-Regexp, compiles the pattern at every node and has no size limit.
//! The parser stays until the crate exposes its AST.
//!
//! Recursion is bounded by [`MAX_DEPTH`], and malformed input never panics.

use std::collections::VecDeque;
use std::fmt;
use std::sync::LazyLock;

use serde_json::{Number, Value};

use crate::iregexp::{self, Anchoring};
use serde_json_path_core::spec::functions::{
    Evaluator, FunctionArgType, FunctionExpr, FunctionExprArg, JsonPathType, JsonPathValue,
    Validated,
};
use serde_json_path_core::spec::integer::Integer;
use serde_json_path_core::spec::query::{Query, QueryKind};
use serde_json_path_core::spec::segment::{QuerySegment, QuerySegmentKind, Segment};
use serde_json_path_core::spec::selector::filter::{
    BasicExpr, Comparable, ComparisonExpr, ComparisonOperator, ExistExpr, Filter, Literal,
    LogicalAndExpr, LogicalOrExpr, SingularQuery,
};
use serde_json_path_core::spec::selector::{Selector, index::Index, name::Name, slice::Slice};

/// How deeply brackets, parentheses and function calls may nest.
pub const MAX_DEPTH: usize = 64;

/// Why a query was rejected; `position` is a byte offset into the query text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub position: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at position {}", self.message, self.position)
    }
}

impl std::error::Error for ParseError {}

/// Parses a JSONPath query (RFC 9535 §2.1 `jsonpath-query`).
pub fn parse(text: &str) -> Result<Query, ParseError> {
    let mut p = Parser {
        text,
        pos: 0,
        depth: 0,
    };
    if p.peek() != Some(b'$') {
        return p.fail("a query must start with `$`");
    }
    let query = p.query()?;
    if p.pos < text.len() {
        return p.fail("expected a segment: `.name`, `..name` or `[...]`");
    }
    Ok(query)
}

type Res<T> = Result<T, ParseError>;

const NOT_SINGULAR: &str = "comparisons need a singular query (only names and indexes, no `..`)";
const EXPECTED_OPERAND: &str = "expected a literal, a query or a function call";

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        found
    }

    fn eat_str(&mut self, s: &str) -> bool {
        let found = self
            .text
            .as_bytes()
            .get(self.pos..)
            .is_some_and(|r| r.starts_with(s.as_bytes()));
        if found {
            self.pos += s.len();
        }
        found
    }

    fn eat_while(&mut self, pred: impl Fn(u8) -> bool) {
        while self.peek().is_some_and(&pred) {
            self.pos += 1;
        }
    }

    /// The text from `start` to the cursor; callers only stop on ASCII bytes, so both ends
    /// are char boundaries.
    fn since(&self, start: usize) -> &'a str {
        self.text.get(start..self.pos).unwrap_or_default()
    }

    /// Skips blank space (§2.1.1 `S`: space, tab, LF, CR); tells whether there was any.
    fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        self.eat_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
        self.pos > start
    }

    fn error_at(&self, position: usize, message: &str) -> ParseError {
        ParseError {
            position,
            message: message.to_owned(),
        }
    }

    fn fail<T>(&self, message: &str) -> Res<T> {
        Err(self.error_at(self.pos, message))
    }

    fn expect(&mut self, byte: u8, message: &str) -> Res<()> {
        if self.eat(byte) {
            Ok(())
        } else {
            self.fail(message)
        }
    }

    /// Called on an opening `[` or `(`: bounds the recursion.
    fn enter(&mut self) -> Res<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.fail("the query nests too deeply");
        }
        self.pos += 1;
        self.skip_ws();
        Ok(())
    }

    fn leave(&mut self, closing: u8, message: &str) -> Res<()> {
        self.skip_ws();
        self.expect(closing, message)?;
        self.depth -= 1;
        Ok(())
    }

    /// `*(S segment)` (§2.1.1), after `$` or `@`.
    fn segments(&mut self) -> Res<Vec<QuerySegment>> {
        let mut segments = Vec::new();
        loop {
            let start = self.pos;
            let spaced = self.skip_ws();
            let descendant = !spaced && self.eat_str("..");
            let segment = if self.peek() == Some(b'[') {
                Segment::LongHand(self.bracketed()?)
            } else if descendant || self.eat(b'.') {
                // serde_json_path: no blank space before `..` (RFC 9535 allows it).
                if spaced && self.peek() == Some(b'.') {
                    return Err(self.error_at(start, "no blank space allowed before `..`"));
                }
                self.dotted()?
            } else {
                self.pos = start;
                return Ok(segments);
            };
            let kind = if descendant {
                QuerySegmentKind::Descendant
            } else {
                QuerySegmentKind::Child
            };
            segments.push(QuerySegment { kind, segment });
        }
    }

    /// `*` or a member name (§2.5.1.1 `name-first *name-char`) after `.` or `..`.
    fn dotted(&mut self) -> Res<Segment> {
        if self.eat(b'*') {
            return Ok(Segment::Wildcard);
        }
        // Bytes >= 0x80 are the parts of non-ASCII characters, all allowed in names.
        let start = self.pos;
        self.eat_while(|b| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80);
        let name = self.since(start);
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(self.error_at(start, "expected a member name after `.`"));
        }
        Ok(Segment::DotName(name.to_owned()))
    }

    /// `"[" S selector *(S "," S selector) S "]"` (§2.5.1), at the `[`.
    fn bracketed(&mut self) -> Res<Vec<Selector>> {
        self.enter()?;
        let mut selectors = vec![self.selector()?];
        while self.eat_op(",") {
            selectors.push(self.selector()?);
        }
        self.leave(b']', "expected `]` to close the bracketed selection")?;
        Ok(selectors)
    }

    /// Consumes `S op S` if `op` comes next.
    fn eat_op(&mut self, op: &str) -> bool {
        let start = self.pos;
        self.skip_ws();
        let found = self.eat_str(op);
        if found {
            self.skip_ws();
        } else {
            self.pos = start;
        }
        found
    }

    /// One selector (§2.3).
    fn selector(&mut self) -> Res<Selector> {
        Ok(match self.peek() {
            Some(b'*') => {
                self.pos += 1;
                Selector::Wildcard
            }
            Some(quote @ (b'\'' | b'"')) => Selector::Name(Name(self.string(quote)?)),
            Some(b'?') => {
                self.pos += 1;
                self.skip_ws();
                Selector::Filter(Filter(self.logical_or()?))
            }
            _ => self.index_or_slice()?,
        })
    }

    /// `index-selector` (§2.3.3) or `slice-selector` (§2.3.4):
    /// `[start S] ":" S [end S] [":" [S step]]`.
    fn index_or_slice(&mut self) -> Res<Selector> {
        let start = self.int_then_ws()?;
        if !self.eat(b':') {
            return match start {
                Some(index) => Ok(Selector::Index(Index(index))),
                None => {
                    self.fail("expected a selector: a name, an index, a slice, `*` or a filter")
                }
            };
        }
        self.skip_ws();
        let end = self.int_then_ws()?;
        let step = if self.eat(b':') {
            self.skip_ws();
            self.int()?
        } else {
            None
        };
        Ok(Selector::ArraySlice(Slice { start, end, step }))
    }

    fn int_then_ws(&mut self) -> Res<Option<Integer>> {
        let int = self.int()?;
        if int.is_some() {
            self.skip_ws();
        }
        Ok(int)
    }

    /// An optional `int` (§2.3.3.1) within the I-JSON range ±(2^53 - 1).
    fn int(&mut self) -> Res<Option<Integer>> {
        let start = self.pos;
        if !self.int_text() {
            return Ok(None);
        }
        match self.since(start).parse() {
            Ok(int) => Ok(Some(int)),
            Err(_) => Err(self.error_at(start, "integer out of range")),
        }
    }

    /// Skips `int = "0" / (["-"] DIGIT1 *DIGIT)`; tells whether there was one.
    fn int_text(&mut self) -> bool {
        let start = self.pos;
        if self.eat(b'0') {
            return true;
        }
        self.eat(b'-');
        if !self.peek().is_some_and(|b| matches!(b, b'1'..=b'9')) {
            self.pos = start;
            return false;
        }
        self.eat_while(|b| b.is_ascii_digit());
        true
    }

    /// `number = (int / "-0") [ frac ] [ exp ]` (§2.3.5.1).
    fn number(&mut self) -> Res<Number> {
        let start = self.pos;
        if !self.int_text() && !self.eat_str("-0") {
            return self.fail("expected a number");
        }
        let dot = self.pos;
        if self.eat(b'.') {
            self.eat_while(|b| b.is_ascii_digit());
            if self.pos == dot + 1 {
                self.pos = dot; // `frac` needs a digit: `1.` is `1` followed by `.`
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            // serde_json_path: exponent digits are checked by `Number`'s parser, which also
            // rejects numbers beyond f64 (e.g. `1e400`), unlike RFC 9535.
            self.eat_while(|b| b.is_ascii_digit());
        }
        self.since(start)
            .parse()
            .map_err(|_| self.error_at(start, "invalid number"))
    }

    /// A string literal (§2.3.1.1), at its opening quote.
    fn string(&mut self, quote: u8) -> Res<String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let run = self.pos;
            self.eat_while(|b| b >= 0x20 && b != b'\\' && b != quote);
            out.push_str(self.since(run));
            let at = self.pos;
            match self.peek() {
                Some(b'\\') => {
                    self.pos += 1;
                    out.push(self.escape(quote, at)?);
                }
                Some(b) if b == quote => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(_) => return self.fail("control characters in strings must be escaped"),
                None => return self.fail("expected a closing quote"),
            }
        }
    }

    /// The escape after a `\` at `at` (§2.3.1.1 `escapable`): only the enclosing quote may
    /// be escaped.
    fn escape(&mut self, quote: u8, at: usize) -> Res<char> {
        let byte = self.peek();
        self.pos += 1;
        Ok(match byte {
            Some(b'b') => '\u{8}',
            Some(b't') => '\t',
            Some(b'n') => '\n',
            Some(b'f') => '\u{c}',
            Some(b'r') => '\r',
            Some(b'/') => '/',
            Some(b'\\') => '\\',
            Some(b) if b == quote => char::from(b),
            Some(b'u') => return self.unicode_escape(at),
            _ => return Err(self.error_at(at, "invalid escape sequence")),
        })
    }

    /// `hexchar` (§2.3.1.1): four hex digits, a surrogate pair as two `\u` escapes.
    fn unicode_escape(&mut self, at: usize) -> Res<char> {
        let high_start = self.pos;
        let code = match self.hex4() {
            Some(high @ 0xD800..=0xDBFF) => {
                // serde_json_path: the high surrogate must be written `D8`..`DB` in uppercase.
                let upper = matches!(
                    self.text.as_bytes().get(high_start..high_start + 2),
                    Some([b'D', b'8' | b'9' | b'A' | b'B'])
                );
                if !upper {
                    return Err(
                        self.error_at(at, "write high surrogates in uppercase, like `\\uD83D`")
                    );
                }
                match self.eat_str("\\u").then(|| self.hex4()).flatten() {
                    Some(low @ 0xDC00..=0xDFFF) => {
                        0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                    }
                    _ => return Err(self.error_at(at, "unpaired surrogate in `\\u` escape")),
                }
            }
            Some(0xDC00..=0xDFFF) => {
                return Err(self.error_at(at, "unpaired surrogate in `\\u` escape"));
            }
            Some(code) => code,
            None => return Err(self.error_at(at, "expected four hex digits after `\\u`")),
        };
        char::from_u32(code).ok_or_else(|| self.error_at(at, "invalid `\\u` escape"))
    }

    fn hex4(&mut self) -> Option<u32> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = char::from(self.peek()?).to_digit(16)?;
            self.pos += 1;
            code = code * 16 + digit;
        }
        Some(code)
    }

    /// `logical-or-expr = logical-and-expr *(S "||" S logical-and-expr)` (§2.3.5.1).
    fn logical_or(&mut self) -> Res<LogicalOrExpr> {
        let mut ands = vec![self.logical_and()?];
        while self.eat_op("||") {
            ands.push(self.logical_and()?);
        }
        Ok(LogicalOrExpr(ands))
    }

    /// `logical-and-expr = basic-expr *(S "&&" S basic-expr)` (§2.3.5.1).
    fn logical_and(&mut self) -> Res<LogicalAndExpr> {
        let mut basics = vec![self.basic()?];
        while self.eat_op("&&") {
            basics.push(self.basic()?);
        }
        Ok(LogicalAndExpr(basics))
    }

    /// `basic-expr = paren-expr / comparison-expr / test-expr` (§2.3.5.1).
    fn basic(&mut self) -> Res<BasicExpr> {
        if self.eat(b'!') {
            self.skip_ws();
            return match self.peek() {
                Some(b'(') => Ok(BasicExpr::NotParen(self.paren()?)),
                Some(b'$' | b'@') => Ok(BasicExpr::NotExist(ExistExpr(self.query()?))),
                Some(b'a'..=b'z') => {
                    let start = self.pos;
                    let function = self.function()?;
                    self.test_function(function, start)
                        .map(BasicExpr::NotFuncExpr)
                }
                _ => self.fail("expected `(`, a query or a function after `!`"),
            };
        }
        if self.peek() == Some(b'(') {
            return Ok(BasicExpr::Paren(self.paren()?));
        }
        let start = self.pos;
        let left = self.operand()?;
        let Some(op) = self.comparison_op() else {
            return match left {
                FunctionExprArg::FilterQuery(query) => Ok(BasicExpr::Exist(ExistExpr(query))),
                FunctionExprArg::FunctionExpr(function) => {
                    self.test_function(function, start).map(BasicExpr::FuncExpr)
                }
                // Literals are not tests (§2.4.3).
                _ => Err(self.error_at(start, "a literal or function result must be compared")),
            };
        };
        let left = self.comparable(left, start)?;
        let start = self.pos;
        let right = self.operand()?;
        let right = self.comparable(right, start)?;
        Ok(BasicExpr::Relation(ComparisonExpr { left, op, right }))
    }

    /// A function as a test expression: only one returning LogicalType (§2.4.3).
    fn test_function(
        &self,
        function: FunctionExpr<Validated>,
        start: usize,
    ) -> Res<FunctionExpr<Validated>> {
        match function.return_type {
            FunctionArgType::Logical => Ok(function),
            _ => Err(self.error_at(start, "a literal or function result must be compared")),
        }
    }

    /// `"(" S logical-expr S ")"`, at the `(`.
    fn paren(&mut self) -> Res<LogicalOrExpr> {
        self.enter()?;
        let expr = self.logical_or()?;
        self.leave(b')', "expected `)` to close the parentheses")?;
        Ok(expr)
    }

    /// `S comparison-op S` (§2.3.5.1), if one comes next.
    fn comparison_op(&mut self) -> Option<ComparisonOperator> {
        use ComparisonOperator::*;
        let ops = [
            ("==", EqualTo),
            ("!=", NotEqualTo),
            ("<=", LessThanEqualTo),
            (">=", GreaterThanEqualTo),
            ("<", LessThan),
            (">", GreaterThan),
        ];
        ops.into_iter()
            .find(|(text, _)| self.eat_op(text))
            .map(|(_, op)| op)
    }

    /// A literal, a filter query or a function expression (§2.3.5.1 `comparable`, §2.4.1
    /// `function-argument`). Queries come back as `FilterQuery`; callers narrow them.
    fn operand(&mut self) -> Res<FunctionExprArg> {
        let literal = match self.peek() {
            Some(quote @ (b'\'' | b'"')) => Literal::String(self.string(quote)?),
            Some(b'-' | b'0'..=b'9') => Literal::Number(self.number()?),
            Some(b'$' | b'@') => return Ok(FunctionExprArg::FilterQuery(self.query()?)),
            // serde_json_path: keywords are matched as prefixes, like `null` in `nullx`.
            _ if self.eat_str("true") => Literal::Bool(true),
            _ if self.eat_str("false") => Literal::Bool(false),
            _ if self.eat_str("null") => Literal::Null,
            Some(b'a'..=b'z') => return Ok(FunctionExprArg::FunctionExpr(self.function()?)),
            _ => return self.fail(EXPECTED_OPERAND),
        };
        Ok(FunctionExprArg::Literal(literal))
    }

    /// `filter-query = rel-query / jsonpath-query` (§2.3.5.1), at `@` or `$`.
    fn query(&mut self) -> Res<Query> {
        let kind = if self.eat(b'$') {
            QueryKind::Root
        } else {
            self.pos += 1;
            QueryKind::Current
        };
        Ok(Query {
            kind,
            segments: self.segments()?,
        })
    }

    /// Turns a singular query (§2.3.5.1 `singular-query`) into `SingularQuery`, as
    /// serde_json_path does for comparables and function arguments.
    fn narrow(&self, arg: FunctionExprArg, start: usize) -> Res<FunctionExprArg> {
        match arg {
            FunctionExprArg::FilterQuery(query)
                if query
                    .segments
                    .iter()
                    .all(|s| s.is_child() && s.segment.is_singular()) =>
            {
                SingularQuery::try_from(query)
                    .map(FunctionExprArg::SingularQuery)
                    .map_err(|_| self.error_at(start, NOT_SINGULAR))
            }
            other => Ok(other),
        }
    }

    /// A `comparable` (§2.3.5.1): a literal, a singular query or a ValueType function (all
    /// registered functions return ValueType).
    fn comparable(&self, arg: FunctionExprArg, start: usize) -> Res<Comparable> {
        match self.narrow(arg, start)? {
            FunctionExprArg::Literal(literal) => Ok(Comparable::Literal(literal)),
            FunctionExprArg::SingularQuery(query) => Ok(Comparable::SingularQuery(query)),
            FunctionExprArg::FunctionExpr(function)
                if function.return_type == FunctionArgType::Value =>
            {
                Ok(Comparable::FunctionExpr(function))
            }
            FunctionExprArg::FunctionExpr(_) => Err(self.error_at(
                start,
                "match() and search() are tests; their result cannot be compared",
            )),
            _ => Err(self.error_at(start, NOT_SINGULAR)),
        }
    }

    /// `function-expr = function-name "(" S [function-argument *(S "," S function-argument)] S ")"`
    /// (§2.4), checked against the function's parameter type (§2.4.3).
    fn function(&mut self) -> Res<FunctionExpr<Validated>> {
        let start = self.pos;
        self.eat_while(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'));
        let name = self.since(start);
        if self.peek() != Some(b'(') {
            return Err(self.error_at(start, EXPECTED_OPERAND));
        }
        let Some(function) = FUNCTIONS.iter().find(|f| f.name == name) else {
            return Err(ParseError {
                position: start,
                message: format!("unknown function `{name}`"),
            });
        };
        self.enter()?;
        let mut args = Vec::new();
        let mut starts = Vec::new();
        loop {
            let arg_start = self.pos;
            let arg = self.operand()?;
            args.push(self.narrow(arg, arg_start)?);
            starts.push(arg_start);
            if !self.eat_op(",") {
                break;
            }
        }
        self.leave(b')', "expected `)` to close the function arguments")?;
        if args.len() != function.parameters.len() {
            let message = match function.parameters.len() {
                1 => format!("`{name}` takes exactly one argument"),
                n => format!("`{name}` takes exactly {n} arguments"),
            };
            return Err(self.error_at(start, &message));
        }
        for ((arg, &parameter), &arg_start) in args.iter().zip(function.parameters).zip(&starts) {
            let kind = match arg {
                FunctionExprArg::Literal(_) => FunctionArgType::Literal,
                FunctionExprArg::SingularQuery(_) => FunctionArgType::SingularQuery,
                FunctionExprArg::FilterQuery(_) => FunctionArgType::Nodelist,
                FunctionExprArg::LogicalExpr(_) => FunctionArgType::Logical,
                FunctionExprArg::FunctionExpr(f) => f.return_type,
            };
            if !kind.converts_to(parameter) {
                let message = match parameter {
                    JsonPathType::Value => {
                        "this function needs a value: a literal, a singular query or a function result"
                    }
                    _ => "this function needs a query",
                };
                return Err(self.error_at(arg_start, message));
            }
        }
        Ok(FunctionExpr {
            name: name.to_owned(),
            args,
            return_type: function.returns,
            validated: Validated {
                evaluator: function.evaluator,
            },
        })
    }
}

/// One standard function: its name, parameter types, result type and evaluator.
struct Function {
    name: &'static str,
    parameters: &'static [JsonPathType],
    returns: FunctionArgType,
    evaluator: &'static Evaluator,
}

/// The standard functions (§2.4.4-2.4.8).
static FUNCTIONS: [Function; 5] = [
    Function {
        name: "length",
        parameters: &[JsonPathType::Value],
        returns: FunctionArgType::Value,
        evaluator: &LENGTH,
    },
    Function {
        name: "count",
        parameters: &[JsonPathType::Nodes],
        returns: FunctionArgType::Value,
        evaluator: &COUNT,
    },
    Function {
        name: "match",
        parameters: &[JsonPathType::Value, JsonPathType::Value],
        returns: FunctionArgType::Logical,
        evaluator: &MATCH,
    },
    Function {
        name: "search",
        parameters: &[JsonPathType::Value, JsonPathType::Value],
        returns: FunctionArgType::Logical,
        evaluator: &SEARCH,
    },
    Function {
        name: "value",
        parameters: &[JsonPathType::Nodes],
        returns: FunctionArgType::Value,
        evaluator: &VALUE,
    },
];

static LENGTH: Evaluator = LazyLock::new(|| Box::new(length));
static COUNT: Evaluator = LazyLock::new(|| Box::new(count));
static VALUE: Evaluator = LazyLock::new(|| Box::new(value));
static MATCH: Evaluator = LazyLock::new(|| Box::new(|args| regex_test(args, Anchoring::Whole)));
static SEARCH: Evaluator = LazyLock::new(|| Box::new(|args| regex_test(args, Anchoring::Anywhere)));

/// `match()` (§2.4.6) and `search()` (§2.4.7): whether the string matches the I-Regexp, in
/// whole or in part; false when either is not a string or the pattern is not an I-Regexp.
fn regex_test(mut args: VecDeque<JsonPathValue<'_>>, anchoring: Anchoring) -> JsonPathValue<'_> {
    fn string<'v>(value: &'v Option<JsonPathValue<'_>>) -> Option<&'v str> {
        match value {
            Some(JsonPathValue::Value(Value::String(s))) => Some(s),
            Some(JsonPathValue::Node(Value::String(s))) => Some(s),
            _ => None,
        }
    }
    let (text, pattern) = (args.pop_front(), args.pop_front());
    let found = match (string(&text), string(&pattern)) {
        (Some(text), Some(pattern)) => iregexp::is_match(pattern, anchoring, text),
        _ => false,
    };
    JsonPathValue::Logical(found.into())
}

/// `length()` (§2.4.4): characters of a string, items of an array or members of an object.
fn length(mut args: VecDeque<JsonPathValue<'_>>) -> JsonPathValue<'_> {
    let size = |v: &Value| match v {
        Value::String(s) => Some(s.chars().count()),
        Value::Array(a) => Some(a.len()),
        Value::Object(o) => Some(o.len()),
        _ => None,
    };
    let len = match args.pop_front() {
        Some(JsonPathValue::Value(v)) => size(&v),
        Some(JsonPathValue::Node(v)) => size(v),
        _ => None,
    };
    len.map_or(JsonPathValue::Nothing, |n| JsonPathValue::Value(n.into()))
}

/// `count()` (§2.4.5): the number of nodes.
fn count(mut args: VecDeque<JsonPathValue<'_>>) -> JsonPathValue<'_> {
    let n = match args.pop_front() {
        Some(JsonPathValue::Nodes(nodes)) => nodes.len(),
        Some(JsonPathValue::Node(_)) => 1,
        _ => 0,
    };
    JsonPathValue::Value(n.into())
}

/// `value()` (§2.4.8): the value of a single node, otherwise Nothing.
fn value(mut args: VecDeque<JsonPathValue<'_>>) -> JsonPathValue<'_> {
    match args.pop_front() {
        Some(JsonPathValue::Nodes(nodes)) if nodes.len() == 1 => nodes
            .first()
            .map_or(JsonPathValue::Nothing, JsonPathValue::Node),
        Some(node @ JsonPathValue::Node(_)) => node,
        _ => JsonPathValue::Nothing,
    }
}

/// What bounds a query's cost on one document: its number of nodes, the most children any
/// node has, and its longest string (bytes), which `length()`, `match()` and `search()` scan.
/// One walk of the document, without recursion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    pub nodes: u64,
    pub fanout: u64,
    pub longest_string: u64,
}

impl Shape {
    pub fn of(document: &Value) -> Shape {
        let mut shape = Shape {
            nodes: 0,
            fanout: 0,
            longest_string: 0,
        };
        let mut pending = vec![document];
        while let Some(node) = pending.pop() {
            shape.nodes += 1;
            let before = pending.len();
            match node {
                Value::Array(items) => pending.extend(items),
                Value::Object(members) => pending.extend(members.values()),
                Value::String(text) => {
                    shape.longest_string = shape.longest_string.max(text.len() as u64);
                }
                _ => {}
            }
            shape.fanout = shape.fanout.max((pending.len() - before) as u64);
        }
        shape
    }
}

/// An upper bound on the nodes that evaluating `query` once visits in a document of `shape`.
///
/// RFC 9535 keeps duplicates, so a query's cost is not bounded by the document: every `..`
/// segment multiplies the nodes by up to the document's size (`$..*..*..*..*` over a 100-level
/// chain visits 10^8 nodes) and every union by its width (`$[0,0][0,0]...` doubles per
/// segment). Callers refuse queries whose bound exceeds their budget *before* evaluating them.
/// The bound is conservative (it assumes every wildcard meets the widest node), and saturates
/// at `u64::MAX` rather than overflowing. (Integers, not floats: formatting an `f64` for the
/// message would add ~29 KB of float printing to the component.)
///
/// `shape` is asked for only when the bound depends on the document: a singular query (names
/// and indexes only, the common case) visits one node per segment whatever the document.
pub fn worst_case_visits(query: &Query, shape: impl FnOnce() -> Shape) -> u64 {
    let singular = query
        .segments
        .iter()
        .all(|s| s.is_child() && s.segment.is_singular());
    if singular {
        return 1 + query.segments.len() as u64;
    }
    query_cost(query, shape()).visits
}

/// Nodes a query yields from one start node, and nodes it visits to get them.
struct Cost {
    yields: u64,
    visits: u64,
}

fn query_cost(query: &Query, shape: Shape) -> Cost {
    let mut cost = Cost {
        yields: 1,
        visits: 1,
    };
    for segment in &query.segments {
        // From one node, a selector yields one member or up to `fanout` of them; a descendant
        // segment applies its selectors at every node below, whose children total `nodes`.
        let (single, reach) = match segment.kind {
            QuerySegmentKind::Child => (1, shape.fanout),
            QuerySegmentKind::Descendant => (shape.nodes, shape.nodes),
        };
        let selector_cost = |selector: &Selector| match selector {
            Selector::Name(_) | Selector::Index(_) => (single, single),
            Selector::Wildcard | Selector::ArraySlice(_) => (reach, reach),
            Selector::Filter(Filter(predicate)) => {
                (reach, reach.saturating_mul(1 + or_cost(predicate, shape)))
            }
        };
        let (yields, visits) = match &segment.segment {
            Segment::LongHand(selectors) => selectors
                .iter()
                .map(selector_cost)
                .fold((0, 0), |(y, v): (u64, u64), (sy, sv)| {
                    (y.saturating_add(sy), v.saturating_add(sv))
                }),
            Segment::DotName(_) => (single, single),
            Segment::Wildcard => (reach, reach),
        };
        cost.visits = cost
            .visits
            .saturating_add(cost.yields.saturating_mul(visits));
        cost.yields = cost.yields.saturating_mul(yields);
    }
    cost
}

/// Nodes visited to test a filter predicate on one node.
fn or_cost(expr: &LogicalOrExpr, shape: Shape) -> u64 {
    expr.0
        .iter()
        .flat_map(|and| &and.0)
        .map(|basic| match basic {
            BasicExpr::Paren(inner) | BasicExpr::NotParen(inner) => or_cost(inner, shape),
            BasicExpr::Relation(ComparisonExpr { left, right, .. }) => {
                comparable_cost(left, shape).saturating_add(comparable_cost(right, shape))
            }
            BasicExpr::Exist(ExistExpr(query)) | BasicExpr::NotExist(ExistExpr(query)) => {
                query_cost(query, shape).visits
            }
            BasicExpr::FuncExpr(function) | BasicExpr::NotFuncExpr(function) => {
                function_cost(function, shape)
            }
        })
        .fold(0, u64::saturating_add)
}

fn comparable_cost(comparable: &Comparable, shape: Shape) -> u64 {
    match comparable {
        Comparable::Literal(_) => 0,
        Comparable::SingularQuery(query) => 1 + query.segments.len() as u64,
        Comparable::FunctionExpr(function) => function_cost(function, shape),
    }
}

/// Bytes of a string that `length()`, `match()` or `search()` scan for the cost of one node
/// visit (a visit of the evaluator costs ~12 ns in wasm; a scan ~1 ns a byte).
const STRING_BYTES_PER_VISIT: u64 = 16;
/// Node visits that compiling one byte of a regex costs: 200 compilations of a 1 KB pattern
/// took 2.6 times as long as the 8,000,000 visits of the costliest JSONPath render in
/// wasmtime-py (tests/conformance/test_limits.py, "near the budget"), so 100 are allowed.
const COMPILE_VISITS_PER_BYTE: u64 = 76;

fn function_cost(function: &FunctionExpr<Validated>, shape: Shape) -> u64 {
    let name = function.name.as_str();
    let scan = match name {
        "length" | "match" | "search" => shape.longest_string / STRING_BYTES_PER_VISIT,
        _ => 0,
    };
    // A pattern from the document may differ at every node, and compiling one costs far more
    // than scanning it: a literal is compiled once (iregexp's cache).
    let compile = match (name, function.args.get(1)) {
        ("match" | "search", Some(pattern)) if !matches!(pattern, FunctionExprArg::Literal(_)) => {
            shape
                .longest_string
                .min(iregexp::MAX_PATTERN_BYTES as u64)
                .saturating_mul(COMPILE_VISITS_PER_BYTE)
        }
        _ => 0,
    };
    let args = function
        .args
        .iter()
        .map(|arg| match arg {
            FunctionExprArg::Literal(_) => 0,
            FunctionExprArg::SingularQuery(query) => 1 + query.segments.len() as u64,
            FunctionExprArg::FilterQuery(query) => query_cost(query, shape).visits,
            FunctionExprArg::LogicalExpr(expr) => or_cost(expr, shape),
            FunctionExprArg::FunctionExpr(inner) => function_cost(inner, shape),
        })
        .fold(0, u64::saturating_add);
    args.saturating_add(scan).saturating_add(compile)
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use serde_json_path_core::spec::query::Queryable;
    use serde_json_path_core::spec::selector::filter::SingularQuerySegment;

    use super::*;

    /// The parsed query, printed back (serde_json_path_core's `Display`), or the error.
    fn show(query: &str) -> String {
        match parse(query) {
            Ok(ast) => ast.to_string(),
            Err(e) => format!("error: {e}"),
        }
    }

    fn error(query: &str) -> (usize, String) {
        let e = parse(query).expect_err(query);
        (e.position, e.message)
    }

    fn select(query: &str, document: &Value) -> Vec<Value> {
        let ast = parse(query).expect(query);
        ast.query(document, document).into_iter().cloned().collect()
    }

    /// The name of `$[<string>]`.
    fn name(query: &str) -> Result<String, String> {
        match parse(query).map_err(|e| e.message)?.segments.as_slice() {
            [
                QuerySegment {
                    segment: Segment::LongHand(selectors),
                    ..
                },
            ] => match selectors.as_slice() {
                [Selector::Name(Name(name))] => Ok(name.clone()),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    /// The filter of `$[?<filter>]`.
    fn filter(query: &str) -> LogicalOrExpr {
        match parse(query).expect(query).segments.as_slice() {
            [
                QuerySegment {
                    segment: Segment::LongHand(selectors),
                    ..
                },
            ] => match selectors.as_slice() {
                [Selector::Filter(Filter(expr))] => expr.clone(),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn segments_keep_their_shorthand_or_bracketed_form() {
        let ast = parse("$.a['b'].*[*]..c..*..[0]").unwrap();
        // (The core's `Display` writes a descendant `.c` as `...c`.)
        assert_eq!(ast.to_string(), "$.a['b'].*[*]...c...*..[0]");
        let kinds: Vec<bool> = ast.segments.iter().map(QuerySegment::is_child).collect();
        assert_eq!(kinds, [true, true, true, true, false, false, false]);
        assert!(matches!(&ast.segments[0].segment, Segment::DotName(n) if n == "a"));
        assert!(matches!(&ast.segments[2].segment, Segment::Wildcard));
        assert_eq!(show("$._☺é1.A"), "$._☺é1.A");
        assert_eq!(
            error("$.1a"),
            (2, "expected a member name after `.`".into())
        );
        assert_eq!(
            error("$.a."),
            (4, "expected a member name after `.`".into())
        );
        assert_eq!(error("$..").0, 3);
        assert_eq!(error("$.[0]").0, 2);
    }

    #[test]
    fn blank_space_rules() {
        assert_eq!(show("$ .a\t['b']\n[0]\r.*"), "$.a['b'][0].*");
        assert_eq!(show("$[ 'a' ,\n1 ]"), "$['a',1]");
        assert_eq!(error(" $"), (0, "a query must start with `$`".into()));
        assert_eq!(error("$.a ").0, 3);
        assert_eq!(error("$. a").0, 2);
        assert_eq!(error("$.. a").0, 3);
        // serde_json_path rejects blank space before `..`; RFC 9535 would accept it.
        assert_eq!(
            error("$ ..a"),
            (1, "no blank space allowed before `..`".into())
        );
        assert_eq!(show("$[?@.a\n&&\t@.b ||\r!@.c]"), "$[?@.a && @.b || !@.c]");
        assert!(parse("$[?length (@)==1]").is_err());
    }

    #[test]
    fn string_escapes() {
        assert_eq!(
            name(r"$['\b\f\n\r\t\/\\\'']").unwrap(),
            "\u{8}\u{c}\n\r\t/\\'"
        );
        assert_eq!(name(r#"$["\"'"]"#).unwrap(), "\"'");
        assert_eq!(name(r#"$['"']"#).unwrap(), "\"");
        assert_eq!(name(r"$['\u00e9\u00E9\u0000']").unwrap(), "éé\0");
        assert_eq!(name("$['\u{7f}☺']").unwrap(), "\u{7f}☺");
        // Each quote escapes only itself (§2.3.1.1).
        assert_eq!(error(r#"$["\'"]"#), (3, "invalid escape sequence".into()));
        assert_eq!(error(r#"$['\"']"#).1, "invalid escape sequence");
        assert_eq!(error(r"$['\x41']").1, "invalid escape sequence");
        assert_eq!(
            error("$['a\nb']"),
            (4, "control characters in strings must be escaped".into())
        );
        assert_eq!(error("$['a"), (4, "expected a closing quote".into()));
        assert_eq!(
            error(r"$['\u12g4']"),
            (3, "expected four hex digits after `\\u`".into())
        );
    }

    #[test]
    fn surrogate_pairs() {
        assert_eq!(name(r"$['\uD83D\uDE00']").unwrap(), "😀");
        assert_eq!(name(r"$['\uD83D\ude00']").unwrap(), "😀");
        assert_eq!(name(r"$['\uDBFF\uDFFF']").unwrap(), "\u{10FFFF}");
        assert_eq!(name(r"$['\uD800\uDC00']").unwrap(), "\u{10000}");
        assert_eq!(name(r"$['\uD7FF\uE000']").unwrap(), "\u{D7FF}\u{E000}");
        // serde_json_path wants the high surrogate in uppercase.
        assert_eq!(
            error(r"$['\ud83d\uDE00']"),
            (
                3,
                "write high surrogates in uppercase, like `\\uD83D`".into()
            )
        );
        for unpaired in [
            r"$['\uD800']",
            r"$['\uDC00']",
            r"$['\uD800\u0041']",
            r"$['\uD800\uD800']",
        ] {
            assert_eq!(
                error(unpaired),
                (3, "unpaired surrogate in `\\u` escape".into())
            );
        }
        // serde_json_path panics on these truncations.
        for truncated in [r"$['\u", r"$['\uD", r"$['\uD800\u", r"$['\uD800\uD"] {
            assert!(parse(truncated).is_err(), "{truncated}");
        }
    }

    #[test]
    fn integers_at_the_i_json_bounds() {
        assert_eq!(show("$[9007199254740991]"), "$[9007199254740991]");
        assert_eq!(show("$[-9007199254740991]"), "$[-9007199254740991]");
        assert_eq!(
            error("$[9007199254740992]"),
            (2, "integer out of range".into())
        );
        assert_eq!(
            error("$[-9007199254740992]"),
            (2, "integer out of range".into())
        );
        assert_eq!(
            error("$[1:99999999999999999999999]"),
            (4, "integer out of range".into())
        );
        assert_eq!(error("$[::-9007199254740992]").0, 4);
        for invalid in ["$[01]", "$[-0]", "$[-01]", "$[+1]", "$[- 1]", "$[1.0]"] {
            assert!(parse(invalid).is_err(), "{invalid}");
        }
    }

    #[test]
    fn slices() {
        let slice = |query: &str| match &parse(query).unwrap().segments[0].segment {
            Segment::LongHand(selectors) => match selectors.as_slice() {
                [Selector::ArraySlice(slice)] => *slice,
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        };
        assert_eq!(slice("$[:]"), Slice::default());
        assert_eq!(slice("$[::]"), Slice::default());
        assert_eq!(
            slice("$[1 :\n-2 : 3 ]"),
            Slice::new().with_start(1).with_end(-2).with_step(3)
        );
        assert_eq!(slice("$[::-1]"), Slice::new().with_step(-1));
        assert_eq!(slice("$[: 5 :]"), Slice::new().with_end(5));
        for invalid in [
            "$[1:2:3:4]",
            "$[1:2 3]",
            "$[0:01]",
            "$[:-0]",
            "$[1:a]",
            "$[:::]",
        ] {
            assert!(parse(invalid).is_err(), "{invalid}");
        }
        let doc = json!([0, 1, 2, 3, 4, 5]);
        assert_eq!(select("$[1:5:2]", &doc), [json!(1), json!(3)]);
        assert_eq!(select("$[::-2]", &doc), [json!(5), json!(3), json!(1)]);
        assert_eq!(select("$[-2:]", &doc), [json!(4), json!(5)]);
    }

    #[test]
    fn and_binds_tighter_than_or_and_not_binds_tightest() {
        let LogicalOrExpr(ors) = filter("$[?@.a || @.b && !@.c]");
        let [LogicalAndExpr(first), LogicalAndExpr(second)] = ors.as_slice() else {
            panic!("{ors:?}")
        };
        assert!(matches!(first.as_slice(), [BasicExpr::Exist(_)]));
        assert!(matches!(
            second.as_slice(),
            [BasicExpr::Exist(_), BasicExpr::NotExist(_)]
        ));
        let LogicalOrExpr(ors) = filter("$[?!(@.a || @.b) && (@.c)]");
        assert!(matches!(
            ors[0].0.as_slice(),
            [BasicExpr::NotParen(LogicalOrExpr(inner)), BasicExpr::Paren(_)] if inner.len() == 2
        ));
        let doc = json!([{ "a": 1 }, { "b": 1, "c": 1 }, { "b": 1 }, { "c": 1 }]);
        assert_eq!(
            select("$[?@.a || @.b && !@.c]", &doc),
            [json!({ "a": 1 }), json!({ "b": 1 })]
        );
        assert_eq!(
            select("$[?!(@.a || @.b) && (@.c)]", &doc),
            [json!({ "c": 1 })]
        );
        assert!(parse("$[?!!@.a]").is_err());
        assert!(parse("$[?!@.a == 1]").is_err());
    }

    #[test]
    fn comparisons() {
        let LogicalOrExpr(ors) = filter("$[?@['a'][0] <= $.b]");
        let [BasicExpr::Relation(relation)] = ors[0].0.as_slice() else {
            panic!("{ors:?}")
        };
        assert_eq!(relation.op, ComparisonOperator::LessThanEqualTo);
        let Comparable::SingularQuery(left) = &relation.left else {
            panic!("{relation:?}")
        };
        assert!(matches!(
            left.segments.as_slice(),
            [
                SingularQuerySegment::Name(_),
                SingularQuerySegment::Index(_)
            ]
        ));
        let literal = |query: &str| match &filter(query).0[0].0[0] {
            BasicExpr::Relation(ComparisonExpr {
                right: Comparable::Literal(literal),
                ..
            }) => literal.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            literal("$[?@==-0.5e+3]"),
            Literal::Number("-0.5e+3".parse().unwrap())
        );
        assert_eq!(literal("$[?@==-0]"), Literal::Number("-0".parse().unwrap()));
        assert_eq!(
            literal("$[?@==1E2]"),
            Literal::Number(Number::from_f64(100.0).unwrap())
        );
        assert_eq!(literal("$[?@=='x']"), Literal::String("x".into()));
        assert_eq!(literal("$[?@==null]"), Literal::Null);
        assert_eq!(literal("$[?@==false]"), Literal::Bool(false));
        for invalid in [
            "$[?@==01]",
            "$[?@==1.]",
            "$[?@==.5]",
            "$[?@==1e]",
            "$[?@==+1]",
            "$[?@==nul]",
        ] {
            assert!(parse(invalid).is_err(), "{invalid}");
        }
        // serde_json_path: a number `f64` cannot hold is rejected.
        assert_eq!(error("$[?@==1e400]"), (6, "invalid number".into()));
        assert_eq!(error("$[?@.* == 1]"), (3, NOT_SINGULAR.into()));
        assert_eq!(error("$[?1 == @..a]"), (8, NOT_SINGULAR.into()));
        assert_eq!(
            error("$[?1]"),
            (3, "a literal or function result must be compared".into())
        );
        let doc = json!([{ "a": 1 }, { "a": "1" }, { "a": 2.0 }, { "b": 1 }]);
        assert_eq!(
            select("$[?@.a >= 1]", &doc),
            [json!({ "a": 1 }), json!({ "a": 2.0 })]
        );
        assert_eq!(select("$[?@.a == '1']", &doc), [json!({ "a": "1" })]);
    }

    #[test]
    fn function_typing() {
        assert_eq!(
            show("$[?length(@.a) > 1 && count(@.*) == value($..x)]"),
            "$[?length(@['a'])>1 && count(@.*)==value($...x)]"
        );
        assert!(parse("$[?length(value(@.*)) == 1]").is_ok());
        assert!(parse("$[?length('abc') == 3 && length(length(@)) == 1]").is_ok());
        let needs_value =
            "this function needs a value: a literal, a singular query or a function result";
        // At the argument that does not fit.
        assert_eq!(error("$[?length(@.*) == 1]"), (10, needs_value.into()));
        assert_eq!(
            error("$[?count(1) == 1]"),
            (9, "this function needs a query".into())
        );
        assert_eq!(error("$[?match(@, @.*)]"), (12, needs_value.into()));
        assert_eq!(
            error("$[?count(length(@)) == 1]").1,
            "this function needs a query"
        );
        assert_eq!(
            error("$[?length(@, @) == 1]"),
            (3, "`length` takes exactly one argument".into())
        );
        assert_eq!(
            error("$[?search(@)]"),
            (3, "`search` takes exactly 2 arguments".into())
        );
        assert_eq!(error("$[?length() == 1]").0, 10);
        // ValueType results can only be compared (§2.4.3).
        assert_eq!(
            error("$[?value(@.a)]").1,
            "a literal or function result must be compared"
        );
        assert!(parse("$[?!count(@.*)]").is_err());
        assert_eq!(
            error("$[?foo(@) == 1]"),
            (3, "unknown function `foo`".into())
        );
        // LogicalType results are tests, never compared (§2.4.3).
        assert_eq!(
            error("$[?match(@, 'a') == 1]").1,
            "match() and search() are tests; their result cannot be compared"
        );
        // (serde_json_path_core prints `!f()` without its `!`; it evaluates it negated.)
        assert_eq!(
            show("$[?match(@.a, 'a.*') && !search(@.b, $.p)]"),
            "$[?match(@['a'],'a.*') && search(@['b'],$['p'])]"
        );
        assert!(parse("$[?length (@) == 1]").is_err());

        let doc = json!([[1, 2], "héllo", { "x": 1 }, 5, { "x": [7] }]);
        assert_eq!(select("$[?length(@) == 5]", &doc), [json!("héllo")]);
        assert_eq!(select("$[?count(@.*) == 2]", &doc), [json!([1, 2])]);
        assert_eq!(select("$[?value(@..x) == 1]", &doc), [json!({ "x": 1 })]);
        assert_eq!(
            select("$[?length(value(@.x)) == 1]", &doc),
            [json!({ "x": [7] })]
        );
        let doc = json!(["abc", "xabcx", "ab\nc", 5, {"p": "b."}]);
        assert_eq!(select("$[?match(@, 'a.c')]", &doc), [json!("abc")]);
        assert_eq!(
            select("$[?search(@, 'b.')]", &doc),
            [json!("abc"), json!("xabcx")]
        );
        // Not a string: no match, so `!search` holds.
        assert_eq!(
            select("$[?!search(@, 'b')]", &doc),
            [json!(5), json!({"p": "b."})]
        );
        // From the document, and not an I-Regexp (`\\d`): false, never an error.
        assert_eq!(
            select("$[?search(@, $[4].p)]", &doc),
            [json!("abc"), json!("xabcx")]
        );
        assert_eq!(select(r"$[?search(@, '\\d')]", &doc), Vec::<Value>::new());
    }

    #[test]
    fn nesting_is_limited() {
        let filters = |n: usize| format!("$[?{}@{}]", "@[?".repeat(n - 1), "]".repeat(n - 1));
        let parens = |n: usize| format!("$[?{}@{}]", "(".repeat(n - 1), ")".repeat(n - 1));
        let calls = |n: usize| format!("$[?{}@{}==1]", "length(".repeat(n - 1), ")".repeat(n - 1));
        for deepest in [filters, parens, calls] {
            assert!(parse(&deepest(MAX_DEPTH)).is_ok());
            let (position, message) = error(&deepest(MAX_DEPTH + 1));
            assert_eq!(message, "the query nests too deeply");
            assert!(position > MAX_DEPTH);
        }
        // Far deeper input fails fast instead of overflowing the stack.
        assert!(parse(&"$[?(".repeat(100_000)).is_err());
        assert!(parse(&format!("$[{}", "[".repeat(100_000))).is_err());
    }

    #[test]
    fn errors_show_message_and_position() {
        let e = parse("$.a[?@.b == ]").unwrap_err();
        assert_eq!(
            e.to_string(),
            "expected a literal, a query or a function call at position 12"
        );
        assert_eq!(
            error("$['a'"),
            (5, "expected `]` to close the bracketed selection".into())
        );
        assert_eq!(
            error("$[?(@.a]"),
            (7, "expected `)` to close the parentheses".into())
        );
        assert_eq!(
            error("$[?length(@.a]==1"),
            (13, "expected `)` to close the function arguments".into())
        );
        assert_eq!(
            error("$[?! 1]"),
            (5, "expected `(`, a query or a function after `!`".into())
        );
        assert_eq!(
            error("$[]"),
            (
                2,
                "expected a selector: a name, an index, a slice, `*` or a filter".into()
            )
        );
        assert_eq!(
            error("$a"),
            (1, "expected a segment: `.name`, `..name` or `[...]`".into())
        );
        assert_eq!(error(""), (0, "a query must start with `$`".into()));
    }

    #[test]
    fn worst_case_visits_bound_what_evaluation_does() {
        let visits = |query: &str, document: &Value| {
            worst_case_visits(&parse(query).unwrap(), || Shape::of(document))
        };
        let chain = (0..100).fold(json!(1), |inner, _| json!({ "a": inner }));
        assert_eq!(
            Shape::of(&chain),
            Shape {
                nodes: 101,
                fanout: 1,
                longest_string: 0
            }
        );
        // Singular queries cost their length, whatever the document.
        assert_eq!(visits("$.a.a['a'][0]", &chain), 5);
        // Each `..*` may visit every node again from every node it yields.
        let one = visits("$..*", &chain);
        let four = visits("$..*..*..*..*", &chain);
        assert!(one <= 2 * 101, "{one}");
        assert!(four > 101u64.pow(4), "{four}");
        assert!(four > crate::template::MAX_RENDER_VISITS);
        // Unions keep duplicates: 40 doublings saturate no counter but exceed any budget.
        let unions = visits(&format!("$.a{}", "[0,0]".repeat(40)), &chain);
        assert!(unions > 2u64.pow(40), "{unions}");
        // String functions cost the longest string at every candidate, and a pattern taken
        // from the document its compilation too: `length($.big)` at each of 100,000 items
        // would scan 2 MB 100,000 times.
        let big = json!({ "big": "x".repeat(2 << 20), "items": vec![1; 100_000] });
        assert!(visits("$.items[?length($.big) == 1]", &big) > crate::template::MAX_RENDER_VISITS);
        let small = json!({ "p": "a+", "items": vec!["aaa"; 1000] });
        let literal = visits("$.items[?match(@, 'a+')]", &small);
        let from_document = visits("$.items[?match(@, $.p)]", &small);
        assert!(
            from_document > literal + 1000 * 2 * COMPILE_VISITS_PER_BYTE - 1,
            "{literal} {from_document}"
        );
        // Filters cost their predicate at every candidate.
        let list = json!({ "items": (0..1000).map(|i| json!({ "id": i })).collect::<Vec<_>>() });
        let filter = visits("$.items[?@.id == 7]", &list);
        assert!((3000..=5000).contains(&filter), "{filter}");
        // The bound holds: the evaluated node count never exceeds it.
        for query in [
            "$..*",
            "$..*..*",
            "$.items[*].id",
            "$..[?@.id > 10]",
            "$..id",
        ] {
            for document in [&chain, &list] {
                let found = parse(query).unwrap().query(document, document).len() as u64;
                assert!(found <= visits(query, document), "{query}");
            }
        }
    }

    #[test]
    fn every_prefix_parses_without_panicking() {
        let query = "$..é[?@['\\uD83D\\uDE00'][1] >= -1.5e3 && !(length(@.x) == count($.*)) \
                     || @[1:-1:2, \"☺\"]]";
        for (i, _) in query.char_indices() {
            let _ = parse(&query[..i]);
        }
        parse(query).unwrap();
    }
}
