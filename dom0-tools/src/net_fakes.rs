//! Host-test stand-ins for the network drivers: pages in memory, a grant table and a GNTTABOP_copy that works on them, ring pages.

use alloc::rc::Rc;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;
use std::collections::HashMap;

use hypercall_abi::domid::{DOMID_SELF, DomId};
use hypercall_abi::errno::Errno;
use hypercall_abi::grant_table::{
    GNTCOPY_DEST_GREF, GNTCOPY_SOURCE_GREF, GNTST_BAD_COPY_ARG, GNTST_BAD_GNTREF, GNTST_OKAY,
    GnttabCopy, GnttabCopyPtr, GrantRef,
};

use crate::grant_copier::GrantCopier;
use crate::net_pages::{GrantedPage, PAGE, PageAccess, StagingPage};

/// A ring page both ends use.
pub use crate::mem_page::Page as RingPage;

/// Every page of every domain, the grants on them and Dom0's frame numbers.
#[derive(Default)]
pub struct World {
    pages: Vec<Vec<u8>>,
    grants: HashMap<(DomId, GrantRef), usize>,
    next_gref: HashMap<DomId, GrantRef>,
    frames: HashMap<u64, usize>,
    /// Operations of each copy batch, in order.
    pub batches: Vec<usize>,
    /// Make the next copy batch fail as a whole.
    pub fail_next_batch: Option<Errno>,
}

/// A handle on the world: pages for an end, and the hypervisor's copy.
#[derive(Clone, Default)]
pub struct Shared(pub Rc<RefCell<World>>);

impl Shared {
    pub fn new() -> Self {
        Self::default()
    }

    /// A new zeroed page; its index.
    pub fn page(&self) -> usize {
        let mut w = self.0.borrow_mut();
        w.pages.push(vec![0; PAGE]);
        w.pages.len() - 1
    }

    /// A new page of `domid` granted (to the backend); its index and grant.
    pub fn granted(&self, domid: DomId) -> GrantedPage {
        let page = self.page();
        let mut w = self.0.borrow_mut();
        let next = w.next_gref.entry(domid).or_insert(8);
        let gref = *next;
        *next += 1;
        w.grants.insert((domid, gref), page);
        GrantedPage { page, gref }
    }

    /// `n` granted pages of `domid`.
    pub fn granted_pool(&self, domid: DomId, n: usize) -> Vec<GrantedPage> {
        (0..n).map(|_| self.granted(domid)).collect()
    }

    /// A new Dom0 page with a frame number.
    pub fn staging(&self) -> StagingPage {
        let page = self.page();
        let frame = 0x10_0000 + page as u64;
        self.0.borrow_mut().frames.insert(frame, page);
        StagingPage { page, frame }
    }

    /// `n` staging pages.
    pub fn staging_pool(&self, n: usize) -> Vec<StagingPage> {
        (0..n).map(|_| self.staging()).collect()
    }

    /// Revokes a grant.
    pub fn revoke(&self, domid: DomId, gref: GrantRef) {
        self.0.borrow_mut().grants.remove(&(domid, gref));
    }

    /// Bytes of a page.
    pub fn bytes(&self, page: usize, offset: usize, len: usize) -> Vec<u8> {
        self.0.borrow().pages[page][offset..offset + len].to_vec()
    }

    /// Writes bytes into a page.
    pub fn fill(&self, page: usize, offset: usize, data: &[u8]) {
        self.0.borrow_mut().pages[page][offset..offset + data.len()].copy_from_slice(data);
    }

    fn resolve(w: &World, ptr: &GnttabCopyPtr, gref: bool, len: u16) -> Result<usize, i16> {
        let page = if gref {
            *w.grants
                .get(&(ptr.domid, ptr.u as GrantRef))
                .ok_or(GNTST_BAD_GNTREF)?
        } else if ptr.domid == DOMID_SELF {
            *w.frames.get(&ptr.u).ok_or(GNTST_BAD_COPY_ARG)?
        } else {
            return Err(GNTST_BAD_COPY_ARG);
        };
        if ptr.offset as usize + len as usize > PAGE {
            return Err(GNTST_BAD_COPY_ARG);
        }
        Ok(page)
    }
}

impl PageAccess for Shared {
    fn read(&self, page: usize, offset: usize, buf: &mut [u8]) {
        assert!(offset + buf.len() <= PAGE);
        buf.copy_from_slice(&self.0.borrow().pages[page][offset..offset + buf.len()]);
    }
    fn write(&mut self, page: usize, offset: usize, data: &[u8]) {
        assert!(offset + data.len() <= PAGE);
        self.fill(page, offset, data);
    }
}

impl GrantCopier for Shared {
    fn copy(&mut self, ops: &mut [GnttabCopy]) -> Result<(), Errno> {
        let mut w = self.0.borrow_mut();
        if let Some(e) = w.fail_next_batch.take() {
            return Err(e);
        }
        w.batches.push(ops.len());
        for op in ops.iter_mut() {
            let src = Self::resolve(&w, &op.source, op.flags & GNTCOPY_SOURCE_GREF != 0, op.len);
            let dst = Self::resolve(&w, &op.dest, op.flags & GNTCOPY_DEST_GREF != 0, op.len);
            op.status = match (src, dst) {
                (Ok(s), Ok(d)) => {
                    let (so, doff, n) = (
                        op.source.offset as usize,
                        op.dest.offset as usize,
                        op.len as usize,
                    );
                    let data = w.pages[s][so..so + n].to_vec();
                    w.pages[d][doff..doff + n].copy_from_slice(&data);
                    GNTST_OKAY
                }
                (Err(e), _) | (_, Err(e)) => e,
            };
        }
        Ok(())
    }
}
