//! conform=pirq, disk: ATA IDENTIFY on the primary master raises IRQ 14, which must arrive as an event on the bound port.

use dom0_tools::ata::status::{BSY as STATUS_BSY, DRQ as STATUS_DRQ, ERR as STATUS_ERR};
use dom0_tools::ata::{AtaPorts, Reg, command};
use hypercall_abi::event_channel::EvtchnPort;

use super::mapping::DISK_GSI;
use crate::arch::x86_64::ata_ports::PrimaryChannel;
use crate::arch::x86_64::{pirq_calls, shared_events, toolstack_calls};
use crate::selftest::report::{Outcome, expect_eq, expect_ret, fail};

/// Device register: the master, LBA addressing bits as ATA wants them.
const SELECT_MASTER: u8 = 0xa0;
/// Device control: interrupts on (nIEN clear), no reset.
const CONTROL_IRQ_ON: u8 = 0x00;
/// How long the event may take (system time; QEMU under TCG is slow).
const EVENT_TIMEOUT_NS: u64 = 5_000_000_000;
/// Status reads before giving up on BSY.
const BSY_SPINS: u32 = 100_000;

/// Waits until the device is not busy; its last status, or None if it stayed busy.
fn wait_not_busy(ata: &mut PrimaryChannel) -> Option<u8> {
    (0..BSY_SPINS)
        .map(|_| ata.alt_status())
        .find(|s| s & STATUS_BSY == 0)
}

/// Waits for `port` to become pending (and clears it), polling with a timeout.
fn wait_event(port: EvtchnPort) -> bool {
    let Some(start) = shared_events::system_time_ns() else {
        return false;
    };
    let deadline = start.saturating_add(EVENT_TIMEOUT_NS);
    loop {
        if shared_events::take_pending(port) {
            return true;
        }
        match shared_events::system_time_ns() {
            Some(now) if now < deadline => {
                toolstack_calls::sched_poll(&[port], deadline);
            }
            _ => return false,
        }
    }
}

/// Issues IDENTIFY to the master and waits for its interrupt's event; then the status read
/// (which acknowledges the device) must show data ready and the 256 words are read.
fn identify_once(port: EvtchnPort) -> Result<[u16; 256], crate::selftest::report::Detail> {
    let mut ata = match PrimaryChannel::claim() {
        Ok(ata) => ata,
        Err(ret) => fail!("claiming the primary IDE channel failed ({})", ret),
    };
    ata.set_control(CONTROL_IRQ_ON);
    if wait_not_busy(&mut ata).is_none() {
        fail!("the disk stays busy (no disk on the primary channel?)");
    }
    ata.outb(Reg::Device, SELECT_MASTER);
    // An interrupt the device still asserts from before would hide the next edge: the status
    // read lowers it. Then nothing may be pending on the port.
    let _ = ata.inb(Reg::StatusCommand);
    shared_events::take_pending(port);
    ata.outb(Reg::StatusCommand, command::IDENTIFY);
    if !wait_event(port) {
        fail!(
            "no event on port {} within {} ms of IDENTIFY (status {:#x})",
            port,
            EVENT_TIMEOUT_NS / 1_000_000,
            ata.alt_status()
        );
    }
    let status = ata.inb(Reg::StatusCommand);
    if status & (STATUS_ERR | STATUS_BSY) != 0 || status & STATUS_DRQ == 0 {
        fail!(
            "status {:#x} after IDENTIFY's interrupt, expected DRQ",
            status
        );
    }
    let mut bytes = [0u8; 512];
    ata.read_data(&mut bytes);
    let mut words = [0u16; 256];
    for (w, b) in words.iter_mut().zip(bytes.chunks_exact(2)) {
        *w = u16::from_le_bytes([b[0], b[1]]);
    }
    Ok(words)
}

/// IDENTIFY raises an event on the bound port; the data names an ATA disk of `sectors`
/// sectors (LBA28 count in words 60-61).
pub fn identify(port: EvtchnPort, sectors: u32) -> Outcome {
    let words = identify_once(port)?;
    if words[0] & 0x8000 != 0 {
        fail!("IDENTIFY word 0 is {:#x}: not an ATA device", words[0]);
    }
    let lba28 = u32::from(words[60]) | (u32::from(words[61]) << 16);
    expect_eq("IDENTIFY LBA sectors", lba28.into(), sectors.into())
}

/// PHYSDEVOP_eoi of PIRQ 14 once its event was handled.
pub fn eoi() -> Outcome {
    expect_ret("eoi(14)", pirq_calls::eoi(DISK_GSI), 0)
}

/// A second IDENTIFY gives a second event (the line stayed unmasked).
pub fn second_event(port: EvtchnPort) -> Outcome {
    identify_once(port)?;
    expect_ret("eoi(14) again", pirq_calls::eoi(DISK_GSI), 0)
}
