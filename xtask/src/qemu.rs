//! Running QEMU: interactively on the terminal, or captured with a stop condition, a timeout, and typed input.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use crate::boot::{Boot, Console};
use crate::script::{Feeder, Script};

/// The QEMU binary.
pub const QEMU: &str = "qemu-system-x86_64";

/// A predicate on the serial output accumulated so far.
pub type StopWhen = Box<dyn Fn(&str) -> bool + Send + Sync>;

/// When a captured run ends.
pub struct RunOptions {
    /// Give up (and kill QEMU) after this long.
    pub timeout: Duration,
    /// Stop once this is true of the output so far (checked after every read).
    pub stop_when: Option<StopWhen>,
    /// After `stop_when` became true, wait this long for QEMU to exit by itself before killing it.
    pub linger: Duration,
    /// Copy the serial output to our stdout as it arrives.
    pub echo: bool,
    /// Type this script into the serial console (QEMU's stdin), each step when its turn comes
    /// (see [`crate::script`]).
    pub input: Option<Script>,
    /// With `input`: stop once the script's last line was answered by a prompt (as a stop
    /// condition: `linger` applies).
    pub stop_after_input: bool,
    /// A raw disk image on the primary IDE channel's master (ports 0x1f0-0x1f7, IRQ 14).
    pub disk: Option<PathBuf>,
}

impl RunOptions {
    /// Run until QEMU exits or `timeout` passes.
    pub fn until_exit(timeout: Duration) -> Self {
        RunOptions {
            timeout,
            stop_when: None,
            linger: Duration::ZERO,
            echo: false,
            input: None,
            stop_after_input: false,
            disk: None,
        }
    }

    /// Also stop as soon as the output contains `text`.
    pub fn stop_at(self, text: &str) -> Self {
        let text = text.to_string();
        self.stop_when(move |out| out.contains(&text))
    }

    /// Also stop as soon as `predicate` holds for the output.
    pub fn stop_when(mut self, predicate: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.stop_when = Some(Box::new(predicate));
        self
    }

    /// After the stop condition, give QEMU `linger` to exit by itself (to learn its status).
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// Copy the output to stdout as it arrives.
    pub fn echo(mut self, echo: bool) -> Self {
        self.echo = echo;
        self
    }

    /// Type `script` into the serial console as the output asks for it.
    pub fn input(mut self, script: Script) -> Self {
        self.input = Some(script);
        self
    }

    /// Also stop once the input script is done and its last line was answered by a prompt.
    pub fn stop_after_input(mut self, stop: bool) -> Self {
        self.stop_after_input = stop;
        self
    }

    /// Attach the raw image `path` as the primary IDE master disk.
    pub fn disk(mut self, path: PathBuf) -> Self {
        self.disk = Some(path);
        self
    }
}

/// QEMU's arguments attaching raw image `path` as the primary IDE channel's master disk.
pub fn disk_args(path: &Path) -> Vec<OsString> {
    let mut drive = OsString::from("file=");
    drive.push(path);
    drive.push(",format=raw,if=ide,index=0,media=disk");
    vec!["-drive".into(), drive]
}

/// What a captured run produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Run {
    /// The serial console output (lossy UTF-8).
    pub output: String,
    /// QEMU's own messages on stderr.
    pub stderr: String,
    /// QEMU's exit status, or None if we killed it (or a signal did).
    pub status: Option<i32>,
    /// Whether the timeout passed before QEMU exited or the stop condition held.
    pub timed_out: bool,
    /// How long the run took.
    pub elapsed: Duration,
    /// Whether the input script (if any) was typed to its end.
    pub input_done: bool,
}

impl Run {
    /// The last `n` lines of the serial output.
    pub fn tail(&self, n: usize) -> String {
        let lines: Vec<&str> = self
            .output
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// A summary for failure messages: status, timing, QEMU's stderr and the last `n` output lines.
    pub fn report(&self, n: usize) -> String {
        let status = match self.status {
            Some(code) => format!("exit status {code} ({})", crate::exit_code::describe(code)),
            None if self.timed_out => "timed out, killed".to_string(),
            None => "stopped by the runner (or a signal)".to_string(),
        };
        let mut text = format!("QEMU: {status} after {:.1} s\n", self.elapsed.as_secs_f64());
        if !self.stderr.trim().is_empty() {
            text.push_str(&format!("QEMU stderr:\n{}\n", self.stderr.trim_end()));
        }
        text.push_str(&format!(
            "--- last {n} lines of serial output ---\n{}\n---",
            self.tail(n)
        ));
        text
    }
}

/// Boots `boot` with the serial console and QEMU's monitor on the terminal; returns QEMU's status.
pub fn run_interactive(boot: &Boot, disk: Option<&Path>) -> Result<Option<i32>, String> {
    let mut cmd = Command::new(QEMU);
    cmd.args(boot.qemu_args(Console::Terminal));
    if let Some(disk) = disk {
        cmd.args(disk_args(disk));
    }
    println!("xtask: {}", crate::process::display(&cmd));
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start {QEMU}: {e}"))?;
    Ok(status.code())
}

/// Boots `boot` with the serial console on pipes (QEMU's stdin too, when there is input to
/// type) and collects it until `options` say stop.
pub fn run_captured(boot: &Boot, options: &RunOptions) -> Result<Run, String> {
    let mut cmd = Command::new(QEMU);
    let stdin = if options.input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    };
    cmd.args(boot.qemu_args(Console::Pipe));
    if let Some(disk) = &options.disk {
        cmd.args(disk_args(disk));
    }
    cmd.stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    run_process(cmd, options)
}

/// Runs `cmd` (stdout and stderr piped; stdin piped too when `options` has input) under
/// `options`; the engine of [`run_captured`].
pub fn run_process(mut cmd: Command, options: &RunOptions) -> Result<Run, String> {
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start `{}`: {e}", crate::process::display(&cmd)))?;
    let stdout = child.stdout.take().ok_or("child stdout was not piped")?;
    let stderr = child.stderr.take().ok_or("child stderr was not piped")?;
    // The feeder decides what to type; a thread writes it, so that a guest that reads slowly
    // (QEMU stops reading its stdin while the UART is full) never holds up this loop.
    let mut feeder = match &options.input {
        Some(script) => {
            let stdin = child.stdin.take().ok_or("child stdin was not piped")?;
            Some((
                Feeder::new(script, options.stop_after_input),
                input_writer(stdin),
            ))
        }
        None => None,
    };
    let mut input_done = feeder.is_none();
    // Steps that need no output (`@send` first) go at once.
    if let Some((feeder, writer)) = &mut feeder {
        let bytes = feeder.advance(&[]);
        if !bytes.is_empty() {
            let _ = writer.send(bytes);
        }
        input_done = feeder.done();
    }

    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let stdout_reader = thread::spawn(move || pump(stdout, &tx));
    let stderr_reader = thread::spawn(move || {
        let mut text = Vec::new();
        let mut stderr = stderr;
        // A read error only truncates QEMU's messages; they are diagnostics.
        let _ = stderr.read_to_end(&mut text);
        text
    });

    let mut output = Vec::new();
    let mut matched_at: Option<Instant> = None;
    let mut timed_out = false;
    // Some(code) once QEMU has exited by itself (code None: killed by a signal).
    let mut exited: Option<Option<i32>> = None;
    let deadline = start + options.timeout;
    loop {
        let now = Instant::now();
        let limit = match matched_at {
            Some(at) => deadline.min(at + options.linger),
            None => deadline,
        };
        if now >= limit {
            timed_out = matched_at.is_none();
            break;
        }
        match rx.recv_timeout((limit - now).min(Duration::from_millis(100))) {
            Ok(chunk) => {
                if options.echo {
                    let mut out = std::io::stdout().lock();
                    // Echo is a courtesy; a closed stdout must not stop the run.
                    let _ = out.write_all(&chunk).and_then(|()| out.flush());
                }
                output.extend_from_slice(&chunk);
                if let Some((feeder, writer)) = &mut feeder
                    && !input_done
                {
                    let bytes = feeder.advance(&output);
                    // A writer gone means QEMU closed its stdin: it is exiting.
                    if !bytes.is_empty() {
                        let _ = writer.send(bytes);
                    }
                    input_done = feeder.done();
                    if input_done && options.stop_after_input && matched_at.is_none() {
                        matched_at = Some(Instant::now());
                    }
                }
                if matched_at.is_none()
                    && let Some(stop_when) = &options.stop_when
                    && stop_when(&String::from_utf8_lossy(&output))
                {
                    matched_at = Some(Instant::now());
                }
            }
            Err(RecvTimeoutError::Timeout) => match child.try_wait() {
                Ok(Some(exit)) => {
                    exited = Some(exit.code());
                    break;
                }
                Ok(None) => {}
                // Cannot tell whether it runs: stop it below rather than wait blindly.
                Err(_) => break,
            },
            Err(RecvTimeoutError::Disconnected) => {
                // stdout closed: QEMU is exiting; give it a moment to finish.
                exited = Some(wait_briefly(&mut child, Duration::from_secs(5)));
                break;
            }
        }
    }

    // Closing QEMU's stdin (the writer ends when its channel does) is no signal to stop.
    drop(feeder);
    let status = match exited {
        Some(code) => code,
        None => {
            // Killing a child that has just exited fails harmlessly; wait() reaps it either way.
            let _ = child.kill();
            let _ = child.wait();
            None
        }
    };
    // Collect whatever the reader still holds (QEMU is gone, so the pipe ends).
    while let Ok(chunk) = rx.recv_timeout(Duration::from_secs(2)) {
        output.extend_from_slice(&chunk);
    }
    let _ = stdout_reader.join();
    let stderr = stderr_reader.join().unwrap_or_default();
    Ok(Run {
        output: String::from_utf8_lossy(&output).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        status,
        timed_out,
        elapsed: start.elapsed(),
        input_done,
    })
}

/// A thread that writes what it is sent to `stdin`, in order, until the channel or the pipe
/// closes.
fn input_writer(mut stdin: ChildStdin) -> mpsc::Sender<Vec<u8>> {
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    thread::spawn(move || {
        for bytes in rx {
            if stdin
                .write_all(&bytes)
                .and_then(|()| stdin.flush())
                .is_err()
            {
                return;
            }
        }
    });
    tx
}

/// Waits up to `limit` for `child` to exit, killing it after that; returns its exit code.
fn wait_briefly(child: &mut Child, limit: Duration) -> Option<i32> {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        match child.try_wait() {
            Ok(Some(exit)) => return exit.code(),
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Forwards everything read from `source` to `sink` until end of file.
fn pump(mut source: impl Read, sink: &mpsc::Sender<Vec<u8>>) {
    let mut buffer = [0u8; 4096];
    loop {
        match source.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if sink.send(buffer[..n].to_vec()).is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    #[test]
    fn a_disk_is_the_primary_ide_master() {
        let args = disk_args(Path::new("/tmp/d.img"));
        assert_eq!(
            args,
            [
                "-drive",
                "file=/tmp/d.img,format=raw,if=ide,index=0,media=disk"
            ]
        );
        let options = RunOptions::until_exit(Duration::from_secs(1));
        assert_eq!(options.disk, None);
        let options = options.disk(PathBuf::from("/tmp/d.img"));
        assert_eq!(options.disk.as_deref(), Some(Path::new("/tmp/d.img")));
    }

    #[test]
    fn collects_output_and_exit_status() {
        let run = run_process(
            shell("printf 'one\\r\\ntwo\\n'; echo oops >&2; exit 3"),
            &RunOptions::until_exit(Duration::from_secs(20)),
        )
        .unwrap();
        assert_eq!(run.output, "one\r\ntwo\n");
        assert_eq!(run.stderr, "oops\n");
        assert_eq!(run.status, Some(3));
        assert!(!run.timed_out);
    }

    #[test]
    fn times_out_and_kills() {
        let run = run_process(
            shell("echo started; exec sleep 30"),
            &RunOptions::until_exit(Duration::from_millis(500)),
        )
        .unwrap();
        assert!(run.timed_out);
        assert_eq!(run.status, None);
        assert_eq!(run.output, "started\n");
        assert!(run.elapsed < Duration::from_secs(10));
    }

    #[test]
    fn stops_at_a_marker_without_lingering() {
        let run = run_process(
            shell("echo 'Test result: SUCCESS'; exec sleep 30"),
            &RunOptions::until_exit(Duration::from_secs(20)).stop_at("Test result:"),
        )
        .unwrap();
        assert!(!run.timed_out);
        assert_eq!(run.status, None);
        assert!(run.output.contains("SUCCESS"));
        assert!(run.elapsed < Duration::from_secs(10));
    }

    #[test]
    fn lingers_after_the_marker_to_see_the_exit() {
        let run = run_process(
            shell("echo 'Test result: SUCCESS'; sleep 0.3; echo bye; exit 0"),
            &RunOptions::until_exit(Duration::from_secs(20))
                .stop_at("Test result:")
                .linger(Duration::from_secs(10)),
        )
        .unwrap();
        assert_eq!(run.status, Some(0));
        assert!(run.output.ends_with("bye\n"), "{:?}", run.output);
        assert!(!run.timed_out);
    }

    #[test]
    fn a_predicate_sees_the_accumulated_output() {
        let run = run_process(
            shell("printf 'Domain 0 '; sleep 0.2; printf 'crashed\\n'; exec sleep 30"),
            &RunOptions::until_exit(Duration::from_secs(20))
                .stop_when(|out| out.contains("Domain 0 crashed")),
        )
        .unwrap();
        assert!(!run.timed_out);
        assert!(run.output.contains("Domain 0 crashed"));
    }

    /// A fake console: prompts, answers each line, and stops at `done`.
    fn echo_shell() -> Command {
        let mut cmd = shell(
            "printf 'booting\\n'; while printf 'dom0# '; read -r line; do \
             [ \"$line\" = done ] && { echo bye; exit 0; }; echo \"got <$line>\"; done",
        );
        cmd.stdin(Stdio::piped());
        cmd
    }

    #[test]
    fn types_a_script_line_by_line_at_the_prompts() {
        let script = Script::parse("# greet\none\n@send two\n@wait got <two>\ndone\n").unwrap();
        let run = run_process(
            echo_shell(),
            &RunOptions::until_exit(Duration::from_secs(20)).input(script),
        )
        .unwrap();
        assert_eq!(run.status, Some(0), "{}", run.report(20));
        assert!(run.input_done);
        assert_eq!(
            run.output,
            "booting\ndom0# got <one>\ndom0# got <two>\ndom0# bye\n"
        );
    }

    #[test]
    fn stops_once_the_last_line_is_answered() {
        let script = Script::parse("one\ntwo\n").unwrap();
        let run = run_process(
            echo_shell(),
            &RunOptions::until_exit(Duration::from_secs(20))
                .input(script)
                .stop_after_input(true),
        )
        .unwrap();
        assert!(run.input_done);
        assert!(!run.timed_out);
        assert_eq!(run.status, None, "killed, not exited");
        assert!(
            run.output.ends_with("got <two>\ndom0# "),
            "{:?}",
            run.output
        );
    }

    #[test]
    fn an_unanswered_script_times_out() {
        let script = Script::parse("one\n").unwrap();
        let run = run_process(
            {
                let mut cmd = shell("echo 'no prompt here'; exec sleep 30");
                cmd.stdin(Stdio::piped());
                cmd
            },
            &RunOptions::until_exit(Duration::from_millis(500))
                .input(script)
                .stop_after_input(true),
        )
        .unwrap();
        assert!(run.timed_out);
        assert!(!run.input_done);
    }

    #[test]
    fn a_missing_program_is_an_error() {
        let mut cmd = Command::new("surely-not-a-program-xtask");
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        assert!(run_process(cmd, &RunOptions::until_exit(Duration::from_secs(1))).is_err());
    }

    #[test]
    fn tail_and_report_show_the_last_lines() {
        let run = Run {
            output: (1..=100).map(|i| format!("line {i}\r\n")).collect(),
            stderr: String::new(),
            status: Some(3),
            timed_out: false,
            elapsed: Duration::from_secs(2),
            input_done: true,
        };
        let tail = run.tail(60);
        assert_eq!(tail.lines().count(), 60);
        assert!(tail.starts_with("line 41\n"));
        assert!(tail.ends_with("line 100"));
        let report = run.report(60);
        assert!(report.contains("exit status 3 (Dom0 crashed)"), "{report}");
        assert!(report.contains("line 41"));
        assert!(!report.contains("line 40\n"));
    }
}
