//! What getdomaininfo says about a domain, decoded: shut down (and why), dying, paused.

use hypercall_abi::domctl::{
    XEN_DOMINF_BLOCKED, XEN_DOMINF_DYING, XEN_DOMINF_PAUSED, XEN_DOMINF_RUNNING,
    XEN_DOMINF_SHUTDOWN, XenDomctlGetdomaininfo,
};
use hypercall_abi::domid::DomId;

/// A domain's state as the toolstack needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DomainState {
    /// The domain.
    pub domid: DomId,
    /// The shutdown code (`SHUTDOWN_*`) once the domain has shut down.
    pub shutdown: Option<u32>,
    /// Being destroyed: its resources are on their way back.
    pub dying: bool,
    /// Paused by the toolstack.
    pub paused: bool,
    /// Every vCPU blocked.
    pub blocked: bool,
    /// Some vCPU running.
    pub running: bool,
    /// Pages it owns.
    pub tot_pages: u64,
    /// Its page limit.
    pub max_pages: u64,
    /// Frame of its shared_info page.
    pub shared_info_frame: u64,
}

impl From<&XenDomctlGetdomaininfo> for DomainState {
    fn from(info: &XenDomctlGetdomaininfo) -> Self {
        let has = |flag: u32| info.flags & flag != 0;
        DomainState {
            domid: info.domain,
            shutdown: has(XEN_DOMINF_SHUTDOWN).then(|| info.shutdown_code()),
            dying: has(XEN_DOMINF_DYING),
            paused: has(XEN_DOMINF_PAUSED),
            blocked: has(XEN_DOMINF_BLOCKED),
            running: has(XEN_DOMINF_RUNNING),
            tot_pages: info.tot_pages,
            max_pages: info.max_pages,
            shared_info_frame: info.shared_info_frame,
        }
    }
}

/// The name of shutdown code `code`, as xl prints it.
pub fn shutdown_name(code: u32) -> &'static str {
    match code {
        0 => "poweroff",
        1 => "reboot",
        2 => "suspend",
        3 => "crash",
        4 => "watchdog",
        5 => "soft_reset",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_shutdown_and_flags() {
        let mut info = XenDomctlGetdomaininfo {
            domain: 3,
            flags: XEN_DOMINF_PAUSED | XEN_DOMINF_BLOCKED,
            tot_pages: 2048,
            max_pages: 2048,
            shared_info_frame: 0x77,
            ..Default::default()
        };
        let s = DomainState::from(&info);
        assert_eq!(s.domid, 3);
        assert_eq!(s.shutdown, None);
        assert!(s.paused && s.blocked && !s.running && !s.dying);
        assert_eq!((s.tot_pages, s.shared_info_frame), (2048, 0x77));
        info.set_shutdown(3);
        info.flags |= XEN_DOMINF_DYING;
        let s = DomainState::from(&info);
        assert_eq!(s.shutdown, Some(3));
        assert!(s.dying);
        assert_eq!(shutdown_name(3), "crash");
        assert_eq!(shutdown_name(0), "poweroff");
        assert_eq!(shutdown_name(99), "unknown");
        info.flags = XEN_DOMINF_RUNNING;
        assert!(DomainState::from(&info).running);
    }
}
