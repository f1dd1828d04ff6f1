//! A domain's state flags and the six-letter state strings of `xl list` and `xentop`.

use crate::domain_info::DomainState;

/// What the hypervisor says about a domain, as the state columns need it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DomainFlags {
    /// Some vCPU is running.
    pub running: bool,
    /// Every vCPU is blocked.
    pub blocked: bool,
    /// Paused by the toolstack.
    pub paused: bool,
    /// Shut down, with this `SHUTDOWN_*` reason code.
    pub shutdown: Option<u32>,
    /// Being destroyed.
    pub dying: bool,
}

/// `SHUTDOWN_crash`.
const SHUTDOWN_CRASH: u32 = 3;

impl DomainFlags {
    /// Shut down because it crashed.
    pub fn crashed(&self) -> bool {
        self.shutdown == Some(SHUTDOWN_CRASH)
    }

    /// `xl list`'s State column: `r` running, `b` blocked, `p` paused, `s` shut down, then the
    /// shutdown reason (`-` poweroff or none, `r` reboot, `s` suspend, `c` crash, `w` watchdog,
    /// `S` soft reset, `?` unknown), then `d` dying.
    pub fn xl_list_state(&self) -> [u8; 6] {
        let flag = |set: bool, letter: u8| if set { letter } else { b'-' };
        let reason = match self.shutdown {
            None => b'-',
            Some(code) => *b"-rscwS".get(code as usize).unwrap_or(&b'?'),
        };
        [
            flag(self.running, b'r'),
            flag(self.blocked, b'b'),
            flag(self.paused, b'p'),
            flag(self.shutdown.is_some(), b's'),
            reason,
            flag(self.dying, b'd'),
        ]
    }

    /// `xentop`'s STATE column: `d` dying, `s` shut down, `b` blocked, `c` crashed, `p` paused,
    /// `r` running, in that order.
    pub fn xentop_state(&self) -> [u8; 6] {
        let flag = |set: bool, letter: u8| if set { letter } else { b'-' };
        [
            flag(self.dying, b'd'),
            flag(self.shutdown.is_some(), b's'),
            flag(self.blocked, b'b'),
            flag(self.crashed(), b'c'),
            flag(self.paused, b'p'),
            flag(self.running, b'r'),
        ]
    }
}

impl From<&DomainState> for DomainFlags {
    fn from(state: &DomainState) -> Self {
        DomainFlags {
            running: state.running,
            blocked: state.blocked,
            paused: state.paused,
            shutdown: state.shutdown,
            dying: state.dying,
        }
    }
}

/// The six state letters as text (they are always ASCII).
pub fn as_str(letters: &[u8; 6]) -> &str {
    core::str::from_utf8(letters).unwrap_or("??????")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_letters() {
        let mut f = DomainFlags {
            running: true,
            ..Default::default()
        };
        assert_eq!(as_str(&f.xl_list_state()), "r-----");
        f = DomainFlags {
            blocked: true,
            paused: true,
            ..Default::default()
        };
        assert_eq!(as_str(&f.xl_list_state()), "-bp---");
        f = DomainFlags {
            shutdown: Some(3),
            dying: true,
            ..Default::default()
        };
        assert_eq!(as_str(&f.xl_list_state()), "---scd");
        f.shutdown = Some(0);
        assert_eq!(as_str(&f.xl_list_state()), "---s-d");
        f.shutdown = Some(1);
        assert_eq!(as_str(&f.xl_list_state()), "---srd");
        f.shutdown = Some(5);
        assert_eq!(as_str(&f.xl_list_state()), "---sSd");
        f.shutdown = Some(99);
        assert_eq!(as_str(&f.xl_list_state()), "---s?d");
    }

    #[test]
    fn xentop_letters() {
        let f = DomainFlags {
            blocked: true,
            ..Default::default()
        };
        assert_eq!(as_str(&f.xentop_state()), "--b---");
        let f = DomainFlags {
            shutdown: Some(3),
            paused: true,
            running: true,
            dying: true,
            ..Default::default()
        };
        assert_eq!(as_str(&f.xentop_state()), "ds-cpr");
    }

    #[test]
    fn from_domain_state() {
        let s = DomainState {
            domid: 1,
            shutdown: Some(1),
            dying: false,
            paused: true,
            blocked: false,
            running: false,
            tot_pages: 0,
            max_pages: 0,
            shared_info_frame: 0,
        };
        let f = DomainFlags::from(&s);
        assert_eq!(as_str(&f.xl_list_state()), "--psr-");
    }
}
