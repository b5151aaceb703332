//! A reader for the plain shape of a JWT's JSON object, tried before serde_json on the hot path.
//!
//! Most JWTs a verifier sees are one flat object: members named without escapes, whose values are
//! strings without escapes, integers, `true`, `false`, `null`, or arrays of those. This reader
//! takes exactly that shape, borrowing every string from the input, and answers `None` at the
//! first thing outside it — an escape, a control character, a fraction or exponent, a number that
//! may not fit an `i64`, `-0` (which serde_json reads as a float), a nested object or array,
//! a trailing comma, anything after the object — and then the caller reads the same text with
//! serde_json as before. So it never accepts what serde_json refuses, and what it accepts it
//! reads as serde_json does (the `access_token_claims` fuzz target compares the two); refusals
//! and their messages stay serde_json's.
//!
//! It checks nothing a kind's rules check (repeated members, required claims, types of the
//! registered claims): the caller does, and answers `None` for anything it would refuse.

use serde_json::Value;

/// The longest integer read here: 18 digits always fit an `i64`.
const MAX_DIGITS: usize = 18;

/// Whether `b` ends the plain part of a string: `"`, `\\` or a control character.
fn stop(b: u8) -> bool {
    b == b'"' || b == b'\\' || b < 0x20
}

/// The high bit of each byte of `word` (little-endian) for which [`stop`] holds, exact for the
/// lowest such byte (higher ones may be flagged falsely after it: only the lowest is used). The
/// usual zero-byte tricks: a byte `x` is below `n` (≤ 0x80) when `x - n` borrows and `x` had
/// its high bit clear, and equal to `c` when `x ^ c` is zero; a borrow only ever starts at a
/// byte that matches.
fn stops(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    (below(quote, 1) | below(backslash, 1) | below(word, 0x20)) & HIGH
}

/// A JSON object's text being read (see the [module docs](self)).
pub(crate) struct Reader<'a> {
    text: &'a str,
    at: usize,
    /// Whether no member was read yet (no `,` before the next one).
    first: bool,
}

impl<'a> Reader<'a> {
    /// A reader past the object's `{`; `None` when the text does not start with one.
    pub(crate) fn open(text: &'a str) -> Option<Self> {
        let mut reader = Reader {
            text,
            at: 0,
            first: true,
        };
        reader.expect(b'{')?;
        Some(reader)
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.at).copied()
    }

    /// Skips JSON whitespace (RFC 8259 §2: space, tab, line feed, carriage return).
    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// Whitespace, then `byte`.
    fn expect(&mut self, byte: u8) -> Option<()> {
        self.space();
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// The next member's name (its `:` read too); `Some(None)` when the object has ended and
    /// nothing but whitespace follows it.
    pub(crate) fn name(&mut self) -> Option<Option<&'a str>> {
        self.space();
        match self.peek()? {
            b'}' => {
                self.at += 1;
                self.space();
                return (self.at == self.text.len()).then_some(None);
            }
            b',' if !self.first => self.at += 1,
            _ if self.first => {}
            _ => return None,
        }
        self.first = false;
        let name = self.string()?;
        self.expect(b':')?;
        Some(Some(name))
    }

    /// A string without escapes or control characters (serde_json refuses those unescaped).
    pub(crate) fn string(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let start = self.at;
        let rest = self.bytes().get(start..)?;
        // Eight bytes at a time (as serde_json does), then the tail byte by byte.
        let (words, tail) = rest.as_chunks::<8>();
        let mut len = 0;
        let mut found = false;
        for word in words {
            let stops = stops(u64::from_le_bytes(*word));
            if stops != 0 {
                len += stops.trailing_zeros() as usize / 8;
                found = true;
                break;
            }
            len += 8;
        }
        if !found {
            len += tail.iter().position(|&b| stop(b))?;
        }
        if rest.get(len) != Some(&b'"') {
            return None;
        }
        self.at = start + len + 1;
        // Both ends are at ASCII quotes, so on character boundaries.
        self.text.get(start..start + len)
    }

    /// A string, or `null` (`Some(None)`), as serde_json reads an `Option<String>`.
    pub(crate) fn string_or_null(&mut self) -> Option<Option<&'a str>> {
        self.space();
        match self.peek()? {
            b'n' => self.literal("null").map(|()| None),
            _ => self.string().map(Some),
        }
    }

    /// A string or an array of strings (the shape of `aud`, RFC 7519 §4.1.3).
    pub(crate) fn strings(&mut self) -> Option<Vec<String>> {
        self.space();
        if self.peek()? != b'[' {
            return self.string().map(|s| vec![s.to_owned()]);
        }
        self.at += 1;
        let mut out = Vec::new();
        self.space();
        if self.peek()? == b']' {
            self.at += 1;
            return Some(out);
        }
        loop {
            out.push(self.string()?.to_owned());
            self.space();
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(out);
                }
                _ => return None,
            }
        }
    }

    /// An integer of at most 18 digits, without fraction or exponent; `-0` is left to serde_json
    /// (which reads it as a float).
    pub(crate) fn int(&mut self) -> Option<i64> {
        self.space();
        let negative = self.peek()? == b'-';
        if negative {
            self.at += 1;
        }
        let start = self.at;
        let digits = self.bytes().get(start..)?;
        let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
        let digits = digits.get(..len)?;
        if len == 0 || len > MAX_DIGITS || (digits[0] == b'0' && len > 1) {
            return None;
        }
        self.at = start + len;
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        let value = digits.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
        match (negative, value) {
            (true, 0) => None,
            (true, v) => Some(-v),
            (false, v) => Some(v),
        }
    }

    /// An integer, or `null` (`Some(None)`), as serde_json reads an `Option<i64>`.
    pub(crate) fn int_or_null(&mut self) -> Option<Option<i64>> {
        self.space();
        match self.peek()? {
            b'n' => self.literal("null").map(|()| None),
            _ => self.int().map(Some),
        }
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes().get(self.at..end)? == word.as_bytes()).then(|| self.at = end)
    }

    /// A string, integer, `true`, `false` or `null`.
    fn scalar(&mut self) -> Option<Value> {
        self.space();
        Some(match self.peek()? {
            b'"' => Value::String(self.string()?.to_owned()),
            b't' => self.literal("true").map(|()| Value::Bool(true))?,
            b'f' => self.literal("false").map(|()| Value::Bool(false))?,
            b'n' => self.literal("null").map(|()| Value::Null)?,
            _ => Value::from(self.int()?),
        })
    }

    /// A scalar (see `scalar`) or an array of scalars.
    pub(crate) fn value(&mut self) -> Option<Value> {
        self.space();
        if self.peek()? != b'[' {
            return self.scalar();
        }
        self.at += 1;
        let mut out = Vec::new();
        self.space();
        if self.peek()? == b']' {
            self.at += 1;
            return Some(Value::Array(out));
        }
        loop {
            out.push(self.scalar()?);
            self.space();
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(Value::Array(out));
                }
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every member as `value` reads it, or `None` where the reader leaves the text to serde_json.
    fn members(text: &str) -> Option<Vec<(String, Value)>> {
        let mut reader = Reader::open(text)?;
        let mut out = Vec::new();
        while let Some(name) = reader.name()? {
            out.push((name.to_owned(), reader.value()?));
        }
        Some(out)
    }

    /// What serde_json reads in `text`, in order (repeats kept), if it reads an object.
    fn reference(text: &str) -> Option<Vec<(String, Value)>> {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        // Objects here never repeat a member, so the map's order is not the question: sort both.
        let mut out: Vec<(String, Value)> = value.as_object()?.clone().into_iter().collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Some(out)
    }

    fn agrees(text: &str) {
        let mut ours = members(text);
        if let Some(ours) = &mut ours {
            ours.sort_by(|a, b| a.0.cmp(&b.0));
            assert_eq!(Some(ours.clone()), reference(text), "{text}");
        }
    }

    #[test]
    fn reads_the_plain_shape_as_serde_json_does() {
        for text in [
            r#"{}"#,
            r#" { } "#,
            r#"{"iss":"https://issuer.example","exp":1700000000,"aud":["a","b"],"n":null}"#,
            "{\t\"a\" :\r\n -12 ,\"b\":true,\"c\":false,\"d\":[],\"e\":[ 1 , \"x\" , null ]}\n",
            r#"{"é":"日本語","emoji":"😀","del":""}"#,
            r#"{"max":999999999999999999,"min":-999999999999999999,"zero":0}"#,
        ] {
            assert!(members(text).is_some(), "{text}");
            agrees(text);
        }
    }

    #[test]
    fn leaves_everything_else_to_serde_json() {
        for text in [
            "",
            "[]",
            r#"{"a":1,}"#,
            r#"{,"a":1}"#,
            r#"{"a":1"b":2}"#,
            r#"{"a":1} x"#,
            r#"{"a":1}}"#,
            r#"{"a":1"#,
            r#"{"a"1}"#,
            r#"{"a\"b":1}"#,
            r#"{"a":"\u0041"}"#,
            "{\"a\":\"tab\there\"}",
            "{\"a\u{1f}\":1}",
            r#"{"a":-0}"#,
            r#"{"a":01}"#,
            r#"{"a":-}"#,
            r#"{"a":1.5}"#,
            r#"{"a":1e3}"#,
            r#"{"a":1E3}"#,
            r#"{"a":1000000000000000000}"#,
            r#"{"a":{"b":1}}"#,
            r#"{"a":[[1]]}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":[1 2]}"#,
            r#"{"a":tru}"#,
            r#"{"a":nul}"#,
            r#"{"a":truex}"#,
            r#"{"a":"unterminated}"#,
        ] {
            assert!(members(text).is_none(), "{text}");
        }
    }

    #[test]
    fn the_word_scan_finds_the_first_stop_byte() {
        // Every byte at every place of a word, after and before other stops and non-ASCII.
        for b in 0..=255u8 {
            for at in 0..8 {
                for filler in [b'a', 0xff, 0x80, b'!', b'#', b'[', b']'] {
                    let mut word = [filler; 8];
                    word[at] = b;
                    // A later stop must not hide this one, nor show up before it.
                    if at < 7 {
                        word[7] = b'"';
                    }
                    let expected = word.iter().position(|&c| stop(c));
                    let got = stops(u64::from_le_bytes(word));
                    let got = (got != 0).then(|| got.trailing_zeros() as usize / 8);
                    assert_eq!(got, expected, "{word:?}");
                }
            }
        }
        // Strings longer than a word, a stop in the tail or in a later word.
        for text in [
            r#"{"abcdefghijklmnopq":"0123456789abcdefghijklmnopqrstuvwxyz","é日本語😀xyzxyz":1}"#,
            "{\"abcdefghijklmnop\\u0041\":1}",
            "{\"abcdefghijklmno\u{1}\":1}",
            "{\"abcdefgh\":\"abcdefghijklmnop\",\"x\":\"abcdefghij\\\\\"}",
        ] {
            agrees(text);
        }
        assert!(members(r#"{"abcdefghijklmnopq":"0123456789abcdefghijklmnopqrstuvwxyz"}"#).is_some());
        assert!(members("{\"abcdefghijklmno\u{1}\":1}").is_none());
        assert!(members("{\"abcdefghijklmnop\\u0041\":1}").is_none());
    }

    #[test]
    fn typed_reads() {
        let mut r =
            Reader::open(r#"{"a":null,"b":"x","c":null,"d":7,"e":["p","q"],"f":"s","g":[]}"#).unwrap();
        assert_eq!(r.name(), Some(Some("a")));
        assert_eq!(r.string_or_null(), Some(None));
        assert_eq!(r.name(), Some(Some("b")));
        assert_eq!(r.string_or_null(), Some(Some("x")));
        assert_eq!(r.name(), Some(Some("c")));
        assert_eq!(r.int_or_null(), Some(None));
        assert_eq!(r.name(), Some(Some("d")));
        assert_eq!(r.int_or_null(), Some(Some(7)));
        assert_eq!(r.name(), Some(Some("e")));
        assert_eq!(r.strings(), Some(vec!["p".to_owned(), "q".to_owned()]));
        assert_eq!(r.name(), Some(Some("f")));
        assert_eq!(r.strings(), Some(vec!["s".to_owned()]));
        assert_eq!(r.name(), Some(Some("g")));
        assert_eq!(r.strings(), Some(vec![]));
        assert_eq!(r.name(), Some(None));
        // Wrong types are not read.
        for (text, read) in [
            (
                r#"{"a":1}"#,
                (|r: &mut Reader<'_>| r.string().is_some()) as fn(&mut Reader<'_>) -> bool,
            ),
            (r#"{"a":"1"}"#, |r| r.int().is_some()),
            (r#"{"a":[1]}"#, |r| r.strings().is_some()),
            (r#"{"a":["x",1]}"#, |r| r.strings().is_some()),
            (r#"{"a":true}"#, |r| r.string_or_null().is_some()),
            (r#"{"a":"x"}"#, |r| r.int_or_null().is_some()),
        ] {
            let mut r = Reader::open(text).unwrap();
            assert_eq!(r.name(), Some(Some("a")));
            assert!(!read(&mut r), "{text}");
        }
    }
}
