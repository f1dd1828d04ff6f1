//! What the kernel does, chosen by its command line (start_info.cmd_line).

/// The kernel's modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Run the self-tests (also the default for an empty command line).
    Selftest,
    /// Read an unmapped address with no trap table: the hypervisor must crash us.
    FaultNoHandler,
    /// Write to a hypervisor address with no trap table: the hypervisor must crash us.
    FaultHvWrite,
    /// Print instruction counts of an empty loop and a null hypercall.
    Bench,
    /// conform=mmu: page tables, mmu_update, update_va_mapping and mmuext_op conformance.
    ConformMmu,
    /// conform=memory: memory_op reservations and queries conformance.
    ConformMemory,
    /// conform=multicall: multicall conformance.
    ConformMulticall,
    /// conform=control: domctl and sysctl conformance.
    ConformControl,
    /// conform=events: event channel and upcall conformance.
    ConformEvents,
    /// conform=time: time records, timers, block and poll conformance.
    ConformTime,
    /// conform=grants: grant_table_op conformance (self-grants).
    ConformGrants,
    /// conform=pirq: a disk's IRQ 14 reaching Dom0 as an event (map_pirq, bind_pirq, eoi).
    ConformPirq,
    /// conform=traps|softint|user|fpu|desc|priv: a CPU conformance guest.
    ConformCpu(crate::conform_cpu::area::Area),
    /// isolate=<name>: an isolation check a hostile guest must fail at.
    Isolate(crate::isolate::check::Check),
    /// domains=lifecycle|crash|churn|weights|cap: Dom0 builds and manages DomUs (its ramdisk is their kernel).
    Domains(crate::dom0::scenario::Scenario),
    /// domu=hello: a DomU that says hello on its console ring and powers off.
    DomuHello,
    /// domu=ticker: a DomU that runs until its console input says stop.
    DomuTicker,
    /// domu=bench: the partner DomU of the two-domain benchmarks.
    DomuBench,
    /// domu=spin: a CPU-bound DomU that spins until its console input says stop.
    DomuSpin,
    /// domu=pong: one of the two DomUs of domains=pingpong (its role on the command line).
    DomuPong,
    /// xl: Dom0 runs the `xl` toolstack shell on its console (DomU configs and images in its
    /// ramdisk; `xl.autostart=0` skips /etc/xen/auto).
    Xl,
    /// bench=create: Dom0 times `xl create` (its ramdisk is the DomU kernel).
    BenchCreate,
    /// console=echo: Dom0 echoes lines typed on the serial console until `done`.
    ConsoleEcho,
    /// domu=shell: a DomU with a small shell on its console (and a xenbus client).
    DomuShell,
    /// net=loopback: two smoltcp hosts on an in-memory wire ping each other and talk TCP.
    NetLoopback,
    /// disk=selftest: Dom0 opens the IDE disk, writes, flushes and reads back a sector.
    DiskSelftest,
}

impl Mode {
    /// The mode named by the first word of `cmdline` that names one; `Selftest` if none does
    /// (the hypervisor may append words of its own, such as `acpi=...`).
    pub fn from_cmdline(cmdline: &[u8]) -> Mode {
        cmdline
            .split(|b| b.is_ascii_whitespace())
            .find_map(Mode::from_word)
            .unwrap_or(Mode::Selftest)
    }

    fn from_word(word: &[u8]) -> Option<Mode> {
        match word {
            b"selftest" => Some(Mode::Selftest),
            b"fault=nohandler" => Some(Mode::FaultNoHandler),
            b"fault=hvwrite" => Some(Mode::FaultHvWrite),
            b"bench" => Some(Mode::Bench),
            b"conform=mmu" => Some(Mode::ConformMmu),
            b"conform=memory" => Some(Mode::ConformMemory),
            b"conform=multicall" => Some(Mode::ConformMulticall),
            b"conform=control" => Some(Mode::ConformControl),
            b"conform=events" => Some(Mode::ConformEvents),
            b"conform=time" => Some(Mode::ConformTime),
            b"conform=grants" => Some(Mode::ConformGrants),
            b"conform=pirq" => Some(Mode::ConformPirq),
            b"domu=hello" => Some(Mode::DomuHello),
            b"domu=ticker" => Some(Mode::DomuTicker),
            b"domu=bench" => Some(Mode::DomuBench),
            b"domu=spin" => Some(Mode::DomuSpin),
            b"domu=pong" => Some(Mode::DomuPong),
            b"console=echo" => Some(Mode::ConsoleEcho),
            b"xl" => Some(Mode::Xl),
            b"bench=create" => Some(Mode::BenchCreate),
            b"domu=shell" => Some(Mode::DomuShell),
            b"net=loopback" => Some(Mode::NetLoopback),
            b"disk=selftest" => Some(Mode::DiskSelftest),
            w if w.starts_with(b"domains=") => {
                crate::dom0::scenario::Scenario::from_word(w).map(Mode::Domains)
            }
            w if w.starts_with(b"isolate=") => {
                crate::isolate::check::Check::from_word(w).map(Mode::Isolate)
            }
            w if crate::conform_cpu::area::Area::from_word(w).is_some() => {
                crate::conform_cpu::area::Area::from_word(w).map(Mode::ConformCpu)
            }
            _ => None,
        }
    }
}
