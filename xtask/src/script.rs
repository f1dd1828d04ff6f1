//! Input scripts typed into the serial console: parsing, and the feeder that sends each line when its turn comes.
//
// A script is text, one step per line:
// - blank lines and lines starting with `#` are skipped;
// - `^]` sends the byte 0x1d (Ctrl-], the `xl console` escape) without a newline, then waits
//   for a prompt;
// - `@wait TEXT` waits until TEXT appears in the output after the previous step;
// - `@send TEXT` sends TEXT and "\n" at once, without waiting for a prompt;
// - any other line is sent with "\n" once the output since the previous send ends with the
//   prompt's tail [`PROMPT_END`] (`dom0# `, `domu# `).
//
// The feeder only ever waits for output; how long a run may take is its caller's timeout.

/// How every shell prompt ends: the feeder's signal that the previous line was answered.
pub const PROMPT_END: &[u8] = b"# ";

/// The byte `^]` stands for (Ctrl-]).
pub const ESCAPE_BYTE: u8 = 0x1d;

/// One step of a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A line typed at the prompt: waits for the prompt, then sends the text and "\n".
    Line(String),
    /// `@send TEXT`: sends the text and "\n" without waiting.
    Send(String),
    /// `^]`: sends [`ESCAPE_BYTE`], then waits for a prompt.
    Escape,
    /// `@wait TEXT`: waits until the text appears after the previous step.
    Wait(String),
}

/// A parsed script.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Script {
    /// The steps in order.
    pub steps: Vec<Step>,
}

impl Script {
    /// Parses `text` (see the module documentation). Errors name the line: `@wait` needs a
    /// text to wait for.
    pub fn parse(text: &str) -> Result<Script, String> {
        let mut steps = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let step = if line.trim() == "^]" {
                Step::Escape
            } else if let Some(rest) = directive(line, "@wait") {
                if rest.is_empty() {
                    return Err(format!("script line {}: `@wait` needs a text", index + 1));
                }
                Step::Wait(rest.to_string())
            } else if let Some(rest) = directive(line, "@send") {
                Step::Send(rest.to_string())
            } else if line.starts_with('@') {
                let word = line.split_whitespace().next().unwrap_or(line);
                return Err(format!(
                    "script line {}: unknown directive `{word}` (@wait or @send)",
                    index + 1
                ));
            } else {
                Step::Line(line.to_string())
            };
            steps.push(step);
        }
        Ok(Script { steps })
    }
}

/// The argument of `name` if `line` is that directive (`@wait`, `@send`): the rest after one
/// space, or empty when the line is the name alone.
fn directive<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(name)?;
    if rest.is_empty() {
        Some("")
    } else {
        rest.strip_prefix(' ')
    }
}

/// What the feeder does, step by step.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Action {
    /// Write these bytes.
    Write(Vec<u8>),
    /// Wait until the output since the last write ends with [`PROMPT_END`].
    Prompt,
    /// Wait until the text appears in the output after the previous action.
    Text(Vec<u8>),
}

/// Types a script into a console: give it the whole output so far each time more arrives
/// ([`Feeder::advance`]); it answers with the bytes to write now.
#[derive(Clone, Debug)]
pub struct Feeder {
    actions: Vec<Action>,
    next: usize,
    /// Output length at the last write: where the prompt is looked for.
    last_write: usize,
    /// Output length when the previous action completed: where `@wait` looks.
    last_step: usize,
}

impl Feeder {
    /// A feeder for `script`. With `final_prompt`, a last wait for a prompt follows the
    /// script, so that [`Feeder::done`] means the last line was answered.
    pub fn new(script: &Script, final_prompt: bool) -> Feeder {
        let mut actions = Vec::new();
        for step in &script.steps {
            match step {
                Step::Line(text) => {
                    actions.push(Action::Prompt);
                    actions.push(Action::Write(format!("{text}\n").into_bytes()));
                }
                Step::Send(text) => actions.push(Action::Write(format!("{text}\n").into_bytes())),
                Step::Escape => {
                    actions.push(Action::Write(vec![ESCAPE_BYTE]));
                    actions.push(Action::Prompt);
                }
                Step::Wait(text) => actions.push(Action::Text(text.clone().into_bytes())),
            }
        }
        if final_prompt && actions.last() != Some(&Action::Prompt) {
            actions.push(Action::Prompt);
        }
        Feeder {
            actions,
            next: 0,
            last_write: 0,
            last_step: 0,
        }
    }

    /// Takes the output so far (all of it, growing between calls) and returns the bytes to
    /// write now (often none), having moved past every step whose condition holds.
    pub fn advance(&mut self, output: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(action) = self.actions.get(self.next) {
            let seen = output.len();
            match action {
                Action::Write(bytes) => {
                    out.extend_from_slice(bytes);
                    self.last_write = seen;
                    self.last_step = seen;
                }
                Action::Prompt => {
                    let since = output.get(self.last_write..).unwrap_or_default();
                    if !since.ends_with(PROMPT_END) {
                        break;
                    }
                    self.last_step = seen;
                }
                Action::Text(text) => {
                    let since = output.get(self.last_step..).unwrap_or_default();
                    match find(since, text) {
                        Some(at) => self.last_step += at + text.len(),
                        None => break,
                    }
                }
            }
            self.next += 1;
        }
        out
    }

    /// Whether every step is done.
    pub fn done(&self) -> bool {
        self.next >= self.actions.len()
    }
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(text: &str) -> Vec<Step> {
        Script::parse(text).unwrap().steps
    }

    #[test]
    fn parses_each_kind_of_line_and_skips_comments() {
        let text =
            "# a comment\n\n  \nlist\r\n@wait Domain-0\n@send y\n^]\nxl create  a.cfg \n@send\n";
        assert_eq!(
            steps(text),
            [
                Step::Line("list".into()),
                Step::Wait("Domain-0".into()),
                Step::Send("y".into()),
                Step::Escape,
                Step::Line("xl create  a.cfg ".into()),
                Step::Send(String::new()),
            ]
        );
    }

    #[test]
    fn rejects_bad_directives() {
        assert!(Script::parse("@wait\n").unwrap_err().contains("line 1"));
        assert!(
            Script::parse("list\n@frob x\n")
                .unwrap_err()
                .contains("line 2")
        );
        assert!(
            Script::parse("@waiting")
                .unwrap_err()
                .contains("`@waiting`")
        );
    }

    #[test]
    fn an_empty_script_has_no_steps() {
        assert_eq!(steps(""), []);
        assert_eq!(steps("# only\n\n"), []);
    }

    /// Drives `feeder` with output growing chunk by chunk; returns what was written after
    /// each chunk.
    fn drive(feeder: &mut Feeder, chunks: &[&str]) -> Vec<String> {
        let mut output = Vec::new();
        let mut written = Vec::new();
        for chunk in chunks {
            output.extend_from_slice(chunk.as_bytes());
            written.push(String::from_utf8(feeder.advance(&output)).unwrap());
        }
        written
    }

    #[test]
    fn lines_wait_for_the_prompt_after_the_previous_send() {
        let script = Script::parse("one\ntwo\n").unwrap();
        let mut feeder = Feeder::new(&script, true);
        let written = drive(
            &mut feeder,
            &[
                "booting\r\n",
                "dom0",
                "# ",
                "one\r\n",
                "echo: got \"one\"\r\n",
                "dom0# ",
                "two\r\nok\r\n",
            ],
        );
        assert_eq!(written, ["", "", "one\n", "", "", "two\n", ""]);
        assert!(!feeder.done());
        let mut output =
            b"booting\r\ndom0# one\r\necho: got \"one\"\r\ndom0# two\r\nok\r\n".to_vec();
        output.extend_from_slice(b"dom0# ");
        assert_eq!(feeder.advance(&output), b"");
        assert!(feeder.done());
    }

    #[test]
    fn the_prompt_must_come_after_the_send() {
        let script = Script::parse("one\ntwo\n").unwrap();
        let mut feeder = Feeder::new(&script, false);
        // Both prompts seen in one chunk before `one` was sent: only `one` goes.
        assert_eq!(feeder.advance(b"dom0# "), b"one\n");
        assert_eq!(feeder.advance(b"dom0# "), b"");
        assert_eq!(feeder.advance(b"dom0# one\r\ndom0# "), b"two\n");
        assert!(feeder.done());
    }

    #[test]
    fn send_goes_at_once_and_escape_waits_for_a_prompt() {
        let script = Script::parse("@send hello\n^]\nlist\n").unwrap();
        let mut feeder = Feeder::new(&script, false);
        assert_eq!(feeder.advance(b""), b"hello\n\x1d");
        assert_eq!(feeder.advance(b"hello from domu\r\n"), b"");
        assert_eq!(feeder.advance(b"hello from domu\r\ndom0# "), b"list\n");
        assert!(feeder.done());
    }

    #[test]
    fn wait_looks_after_the_previous_step() {
        let script = Script::parse("@wait ready\n@send go\n@wait ready\n@send again\n").unwrap();
        let mut feeder = Feeder::new(&script, false);
        assert_eq!(feeder.advance(b"not yet"), b"");
        assert_eq!(feeder.advance(b"not yet ready"), b"go\n");
        // The first `ready` was before the send: the second wait needs a new one.
        assert_eq!(feeder.advance(b"not yet ready, going"), b"");
        assert_eq!(feeder.advance(b"not yet ready, going, ready"), b"again\n");
        assert!(feeder.done());
    }

    #[test]
    fn two_waits_need_two_occurrences() {
        let script = Script::parse("@wait tick\n@wait tick\n@send stop\n").unwrap();
        let mut feeder = Feeder::new(&script, false);
        assert_eq!(feeder.advance(b"tick"), b"");
        assert_eq!(feeder.advance(b"tick tick"), b"stop\n");
    }

    #[test]
    fn a_final_prompt_is_added_once() {
        let script = Script::parse("^]\n").unwrap();
        let mut feeder = Feeder::new(&script, true);
        assert_eq!(feeder.advance(b""), b"\x1d");
        assert!(!feeder.done());
        assert_eq!(feeder.advance(b"dom0# "), b"");
        assert!(feeder.done());
        let mut empty = Feeder::new(&Script::default(), true);
        assert!(!empty.done());
        assert_eq!(empty.advance(b"x dom0# "), b"");
        assert!(empty.done());
    }
}
