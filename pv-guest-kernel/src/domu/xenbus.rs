//! A DomU's xenbus client: dom0-tools' xenstore connection over our ring page and store event channel (read, write, directory, watch; events queued).
// Events stay masked (no upcall): waiting is SCHEDOP_poll on the store port with a deadline,
// then the port's pending bit taken, as the other DomU modes wait.

use alloc::vec::Vec;

use hypercall_abi::event_channel::EvtchnPort;

use dom0_tools::xs_connection::{WatchEvent, XsConnection, XsError, XsTransport};
use dom0_tools::xs_ring::RingMemory;

use crate::arch::x86_64::xenstore_front::{self, NoStore, StorePage};
use crate::arch::x86_64::{boot, shared_events, toolstack_calls};

/// How long one request may take (system time): generous for software emulation and a
/// xenstored that serves several domains.
pub const REQUEST_TIMEOUT_NS: u64 = 20_000_000_000;

/// Our ring page and port, as the connection's transport.
struct Transport {
    page: StorePage,
    port: EvtchnPort,
}

impl XsTransport for Transport {
    fn page(&mut self) -> &mut dyn RingMemory {
        &mut self.page
    }

    fn notify(&mut self) {
        xenstore_front::notify();
    }

    fn take_signal(&mut self) -> bool {
        shared_events::take_pending(self.port)
    }

    fn wait(&mut self, deadline: u64) -> Result<(), i64> {
        match toolstack_calls::sched_poll(&[self.port], deadline) {
            0 => Ok(()),
            e => Err(e),
        }
    }

    fn now(&mut self) -> Option<u64> {
        shared_events::system_time_ns()
    }
}

/// The connection to xenstored.
pub struct Xenbus {
    transport: Transport,
    conn: XsConnection,
}

impl Xenbus {
    /// Connects to the xenstore ring start_info names (and maps shared_info for waiting).
    pub fn connect() -> Result<Xenbus, NoStore> {
        xenstore_front::init(boot::start_info())?;
        let _ = shared_events::map();
        let port = xenstore_front::port().ok_or(NoStore::NoEventChannel)?;
        let page = xenstore_front::page().ok_or(NoStore::NoEventChannel)?;
        Ok(Xenbus {
            transport: Transport { page, port },
            conn: XsConnection::new(REQUEST_TIMEOUT_NS),
        })
    }

    /// The store event channel (pending when xenstored wrote to the ring).
    pub fn port(&self) -> EvtchnPort {
        self.transport.port
    }

    /// XS_READ: the node's value.
    pub fn read(&mut self, path: &str) -> Result<Vec<u8>, XsError> {
        self.conn.read(&mut self.transport, path)
    }

    /// XS_WRITE: sets the node's value (creating it).
    pub fn write(&mut self, path: &str, value: &[u8]) -> Result<(), XsError> {
        self.conn.write(&mut self.transport, path, value)
    }

    /// XS_DIRECTORY: the payload of NUL-terminated child names.
    pub fn directory(&mut self, path: &str) -> Result<Vec<u8>, XsError> {
        self.conn.directory(&mut self.transport, path)
    }

    /// XS_WATCH: changes at or under `path` come as events with `token`.
    pub fn watch(&mut self, path: &str, token: &str) -> Result<(), XsError> {
        self.conn.watch(&mut self.transport, path, token)
    }

    /// Takes what xenstored wrote without waiting (watch events are queued).
    pub fn poll(&mut self) -> Result<(), XsError> {
        self.conn.poll(&mut self.transport)
    }

    /// The oldest watch event not handled yet.
    pub fn take_event(&mut self) -> Option<WatchEvent> {
        self.conn.take_event()
    }

    /// Watch events dropped because the queue was full.
    pub fn dropped_events(&self) -> u64 {
        self.conn.dropped_events
    }
}
