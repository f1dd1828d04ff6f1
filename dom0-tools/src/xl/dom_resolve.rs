//! Naming a domain by name or id, and finding it, as xl does.

use alloc::string::String;
use core::fmt;

/// A domain as the user named it: an all-digit word is an id, anything else a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DomSpec {
    /// A domain id.
    Id(u32),
    /// A domain name (or an all-digit word too big for an id, which names nothing).
    Name(String),
}

impl DomSpec {
    /// Reads a word as xl's `find_domain` does.
    pub fn parse(word: &str) -> DomSpec {
        if !word.is_empty()
            && word.bytes().all(|b| b.is_ascii_digit())
            && let Ok(id) = word.parse::<u32>()
        {
            return DomSpec::Id(id);
        }
        DomSpec::Name(String::from(word))
    }
}

impl fmt::Display for DomSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DomSpec::Id(id) => write!(f, "{id}"),
            DomSpec::Name(name) => f.write_str(name),
        }
    }
}

/// libxl's `ERROR_INVAL`, which xl prints when a name matches no domain.
pub const ERROR_INVAL: i32 = -6;

/// A domain that is not there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResolveError {
    /// No domain has this name (xl: `NAME is an invalid domain identifier (rc=-6)`).
    UnknownName(String),
    /// No domain has this id (xl resolves ids without looking; the command then fails, and
    /// `xl list ID` says `Error: Domain 'ID' does not exist.`: we say that for every command).
    UnknownId(u32),
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::UnknownName(name) => writeln!(
                f,
                "{name} is an invalid domain identifier (rc={ERROR_INVAL})"
            ),
            ResolveError::UnknownId(id) => writeln!(f, "Error: Domain '{id}' does not exist."),
        }
    }
}

/// The id of the domain `spec` names among `domains` (id, name).
pub fn resolve(spec: &DomSpec, domains: &[(u32, &str)]) -> Result<u32, ResolveError> {
    match spec {
        DomSpec::Id(id) => domains
            .iter()
            .find(|(domid, _)| domid == id)
            .map(|(domid, _)| *domid)
            .ok_or(ResolveError::UnknownId(*id)),
        DomSpec::Name(name) => domains
            .iter()
            .find(|(_, n)| n == name)
            .map(|(domid, _)| *domid)
            .ok_or_else(|| ResolveError::UnknownName(name.clone())),
    }
}

/// `xl domid NAME`'s error when no domain has that name.
pub fn domid_not_found(name: &str) -> String {
    alloc::format!("Can't get domid of domain name '{name}', maybe this domain does not exist.\n")
}

/// `xl domname ID`'s error when no domain has that id.
pub fn domname_not_found(domid: u32) -> String {
    alloc::format!(
        "Can't get domain name of domain id '{domid}', maybe this domain does not exist.\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOMS: [(u32, &str); 3] = [(0, "Domain-0"), (3, "guest"), (5, "42x")];

    #[test]
    fn parse_words() {
        assert_eq!(DomSpec::parse("3"), DomSpec::Id(3));
        assert_eq!(DomSpec::parse("007"), DomSpec::Id(7));
        assert_eq!(
            DomSpec::parse("guest"),
            DomSpec::Name(String::from("guest"))
        );
        assert_eq!(DomSpec::parse("42x"), DomSpec::Name(String::from("42x")));
        assert_eq!(DomSpec::parse("-1"), DomSpec::Name(String::from("-1")));
        assert_eq!(
            DomSpec::parse("99999999999"),
            DomSpec::Name(String::from("99999999999"))
        );
        assert_eq!(DomSpec::parse("4294967295"), DomSpec::Id(u32::MAX));
    }

    #[test]
    fn resolves() {
        assert_eq!(resolve(&DomSpec::parse("guest"), &DOMS), Ok(3));
        assert_eq!(resolve(&DomSpec::parse("0"), &DOMS), Ok(0));
        assert_eq!(resolve(&DomSpec::parse("42x"), &DOMS), Ok(5));
        assert_eq!(resolve(&DomSpec::parse("5"), &DOMS), Ok(5));
    }

    #[test]
    fn errors_as_xl() {
        let e = resolve(&DomSpec::parse("foo"), &DOMS).unwrap_err();
        assert_eq!(
            e.to_string(),
            "foo is an invalid domain identifier (rc=-6)\n"
        );
        let e = resolve(&DomSpec::parse("9"), &DOMS).unwrap_err();
        assert_eq!(e.to_string(), "Error: Domain '9' does not exist.\n");
        let e = resolve(&DomSpec::parse("99999999999"), &DOMS).unwrap_err();
        assert_eq!(
            e.to_string(),
            "99999999999 is an invalid domain identifier (rc=-6)\n"
        );
        assert_eq!(
            domid_not_found("x"),
            "Can't get domid of domain name 'x', maybe this domain does not exist.\n"
        );
        assert_eq!(
            domname_not_found(9),
            "Can't get domain name of domain id '9', maybe this domain does not exist.\n"
        );
    }
}
