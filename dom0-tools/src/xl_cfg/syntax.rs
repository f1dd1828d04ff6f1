//! The settings of an xl.cfg file (`KEY = VALUE`, `KEY += VALUE`), untyped, as libxlu keeps them.
//
// Grammar (libxlu's): settings are separated by line ends or `;`; a value is an atom (a quoted
// string or a number, both kept as text) or a list `[ v, v, ... ]` that may span lines, may
// end with a comma, and may nest. A later setting of a key replaces an earlier one; `+=`
// appends to an earlier string or list of the same key (or sets it if there is none).

use super::error::ConfigError;
use super::lexer::{Lexer, TokenKind};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Largest config file accepted, in bytes.
pub const MAX_CONFIG_BYTES: usize = 1 << 20;
/// Deepest nesting of lists accepted (xl configs nest at most two deep).
pub const MAX_LIST_DEPTH: usize = 8;

/// A value as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A quoted string, escapes resolved.
    Str(String),
    /// An unquoted number, as written (read it with [`super::number::parse_long`]).
    Number(String),
    /// A list.
    List(Vec<Value>),
}

impl Value {
    /// The text of an atom (string or number), `None` for a list.
    pub fn atom(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Number(s) => Some(s),
            Value::List(_) => None,
        }
    }
}

/// One key and its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// The key.
    pub name: String,
    /// Its value.
    pub value: Value,
    /// Line where the (last) value starts.
    pub line: u32,
    /// Made (or extended) by `+=`: a number read from it is an error, as in xl.
    pub appended: bool,
}

/// All settings of a file, in the order of their first appearance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    settings: Vec<Setting>,
}

impl Config {
    /// Parses the bytes of a config file.
    pub fn parse(input: &[u8]) -> Result<Config, ConfigError> {
        if input.len() > MAX_CONFIG_BYTES {
            return Err(ConfigError::new(
                0,
                format!(
                    "config file is {} bytes, more than the {} accepted",
                    input.len(),
                    MAX_CONFIG_BYTES
                ),
            ));
        }
        let mut lexer = Lexer::new(input);
        let mut config = Config::default();
        loop {
            let token = lexer.next_token()?;
            let name = match token.kind {
                TokenKind::Newline | TokenKind::Semicolon => continue,
                TokenKind::End => return Ok(config),
                TokenKind::Ident(name) => name,
                other => {
                    return Err(ConfigError::new(
                        token.line,
                        format!("expected a setting name, got {}", other.describe()),
                    ));
                }
            };
            let op = lexer.next_token()?;
            let append = match op.kind {
                TokenKind::Assign => false,
                TokenKind::AddAssign => true,
                other => {
                    return Err(ConfigError::new(
                        op.line,
                        format!("expected \"=\" after \"{name}\", got {}", other.describe()),
                    ));
                }
            };
            let line = lexer.peek()?.line;
            let value = parse_value(&mut lexer, &name, 0)?;
            let end = lexer.next_token()?;
            match end.kind {
                TokenKind::Newline | TokenKind::Semicolon | TokenKind::End => {}
                other => {
                    return Err(ConfigError::new(
                        end.line,
                        format!(
                            "{name}: expected the end of the setting, got {}",
                            other.describe()
                        ),
                    ));
                }
            }
            config.store(name, value, line, append)?;
            if end.kind == TokenKind::End {
                return Ok(config);
            }
        }
    }

    fn store(
        &mut self,
        name: String,
        value: Value,
        line: u32,
        append: bool,
    ) -> Result<(), ConfigError> {
        let Some(old) = self.settings.iter_mut().find(|s| s.name == name) else {
            self.settings.push(Setting {
                name,
                value,
                line,
                appended: append,
            });
            return Ok(());
        };
        let value = if append {
            match (
                core::mem::replace(&mut old.value, Value::List(Vec::new())),
                value,
            ) {
                (Value::List(mut a), Value::List(b)) => {
                    a.extend(b);
                    Value::List(a)
                }
                (Value::List(_), _) | (_, Value::List(_)) => {
                    return Err(ConfigError::new(
                        line,
                        format!("{name}: can't add a list to a single value or vice versa"),
                    ));
                }
                (a, b) => {
                    let (a, b) = (a.atom().unwrap_or(""), b.atom().unwrap_or(""));
                    let mut joined = String::with_capacity(a.len() + b.len());
                    joined.push_str(a);
                    joined.push_str(b);
                    Value::Str(joined)
                }
            }
        } else {
            value
        };
        *old = Setting {
            name,
            value,
            line,
            appended: append,
        };
        Ok(())
    }

    /// The setting of `name`, if the file has one.
    pub fn get(&self, name: &str) -> Option<&Setting> {
        self.settings.iter().find(|s| s.name == name)
    }

    /// Every setting, in the order of first appearance.
    pub fn settings(&self) -> &[Setting] {
        &self.settings
    }
}

/// Skips line ends (allowed inside lists).
fn skip_newlines(lexer: &mut Lexer<'_>) -> Result<(), ConfigError> {
    while lexer.peek()?.kind == TokenKind::Newline {
        lexer.next_token()?;
    }
    Ok(())
}

fn parse_value(lexer: &mut Lexer<'_>, name: &str, depth: usize) -> Result<Value, ConfigError> {
    let token = lexer.next_token()?;
    match token.kind {
        TokenKind::Str(s) => Ok(Value::Str(s)),
        TokenKind::Number(s) => Ok(Value::Number(s)),
        TokenKind::Open => {
            if depth >= MAX_LIST_DEPTH {
                return Err(ConfigError::new(
                    token.line,
                    format!("{name}: lists nested more than {MAX_LIST_DEPTH} deep"),
                ));
            }
            parse_list(lexer, name, token.line, depth + 1)
        }
        other => Err(ConfigError::new(
            token.line,
            format!("{name}: expected a value, got {}", other.describe()),
        )),
    }
}

fn parse_list(
    lexer: &mut Lexer<'_>,
    name: &str,
    open_line: u32,
    depth: usize,
) -> Result<Value, ConfigError> {
    let mut items = Vec::new();
    skip_newlines(lexer)?;
    loop {
        if lexer.peek()?.kind == TokenKind::Close {
            lexer.next_token()?;
            return Ok(Value::List(items));
        }
        if lexer.peek()?.kind == TokenKind::End {
            return Err(ConfigError::new(
                open_line,
                format!("{name}: unterminated list (no \"]\")"),
            ));
        }
        items.push(parse_value(lexer, name, depth)?);
        skip_newlines(lexer)?;
        let token = lexer.next_token()?;
        match token.kind {
            TokenKind::Comma => skip_newlines(lexer)?,
            TokenKind::Close => return Ok(Value::List(items)),
            TokenKind::End => {
                return Err(ConfigError::new(
                    open_line,
                    format!("{name}: unterminated list (no \"]\")"),
                ));
            }
            other => {
                return Err(ConfigError::new(
                    token.line,
                    format!(
                        "{name}: expected \",\" or \"]\" in a list, got {}",
                        other.describe()
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn s(text: &str) -> Value {
        Value::Str(text.into())
    }

    #[test]
    fn reads_settings_of_every_shape() {
        let c = Config::parse(
            b"# comment\n\nname = \"d1\"; memory=16\r\nvif = [ 'mac=00:16:3e:00:00:01',\n  'bridge=xenbr0', # why\n]\nempty=[]\nnest=[[\"a\"],[]]\nlast='x'",
        )
        .unwrap();
        assert_eq!(c.get("name").unwrap().value, s("d1"));
        assert_eq!(c.get("name").unwrap().line, 3);
        assert_eq!(c.get("memory").unwrap().value, Value::Number("16".into()));
        let vif = c.get("vif").unwrap();
        assert_eq!(
            vif.value,
            Value::List(vec![s("mac=00:16:3e:00:00:01"), s("bridge=xenbr0")])
        );
        assert_eq!(vif.line, 4);
        assert_eq!(c.get("empty").unwrap().value, Value::List(vec![]));
        assert_eq!(
            c.get("nest").unwrap().value,
            Value::List(vec![Value::List(vec![s("a")]), Value::List(vec![])])
        );
        assert_eq!(c.get("last").unwrap().value, s("x"));
        assert_eq!(c.get("last").unwrap().line, 9);
        assert!(c.get("nothing").is_none());
        assert_eq!(c.settings().len(), 6);
    }

    #[test]
    fn later_settings_win_and_plus_appends() {
        let c = Config::parse(
            b"memory = 8\nmemory = 16\nextra = 'a'\nextra += ' b'\nvif = ['x']\nvif += ['y']\nnew += 'z'",
        )
        .unwrap();
        let memory = c.get("memory").unwrap();
        assert_eq!((memory.value.atom(), memory.line), (Some("16"), 2));
        let extra = c.get("extra").unwrap();
        assert_eq!((extra.value.atom(), extra.appended), (Some("a b"), true));
        assert_eq!(
            c.get("vif").unwrap().value,
            Value::List(vec![s("x"), s("y")])
        );
        assert_eq!(c.get("new").unwrap().value, s("z"));
        let err = Config::parse(b"vif = ['x']\nvif += 'y'").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.starts_with("vif: can't add"));
    }

    #[test]
    fn reports_syntax_errors_with_their_line() {
        let err = |input: &[u8]| Config::parse(input).unwrap_err();
        let e = err(b"name = 'a'\nmemory 16");
        assert_eq!(e.line, 2);
        assert_eq!(e.message, "expected \"=\" after \"memory\", got \"16\"");
        let e = err(b"name = 'a' 'b'");
        assert_eq!(
            e.message,
            "name: expected the end of the setting, got string \"b\""
        );
        let e = err(b"\n= 3");
        assert_eq!(
            (e.line, e.message.as_str()),
            (2, "expected a setting name, got \"=\"")
        );
        let e = err(b"a =\nb = 1");
        assert_eq!(e.message, "a: expected a value, got the end of the line");
        let e = err(b"vif = [ 'a',\n 'b'\n");
        assert_eq!(
            (e.line, e.message.as_str()),
            (1, "vif: unterminated list (no \"]\")")
        );
        let e = err(b"vif = [ 'a' 'b' ]");
        assert!(e.message.contains("expected \",\" or \"]\""));
        let e = err(b"vif = [ , ]");
        assert!(e.message.contains("expected a value"));
        let e = err(b"x = [[[[[[[[[['deep']]]]]]]]]]");
        assert!(e.message.contains("nested"));
    }

    #[test]
    fn empty_and_comment_only_files_have_no_settings() {
        assert!(Config::parse(b"").unwrap().settings().is_empty());
        assert!(
            Config::parse(b"# only\n;;\n\n# a comment at the end without newline")
                .unwrap()
                .settings()
                .is_empty()
        );
    }

    #[test]
    fn refuses_huge_files() {
        let big = vec![b'\n'; MAX_CONFIG_BYTES + 1];
        assert_eq!(Config::parse(&big).unwrap_err().line, 0);
    }
}
