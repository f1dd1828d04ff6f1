//! Splitting a DomU's console bytes into lines for Dom0's own console.

/// Longest line kept; a longer one is cut into pieces of this length.
pub const LINE_MAX: usize = 160;

/// Bytes of the line being received.
#[derive(Clone, Debug)]
pub struct ConsoleLines {
    buf: [u8; LINE_MAX],
    len: usize,
}

impl Default for ConsoleLines {
    fn default() -> Self {
        Self::new()
    }
}

impl ConsoleLines {
    /// No bytes yet.
    pub const fn new() -> Self {
        ConsoleLines {
            buf: [0; LINE_MAX],
            len: 0,
        }
    }

    /// Takes one byte: `\n` ends the line (handed to `emit` without it), `\r` is dropped, and
    /// a line that reaches [`LINE_MAX`] bytes is handed over as it is.
    pub fn push(&mut self, byte: u8, emit: &mut dyn FnMut(&[u8])) {
        match byte {
            b'\n' => self.flush_line(emit),
            b'\r' => {}
            b => {
                self.buf[self.len] = b;
                self.len += 1;
                if self.len == LINE_MAX {
                    self.flush_line(emit);
                }
            }
        }
    }

    /// Hands a partial line to `emit`, if there is one (when the DomU is gone).
    pub fn finish(&mut self, emit: &mut dyn FnMut(&[u8])) {
        if self.len > 0 {
            self.flush_line(emit);
        }
    }

    fn flush_line(&mut self, emit: &mut dyn FnMut(&[u8])) {
        emit(&self.buf[..self.len]);
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> (Vec<Vec<u8>>, ConsoleLines) {
        let mut c = ConsoleLines::new();
        let mut out = Vec::new();
        for &b in input {
            c.push(b, &mut |l| out.push(l.to_vec()));
        }
        (out, c)
    }

    #[test]
    fn crlf_lines_come_out_without_their_ending() {
        let (out, _) = lines(b"one\r\ntwo\n\r\nthree");
        assert_eq!(out, [b"one".to_vec(), b"two".to_vec(), b"".to_vec()]);
    }

    #[test]
    fn the_rest_comes_out_at_the_end_and_long_lines_are_cut() {
        let (out, mut c) = lines(b"partial");
        assert!(out.is_empty());
        let mut rest = Vec::new();
        c.finish(&mut |l| rest.push(l.to_vec()));
        c.finish(&mut |l| rest.push(l.to_vec()));
        assert_eq!(rest, [b"partial".to_vec()]);
        let (out, _) = lines(&[b'a'; LINE_MAX * 2 + 1]);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|l| l.len() == LINE_MAX));
    }
}
