//! domu=pong: one of the two DomUs of domains=pingpong (granter or mapper), reporting each check on its console.
// The exchange, in steps; each side notifies the other on the interdomain port after its
// part and then waits for the other's notification, so the two strictly alternate (two
// notifications in a row from one side would merge into one pending bit and be seen once):
//   mapper:  bind to the granter's port (which leaves our port pending: taken), notify (hello)
//   both:    ROUND_TRIPS round trips, the granter sending first; then the granter notifies
//   mapper:  map the granted page, read the offer, write the answer through the mapping
//   granter: see the answer (and the grant in use), write the copy-out pattern
//   mapper:  grant-copy the page into a frame of its own, then a new pattern back into it
//   granter: see it; give the frame back (decrease_reservation); ending the grant is refused
//   mapper:  still read the page through the mapping; unmap; a new map finds the frame freed
//   granter: the frame is freed and uncounted, the grant ends; grants a second page (the next
//            reference) read-only
//   mapper:  maps it read-only and holds it
//   granter: sees it in use (GTF_reading), powers off; Dom0 destroys it, and it must stay
//            (dying) while the mapper holds its page; Dom0 then sends the mapper "release"
//   mapper:  the held page still has the granter's contents; unmaps (and the granter goes)
// A failed wait ends the exchange (the peer then times out too); other failures are reported
// and the exchange goes on.

use dom0_tools::pingpong_params::{PongConfig, Role};

use crate::arch::x86_64::{boot, shared_events, traps, xen};
use crate::console::{Escaped, kprintln, until_nul};
use crate::selftest::report::{Detail, Outcome, Ret};

/// Round trips of the ping-pong.
pub const ROUND_TRIPS: u32 = 1000;
/// Pattern seeds of the granted page's contents, step by step: what the granter offers,
/// what the mapper answers through its mapping, what the granter puts out for the copy, and
/// what the mapper copies back.
pub const SEED_OFFER: u64 = 0x4F;
/// See [`SEED_OFFER`].
pub const SEED_ANSWER: u64 = 0x41;
/// See [`SEED_OFFER`].
pub const SEED_COPY_OUT: u64 = 0x43;
/// See [`SEED_OFFER`].
pub const SEED_COPY_BACK: u64 = 0x42;
/// The second granted page, held by the mapper past the granter's destruction.
pub const SEED_HELD: u64 = 0x48;
/// The granter's last line when every check passed.
pub const GRANTER_DONE: &str = "pong: granter done";
/// The mapper's last line when every check passed.
pub const MAPPER_DONE: &str = "pong: mapper done";

/// A check's name and the line that reports it passed.
macro_rules! checks {
    ($($name:literal),* $(,)?) => {
        [$(($name, concat!("pong: ok ", $name))),*]
    };
}

/// The granter's checks.
pub const GRANTER_CHECKS: [(&str, &str); 6] = checks![
    "granter.round_trips",
    "granter.answer_through_map",
    "granter.copy_seen",
    "granter.end_refused_while_mapped",
    "granter.freed_after_unmap",
    "granter.second_grant_held",
];
/// The mapper's checks.
pub const MAPPER_CHECKS: [(&str, &str); 6] = checks![
    "mapper.round_trips",
    "mapper.map",
    "mapper.copy_both_ways",
    "mapper.mapped_after_free",
    "mapper.unmap_then_bad_page",
    "mapper.held_past_granter_destroy",
];

/// Counts the checks and prints each one's line.
#[derive(Debug, Default)]
pub struct Tally {
    failed: u32,
}

impl Tally {
    /// Prints `pong: ok <name>` or `pong: FAIL <name>: <detail>`; true if it passed.
    pub fn check(&mut self, name: &str, outcome: Outcome) -> bool {
        match outcome {
            Ok(()) => {
                kprintln!("pong: ok {}", name);
                true
            }
            Err(detail) => {
                self.failed += 1;
                kprintln!("pong: FAIL {}: {}", name, detail);
                false
            }
        }
    }
}

/// The exchange ended early (a wait failed, or a step it depends on).
pub struct Aborted;

/// Reports a step the exchange cannot go on without: Err(Aborted) if it failed.
pub fn must<T>(tally: &mut Tally, name: &str, result: Result<T, Detail>) -> Result<T, Aborted> {
    match result {
        Ok(v) => Ok(v),
        Err(detail) => {
            tally.check(name, Err(detail));
            Err(Aborted)
        }
    }
}

/// Plays the part the command line names; powers off if every check passed, crashes if not.
pub fn run() -> ! {
    let cmdline = until_nul(&boot::start_info().cmd_line);
    let mut tally = Tally::default();
    let finished = start(cmdline, &mut tally);
    let role = PongConfig::parse(cmdline).map(|c| c.role);
    if finished.is_ok() && tally.failed == 0 {
        match role {
            Some(Role::Granter) => kprintln!("{}", GRANTER_DONE),
            _ => kprintln!("{}", MAPPER_DONE),
        }
        xen::power_off()
    }
    kprintln!(
        "pong: {} check(s) failed{}",
        tally.failed,
        if finished.is_err() {
            ", exchange ended early"
        } else {
            ""
        }
    );
    xen::crash()
}

fn start(cmdline: &[u8], tally: &mut Tally) -> Result<(), Aborted> {
    let config = PongConfig::parse(cmdline).ok_or(Detail::new(format_args!(
        "command line '{}' names no role and grant reference",
        Escaped(cmdline)
    )));
    let config = must(tally, "pong.config", config)?;
    let traps = traps::install()
        .map(|_| ())
        .map_err(|ret| Detail::new(format_args!("set_trap_table returned {}", Ret(ret))));
    must(tally, "pong.trap_table", traps)?;
    let mapped = match shared_events::map() {
        0 => Ok(()),
        e => Err(Detail::new(format_args!(
            "mapping shared_info returned {}",
            Ret(e)
        ))),
    };
    must(tally, "pong.shared_info", mapped)?;
    let link = must(tally, "pong.link_line", super::pong_link::read_peer_link())?;
    kprintln!(
        "pong: {} with d{} over port {}, grant reference {}",
        config.role.word(),
        link.peer,
        link.port,
        config.gref
    );
    match config.role {
        Role::Granter => super::pong_granter::run(tally, config.gref, link),
        Role::Mapper => super::pong_mapper::run(tally, config.gref, link),
    }
}
