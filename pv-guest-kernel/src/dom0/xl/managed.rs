//! A DomU the `xl` toolstack created: its id, name, config, console and xenstore connection.

use alloc::string::String;

use hypercall_abi::domid::DomId;

use dom0_tools::console_history::ConsoleHistory;

use crate::dom0::console_backend::ConsoleBackend;

/// What the toolstack keeps about one of its domains.
pub struct Managed {
    /// Its id.
    pub domid: DomId,
    /// Its name (unique among the toolstack's domains).
    pub name: String,
    /// The config file it was created from (for restarts).
    pub config_path: String,
    /// Machine frame of its xenstore ring page.
    pub store_mfn: u64,
    /// Its end of the xenstore event channel.
    pub store_port: hypercall_abi::event_channel::EvtchnPort,
    /// Its console ring, served by us.
    pub console: ConsoleBackend,
    /// Its recent console output.
    pub history: ConsoleHistory,
    /// System time (ns) when it was created.
    pub created_ns: u64,
    /// What to do when it powers off, reboots, crashes.
    pub on_poweroff: dom0_tools::xl_cfg::Action,
    /// See `on_poweroff`.
    pub on_reboot: dom0_tools::xl_cfg::Action,
    /// See `on_poweroff`.
    pub on_crash: dom0_tools::xl_cfg::Action,
    /// `memory/target` in KiB.
    pub target_kib: u64,
    /// `memory/static-max` in KiB.
    pub max_kib: u64,
    /// Our xenstore connection to it (ring page mapped, port bound), once introduced.
    pub store: Option<super::store::StoreRing>,
    /// Whether its shutdown has been handled (the on_* action taken or reported).
    pub shutdown_handled: bool,
}

impl Managed {
    /// Moves the DomU's new console output into its history; `live` also gets each byte
    /// (the attached console). Returns how many bytes came.
    pub fn pump_console(&mut self, live: Option<&mut dyn FnMut(u8)>) -> usize {
        let Managed {
            console, history, ..
        } = self;
        match live {
            Some(out) => console.drain_raw(&mut |b| {
                history.push(b);
                out(b);
            }),
            None => console.drain_raw(&mut |b| history.push(b)),
        }
    }
}
