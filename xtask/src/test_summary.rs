//! Adds up cargo's `test result:` lines into one closing `N passed, N failed` line.

/// Totals over every test binary of a `cargo test` run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Tests that passed.
    pub passed: u64,
    /// Tests that failed.
    pub failed: u64,
    /// Tests marked `#[ignore]`.
    pub ignored: u64,
}

fn count_before(line: &str, word: &str) -> Option<u64> {
    let end = line.find(word)?;
    line[..end]
        .split(|c: char| !c.is_ascii_digit())
        .rfind(|s| !s.is_empty())?
        .parse()
        .ok()
}

impl Totals {
    /// Adds one line of cargo's output if it is a `test result:` line.
    pub fn add_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result:") else {
            return;
        };
        self.passed += count_before(rest, " passed").unwrap_or(0);
        self.failed += count_before(rest, " failed").unwrap_or(0);
        self.ignored += count_before(rest, " ignored").unwrap_or(0);
    }

    /// The closing line CI reads.
    pub fn line(&self) -> String {
        format!(
            "summary: {} passed, {} failed, {} skipped",
            self.passed, self.failed, self.ignored
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_up_result_lines() {
        let mut t = Totals::default();
        for line in [
            "test result: ok. 89 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s",
            "running 4 tests",
            "test result: FAILED. 3 passed; 1 failed; 2 ignored; 0 measured; 0 filtered out",
            "test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out",
        ] {
            t.add_line(line);
        }
        assert_eq!(
            t,
            Totals {
                passed: 92,
                failed: 1,
                ignored: 2
            }
        );
        assert_eq!(t.line(), "summary: 92 passed, 1 failed, 2 skipped");
    }

    #[test]
    fn ignores_other_lines() {
        let mut t = Totals::default();
        t.add_line("test foo ... ok");
        t.add_line("passed failed");
        assert_eq!(t, Totals::default());
    }
}
