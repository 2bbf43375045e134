//! CoRE link format (RFC 6690, application/link-format, Content-Format 40): the payloads of
//! Register, Update, Discover and Bootstrap-Discover (Core 1.1 §5.2.7.3, §5.3.1, §5.4.2).
//!
//! [`format_links`] writes the compact form (no spaces) that current servers expect;
//! [`parse_links`] is lenient, for what servers and older clients really send (VECTORS §2):
//! spaces after commas, quoted or bare values, trailing `/` in targets and the LwM2M 1.0
//! Bootstrap-Discover head element `lwm2m="1.0"` that has no `<target>`.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write as _};

use super::CodecError;
use crate::path::{Path, PathText};

/// One link: `<target>;name=value;flag`. Attribute values are stored without quotes or
/// escapes; [`format_links`] decides whether to quote them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Link {
    /// The URI reference between `<` and `>`; empty for the 1.0 bare head element.
    pub target: String,
    /// Attributes in order; `None` for an attribute without value (`;obs`).
    pub attrs: Vec<(String, Option<String>)>,
}

impl Link {
    /// A link to `target` with no attributes.
    pub fn new(target: impl Into<String>) -> Link {
        Link {
            target: target.into(),
            attrs: Vec::new(),
        }
    }

    /// Appends `name=value`.
    pub fn with_attr(mut self, name: impl Into<String>, value: impl Into<String>) -> Link {
        self.attrs.push((name.into(), Some(value.into())));
        self
    }

    /// Appends an attribute without value.
    pub fn with_flag(mut self, name: impl Into<String>) -> Link {
        self.attrs.push((name.into(), None));
        self
    }

    /// The value of the first attribute called `name` (`None` if absent or without value).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// Whether an attribute called `name` is present, with or without value.
    pub fn has_attr(&self, name: &str) -> bool {
        self.attrs.iter().any(|(n, _)| n == name)
    }

    /// The target as an LwM2M path (`/`, `/O`, … `/O/I/R/RI`), if it is one.
    pub fn path(&self) -> Option<Path> {
        if self.target.starts_with('/') {
            self.target.parse().ok()
        } else {
            None
        }
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The 1.0 bare head element has no target and quotes its value, as printed in the 1.0
        // TS (Core 1.0 §5.2.7.3: `lwm2m="1.0",</0/0>;ssid=101,…`). An empty target without
        // attributes has no bare form (it would vanish): it is written `<>`.
        let bare = self.target.is_empty() && !self.attrs.is_empty();
        if !bare {
            write!(f, "<{}>", self.target)?;
        }
        for (n, (name, value)) in self.attrs.iter().enumerate() {
            if bare && n == 0 {
                f.write_str(name)?;
                if let Some(v) = value {
                    f.write_char('=')?;
                    write_quoted(f, v)?;
                }
            } else {
                write_attr(f, name, value.as_deref())?;
            }
        }
        Ok(())
    }
}

/// Writes links comma-separated without spaces, e.g.
/// `</>;lwm2m=1.1,</0/0>;ssid=101;uri="coaps://server_1.example.com",</0/1>`.
pub fn format_links(links: &[Link]) -> String {
    let mut out = String::new();
    for (n, link) in links.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        // Writing into a String cannot fail.
        let _ = write!(out, "{link}");
    }
    out
}

/// Writes a link list straight into its text, as [`format_links`] writes the same [`Link`]s,
/// without a `Link` and its strings per entry (issue 15: the Register object list and
/// Discover list one link per instance or resource).
pub(crate) struct LinkWriter {
    out: String,
    empty: bool,
}

impl LinkWriter {
    /// An empty list with room for `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> LinkWriter {
        LinkWriter {
            out: String::with_capacity(capacity),
            empty: true,
        }
    }

    /// Starts the next link, to `path`.
    pub(crate) fn target(&mut self, path: &Path) {
        let mut text = PathText::default();
        let path = path.text(&mut text);
        let comma = if self.empty { "" } else { "," };
        self.empty = false;
        self.out.reserve(path.len() + 3);
        self.out.push_str(comma);
        self.out.push('<');
        self.out.push_str(path);
        self.out.push('>');
    }

    /// Adds `;name=value` (`;name` without value) to the link started last.
    pub(crate) fn attr(&mut self, name: &str, value: Option<&str>) {
        // Writing into a String cannot fail.
        let _ = write_attr(&mut self.out, name, value);
    }

    /// The text.
    pub(crate) fn finish(self) -> String {
        self.out
    }
}

/// Whether a value must be written as a quoted-string. `uri` and `rt` are always quoted, as in
/// every spec example (Core 1.1 §5.2.7.3, Transport 1.1 §6.2.1 `rt="oma.lwm2m"`); any other
/// value is quoted only when it is not an RFC 6690 ptoken (e.g. `ct="110 112"`).
fn needs_quotes(name: &str, value: &str) -> bool {
    matches!(name, "uri" | "rt") || !is_ptoken(value)
}

/// RFC 6690 §2: `ptoken = 1*ptokenchar`.
fn is_ptoken(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'()*+-./:<=>?@[]^_`{|}~".contains(&b))
}

/// `;name=value` (`;name` without value) after a link's target, the value quoted as
/// [`needs_quotes`] says.
fn write_attr(f: &mut impl fmt::Write, name: &str, value: Option<&str>) -> fmt::Result {
    f.write_char(';')?;
    f.write_str(name)?;
    if let Some(v) = value {
        f.write_char('=')?;
        if needs_quotes(name, v) {
            write_quoted(f, v)?;
        } else {
            f.write_str(v)?;
        }
    }
    Ok(())
}

/// RFC 2616 §2.2 quoted-string (RFC 6690 uses it): backslash escapes `"` and `\`.
fn write_quoted(f: &mut impl fmt::Write, value: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in value.chars() {
        if c == '"' || c == '\\' {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('"')
}

/// Parses a link-format payload. An empty payload is an empty list.
pub fn parse_links(text: &str) -> Result<Vec<Link>, CodecError> {
    let mut p = Parser { text, pos: 0 };
    let mut links = Vec::new();
    p.skip_ws();
    if p.peek().is_none() {
        return Ok(links);
    }
    loop {
        p.skip_ws();
        links.push(p.link()?);
        p.skip_ws();
        match p.peek() {
            None => return Ok(links),
            Some(b',') => p.pos += 1,
            Some(_) => return Err(malformed("expected ',' between links")),
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    /// Spaces, tabs and line breaks are tolerated around separators (RFC 6690 has none, but
    /// the 1.0 TS examples put a space after commas).
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.pos += 1;
        }
    }

    /// Text from `start` to the current position. Positions are always at ASCII delimiters or
    /// the end, so this is a char boundary; `get` keeps it panic-free regardless.
    fn since(&self, start: usize) -> Result<&str, CodecError> {
        self.text
            .get(start..self.pos)
            .ok_or_else(|| malformed("bad position"))
    }

    fn link(&mut self) -> Result<Link, CodecError> {
        let mut link = Link::default();
        if self.peek() == Some(b'<') {
            self.pos += 1;
            let start = self.pos;
            while !matches!(self.peek(), Some(b'>') | None) {
                self.pos += 1;
            }
            if self.peek().is_none() {
                return Err(malformed("link target without '>'"));
            }
            let mut target = self.since(start)?;
            // `</0/1/>` (1.0 TS examples) names the same thing as `</0/1>`. Every trailing '/'
            // goes, so that what parsing returns formats to text that parses the same.
            while target.len() > 1 {
                match target.strip_suffix('/') {
                    Some(t) => target = t,
                    None => break,
                }
            }
            link.target = String::from(target);
            self.pos += 1;
        } else {
            // LwM2M 1.0 Bootstrap-Discover starts with a bare `lwm2m="1.0"` element.
            link.attrs.push(self.attr()?);
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b';') {
                return Ok(link);
            }
            self.pos += 1;
            link.attrs.push(self.attr()?);
        }
    }

    /// `name`, `name=token` or `name="quoted"`.
    fn attr(&mut self) -> Result<(String, Option<String>), CodecError> {
        self.skip_ws();
        let start = self.pos;
        // RFC 5988 parmname characters, plus '*' for extended names.
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~*".contains(&b))
        {
            self.pos += 1;
        }
        let name = String::from(self.since(start)?);
        if name.is_empty() {
            return Err(malformed("attribute without a name"));
        }
        self.skip_ws();
        if self.peek() != Some(b'=') {
            return Ok((name, None));
        }
        self.pos += 1;
        self.skip_ws();
        let value = if self.peek() == Some(b'"') {
            self.quoted()?
        } else {
            let start = self.pos;
            while !matches!(self.peek(), Some(b';' | b',') | None) {
                self.pos += 1;
            }
            String::from(self.since(start)?.trim_end())
        };
        Ok((name, Some(value)))
    }

    /// A quoted-string starting at the opening quote; returns it unescaped.
    fn quoted(&mut self) -> Result<String, CodecError> {
        self.pos += 1;
        let mut bytes = Vec::new();
        loop {
            match self.peek() {
                None => return Err(malformed("unterminated quoted value")),
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let escaped = self
                        .peek()
                        .ok_or_else(|| malformed("unterminated quoted value"))?;
                    bytes.push(escaped);
                    self.pos += 1;
                }
                Some(b) => {
                    bytes.push(b);
                    self.pos += 1;
                }
            }
        }
        // Dropping escape backslashes from valid UTF-8 leaves valid UTF-8; checked anyway.
        String::from_utf8(bytes).map_err(|_| malformed("quoted value is not valid UTF-8"))
    }
}

fn malformed(msg: &str) -> CodecError {
    CodecError::Malformed(String::from(msg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn the_link_writer_writes_what_format_links_writes() {
        let attrs: [&[(&str, Option<&str>)]; 5] = [
            &[],
            &[("rt", Some("oma.lwm2m")), ("ct", Some("110 112"))],
            &[("dim", Some("3")), ("pmin", Some("10")), ("obs", None)],
            &[("uri", Some("coap://[::1]:5683")), ("x", Some("a\"b\\c"))],
            &[("ver", Some("1.1")), ("lt", Some("-0.5")), ("e", Some(""))],
        ];
        let paths = [
            Path::ROOT,
            Path::object(3),
            Path::instance(3, 0),
            Path::resource(65534, 65534, 65534),
            Path::resource_instance(3, 0, 11, 2),
        ];
        for n in 0..=paths.len() {
            let mut writer = LinkWriter::with_capacity(0);
            let mut links = Vec::new();
            for (k, path) in paths.iter().take(n).enumerate() {
                let these = attrs[k % attrs.len()];
                writer.target(path);
                let mut link = Link::new(path.to_string());
                for (name, value) in these {
                    writer.attr(name, *value);
                    link.attrs.push((name.to_string(), value.map(String::from)));
                }
                links.push(link);
            }
            assert_eq!(writer.finish(), format_links(&links), "{n} links");
        }
    }

    #[test]
    fn formats_the_compact_form() {
        let links = vec![
            Link::new("/").with_attr("lwm2m", "1.1"),
            Link::new("/0/0")
                .with_attr("ssid", "101")
                .with_attr("uri", "coaps://server_1.example.com"),
            Link::new("/0/1"),
        ];
        assert_eq!(
            format_links(&links),
            r#"</>;lwm2m=1.1,</0/0>;ssid=101;uri="coaps://server_1.example.com",</0/1>"#
        );
        // Register payloads (VECTORS §3.1, Leshan): rt always quoted, ct quoted only when it
        // holds a list.
        let links = vec![
            Link::new("/")
                .with_attr("rt", "oma.lwm2m")
                .with_attr("ct", "11542 11543 42"),
            Link::new("/6"),
        ];
        assert_eq!(
            format_links(&links),
            r#"</>;rt="oma.lwm2m";ct="11542 11543 42",</6>"#
        );
        let links = vec![
            Link::new("/")
                .with_attr("rt", "oma.lwm2m")
                .with_attr("ct", "11542"),
            Link::new("/6").with_attr("ver", "2.0"),
        ];
        assert_eq!(
            format_links(&links),
            r#"</>;rt="oma.lwm2m";ct=11542,</6>;ver=2.0"#
        );
        // The 1.0 bare head element, flags, escapes and empty values.
        let links = vec![
            Link::new("").with_attr("lwm2m", "1.0"),
            Link::new("/0/0").with_attr("ssid", "101"),
            Link::new("/a")
                .with_flag("obs")
                .with_attr("title", "say \"hi\", \\o/")
                .with_attr("e", ""),
        ];
        let text = format_links(&links);
        assert_eq!(
            text,
            r#"lwm2m="1.0",</0/0>;ssid=101,</a>;obs;title="say \"hi\", \\o/";e="""#
        );
        assert_eq!(parse_links(&text).unwrap(), links);
        assert_eq!(format_links(&[]), "");
    }

    /// Payloads from VECTORS §2 and §3.1 that are already in the compact form: parsing and
    /// formatting again must give the same text.
    const COMPACT: &[&str] = &[
        r#"</>;lwm2m=1.1,</0/0>;ssid=101;uri="coaps://server_1.example.com",</0/2>;ssid=102;uri="coap://server_1.example.com",</21/0>;ssid=101,</21/2>;ssid=102,</0/1>,</21/1>"#,
        r#"</>;lwm2m=1.1,</0/0>;ssid=101;uri="coaps://server_1.example.com",</0/1>,</0/2>;ssid=102;uri="coaps://server_2.example.com""#,
        r#"</>;lwm2m=1.1,</0/0>;ssid=101;uri="coaps://server_1.example.com",</0/1>,</1/0>;ssid=101,</3/0>,</4>,</5>"#,
        r#"</>;lwm2m=1.1,</0/65534>;ssid=65534;uri="coaps://server_1.example.com""#,
        r#"</>;lwm2m=1.1,</0>,</0/1>;uri="coap://127.0.0.1:5683",</0/2>;ssid=11;uri="coap://127.0.0.1:9999",</1>,</1/24>;ssid=12,</1/42>;ssid=11,</2>"#,
        r#"</>;lwm2m=1.0,</0/0>;ssid=111;uri="coap://localhost:11",</0/1>;uri="coap://localhost:1",</0/2>;ssid=222;uri="coap://localhost:22",</0/3>;ssid=333;uri="coap://localhost:33",</1>;ver=2.0,</1/0>;ssid=333,</2>;ver=2.0,</3/0>"#,
        r#"</>;lwm2m=1.0,</1/0>;ssid=333"#,
        r#"</>;lwm2m=1.0,</3>;ver=2.0"#,
        r#"</3>;pmin=10,</3/0>;pmax=60,</3/0/1>,</3/0/2>,</3/0/3>,</3/0/4>,</3/0/6>;dim=2,</3/0/7>;dim=2;gt=50;lt=42.2,</3/0/8>;dim=2,</3/0/11>,</3/0/16>"#,
        r#"</1>,</1/0>,</1/4>;pmax=300"#,
        r#"</3/0>;pmin=10;pmax=60"#,
        r#"</3/0/7>;dim=2;pmin=10;pmax=60;gt=50;lt=42.2,</3/0/7/0>,</3/0/7/1>;lt=45"#,
        r#"</rp/6>,</rp/6/0>"#,
        r#"</>;rt="oma.lwm2m",</6/0>"#,
        r#"</>;rt="oma.lwm2m",</6>;ver=2.0,</6/0>,</6/1>"#,
        r#"</>;rt="oma.lwm2m";ct=11542,</6>"#,
        r#"</>;rt="oma.lwm2m";ct="11542 11543 42",</6>"#,
        r#"</>;rt="oma.lwm2m";ct=110,</28180>;ver=0.4,</28152>;ver=0.2,</30000>;ver=0.1,</1>,</3>;ver=1.0,</4>;ver=1.2,</5>;ver=1.0"#,
        r#"</1/0>,</3/0>;ver=1.2"#,
        r#"</1>,</2>,</3>,</4>,</5>"#,
        r#"</1>,</2>;ver=1.2,</3>,</4>,</5>;ver=2.3"#,
        r#"</1/0>,</1/1>,</2>;ver=1.2,</2/0>,</3/0>,</3/1>,</3/2>,</3/3>,</4>,</5>;ver=2.3"#,
        r#"</65222>;ver=9.9"#,
        r#"</>;ct=110,</1/0>"#,
        r#"</>;ct="110 112 60",</1/0>,</5>"#,
    ];

    #[test]
    fn compact_payloads_round_trip() {
        for text in COMPACT {
            let links = parse_links(text).unwrap();
            assert_eq!(format_links(&links), *text);
        }
        let links = parse_links(COMPACT[0]).unwrap();
        assert_eq!(links.len(), 7);
        assert_eq!(links[0].path(), Some(Path::ROOT));
        assert_eq!(links[0].attr("lwm2m"), Some("1.1"));
        assert_eq!(links[1].path(), Some(Path::instance(0, 0)));
        assert_eq!(links[1].attr("uri"), Some("coaps://server_1.example.com"));
        assert_eq!(links[1].attr("ssid"), Some("101"));
        assert_eq!(links[6].target, "/21/1");
        assert_eq!(parse_links(r#"</rp/6>"#).unwrap()[0].path(), None);
    }

    /// Loose forms (VECTORS §2, §3.1) and what they normalise to.
    #[test]
    fn lenient_inputs() {
        let cases: &[(&str, &str)] = &[
            (
                r#"lwm2m="1.0",</0/0>;ssid=101, </0/1/>, </0/2>;ssid=102"#,
                r#"lwm2m="1.0",</0/0>;ssid=101,</0/1>,</0/2>;ssid=102"#,
            ),
            (
                r#"lwm2m="1.0",</0/0>;ssid=101,</0/1>, </1/0/>;ssid=101, </3/0>,</5>,</4>"#,
                r#"lwm2m="1.0",</0/0>;ssid=101,</0/1>,</1/0>;ssid=101,</3/0>,</5>,</4>"#,
            ),
            (
                r#"</>;lwm2m=1.1,</0/0>;ssid=101;uri="coaps://server_1.example.com", </0/1/>, </0/2>;ssid=102;uri="coaps://server_2.example.com""#,
                r#"</>;lwm2m=1.1,</0/0>;ssid=101;uri="coaps://server_1.example.com",</0/1>,</0/2>;ssid=102;uri="coaps://server_2.example.com""#,
            ),
            (
                r#"</>;lwm2m=1.1,</0/0>,</0/1>;ssid=101;uri="coaps://server_1.example.com", </1/0/>;ssid=101, </3/0>,</5>,</4>,</55>;ver=1.9,</55/0>"#,
                r#"</>;lwm2m=1.1,</0/0>,</0/1>;ssid=101;uri="coaps://server_1.example.com",</1/0>;ssid=101,</3/0>,</5>,</4>,</55>;ver=1.9,</55/0>"#,
            ),
            (
                r#"lwm2m="1.0",</0>,</0/1>,</0/2>;ssid=11,</0/10>;ssid=12,</1>,</1/24>;ssid=12,</1/42>;ssid=11,</2>"#,
                r#"lwm2m="1.0",</0>,</0/1>,</0/2>;ssid=11,</0/10>;ssid=12,</1>,</1/24>;ssid=12,</1/42>;ssid=11,</2>"#,
            ),
            (
                r#"lwm2m="1.0",</9>,</9/0>,</9/1>,</9/2>"#,
                r#"lwm2m="1.0",</9>,</9/0>,</9/1>,</9/2>"#,
            ),
            (r#"</1>;ver="1.1""#, r#"</1>;ver=1.1"#),
            (r#"</>;lwm2m="1.1""#, r#"</>;lwm2m=1.1"#),
            (
                r#"</1>, </2>, </3>, </4>, </5>"#,
                r#"</1>,</2>,</3>,</4>,</5>"#,
            ),
            (
                r#"</lwm2m>;rt="oma.lwm2m", </lwm2m/1/0>,</lwm2m/1/1>,</lwm2m/5>"#,
                r#"</lwm2m>;rt="oma.lwm2m",</lwm2m/1/0>,</lwm2m/1/1>,</lwm2m/5>"#,
            ),
            (r#"</>;ct=11543, </1/0>"#, r#"</>;ct=11543,</1/0>"#),
            (
                r#"  </1> ; obs ;pmin = 5 ,</2>  "#,
                r#"</1>;obs;pmin=5,</2>"#,
            ),
            ("", ""),
        ];
        for (input, normal) in cases {
            let links = parse_links(input).unwrap();
            assert_eq!(format_links(&links), *normal, "{input}");
        }
        let head = &parse_links(r#"lwm2m="1.0",</0>"#).unwrap()[0];
        assert_eq!(head.target, "");
        assert_eq!(head.attrs, [("lwm2m".into(), Some("1.0".into()))]);
        assert_eq!(head.path(), None);
    }

    #[test]
    fn quoted_values_keep_commas_and_semicolons() {
        let links = parse_links(r#"</a>;title="x, y; z";rt="a\"b\\c",</b>;flag"#).unwrap();
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].attr("title"), Some("x, y; z"));
        assert_eq!(links[0].attr("rt"), Some(r#"a"b\c"#));
        assert!(links[1].has_attr("flag"));
        assert_eq!(links[1].attr("flag"), None);
        assert_eq!(
            format_links(&links),
            r#"</a>;title="x, y; z";rt="a\"b\\c",</b>;flag"#
        );
    }

    #[test]
    fn malformed_inputs_are_errors() {
        for bad in [
            "</a",
            "</a>;",
            "</a>;=x",
            r#"</a>;t="open"#,
            r#"</a>;t="x\"#,
            r#"</a>;t="x"y"#,
            "</a> x",
            "</a>,",
            ",</a>",
            "</a>,,</b>",
            "</a><b>",
            "=1",
        ] {
            assert!(
                matches!(parse_links(bad), Err(CodecError::Malformed(_))),
                "{bad}"
            );
        }
    }

    /// Found by the `link` fuzz target: an empty target without attributes formatted as
    /// nothing (so `<>` lost its link), and `</0//>` normalised to `/0/`, which formatted as
    /// `</0/>` and then parsed as `/0`.
    #[test]
    fn parsed_links_format_to_text_that_parses_the_same() {
        for (input, formatted) in [
            ("<>", "<>"),
            ("</a>,<>", "</a>,<>"),
            ("<>;x", "x"),
            ("</0//>", "</0>"),
            ("<a///>;b", "<a>;b"),
            ("<//>", "</>"),
        ] {
            let links = parse_links(input).unwrap();
            assert_eq!(format_links(&links), formatted, "{input}");
            assert_eq!(parse_links(formatted).unwrap(), links, "{input}");
        }
    }

    #[test]
    fn random_text_never_panics() {
        let mut rng = crate::rng::Rng::new(3);
        let alphabet = "<>/;,=\"\\ a1é\t";
        let chars: Vec<char> = alphabet.chars().collect();
        for _ in 0..5000 {
            let len = rng.range(0, 24) as usize;
            let text: String = (0..len)
                .map(|_| chars[rng.range(0, chars.len() as u64 - 1) as usize])
                .collect();
            if let Ok(links) = parse_links(&text) {
                // Whatever parses formats to text that parses to the same links.
                let again = format_links(&links);
                assert_eq!(
                    parse_links(&again).as_ref(),
                    Ok(&links),
                    "{text:?} -> {again:?}"
                );
            }
        }
    }
}
