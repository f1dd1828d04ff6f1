//! Instructions that raise one exception each, for the trap self-tests and the fault modes.
// Each probe loads marker values into the registers, executes its instruction (listed in the
// exception table) and, once resumed at its fixup, stores every register so the caller can
// check that they survived the trip through the hypervisor.

use core::arch::{asm, global_asm};

use super::traps::symbol_address;

/// Register markers, in the order the probes store them: rax, rbx, rcx, rdx, rsi, rdi, rbp,
/// r8 .. r15. Slot 5 (rdi) is replaced by the probe's memory operand.
pub const MARKERS: [u64; 15] = [
    0x7A7A_0000_0000_00A0,
    0x7B7B_0000_0000_00B0,
    0x7C7C_0000_0000_00C0,
    0x7D7D_0000_0000_00D0,
    0x7E7E_0000_0000_00E0,
    0x7F7F_0000_0000_00F0,
    0x7070_0000_0000_0B90,
    0x7171_0000_0000_0800,
    0x7272_0000_0000_0900,
    0x7373_0000_0000_1000,
    0x7474_0000_0000_1100,
    0x7575_0000_0000_1200,
    0x7676_0000_0000_1300,
    0x7777_0000_0000_1400,
    0x7878_0000_0000_1500,
];
/// Index of rdi in [`MARKERS`] and in a probe's result.
pub const RDI_SLOT: usize = 5;

/// Address read by [`Probe::ReadUnmapped`]: a low page nothing maps.
pub const UNMAPPED_LOW_ADDRESS: u64 = 0x1000;
/// Address written by [`Probe::WriteHypervisor`]: inside the hypervisor's reserved range.
pub const HYPERVISOR_ADDRESS: u64 = 0xFFFF_8300_0000_0000;
/// Address read by [`Probe::ReadNonCanonical`].
pub const NON_CANONICAL_ADDRESS: u64 = 0x8000_0000_0000_0000;

/// The probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// `int3` (#BP, a trap: RIP is reported after it).
    Int3,
    /// `ud2` (#UD).
    InvalidOp,
    /// `div` by a zero in memory (#DE).
    DivideError,
    /// Read of [`UNMAPPED_LOW_ADDRESS`] (#PF).
    ReadUnmapped,
    /// Write to [`HYPERVISOR_ADDRESS`] (#PF).
    WriteHypervisor,
    /// Read of [`NON_CANONICAL_ADDRESS`] (#GP).
    ReadNonCanonical,
}

/// Builds one probe in asm: `$name` is the symbol stem, `$insn` the instruction.
macro_rules! probe_asm {
    ($name:literal, $insn:literal, $reported:literal) => {
        concat!(
            ".global pvk_probe_",
            $name,
            "\n",
            "pvk_probe_",
            $name,
            ":\n",
            "push rbx\npush rbp\npush r12\npush r13\npush r14\npush r15\n",
            "push rsi\n",
            "mov rax, {m0}\nmov rbx, {m1}\nmov rcx, {m2}\nmov rdx, {m3}\nmov rsi, {m4}\n",
            "mov rbp, {m6}\nmov r8, {m7}\nmov r9, {m8}\nmov r10, {m9}\nmov r11, {m10}\n",
            "mov r12, {m11}\nmov r13, {m12}\nmov r14, {m13}\nmov r15, {m14}\n",
            ".global pvk_probe_",
            $name,
            "_insn\n",
            "pvk_probe_",
            $name,
            "_insn:\n",
            $insn,
            "\n",
            ".global pvk_probe_",
            $name,
            "_fixup\n",
            "pvk_probe_",
            $name,
            "_fixup:\n",
            "push rax\n",
            "mov rax, qword ptr [rsp + 8]\n",
            "mov qword ptr [rax + 8], rbx\n",
            "mov qword ptr [rax + 16], rcx\n",
            "mov qword ptr [rax + 24], rdx\n",
            "mov qword ptr [rax + 32], rsi\n",
            "mov qword ptr [rax + 40], rdi\n",
            "mov qword ptr [rax + 48], rbp\n",
            "mov qword ptr [rax + 56], r8\n",
            "mov qword ptr [rax + 64], r9\n",
            "mov qword ptr [rax + 72], r10\n",
            "mov qword ptr [rax + 80], r11\n",
            "mov qword ptr [rax + 88], r12\n",
            "mov qword ptr [rax + 96], r13\n",
            "mov qword ptr [rax + 104], r14\n",
            "mov qword ptr [rax + 112], r15\n",
            "pop rbx\n",
            "mov qword ptr [rax], rbx\n",
            "add rsp, 8\n",
            "pop r15\npop r14\npop r13\npop r12\npop rbp\npop rbx\n",
            "ret\n",
            ".pushsection .extable, \"a\"\n",
            ".balign 8\n",
            ".quad pvk_probe_",
            $name,
            $reported,
            ", pvk_probe_",
            $name,
            "_fixup\n",
            ".popsection\n"
        )
    };
}

// Entry: rdi = memory operand (or a marker), rsi = pointer to 15 u64 for the results.
global_asm!(
    ".pushsection .rodata.pvk_probe_zero, \"a\"",
    ".balign 8",
    "pvk_probe_zero:",
    ".quad 0",
    ".popsection",
    ".pushsection .text, \"ax\"",
    probe_asm!("int3", "int3", "_fixup"),
    probe_asm!("invalid_op", "ud2", "_insn"),
    probe_asm!("divide_error", "div qword ptr [rip + pvk_probe_zero]", "_insn"),
    probe_asm!("read_unmapped", "mov rax, qword ptr [rdi]", "_insn"),
    probe_asm!("write_hypervisor", "mov qword ptr [rdi], rax", "_insn"),
    probe_asm!("read_non_canonical", "mov rax, qword ptr [rdi]", "_insn"),
    ".popsection",
    m0 = const MARKERS[0],
    m1 = const MARKERS[1],
    m2 = const MARKERS[2],
    m3 = const MARKERS[3],
    m4 = const MARKERS[4],
    m6 = const MARKERS[6],
    m7 = const MARKERS[7],
    m8 = const MARKERS[8],
    m9 = const MARKERS[9],
    m10 = const MARKERS[10],
    m11 = const MARKERS[11],
    m12 = const MARKERS[12],
    m13 = const MARKERS[13],
    m14 = const MARKERS[14],
);

/// Proof that the trap table is installed, so a probe's exception comes back to us.
#[derive(Clone, Copy, Debug)]
pub struct TrapsInstalled(());

impl TrapsInstalled {
    /// Only the trap-table installer makes one.
    pub(super) const fn new() -> Self {
        Self(())
    }
}

impl Probe {
    /// Address of the probe's instruction.
    pub fn insn_address(self) -> u64 {
        match self {
            Probe::Int3 => symbol_address!("pvk_probe_int3_insn"),
            Probe::InvalidOp => symbol_address!("pvk_probe_invalid_op_insn"),
            Probe::DivideError => symbol_address!("pvk_probe_divide_error_insn"),
            Probe::ReadUnmapped => symbol_address!("pvk_probe_read_unmapped_insn"),
            Probe::WriteHypervisor => symbol_address!("pvk_probe_write_hypervisor_insn"),
            Probe::ReadNonCanonical => symbol_address!("pvk_probe_read_non_canonical_insn"),
        }
    }

    /// Address right after the instruction, where the probe resumes.
    pub fn fixup_address(self) -> u64 {
        match self {
            Probe::Int3 => symbol_address!("pvk_probe_int3_fixup"),
            Probe::InvalidOp => symbol_address!("pvk_probe_invalid_op_fixup"),
            Probe::DivideError => symbol_address!("pvk_probe_divide_error_fixup"),
            Probe::ReadUnmapped => symbol_address!("pvk_probe_read_unmapped_fixup"),
            Probe::WriteHypervisor => symbol_address!("pvk_probe_write_hypervisor_fixup"),
            Probe::ReadNonCanonical => symbol_address!("pvk_probe_read_non_canonical_fixup"),
        }
    }

    /// The value the probe passes in rdi (its memory operand, or the rdi marker).
    pub fn operand(self) -> u64 {
        match self {
            Probe::ReadUnmapped => UNMAPPED_LOW_ADDRESS,
            Probe::WriteHypervisor => HYPERVISOR_ADDRESS,
            Probe::ReadNonCanonical => NON_CANONICAL_ADDRESS,
            Probe::Int3 | Probe::InvalidOp | Probe::DivideError => MARKERS[RDI_SLOT],
        }
    }

    /// The registers the probe should find after resuming.
    pub fn expected_registers(self) -> [u64; 15] {
        let mut expected = MARKERS;
        expected[RDI_SLOT] = self.operand();
        expected
    }

    /// Runs the probe: its exception goes to our trap table, which resumes at the fixup.
    /// Returns the registers as found after resuming, in [`MARKERS`] order.
    pub fn run(self, _installed: TrapsInstalled) -> [u64; 15] {
        let mut out = [0u64; 15];
        self.call(&mut out);
        out
    }

    /// Runs the probe with no trap table: the hypervisor must crash the domain. Returns
    /// only if it did not.
    pub fn run_without_handler(self) {
        let mut out = [0u64; 15];
        self.call(&mut out);
    }

    fn call(self, out: &mut [u64; 15]) {
        macro_rules! call_probe {
            ($sym:literal) => {
                // SAFETY: the probe preserves the callee-saved registers and RSP (it pops
                // what it pushed before `ret`) and writes exactly 15 u64 through rsi, which
                // points at `out`. Its one faulting instruction touches no Rust object: the
                // memory probes access addresses outside this kernel's memory (unmapped,
                // hypervisor-only or non-canonical). Either our exception entry resumes it at
                // its fixup, or, with no trap table, the hypervisor ends the domain.
                unsafe {
                    asm!(
                        concat!("call ", $sym),
                        in("rdi") self.operand(),
                        in("rsi") out.as_mut_ptr(),
                        clobber_abi("C"),
                    )
                }
            };
        }
        match self {
            Probe::Int3 => call_probe!("pvk_probe_int3"),
            Probe::InvalidOp => call_probe!("pvk_probe_invalid_op"),
            Probe::DivideError => call_probe!("pvk_probe_divide_error"),
            Probe::ReadUnmapped => call_probe!("pvk_probe_read_unmapped"),
            Probe::WriteHypervisor => call_probe!("pvk_probe_write_hypervisor"),
            Probe::ReadNonCanonical => call_probe!("pvk_probe_read_non_canonical"),
        }
    }
}
