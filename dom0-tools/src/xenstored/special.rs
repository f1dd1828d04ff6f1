//! The special nodes `@introduceDomain` and `@releaseDomain`: they hold only permissions,
// which decide who hears their watch events.

use super::perms::{Access, Perms};
use hypercall_abi::domid::DomId;

/// Name of the event fired when a domain is introduced.
pub const INTRODUCE_DOMAIN: &str = "@introduceDomain";
/// Name of the event fired when a domain is released or dies.
pub const RELEASE_DOMAIN: &str = "@releaseDomain";

/// The permissions of both special nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecialNodes {
    introduce: Perms,
    release: Perms,
}

impl Default for SpecialNodes {
    fn default() -> Self {
        SpecialNodes::new()
    }
}

impl SpecialNodes {
    /// Both owned by Dom0 and closed to others.
    pub fn new() -> SpecialNodes {
        SpecialNodes {
            introduce: Perms::owned_by(0, Access::None),
            release: Perms::owned_by(0, Access::None),
        }
    }

    /// The permissions of special node `name`, if it is one.
    pub fn perms(&self, name: &str) -> Option<&Perms> {
        match name {
            INTRODUCE_DOMAIN => Some(&self.introduce),
            RELEASE_DOMAIN => Some(&self.release),
            _ => None,
        }
    }

    /// Mutable permissions of special node `name`.
    pub fn perms_mut(&mut self, name: &str) -> Option<&mut Perms> {
        match name {
            INTRODUCE_DOMAIN => Some(&mut self.introduce),
            RELEASE_DOMAIN => Some(&mut self.release),
            _ => None,
        }
    }

    /// Drops `domid` from both lists.
    pub fn forget_domain(&mut self, domid: DomId) {
        self.introduce.forget_domain(domid);
        self.release.forget_domain(domid);
    }
}
