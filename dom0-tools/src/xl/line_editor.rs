//! A line editor for a serial console, fed one byte at a time: echo, editing, history.
//
// Keys: printable ASCII inserts at the cursor; Backspace (0x08 or 0x7f) erases before it;
// Ctrl-U kills the line; Ctrl-C abandons it (echoes `^C` and a fresh prompt); Ctrl-A/Ctrl-E
// and Home/End go to the start/end; Delete (`ESC [ 3 ~`) erases under the cursor; left/right
// arrows move; up/down walk the last [`HISTORY_MAX`] lines; Enter is `\r` or `\n`, and a `\r\n`
// or `\n\r` pair counts once. Other bytes (controls, bytes above 0x7e, unknown escape
// sequences) are ignored. A line holds at most [`LINE_MAX`] bytes; more input is dropped. The
// echo moves the cursor with backspaces and redraws with spaces, so any terminal will do.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

/// Longest line, in bytes.
pub const LINE_MAX: usize = 256;
/// Lines kept in the history.
pub const HISTORY_MAX: usize = 32;
/// Parameter bytes accepted in an escape sequence; a longer one is skipped.
const CSI_MAX: usize = 8;

const BS: u8 = 0x08;
const ESC: u8 = 0x1b;
const CTRL_A: u8 = 0x01;
const CTRL_C: u8 = 0x03;
const CTRL_E: u8 = 0x05;
const CTRL_U: u8 = 0x15;
const DEL: u8 = 0x7f;

/// What a byte completed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Enter: the line typed (without the Enter).
    Line(String),
    /// Ctrl-C: the line was dropped and a new prompt echoed.
    Cancelled,
}

/// The result of one byte: what to echo, and the line if it ended one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// Bytes to write back to the terminal.
    pub echo: Vec<u8>,
    /// A completed or abandoned line.
    pub event: Option<Event>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Escape {
    None,
    /// Saw ESC.
    Esc,
    /// Saw `ESC [` and `len` parameter bytes, the first number being `param` (`more`: past
    /// it); a sequence with more than [`CSI_MAX`] of them is skipped to its final byte.
    Csi {
        len: usize,
        param: u8,
        more: bool,
    },
    /// Saw `ESC O`.
    Ss3,
}

/// The line being typed, its cursor and the history.
#[derive(Clone, Debug)]
pub struct LineEditor {
    prompt: &'static str,
    line: Vec<u8>,
    cursor: usize,
    history: VecDeque<Vec<u8>>,
    /// The history entry shown, while walking it.
    browsing: Option<usize>,
    /// The line typed before walking the history.
    draft: Vec<u8>,
    escape: Escape,
    /// The Enter byte just taken, so that its pair (`\r\n`, `\n\r`) is not a second Enter.
    last_enter: Option<u8>,
}

impl LineEditor {
    /// An empty line; `prompt` is echoed again after Ctrl-C.
    pub fn new(prompt: &'static str) -> Self {
        LineEditor {
            prompt,
            line: Vec::new(),
            cursor: 0,
            history: VecDeque::new(),
            browsing: None,
            draft: Vec::new(),
            escape: Escape::None,
            last_enter: None,
        }
    }

    /// The prompt.
    pub fn prompt(&self) -> &'static str {
        self.prompt
    }

    /// The line typed so far.
    pub fn line(&self) -> &[u8] {
        &self.line
    }

    /// The cursor's offset in the line.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// The history, oldest first.
    pub fn history(&self) -> impl Iterator<Item = &[u8]> {
        self.history.iter().map(Vec::as_slice)
    }

    /// Takes one byte from the terminal.
    pub fn feed(&mut self, byte: u8) -> Step {
        let mut step = Step::default();
        let enter_pair = self.last_enter.take();
        if matches!(byte, b'\r' | b'\n') {
            self.escape = Escape::None;
            if enter_pair.is_some_and(|first| first != byte) {
                return step;
            }
            self.last_enter = Some(byte);
            self.enter(&mut step);
            return step;
        }
        match self.escape {
            Escape::None => {}
            _ if byte < 0x20 => self.escape = Escape::None,
            Escape::Esc => {
                self.escape = match byte {
                    b'[' => Escape::Csi {
                        len: 0,
                        param: 0,
                        more: false,
                    },
                    b'O' => Escape::Ss3,
                    _ => Escape::None,
                };
                return step;
            }
            Escape::Ss3 => {
                self.escape = Escape::None;
                self.key(byte, 0, &mut step);
                return step;
            }
            Escape::Csi { len, param, more } => {
                if (0x20..=0x3f).contains(&byte) {
                    let (param, more) = match byte {
                        b'0'..=b'9' if !more => {
                            (param.saturating_mul(10).saturating_add(byte - b'0'), more)
                        }
                        b';' => (param, true),
                        _ => (param, more),
                    };
                    self.escape = Escape::Csi {
                        len: len.saturating_add(1),
                        param,
                        more,
                    };
                } else {
                    self.escape = Escape::None;
                    if len <= CSI_MAX {
                        self.key(byte, param, &mut step);
                    }
                }
                return step;
            }
        }
        match byte {
            ESC => self.escape = Escape::Esc,
            BS | DEL => self.backspace(&mut step),
            CTRL_U => self.replace_line(Vec::new(), &mut step),
            CTRL_C => {
                self.line.clear();
                self.cursor = 0;
                self.browsing = None;
                step.echo.extend_from_slice(b"^C\r\n");
                step.echo.extend_from_slice(self.prompt.as_bytes());
                step.event = Some(Event::Cancelled);
            }
            CTRL_A => self.home(&mut step),
            CTRL_E => self.end(&mut step),
            0x20..=0x7e => self.insert(byte, &mut step),
            // A tab separates words like a space (no completion on a serial line).
            b'\t' => self.insert(b' ', &mut step),
            _ => {}
        }
        step
    }

    /// A final byte of `ESC [` / `ESC O` with its first number.
    fn key(&mut self, byte: u8, param: u8, step: &mut Step) {
        match (byte, param) {
            (b'A', _) => self.history_up(step),
            (b'B', _) => self.history_down(step),
            (b'C', _) => {
                if let Some(&b) = self.line.get(self.cursor) {
                    step.echo.push(b);
                    self.cursor += 1;
                }
            }
            (b'D', _) if self.cursor > 0 => {
                step.echo.push(BS);
                self.cursor -= 1;
            }
            (b'H', _) | (b'~', 1) | (b'~', 7) => self.home(step),
            (b'F', _) | (b'~', 4) | (b'~', 8) => self.end(step),
            (b'~', 3) => self.delete_forward(step),
            _ => {}
        }
    }

    fn enter(&mut self, step: &mut Step) {
        step.echo.extend_from_slice(b"\r\n");
        let line = core::mem::take(&mut self.line);
        self.cursor = 0;
        self.browsing = None;
        self.draft.clear();
        if !line.is_empty() && self.history.back() != Some(&line) {
            if self.history.len() == HISTORY_MAX {
                self.history.pop_front();
            }
            self.history.push_back(line.clone());
        }
        // Only printable ASCII gets into a line, so every byte is one char.
        step.event = Some(Event::Line(line.iter().map(|&b| char::from(b)).collect()));
    }

    fn insert(&mut self, byte: u8, step: &mut Step) {
        if self.line.len() >= LINE_MAX {
            return;
        }
        self.line.insert(self.cursor, byte);
        self.cursor += 1;
        step.echo.push(byte);
        self.redraw_tail(0, step);
    }

    fn backspace(&mut self, step: &mut Step) {
        if self.cursor == 0 {
            return;
        }
        self.cursor -= 1;
        self.line.remove(self.cursor);
        step.echo.push(BS);
        self.redraw_tail(1, step);
    }

    fn delete_forward(&mut self, step: &mut Step) {
        if self.cursor < self.line.len() {
            self.line.remove(self.cursor);
            self.redraw_tail(1, step);
        }
    }

    fn home(&mut self, step: &mut Step) {
        step.echo.extend(core::iter::repeat_n(BS, self.cursor));
        self.cursor = 0;
    }

    fn end(&mut self, step: &mut Step) {
        step.echo.extend_from_slice(&self.line[self.cursor..]);
        self.cursor = self.line.len();
    }

    /// Writes the line from the cursor on, then `blanks` spaces (to wipe characters that moved
    /// left), then moves back to the cursor.
    fn redraw_tail(&self, blanks: usize, step: &mut Step) {
        let tail = &self.line[self.cursor..];
        step.echo.extend_from_slice(tail);
        step.echo.extend(core::iter::repeat_n(b' ', blanks));
        step.echo
            .extend(core::iter::repeat_n(BS, tail.len() + blanks));
    }

    /// Shows `new` instead of the line, cursor at its end.
    fn replace_line(&mut self, mut new: Vec<u8>, step: &mut Step) {
        new.truncate(LINE_MAX);
        let old_len = self.line.len();
        step.echo.extend(core::iter::repeat_n(BS, self.cursor));
        step.echo.extend_from_slice(&new);
        let wipe = old_len.saturating_sub(new.len());
        step.echo.extend(core::iter::repeat_n(b' ', wipe));
        step.echo.extend(core::iter::repeat_n(BS, wipe));
        self.cursor = new.len();
        self.line = new;
    }

    fn history_up(&mut self, step: &mut Step) {
        let index = match self.browsing {
            None if self.history.is_empty() => return,
            None => {
                self.draft = self.line.clone();
                self.history.len() - 1
            }
            Some(0) => return,
            Some(i) => i - 1,
        };
        self.browsing = Some(index);
        if let Some(entry) = self.history.get(index).cloned() {
            self.replace_line(entry, step);
        }
    }

    fn history_down(&mut self, step: &mut Step) {
        let Some(i) = self.browsing else {
            return;
        };
        if i + 1 < self.history.len() {
            self.browsing = Some(i + 1);
            if let Some(entry) = self.history.get(i + 1).cloned() {
                self.replace_line(entry, step);
            }
        } else {
            self.browsing = None;
            let draft = core::mem::take(&mut self.draft);
            self.replace_line(draft, step);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes`; returns all echo and the events.
    fn feed(ed: &mut LineEditor, bytes: &[u8]) -> (Vec<u8>, Vec<Event>) {
        let mut echo = Vec::new();
        let mut events = Vec::new();
        for &b in bytes {
            let step = ed.feed(b);
            echo.extend_from_slice(&step.echo);
            events.extend(step.event);
        }
        (echo, events)
    }

    fn line(text: &str) -> Event {
        Event::Line(String::from(text))
    }

    #[test]
    fn a_tab_is_a_space() {
        let mut ed = LineEditor::new("dom0# ");
        let mut line = None;
        for &b in b"a\tb\n" {
            if let Some(Event::Line(l)) = ed.feed(b).event {
                line = Some(l);
            }
        }
        assert_eq!(line.as_deref(), Some("a b"));
    }

    #[test]
    fn typing_and_enter() {
        let mut ed = LineEditor::new("dom0# ");
        let (echo, events) = feed(&mut ed, b"list\r");
        assert_eq!(echo, b"list\r\n");
        assert_eq!(events, [line("list")]);
        assert!(ed.line().is_empty());
    }

    #[test]
    fn crlf_and_lfcr_are_one_enter() {
        let mut ed = LineEditor::new("dom0# ");
        let (_, events) = feed(&mut ed, b"a\r\nb\n\rc\nd\r\r");
        assert_eq!(
            events,
            [line("a"), line("b"), line("c"), line("d"), line("")]
        );
        // The last `\r` pairs with the next `\n`.
        let (_, events) = feed(&mut ed, b"\n\n");
        assert_eq!(events, [line("")]);
    }

    #[test]
    fn backspace_both_codes() {
        let mut ed = LineEditor::new("# ");
        let (echo, _) = feed(&mut ed, b"ab\x08c\x7f");
        assert_eq!(echo, b"ab\x08 \x08c\x08 \x08");
        assert_eq!(ed.line(), b"a");
        // Nothing to erase at the start.
        let (echo, _) = feed(&mut ed, b"\x7f\x7f");
        assert_eq!(echo, b"\x08 \x08");
        assert_eq!(ed.line(), b"");
    }

    #[test]
    fn insert_and_erase_in_the_middle() {
        let mut ed = LineEditor::new("# ");
        feed(&mut ed, b"ac");
        let (echo, _) = feed(&mut ed, b"\x1b[D");
        assert_eq!(echo, b"\x08");
        assert_eq!(ed.cursor(), 1);
        let (echo, _) = feed(&mut ed, b"b");
        assert_eq!(echo, b"bc\x08");
        assert_eq!(ed.line(), b"abc");
        assert_eq!(ed.cursor(), 2);
        let (echo, _) = feed(&mut ed, b"\x7f");
        assert_eq!(echo, b"\x08c \x08\x08");
        assert_eq!(ed.line(), b"ac");
        let (echo, _) = feed(&mut ed, b"\x1b[C\x1b[C");
        assert_eq!(echo, b"c");
        assert_eq!(ed.cursor(), 2);
        let (_, events) = feed(&mut ed, b"\x1b[D\x1b[DX\r");
        assert_eq!(events, [line("Xac")]);
    }

    #[test]
    fn home_end_delete() {
        let mut ed = LineEditor::new("# ");
        feed(&mut ed, b"abc");
        let (echo, _) = feed(&mut ed, b"\x01");
        assert_eq!(echo, b"\x08\x08\x08");
        let (echo, _) = feed(&mut ed, b"\x1b[3~");
        assert_eq!(echo, b"bc \x08\x08\x08");
        assert_eq!(ed.line(), b"bc");
        let (echo, _) = feed(&mut ed, b"\x05");
        assert_eq!(echo, b"bc");
        feed(&mut ed, b"\x1b[H");
        assert_eq!(ed.cursor(), 0);
        feed(&mut ed, b"\x1b[F");
        assert_eq!(ed.cursor(), 2);
        feed(&mut ed, b"\x1b[1~");
        assert_eq!(ed.cursor(), 0);
        feed(&mut ed, b"\x1b[4~");
        assert_eq!(ed.cursor(), 2);
        feed(&mut ed, b"\x1bOH");
        assert_eq!(ed.cursor(), 0);
    }

    #[test]
    fn ctrl_u_and_ctrl_c() {
        let mut ed = LineEditor::new("dom0# ");
        feed(&mut ed, b"abc\x1b[D");
        let (echo, _) = feed(&mut ed, b"\x15");
        assert_eq!(echo, b"\x08\x08   \x08\x08\x08");
        assert_eq!((ed.line(), ed.cursor()), (&b""[..], 0));
        feed(&mut ed, b"xyz");
        let (echo, events) = feed(&mut ed, b"\x03");
        assert_eq!(echo, b"^C\r\ndom0# ");
        assert_eq!(events, [Event::Cancelled]);
        let (_, events) = feed(&mut ed, b"ok\r");
        assert_eq!(events, [line("ok")]);
        // A cancelled line is not in the history.
        assert_eq!(ed.history().collect::<Vec<_>>(), [b"ok"]);
    }

    #[test]
    fn history_walk() {
        let mut ed = LineEditor::new("# ");
        feed(&mut ed, b"one\rtwo\rtwo\r\r");
        assert_eq!(ed.history().collect::<Vec<_>>(), [&b"one"[..], b"two"]);
        feed(&mut ed, b"dr");
        let (echo, _) = feed(&mut ed, b"\x1b[A");
        assert_eq!(echo, b"\x08\x08two");
        assert_eq!(ed.line(), b"two");
        feed(&mut ed, b"\x1b[A");
        assert_eq!(ed.line(), b"one");
        feed(&mut ed, b"\x1b[A");
        assert_eq!(ed.line(), b"one");
        feed(&mut ed, b"\x1b[B");
        assert_eq!(ed.line(), b"two");
        let (echo, _) = feed(&mut ed, b"\x1b[B");
        assert_eq!(ed.line(), b"dr");
        assert_eq!(echo, b"\x08\x08\x08dr \x08");
        feed(&mut ed, b"\x1b[B");
        assert_eq!(ed.line(), b"dr");
        // SS3 arrows work too.
        feed(&mut ed, b"\x1bOA");
        assert_eq!(ed.line(), b"two");
        let (_, events) = feed(&mut ed, b"\r");
        assert_eq!(events, [line("two")]);
    }

    #[test]
    fn history_is_capped() {
        let mut ed = LineEditor::new("# ");
        for i in 0..(HISTORY_MAX + 5) {
            feed(&mut ed, alloc::format!("cmd{i}\r").as_bytes());
        }
        let hist: Vec<_> = ed.history().collect();
        assert_eq!(hist.len(), HISTORY_MAX);
        assert_eq!(hist[0], b"cmd5");
    }

    #[test]
    fn line_is_capped() {
        let mut ed = LineEditor::new("# ");
        let long = [b'x'; LINE_MAX + 10];
        let (echo, _) = feed(&mut ed, &long);
        assert_eq!(echo.len(), LINE_MAX);
        assert_eq!(ed.line().len(), LINE_MAX);
        let (_, events) = feed(&mut ed, b"\r");
        assert_eq!(events, [Event::Line("x".repeat(LINE_MAX))]);
    }

    #[test]
    fn ignores_what_it_does_not_know() {
        let mut ed = LineEditor::new("# ");
        let (echo, events) = feed(&mut ed, b"\x00\x02\x80\xff\x1b[5~\x1b[99Z\x1bx\x1b[1;5D");
        assert!(echo.is_empty(), "{echo:?}");
        assert!(events.is_empty());
        assert_eq!(ed.line(), b"");
        // An escape sequence cut by Enter still ends the line.
        let (_, events) = feed(&mut ed, b"a\x1b[\r");
        assert_eq!(events, [line("a")]);
        // Overlong parameters drop the sequence.
        let (echo, _) = feed(&mut ed, b"\x1b[1234567890123D");
        assert!(echo.is_empty());
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut ed = LineEditor::new("dom0# ");
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for round in 0..200_000u32 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            // Bias towards the interesting bytes.
            let byte = match seed % 8 {
                0 => 0x1b,
                1 => b'[',
                2 => b"ABCDHF~3\x7f\x08\x15\x03\r\n"[(seed >> 8) as usize % 14],
                _ => (seed >> 16) as u8,
            };
            let step = ed.feed(byte);
            assert!(ed.cursor() <= ed.line().len());
            assert!(ed.line().len() <= LINE_MAX);
            assert!(ed.line().iter().all(|b| (0x20..=0x7e).contains(b)));
            assert!(step.echo.len() <= 3 * LINE_MAX + 16, "round {round}");
        }
    }
}
