//! The tokens of xl.cfg syntax (as libxlu's lexer cuts them), read from untrusted bytes.
//
// - A setting name is `[a-z][a-z0-9_]*`.
// - A number is `[0-9][0-9a-fx]*`; it stays text until a typed getter reads it (as libxlu).
// - A string is in `"double"` or `'single'` quotes on one line. Backslash escapes:
//   `\" \' \\ \a \b \f \n \r \t \v`, `\xHH` (two hex digits) and `\O`..`\OOO` (octal). libxlu
//   means the numeric escapes to work that way but its own code for them is defective; a NUL
//   from an escape, or bytes that are not UTF-8, are an error here.
// - `#` starts a comment to the end of the line; spaces and tabs separate tokens. A `\r` is
//   taken as a space (libxlu rejects it), so files with CRLF line ends parse.
// - `, [ ] = ; +=` and the line end are tokens of their own; anything else is an error.

use super::error::ConfigError;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// One token and the line it is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// What the token is.
    pub kind: TokenKind,
    /// Its line, from 1.
    pub line: u32,
}

/// The kinds of token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A setting name.
    Ident(String),
    /// An unquoted number, as written.
    Number(String),
    /// A quoted string, escapes resolved.
    Str(String),
    /// `,`
    Comma,
    /// `[`
    Open,
    /// `]`
    Close,
    /// `=`
    Assign,
    /// `+=`
    AddAssign,
    /// `;`
    Semicolon,
    /// The end of a line (a comment included).
    Newline,
    /// The end of the input.
    End,
}

impl TokenKind {
    /// How an error message names the token.
    pub fn describe(&self) -> String {
        match self {
            TokenKind::Ident(s) => format!("\"{s}\""),
            TokenKind::Number(s) => format!("\"{s}\""),
            TokenKind::Str(s) => format!("string \"{}\"", s.escape_debug()),
            TokenKind::Comma => String::from("\",\""),
            TokenKind::Open => String::from("\"[\""),
            TokenKind::Close => String::from("\"]\""),
            TokenKind::Assign => String::from("\"=\""),
            TokenKind::AddAssign => String::from("\"+=\""),
            TokenKind::Semicolon => String::from("\";\""),
            TokenKind::Newline => String::from("the end of the line"),
            TokenKind::End => String::from("the end of the file"),
        }
    }
}

/// Cuts bytes into tokens, with one token of lookahead.
pub struct Lexer<'a> {
    input: &'a [u8],
    pos: usize,
    line: u32,
    peeked: Option<Token>,
}

impl<'a> Lexer<'a> {
    /// A lexer at the start of `input`, line 1.
    pub fn new(input: &'a [u8]) -> Self {
        Lexer {
            input,
            pos: 0,
            line: 1,
            peeked: None,
        }
    }

    /// The next token, without taking it.
    pub fn peek(&mut self) -> Result<&Token, ConfigError> {
        if self.peeked.is_none() {
            let token = self.lex()?;
            self.peeked = Some(token);
        }
        match &self.peeked {
            Some(token) => Ok(token),
            None => Err(ConfigError::new(self.line, "internal lexer error")),
        }
    }

    /// Takes the next token.
    pub fn next_token(&mut self) -> Result<Token, ConfigError> {
        match self.peeked.take() {
            Some(token) => Ok(token),
            None => self.lex(),
        }
    }

    fn byte(&self, at: usize) -> Option<u8> {
        self.input.get(at).copied()
    }

    fn lex(&mut self) -> Result<Token, ConfigError> {
        loop {
            let line = self.line;
            let Some(b) = self.byte(self.pos) else {
                return Ok(Token {
                    kind: TokenKind::End,
                    line,
                });
            };
            let single = |kind| Ok(Token { kind, line });
            match b {
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'#' => {
                    while let Some(c) = self.byte(self.pos) {
                        if c == b'\n' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                b'\n' => {
                    self.pos += 1;
                    self.line = self.line.saturating_add(1);
                    return single(TokenKind::Newline);
                }
                b',' => {
                    self.pos += 1;
                    return single(TokenKind::Comma);
                }
                b'[' => {
                    self.pos += 1;
                    return single(TokenKind::Open);
                }
                b']' => {
                    self.pos += 1;
                    return single(TokenKind::Close);
                }
                b'=' => {
                    self.pos += 1;
                    return single(TokenKind::Assign);
                }
                b';' => {
                    self.pos += 1;
                    return single(TokenKind::Semicolon);
                }
                b'+' if self.byte(self.pos + 1) == Some(b'=') => {
                    self.pos += 2;
                    return single(TokenKind::AddAssign);
                }
                b'a'..=b'z' => {
                    let text = self.take_while(|c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'_'));
                    return single(TokenKind::Ident(text));
                }
                b'0'..=b'9' => {
                    let text = self.take_while(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f' | b'x'));
                    return single(TokenKind::Number(text));
                }
                b'"' | b'\'' => {
                    let text = self.string(b)?;
                    return single(TokenKind::Str(text));
                }
                other => return Err(self.unexpected(other)),
            }
        }
    }

    /// The ASCII run of bytes matching `accept` from the current position.
    fn take_while(&mut self, accept: impl Fn(u8) -> bool) -> String {
        let start = self.pos;
        while self.byte(self.pos).is_some_and(&accept) {
            self.pos += 1;
        }
        // Only ASCII bytes were accepted.
        self.input[start..self.pos]
            .iter()
            .map(|&c| char::from(c))
            .collect()
    }

    fn unexpected(&self, byte: u8) -> ConfigError {
        let what = if byte.is_ascii_graphic() {
            format!("unexpected character '{}'", char::from(byte))
        } else {
            format!("unexpected byte 0x{byte:02x}")
        };
        let hint = if matches!(byte, b'+' | b'-' | b'.' | b'(' | b')' | b':') {
            " (xl config files are not Python)"
        } else {
            ""
        };
        ConfigError::new(self.line, format!("{what}{hint}"))
    }

    /// A quoted string starting at the current position (on `quote`).
    fn string(&mut self, quote: u8) -> Result<String, ConfigError> {
        let line = self.line;
        let unterminated = || ConfigError::new(line, "unterminated string");
        self.pos += 1;
        let mut bytes = Vec::new();
        loop {
            let c = self.byte(self.pos).ok_or_else(unterminated)?;
            self.pos += 1;
            match c {
                b'\n' => return Err(unterminated()),
                c if c == quote => break,
                b'\\' => {
                    let e = self.byte(self.pos).ok_or_else(unterminated)?;
                    self.pos += 1;
                    let value = match e {
                        b'"' | b'\'' | b'\\' => e,
                        b'a' => 0x07,
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'v' => 0x0b,
                        b'x' => self.hex_escape(line)?,
                        b'0'..=b'7' => self.octal_escape(e, line)?,
                        b'\n' => return Err(unterminated()),
                        _ => {
                            return Err(ConfigError::new(
                                line,
                                "invalid character after backslash in quoted string",
                            ));
                        }
                    };
                    if value == 0 {
                        return Err(ConfigError::new(line, "NUL character in quoted string"));
                    }
                    bytes.push(value);
                }
                c => bytes.push(c),
            }
        }
        String::from_utf8(bytes)
            .map_err(|_| ConfigError::new(line, "quoted string is not valid UTF-8"))
    }

    /// `\xHH`: exactly two hex digits after the `x`.
    fn hex_escape(&mut self, line: u32) -> Result<u8, ConfigError> {
        let digit = |c: Option<u8>| c.and_then(|c| char::from(c).to_digit(16));
        match (digit(self.byte(self.pos)), digit(self.byte(self.pos + 1))) {
            (Some(hi), Some(lo)) => {
                self.pos += 2;
                // Two hex digits make at most 0xff.
                Ok((hi * 16 + lo) as u8)
            }
            _ => Err(ConfigError::new(
                line,
                "invalid digit after backslash hex numerical character escape in quoted string",
            )),
        }
    }

    /// `\O`, `\OO` or `\OOO` (octal, the first digit already taken), at most `\377`.
    fn octal_escape(&mut self, first: u8, line: u32) -> Result<u8, ConfigError> {
        let mut value = u32::from(first - b'0');
        for _ in 0..2 {
            match self.byte(self.pos) {
                Some(c @ b'0'..=b'7') => {
                    value = value * 8 + u32::from(c - b'0');
                    self.pos += 1;
                }
                _ => break,
            }
        }
        u8::try_from(value).map_err(|_| {
            ConfigError::new(
                line,
                "octal numerical character escape above \\377 in quoted string",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn kinds(input: &[u8]) -> Result<Vec<TokenKind>, ConfigError> {
        let mut lexer = Lexer::new(input);
        let mut out = Vec::new();
        loop {
            let t = lexer.next_token()?;
            if t.kind == TokenKind::End {
                return Ok(out);
            }
            out.push(t.kind);
        }
    }

    #[test]
    fn cuts_a_setting_line() {
        use TokenKind::*;
        assert_eq!(
            kinds(b"memory = 0x10 # sixteen\nname='a';vif+=[\"b\",]").unwrap(),
            vec![
                Ident("memory".into()),
                Assign,
                Number("0x10".into()),
                Newline,
                Ident("name".into()),
                Assign,
                Str("a".into()),
                Semicolon,
                Ident("vif".into()),
                AddAssign,
                Open,
                Str("b".into()),
                Comma,
                Close,
            ]
        );
    }

    #[test]
    fn counts_lines() {
        let mut lexer = Lexer::new(b"a\n\n# c\r\nb");
        let lines: Vec<u32> = (0..5).map(|_| lexer.next_token().unwrap().line).collect();
        assert_eq!(lines, vec![1, 1, 2, 3, 4]);
    }

    #[test]
    fn resolves_escapes() {
        assert_eq!(
            kinds(br#""a\"b\\c\n\t\x41\101\7" '\'"'"#).unwrap(),
            vec![
                TokenKind::Str("a\"b\\c\n\tAA\u{7}".into()),
                TokenKind::Str("'\"".into()),
            ]
        );
    }

    #[test]
    fn rejects_bad_strings() {
        let msg = |input: &[u8]| kinds(input).unwrap_err().message;
        assert_eq!(msg(b"\"abc"), "unterminated string");
        assert_eq!(msg(b"'abc\n'"), "unterminated string");
        assert_eq!(msg(b"\"abc\\"), "unterminated string");
        assert_eq!(
            msg(b"\"\\q\""),
            "invalid character after backslash in quoted string"
        );
        assert_eq!(msg(b"\"\\x4\""), msg(b"\"\\xzz\""));
        assert_eq!(msg(b"\"\\0\""), "NUL character in quoted string");
        assert!(msg(b"\"\\777\"").contains("above"));
        assert_eq!(msg(b"\"\xff\""), "quoted string is not valid UTF-8");
        assert_eq!(msg(b"\"\\xff\""), "quoted string is not valid UTF-8");
    }

    #[test]
    fn rejects_stray_characters() {
        let err = kinds(b"a = 1\nb = (2)").unwrap_err();
        assert_eq!(err.line, 2);
        assert_eq!(
            err.message,
            "unexpected character '(' (xl config files are not Python)"
        );
        assert_eq!(kinds(b"\x00").unwrap_err().message, "unexpected byte 0x00");
        assert_eq!(
            kinds(b"Name").unwrap_err().message,
            "unexpected character 'N'"
        );
        assert_eq!(kinds(b"+").unwrap_err().line, 1);
    }
}
