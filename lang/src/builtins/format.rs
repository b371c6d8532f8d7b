//! `printf`'s format language (LANGUAGE.md §4): C's directives with flags,
//! width and precision.
//!
//! `%[flags][width][.precision]conv`, flags from `- + space 0 #`, and
//! conversions `s` (display form; precision cuts it), `d`/`i`/`ld`
//! (integer; precision is the least number of digits), `x`/`X` (integer in
//! hexadecimal, two's complement for negatives, as C's unsigned view; `#`
//! adds `0x`), `o` (octal), `f` (fixed, 6 decimals by default), `e`/`E`
//! (scientific, C's `1.500000e+00`), `g`/`G` (the shorter of the two, C's
//! rules) and `%%`.

use std::fmt::Write as _;

/// One parsed directive.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Spec {
    pub left: bool,
    pub plus: bool,
    pub space: bool,
    pub zero: bool,
    pub alt: bool,
    pub width: usize,
    pub precision: Option<usize>,
    pub conv: char,
}

/// Widths and precisions above this are refused (a format cannot ask for
/// gigabytes of padding).
pub(crate) const MAX_WIDTH: usize = 1 << 16;

/// Parses the directive after a `%` from `chars`; `Err` says what is wrong.
pub(crate) fn parse(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<Spec, String> {
    let mut s = Spec::default();
    while let Some(&c) = chars.peek() {
        match c {
            '-' => s.left = true,
            '+' => s.plus = true,
            ' ' => s.space = true,
            '0' => s.zero = true,
            '#' => s.alt = true,
            _ => break,
        }
        chars.next();
    }
    s.width = digits(chars)?.unwrap_or(0);
    if chars.peek() == Some(&'.') {
        chars.next();
        s.precision = Some(digits(chars)?.unwrap_or(0));
    }
    if chars.peek() == Some(&'l') {
        chars.next();
        if chars.peek() != Some(&'d') && chars.peek() != Some(&'i') {
            return Err("`%l` must be followed by `d` (`%ld`)".into());
        }
    }
    match chars.next() {
        Some(c @ ('s' | 'd' | 'i' | 'x' | 'X' | 'o' | 'f' | 'F' | 'e' | 'E' | 'g' | 'G')) => {
            s.conv = c;
            Ok(s)
        }
        Some(c) => Err(format!(
            "unknown directive `%{c}` (known: %s %d %ld %x %o %f %e %g %%, with flags, width and precision such as %-8s %05.2f)"
        )),
        None => Err("the format ends in the middle of a directive".into()),
    }
}

fn digits(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<Option<usize>, String> {
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        chars.next();
        let v = n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize);
        if v > MAX_WIDTH {
            return Err(format!("a width or precision above {MAX_WIDTH}"));
        }
        n = Some(v);
    }
    Ok(n)
}

impl Spec {
    /// Is this an integer conversion?
    pub fn wants_int(&self) -> bool {
        matches!(self.conv, 'd' | 'i' | 'x' | 'X' | 'o')
    }

    /// Is this a float conversion?
    pub fn wants_float(&self) -> bool {
        matches!(self.conv, 'f' | 'F' | 'e' | 'E' | 'g' | 'G')
    }

    /// `%s` of a display form.
    pub fn text(&self, out: &mut String, text: &str) {
        let cut = match self.precision {
            Some(p) => text.char_indices().nth(p).map_or(text, |(i, _)| &text[..i]),
            None => text,
        };
        self.pad(out, "", cut, false);
    }

    /// An integer conversion.
    pub fn int(&self, out: &mut String, n: i64) {
        let (sign, mut body) = match self.conv {
            'x' | 'X' | 'o' => {
                let u = n as u64;
                let mut b = match self.conv {
                    'x' => format!("{u:x}"),
                    'X' => format!("{u:X}"),
                    _ => format!("{u:o}"),
                };
                if self.precision == Some(0) && u == 0 {
                    b.clear();
                }
                ("", b)
            }
            _ => {
                let sign = if n < 0 {
                    "-"
                } else if self.plus {
                    "+"
                } else if self.space {
                    " "
                } else {
                    ""
                };
                let mut b = n.unsigned_abs().to_string();
                if self.precision == Some(0) && n == 0 {
                    b.clear();
                }
                (sign, b)
            }
        };
        if let Some(p) = self.precision {
            if body.len() < p {
                body.insert_str(0, &"0".repeat(p - body.len()));
            }
        }
        let prefix = match (self.alt, self.conv, n != 0) {
            (true, 'x', true) => "0x",
            (true, 'X', true) => "0X",
            (true, 'o', _) if !body.starts_with('0') => "0",
            _ => "",
        };
        let head = format!("{sign}{prefix}");
        // C: `0` is ignored when a precision is given for an integer.
        self.pad(out, &head, &body, self.precision.is_none());
    }

    /// A float conversion.
    pub fn float(&self, out: &mut String, f: f64) {
        let sign = if f.is_sign_negative() && !f.is_nan() {
            "-"
        } else if self.plus {
            "+"
        } else if self.space {
            " "
        } else {
            ""
        };
        let a = f.abs();
        let upper = self.conv.is_ascii_uppercase();
        if !a.is_finite() {
            let t = if a.is_nan() { "nan" } else { "inf" };
            let t = if upper {
                t.to_uppercase()
            } else {
                t.to_string()
            };
            return self.pad(out, sign, &t, false);
        }
        let p = self.precision.unwrap_or(6);
        let body = match self.conv.to_ascii_lowercase() {
            'f' => fixed(a, p, self.alt),
            'e' => scientific(a, p, self.alt, upper),
            _ => general(a, p, self.alt, upper),
        };
        self.pad(out, sign, &body, true);
    }

    /// Writes `head` (sign, prefix) and `body` padded to the width: on the
    /// right with `-`, else with zeros after the head when `0` applies,
    /// else with spaces before.
    fn pad(&self, out: &mut String, head: &str, body: &str, zero_ok: bool) {
        let len = head.chars().count() + body.chars().count();
        let fill = self.width.saturating_sub(len);
        if self.left {
            out.push_str(head);
            out.push_str(body);
            out.extend(std::iter::repeat_n(' ', fill));
        } else if self.zero && zero_ok {
            out.push_str(head);
            out.extend(std::iter::repeat_n('0', fill));
            out.push_str(body);
        } else {
            out.extend(std::iter::repeat_n(' ', fill));
            out.push_str(head);
            out.push_str(body);
        }
    }
}

fn fixed(a: f64, p: usize, alt: bool) -> String {
    let mut s = format!("{a:.p$}");
    if alt && p == 0 {
        s.push('.');
    }
    s
}

/// C's `%e`: one digit, the fraction, `e`, a sign and at least two digits.
fn scientific(a: f64, p: usize, alt: bool, upper: bool) -> String {
    let rust = format!("{a:.p$e}"); // "1.500000e0"
    let (mant, exp) = rust.split_once('e').unwrap_or((&rust, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut s = mant.to_string();
    if alt && p == 0 {
        s.push('.');
    }
    let e = if upper { 'E' } else { 'e' };
    let sign = if exp < 0 { '-' } else { '+' };
    let _ = write!(s, "{e}{sign}{:02}", exp.unsigned_abs());
    s
}

/// C's `%g`: precision significant digits (1 if 0), `%e` when the exponent
/// is below -4 or at least the precision, else `%f`; trailing zeros go
/// unless `#`.
fn general(a: f64, p: usize, alt: bool, upper: bool) -> String {
    let p = p.max(1);
    let exp = if a == 0.0 {
        0
    } else {
        let s = format!("{a:.*e}", p - 1);
        s.split_once('e')
            .and_then(|(_, e)| e.parse::<i32>().ok())
            .unwrap_or(0)
    };
    let mut s = if exp < -4 || exp >= p as i32 {
        scientific(a, p - 1, alt, upper)
    } else {
        fixed(a, (p as i32 - 1 - exp).max(0) as usize, alt)
    };
    if !alt {
        let (num, tail) = match s.find(['e', 'E']) {
            Some(i) => (s[..i].to_string(), s[i..].to_string()),
            None => (s.clone(), String::new()),
        };
        let num = if num.contains('.') {
            num.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            num
        };
        s = num + &tail;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(fmt: &str, f: impl FnOnce(&Spec, &mut String)) -> String {
        let mut chars = fmt.chars().peekable();
        assert_eq!(chars.next(), Some('%'));
        let spec = parse(&mut chars).expect("parses");
        let mut out = String::new();
        f(&spec, &mut out);
        out
    }

    #[test]
    fn integers_follow_c() {
        let i = |fmt: &str, n: i64| one(fmt, |s, o| s.int(o, n));
        assert_eq!(i("%d", 42), "42");
        assert_eq!(i("%5d", 42), "   42");
        assert_eq!(i("%-5d", 42), "42   ");
        assert_eq!(i("%05d", -42), "-0042");
        assert_eq!(i("%+d", 7), "+7");
        assert_eq!(i("% d", 7), " 7");
        assert_eq!(i("%.3d", 7), "007");
        assert_eq!(i("%ld", -9_000_000_000), "-9000000000");
        assert_eq!(i("%x", 255), "ff");
        assert_eq!(i("%X", 255), "FF");
        assert_eq!(i("%#x", 255), "0xff");
        assert_eq!(i("%08x", 48879), "0000beef");
        assert_eq!(i("%x", -1), "ffffffffffffffff");
        assert_eq!(i("%o", 8), "10");
    }

    #[test]
    fn floats_follow_c() {
        let f = |fmt: &str, x: f64| one(fmt, |s, o| s.float(o, x));
        assert_eq!(f("%f", 1.23456), "1.234560");
        assert_eq!(f("%5.2f", 1.23456), " 1.23");
        assert_eq!(f("%-8.1f", 2.25), "2.2     ");
        assert_eq!(f("%08.3f", -1.5), "-001.500");
        assert_eq!(f("%+.0f", 2.0), "+2");
        assert_eq!(f("%e", 1.5), "1.500000e+00");
        assert_eq!(f("%.2E", 12345.0), "1.23E+04");
        assert_eq!(f("%e", 0.00012), "1.200000e-04");
        assert_eq!(f("%g", 0.0001), "0.0001");
        assert_eq!(f("%g", 1e-5), "1e-05");
        assert_eq!(f("%g", 123456789.0), "1.23457e+08");
        assert_eq!(f("%g", 100.0), "100");
        assert_eq!(f("%f", f64::INFINITY), "inf");
        assert_eq!(f("%5f", f64::NEG_INFINITY), " -inf");
    }

    #[test]
    fn strings_pad_and_cut() {
        let t = |fmt: &str, x: &str| one(fmt, |s, o| s.text(o, x));
        assert_eq!(t("%s", "abc"), "abc");
        assert_eq!(t("%-6s", "abc"), "abc   ");
        assert_eq!(t("%6s", "abc"), "   abc");
        assert_eq!(t("%.2s", "abc"), "ab");
        assert_eq!(t("%4.1s", "héllo"), "   h");
    }

    #[test]
    fn bad_directives_say_what_is_wrong() {
        let bad = |fmt: &str| {
            let mut chars = fmt.chars().peekable();
            chars.next();
            parse(&mut chars).unwrap_err()
        };
        assert!(bad("%q").contains("unknown directive `%q`"));
        assert!(bad("%5").contains("ends in the middle"));
        assert!(bad("%99999999d").contains("width or precision above"));
        assert!(bad("%lq").contains("`%ld`"));
    }
}
