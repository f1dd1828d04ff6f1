//! Assembling typed command lines from serial console input: Enter, backspace, a bounded line.

/// Longest command line kept; further characters are refused until Enter or backspace.
pub const LINE_EDITOR_MAX: usize = 256;

/// What one typed byte did, for the caller to show on the console (the serial line has no
/// local echo).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// Nothing to show: a control byte ignored, the `\n` of a `\r\n` pair, a full line, or a
    /// backspace on an empty line.
    Ignored,
    /// The byte joined the line: echo it.
    Char(u8),
    /// The last character was erased: echo "\x08 \x08".
    Erased,
    /// Enter (`\r` or `\n`): the line is complete, read it with [`LineEditor::line`] and then
    /// [`LineEditor::clear`] it.
    Enter,
}

/// The line being typed.
#[derive(Clone, Debug)]
pub struct LineEditor {
    buf: [u8; LINE_EDITOR_MAX],
    len: usize,
    /// The previous byte was `\r`: a `\n` right after it ends no second line.
    after_cr: bool,
}

impl Default for LineEditor {
    fn default() -> Self {
        Self::new()
    }
}

impl LineEditor {
    /// An empty line.
    pub const fn new() -> Self {
        LineEditor {
            buf: [0; LINE_EDITOR_MAX],
            len: 0,
            after_cr: false,
        }
    }

    /// Takes one typed byte. `\r`, `\n` and `\r\n` are each one Enter; DEL and BS erase;
    /// other control bytes are ignored; anything else joins the line while it has room.
    pub fn push(&mut self, byte: u8) -> Key {
        let after_cr = core::mem::replace(&mut self.after_cr, byte == b'\r');
        match byte {
            b'\r' => Key::Enter,
            b'\n' if after_cr => Key::Ignored,
            b'\n' => Key::Enter,
            0x08 | 0x7f => {
                if self.len == 0 {
                    Key::Ignored
                } else {
                    self.len -= 1;
                    Key::Erased
                }
            }
            b'\t' => self.insert(b' '),
            b if b < 0x20 => Key::Ignored,
            b => self.insert(b),
        }
    }

    fn insert(&mut self, byte: u8) -> Key {
        if self.len == LINE_EDITOR_MAX {
            return Key::Ignored;
        }
        self.buf[self.len] = byte;
        self.len += 1;
        Key::Char(byte)
    }

    /// The line typed so far (after [`Key::Enter`]: the whole line, without the Enter).
    pub fn line(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Starts a new line.
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` and returns the completed lines.
    fn lines(editor: &mut LineEditor, input: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for &b in input {
            if editor.push(b) == Key::Enter {
                out.push(editor.line().to_vec());
                editor.clear();
            }
        }
        out
    }

    #[test]
    fn cr_lf_and_crlf_each_end_one_line() {
        let mut e = LineEditor::new();
        assert_eq!(
            lines(&mut e, b"one\rtwo\nthree\r\nfour\n\n"),
            [&b"one"[..], b"two", b"three", b"four", b""]
        );
        assert_eq!(e.line(), b"");
    }

    #[test]
    fn backspace_and_delete_erase() {
        let mut e = LineEditor::new();
        assert_eq!(e.push(0x7f), Key::Ignored);
        assert_eq!(e.push(b'a'), Key::Char(b'a'));
        assert_eq!(e.push(b'b'), Key::Char(b'b'));
        assert_eq!(e.push(0x08), Key::Erased);
        assert_eq!(e.push(b'c'), Key::Char(b'c'));
        assert_eq!(e.line(), b"ac");
        assert_eq!(lines(&mut e, b"\x7f\x7f\x7fxl\n"), [&b"xl"[..]]);
    }

    #[test]
    fn control_bytes_are_ignored_and_tabs_are_spaces() {
        let mut e = LineEditor::new();
        assert_eq!(e.push(0x1d), Key::Ignored);
        assert_eq!(e.push(0x1b), Key::Ignored);
        assert_eq!(e.push(b'\t'), Key::Char(b' '));
        assert_eq!(lines(&mut e, b"x\x00y\n"), [&b" xy"[..]]);
    }

    #[test]
    fn a_long_line_stops_growing_without_losing_enter() {
        let mut e = LineEditor::new();
        let long = vec![b'a'; LINE_EDITOR_MAX + 50];
        let keys: Vec<Key> = long.iter().map(|&b| e.push(b)).collect();
        assert_eq!(
            keys.iter().filter(|k| matches!(k, Key::Char(_))).count(),
            LINE_EDITOR_MAX
        );
        assert_eq!(e.push(b'\n'), Key::Enter);
        assert_eq!(e.line().len(), LINE_EDITOR_MAX);
        e.clear();
        assert_eq!(e.push(0x7f), Key::Ignored);
    }

    #[test]
    fn a_cr_only_swallows_the_next_lf() {
        let mut e = LineEditor::new();
        assert_eq!(
            lines(&mut e, b"a\rb\nc\r\r\n"),
            [&b"a"[..], b"b", b"c", b""]
        );
    }
}
