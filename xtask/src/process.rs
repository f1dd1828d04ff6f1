//! Running host programs: checked execution, PATH look-up, privilege check, printable commands.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs `cmd` with inherited stdio; an error names the command and its exit status.
pub fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run `{}`: {e}", display(cmd)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", display(cmd)))
    }
}

/// Runs `cmd` capturing its output; an error names the command, its status and its stderr.
pub fn output(cmd: &mut Command) -> Result<Output, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run `{}`: {e}", display(cmd)))?;
    if out.status.success() {
        Ok(out)
    } else {
        let mut text = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if text.is_empty() {
            text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        }
        Err(format!(
            "`{}` failed ({}): {text}",
            display(cmd),
            out.status
        ))
    }
}

/// The full path of `program` if it is an executable file in a directory of PATH.
pub fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether this process runs as root (effective uid 0), read from /proc/self/status.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| effective_uid(&status))
        .is_some_and(|uid| uid == 0)
}

/// The effective uid from the `Uid:` line of a /proc/<pid>/status text (real, effective, ...).
fn effective_uid(status: &str) -> Option<u32> {
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// A shell-like rendering of `cmd` for messages: program and arguments, quoted where needed.
pub fn display(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|arg| quote(&arg.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Quotes `word` for a POSIX shell if it holds anything but plainly safe characters.
pub fn quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_effective_uid() {
        let status = "Name:\tx\nUid:\t1000\t0\t1000\t1000\nGid:\t0\n";
        assert_eq!(effective_uid(status), Some(0));
        assert_eq!(effective_uid("Name:\tx\n"), None);
    }

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(quote("-append"), "-append");
        assert_eq!(
            quote("console=com1 dom0_mem=64M"),
            "'console=com1 dom0_mem=64M'"
        );
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn displays_a_command() {
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args(["-m", "512", "-append", "a b"]);
        assert_eq!(display(&cmd), "qemu-system-x86_64 -m 512 -append 'a b'");
    }

    #[test]
    fn finds_sh_on_path() {
        assert!(on_path("sh").is_some());
        assert!(on_path("surely-not-a-program-xtask").is_none());
    }

    #[test]
    fn checked_runs_report_failures() {
        assert!(run(Command::new("true").arg("x")).is_ok());
        let err = run(&mut Command::new("false")).unwrap_err();
        assert!(err.contains("`false` failed"), "{err}");
        let err = output(Command::new("sh").args(["-c", "echo oops >&2; exit 3"])).unwrap_err();
        assert!(err.contains("oops"), "{err}");
    }
}
