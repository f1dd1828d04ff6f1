//! Line editing for a console shell: printable bytes echoed, backspace, and `\r`, `\n` or `\r\n` as Enter.

/// Longest line kept; bytes beyond it are dropped.
pub const LINE_MAX: usize = 128;
/// What a terminal shows for an erased character: back, blank, back.
pub const ERASE_ECHO: &[u8] = b"\x08 \x08";
/// What a terminal shows for Enter.
pub const ENTER_ECHO: &[u8] = b"\r\n";

/// What a byte did to the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edit {
    /// Nothing (an ignored control byte, a full line, or the `\n` of `\r\n`).
    Nothing,
    /// The byte was added: echo it.
    Echo(u8),
    /// The last byte was erased: echo [`ERASE_ECHO`].
    Erase,
    /// The line is complete: echo [`ENTER_ECHO`], take [`LineInput::line`], then `clear`.
    Enter,
}

/// A line being typed.
#[derive(Clone, Debug)]
pub struct LineInput {
    buf: [u8; LINE_MAX],
    len: usize,
    after_cr: bool,
}

impl Default for LineInput {
    fn default() -> Self {
        Self::new()
    }
}

impl LineInput {
    /// An empty line.
    pub const fn new() -> Self {
        LineInput {
            buf: [0; LINE_MAX],
            len: 0,
            after_cr: false,
        }
    }

    /// Takes one input byte.
    pub fn push(&mut self, byte: u8) -> Edit {
        let after_cr = core::mem::replace(&mut self.after_cr, byte == b'\r');
        match byte {
            b'\n' if after_cr => Edit::Nothing,
            b'\r' | b'\n' => Edit::Enter,
            0x08 | 0x7f if self.len > 0 => {
                self.len -= 1;
                Edit::Erase
            }
            b' '..=b'~' if self.len < LINE_MAX => {
                self.buf[self.len] = byte;
                self.len += 1;
                Edit::Echo(byte)
            }
            _ => Edit::Nothing,
        }
    }

    /// The line typed so far.
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

    fn type_in(input: &mut LineInput, bytes: &[u8]) -> Vec<Edit> {
        bytes.iter().map(|&b| input.push(b)).collect()
    }

    #[test]
    fn typing_echoes_and_enter_completes() {
        let mut input = LineInput::new();
        assert_eq!(
            type_in(&mut input, b"up\r"),
            [Edit::Echo(b'u'), Edit::Echo(b'p'), Edit::Enter]
        );
        assert_eq!(input.line(), b"up");
        input.clear();
        assert_eq!(input.push(b'\n'), Edit::Nothing, "the LF of CR LF");
        assert_eq!(
            type_in(&mut input, b"x\n\n"),
            [Edit::Echo(b'x'), Edit::Enter, Edit::Enter]
        );
    }

    #[test]
    fn backspace_and_delete_erase() {
        let mut input = LineInput::new();
        assert_eq!(input.push(0x7f), Edit::Nothing, "nothing to erase");
        type_in(&mut input, b"memx");
        assert_eq!(input.push(0x08), Edit::Erase);
        assert_eq!(input.line(), b"mem");
        assert_eq!(input.push(0x7f), Edit::Erase);
        assert_eq!(input.line(), b"me");
    }

    #[test]
    fn control_bytes_are_ignored_and_the_line_is_bounded() {
        let mut input = LineInput::new();
        assert_eq!(type_in(&mut input, b"\x00\x1b\xff\t"), [Edit::Nothing; 4]);
        let long = [b'a'; LINE_MAX + 10];
        let edits = type_in(&mut input, &long);
        assert_eq!(edits.iter().filter(|e| **e == Edit::Nothing).count(), 10);
        assert_eq!(input.line().len(), LINE_MAX);
        assert_eq!(input.push(b'\r'), Edit::Enter);
    }
}
