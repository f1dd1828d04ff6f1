//! Dom0's end of a DomU's console ring: the page mapped, the event channel bound, lines echoed as "(dN) ...".

use hypercall_abi::domid::DomId;
use hypercall_abi::event_channel::EvtchnPort;

use dom0_tools::console_lines::ConsoleLines;
use dom0_tools::console_ring::{self, Corrupt};

use crate::arch::x86_64::foreign::ForeignPage;
use crate::arch::x86_64::toolstack_calls;
use crate::console::{Escaped, kprintln};

/// Words whose lines are counted, at most this many per console.
const MAX_WATCHES: usize = 8;

/// A connected console: xenconsoled's job for one DomU.
pub struct ConsoleBackend {
    domid: DomId,
    page: ForeignPage,
    local_port: Option<EvtchnPort>,
    remote_port: EvtchnPort,
    console_mfn: u64,
    lines: ConsoleLines,
    watches: heapless::Vec<(&'static str, u32), MAX_WATCHES>,
}

impl ConsoleBackend {
    /// Maps the DomU's console frame `console_mfn` (zeroing it: the ring starts empty) and
    /// binds a local port to its console port `remote_port`. On failure, says which step.
    pub fn connect(
        domid: DomId,
        console_mfn: u64,
        remote_port: EvtchnPort,
    ) -> Result<Self, (&'static str, i64)> {
        let Some(mut page) = ForeignPage::claim() else {
            return Err((
                "claim a foreign page for the console",
                hypercall_abi::Errno::NoSpc.to_ret(),
            ));
        };
        match page.map(domid, console_mfn) {
            0 => {}
            e => return Err(("map the console page (mmu_update, foreign)", e)),
        }
        page.zero();
        let local_port = toolstack_calls::evtchn_bind_interdomain(domid, remote_port)
            .map_err(|e| ("bind_interdomain to the console port", e))?;
        Ok(ConsoleBackend {
            domid,
            page,
            local_port: Some(local_port),
            remote_port,
            console_mfn,
            lines: ConsoleLines::new(),
            watches: heapless::Vec::new(),
        })
    }

    /// Our port for the console (pending when the DomU notifies), while connected.
    pub fn local_port(&self) -> Option<EvtchnPort> {
        self.local_port
    }

    /// The DomU's console frame.
    pub fn mfn(&self) -> u64 {
        self.console_mfn
    }

    /// The DomU's end of the console event channel.
    pub fn remote_port(&self) -> EvtchnPort {
        self.remote_port
    }

    /// From now on, count the lines that contain `needle`.
    pub fn watch(&mut self, needle: &'static str) {
        if !self.watches.iter().any(|(w, _)| *w == needle) {
            let _ = self.watches.push((needle, 0));
        }
    }

    /// Lines seen so far that contain `needle` (0 if it is not watched).
    pub fn count(&self, needle: &str) -> u32 {
        self.watches
            .iter()
            .find(|(w, _)| *w == needle)
            .map_or(0, |(_, n)| *n)
    }

    /// Prints every complete line the DomU wrote since the last call; returns the bytes taken.
    pub fn drain(&mut self) -> usize {
        let ConsoleBackend {
            domid,
            page,
            lines,
            watches,
            ..
        } = self;
        if page.mapping().is_none() {
            return 0;
        }
        let mut emit = |line: &[u8]| {
            for (needle, n) in watches.iter_mut() {
                if line.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    *n += 1;
                }
            }
            kprintln!("(d{}) {}", domid, Escaped(line));
        };
        let result = console_ring::drain_output(page, &mut |b| lines.push(b, &mut emit));
        match result {
            Ok(n) => n,
            Err(Corrupt { cons, prod }) => {
                kprintln!(
                    "(d{}) [console ring corrupt: out_cons {} out_prod {}; skipped]",
                    domid,
                    cons,
                    prod
                );
                0
            }
        }
    }

    /// Hands every byte the DomU wrote since the last call to `sink`, in order (no line
    /// printing: `xl`'s consoles keep them); returns how many. A corrupt ring loses its bytes.
    pub fn drain_raw(&mut self, sink: &mut dyn FnMut(u8)) -> usize {
        if self.page.mapping().is_none() {
            return 0;
        }
        console_ring::drain_output(&mut self.page, sink).unwrap_or(0)
    }

    /// Sends `bytes` to the DomU's console input and notifies it; false if they did not fit.
    pub fn send(&mut self, bytes: &[u8]) -> bool {
        let fitted = console_ring::write_input(&mut self.page, bytes) == Ok(bytes.len());
        if let Some(port) = self.local_port {
            let _ = toolstack_calls::evtchn_send(port);
        }
        fitted
    }

    /// Takes the last output (a partial line included), then unmaps the page and closes our
    /// port: the domain keeps no frame of ours mapped, so destroying it returns all of them.
    pub fn disconnect(&mut self) {
        self.drain();
        let domid = self.domid;
        self.lines
            .finish(&mut |line| kprintln!("(d{}) {}", domid, Escaped(line)));
        let _ = self.page.unmap();
        if let Some(port) = self.local_port.take() {
            let _ = toolstack_calls::evtchn_close(port);
        }
    }
}

impl Drop for ConsoleBackend {
    fn drop(&mut self) {
        self.disconnect();
    }
}
