//! The split-driver benchmark: one xl boot with a scratch disk, a typed script, and the block and TCP figures the DomUs print.
//
// The DomU shells print, next to their human lines (`bench xvda read ...`, `tcp: figure ...`):
//   BENCH blk_read_qd1 insns=<per request> n=<requests> bytes=<B> tsc=<T> sent=<S> received=<R>
//   BENCH blk_read_qd1_memcpy insns=<per 4 KiB> n=<pages> bytes=<B> tsc=<T>
//   BENCH tcp_send insns=<per 4 KiB> n=<pages> bytes=<B> tsc=<T>
//   BENCH tcp_send_memcpy insns=<per 4 KiB> n=<pages> bytes=<B> tsc=<T>
// `sent`: notifications the frontend sent; `received`: the backend's notifications as the
// frontend took them (a pending bit merges those that came while it was busy).
// Under `-icount shift=0,sleep=off` one instruction is one ns of virtual time, so
// MB/s = bytes * 1000 / instructions and requests/s = requests * 10^9 / instructions.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::bench::{self, Figure};
use crate::boot::{Boot, Hypervisor, XEN_417_NO_MITIGATIONS};
use crate::disk_image::{self, PartitionSpec};
use crate::images::Images;
use crate::qemu::{self, Run, RunOptions};
use crate::script::Script;

/// Dom0's arguments: the xl shell without the autostart domains.
pub const DOM0_ARGS: &str = "xl xl.autostart=0";
/// The guest with the disk and the TCP listener (tests/configs/bench-a.cfg).
pub const CONFIG_A: &str = "/etc/xen/tests/bench-a.cfg";
/// The TCP sender (tests/configs/bench-b.cfg).
pub const CONFIG_B: &str = "/etc/xen/tests/bench-b.cfg";
/// The TCP port and the pattern's seed of the transfer.
pub const TCP_PORT: u16 = 5001;
const TCP_SEED: u64 = 7;

/// bencha's disk on Dom0's RAM disk `/dev/ram0`: the split-driver path alone (ring, grant
/// copies, notifications), no device behind it.
pub const RAM_VDEV: &str = "xvda";
/// bencha's disk on the IDE disk's first partition `/dev/hda1`: the split drivers and Dom0's
/// PIO disk driver.
pub const IDE_VDEV: &str = "xvdb";
/// The block figures on [`RAM_VDEV`], in the order the script runs them.
pub const BLK_RAM: [&str; 4] = [
    "blk_xvda_read_qd1",
    "blk_xvda_read_qd32",
    "blk_xvda_write_qd1",
    "blk_xvda_write_qd32",
];
/// The block figures on [`IDE_VDEV`].
pub const BLK_IDE: [&str; 4] = [
    "blk_xvdb_read_qd1",
    "blk_xvdb_read_qd32",
    "blk_xvdb_write_qd1",
    "blk_xvdb_write_qd32",
];
/// The most MiB a block figure may move: the RAM disk's size (4 MiB).
pub const MAX_BLK_MIB: u64 = 4;
/// The TCP figure (the sender's view: connect to the peer's close, bytes queued).
pub const TCP_SEND: &str = "tcp_send";
/// What a figure's in-guest memcpy of the same bytes is called: its name and this suffix.
pub const MEMCPY_SUFFIX: &str = "_memcpy";
/// Bytes in a MiB.
const MIB: u64 = 1024 * 1024;

/// How much each figure moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes {
    /// MiB per block figure (read and write, QD1 and QD32).
    pub blk_mib: u64,
    /// Bytes of the TCP transfer.
    pub tcp_bytes: u64,
}

/// `cargo xtask bench`: 4 MiB per block figure, 1 MiB over TCP.
pub const FULL: Sizes = Sizes {
    blk_mib: MAX_BLK_MIB,
    tcp_bytes: MIB,
};

/// The test's reduced run through the same path: 1 MiB per block figure, 256 KiB over TCP.
pub const REDUCED: Sizes = Sizes {
    blk_mib: 1,
    tcp_bytes: 256 * 1024,
};

/// The script typed into Dom0's console. The block figures run with only `bencha` up (so no
/// other guest's boot is timed with them); `benchb` is created afterwards and sends to it.
/// Each `@wait` for a line a guest printed at boot follows a fresh `console` (which replays
/// the console's history), so the order of those lines does not matter.
pub fn script(sizes: Sizes) -> String {
    let Sizes { blk_mib, tcp_bytes } = sizes;
    let mut s = format!("create {CONFIG_A}\n");
    for (vdev, figures) in [(RAM_VDEV, BLK_RAM), (IDE_VDEV, BLK_IDE)] {
        s.push_str(&format!("console bencha\n@wait blk: {vdev} connected\n"));
        for name in figures {
            let (_, op, depth) = split_name(name);
            s.push_str(&format!("blk bench {vdev} {blk_mib} qd={depth} {op}\n"));
        }
        let last = figures[figures.len() - 1];
        s.push_str(&format!("@wait BENCH {last}{MEMCPY_SUFFIX}\n^]\n"));
    }
    s.push_str(&format!(
        "create {CONFIG_B}\n\
         console bencha\n\
         @wait net: vif 0 is 10.0.0.1/24\n\
         tcp listen {TCP_PORT}\n\
         @wait domu# \n\
         ^]\n\
         console benchb\n\
         @wait net: vif 0 is 10.0.0.2/24\n\
         tcp send 10.0.0.1 {TCP_PORT} {tcp_bytes} {TCP_SEED}\n\
         @wait BENCH {TCP_SEND}{MEMCPY_SUFFIX}\n\
         ^]\n\
         console bencha\n\
         @wait tcp: received\n\
         ^]\n"
    ));
    s
}

/// `blk_xvda_read_qd32` as ("xvda", "read", "32").
fn split_name(name: &str) -> (&str, &str, &str) {
    let rest = name.strip_prefix("blk_").unwrap_or(name);
    let (vdev, rest) = rest.split_once('_').unwrap_or(("", rest));
    let (op, depth) = rest.split_once("_qd").unwrap_or((rest, "1"));
    (vdev, op, depth)
}

/// The scratch disk of `cargo xtask bench`: `bench/disk-<hypervisor>.img` in the target
/// directory.
pub fn disk_path(hypervisor: Hypervisor) -> Result<PathBuf, String> {
    Ok(crate::paths::target_dir()?
        .join("bench")
        .join(format!("disk-{}.img", hypervisor.name())))
}

/// Creates (or replaces) the scratch disk at `path`: one sparse partition (hda1) as large as a
/// block figure moves.
pub fn create_disk(path: &Path, sizes: Sizes) -> Result<(), String> {
    let spec = PartitionSpec {
        size_mib: sizes.blk_mib.max(1),
        fill: None,
    };
    disk_image::create(path, &[spec]).map(|_| ())
}

/// The boot: the xl system (Dom0's ramdisk of kernels and configs) under
/// `-icount shift=0,sleep=off`; Xen 4.17 with its mitigations off, as in [`bench::boot`].
pub fn boot(hypervisor: Hypervisor, image: PathBuf, images: &Images) -> Boot {
    let mut boot = Boot::new(hypervisor, image, images.guest.clone());
    boot.dom0_args = DOM0_ARGS.to_string();
    boot.ramdisk = Some(images.dom0_ramdisk.clone());
    boot.icount = true;
    if hypervisor == Hypervisor::Xen417 {
        boot.extra_cmdline = XEN_417_NO_MITIGATIONS.to_string();
    }
    boot
}

/// How long the run may take (wall time).
pub const TIMEOUT: Duration = Duration::from_secs(600);

/// The run: the script typed, the disk attached, stopped once the script is done.
pub fn run_options(sizes: Sizes, disk: PathBuf) -> Result<RunOptions, String> {
    Ok(RunOptions::until_exit(TIMEOUT)
        .input(Script::parse(&script(sizes))?)
        .stop_after_input(true)
        .linger(Duration::from_secs(1))
        .disk(disk))
}

/// Creates the disk at `disk` and runs the benchmark on `hypervisor`.
pub fn run(
    hypervisor: Hypervisor,
    image: PathBuf,
    images: &Images,
    sizes: Sizes,
    disk: &Path,
    echo: bool,
) -> Result<Run, String> {
    create_disk(disk, sizes)?;
    let options = run_options(sizes, disk.to_path_buf())?.echo(echo);
    qemu::run_captured(&boot(hypervisor, image, images), &options)
}

/// One I/O figure: a `BENCH` line with its totals.
#[derive(Clone, Debug, PartialEq)]
pub struct IoFigure {
    /// `blk_read_qd1`, `tcp_send`, `..._memcpy`.
    pub name: String,
    /// Operations: block requests, or 4 KiB pages.
    pub n: u64,
    /// Bytes moved.
    pub bytes: u64,
    /// Instructions (TSC ticks under icount) for all of it.
    pub tsc: u64,
    /// Notifications the frontend sent (block figures).
    pub sent: Option<u64>,
    /// The backend's notifications the frontend took (block figures).
    pub received: Option<u64>,
}

impl IoFigure {
    /// MB/s (10^6 bytes per second of virtual time, 1 instruction = 1 ns).
    pub fn mb_per_s(&self) -> Option<f64> {
        (self.tsc > 0).then(|| self.bytes as f64 * 1000.0 / self.tsc as f64)
    }

    /// Operations per second of virtual time.
    pub fn per_s(&self) -> Option<f64> {
        (self.tsc > 0).then(|| self.n as f64 * 1e9 / self.tsc as f64)
    }

    /// Frontend notifications per request.
    pub fn sent_per_request(&self) -> Option<f64> {
        per(self.sent?, self.n)
    }

    /// Backend notifications (as taken) per request.
    pub fn received_per_request(&self) -> Option<f64> {
        per(self.received?, self.n)
    }
}

fn per(count: u64, n: u64) -> Option<f64> {
    (n > 0).then(|| count as f64 / n as f64)
}

/// The value of `key=` among the words of `line`.
fn field(line: &str, key: &str) -> Option<u64> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))?
        .parse()
        .ok()
}

/// Parses one console line: a `BENCH` line (see [`bench::parse_line`]) with `bytes=` and `tsc=`.
pub fn parse_line(line: &str) -> Option<IoFigure> {
    let Figure { name, n, .. } = bench::parse_line(line)?;
    Some(IoFigure {
        name,
        n,
        bytes: field(line, "bytes")?,
        tsc: field(line, "tsc")?,
        sent: field(line, "sent"),
        received: field(line, "received"),
    })
}

/// The I/O figures of a console log, the last of each name (attaching to a console again
/// replays its history), in the order they first appeared.
pub fn parse(output: &str) -> Vec<IoFigure> {
    let mut out: Vec<IoFigure> = Vec::new();
    for f in output.lines().filter_map(parse_line) {
        match out.iter_mut().find(|o| o.name == f.name) {
            Some(old) => *old = f,
            None => out.push(f),
        }
    }
    out
}

/// The figure called `name`.
pub fn find<'a>(figures: &'a [IoFigure], name: &str) -> Option<&'a IoFigure> {
    figures.iter().find(|f| f.name == name)
}

/// `name`'s instructions over those of its memcpy of the same bytes.
pub fn over_memcpy(figures: &[IoFigure], name: &str) -> Option<f64> {
    let f = find(figures, name)?;
    let copy = find(figures, &format!("{name}{MEMCPY_SUFFIX}"))?;
    (copy.tsc > 0).then(|| f.tsc as f64 / copy.tsc as f64)
}

/// The headline of the split-driver table.
pub const TABLE_TITLE: &str = "split drivers under -icount shift=0,sleep=off: 1 instruction = 1 ns of virtual time, \
so MB/s = bytes * 1000 / instructions; x memcpy = instructions / those of an in-guest memcpy of the same bytes";
/// What the block figures' disks are.
pub const TABLE_LEGEND: &str = "xvda: Dom0's RAM disk /dev/ram0 (the split drivers alone); \
xvdb: /dev/hda1 on the IDE disk, whose host-side latency icount's sleep=off replaces by a jump \
to the next timer (Dom0 waits for the disk's interrupt at most 20 ms): not reproducible; \
sent/recv per request: notifications the frontend sent, and the backend's it took";

/// The split-driver table: per figure, bytes, instructions, MB/s, requests/s, the ratio to
/// memcpy, and notifications per request (frontend sent, backend's taken).
pub fn table(figures: &[IoFigure]) -> String {
    let mut out = format!(
        "{TABLE_TITLE}\n{TABLE_LEGEND}\n{:<20} {:>9} {:>12} {:>9} {:>10} {:>9} {:>9} {:>9}\n",
        "figure", "bytes", "insns", "MB/s", "req/s", "x memcpy", "sent/req", "recv/req"
    );
    let opt = |v: Option<f64>, decimals: usize| match v {
        Some(v) => format!("{v:.decimals$}"),
        None => "-".to_string(),
    };
    for f in figures.iter().filter(|f| !f.name.ends_with(MEMCPY_SUFFIX)) {
        let requests = f.sent.is_some();
        out.push_str(&format!(
            "{:<20} {:>9} {:>12} {:>9} {:>10} {:>9} {:>9} {:>9}\n",
            f.name,
            f.bytes,
            f.tsc,
            opt(f.mb_per_s(), 2),
            opt(f.per_s().filter(|_| requests), 1),
            opt(over_memcpy(figures, &f.name), 2),
            opt(f.sent_per_request(), 2),
            opt(f.received_per_request(), 2),
        ));
    }
    for f in figures.iter().filter(|f| f.name.ends_with(MEMCPY_SUFFIX)) {
        if let Some(mbs) = f.mb_per_s() {
            out.push_str(&format!("{} {} bytes: {mbs:.0} MB/s\n", f.name, f.bytes));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "domu# blk bench xvda 1 qd=1 read\r\n\
        bench xvda read 1 MiB qd=1: 24 requests, 1048576 bytes, 52428800 tsc, ...\r\n\
        bench memcpy 1048576 bytes: 262144 tsc\r\n\
        BENCH blk_xvda_read_qd1 insns=2184533.33 n=24 bytes=1048576 tsc=52428800 sent=24 received=24\r\n\
        BENCH blk_xvda_read_qd1_memcpy insns=1024.00 n=256 bytes=1048576 tsc=262144\r\n\
        BENCH blk_xvda_read_qd32 insns=1000.00 n=24 bytes=1048576 tsc=24000 sent=2 received=3\r\n\
        (d1) BENCH tcp_send insns=40960.00 n=64 bytes=262144 tsc=2621440\r\n\
        BENCH tcp_send_memcpy insns=512.00 n=64 bytes=262144 tsc=32768\r\n\
        BENCH blk_xvda_read_qd1 insns=2184533.33 n=24 bytes=1048576 tsc=52428800 sent=24 received=24\r\n";

    #[test]
    fn parses_the_io_lines_once_each() {
        let figures = parse(LOG);
        let names: Vec<&str> = figures.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "blk_xvda_read_qd1",
                "blk_xvda_read_qd1_memcpy",
                "blk_xvda_read_qd32",
                "tcp_send",
                "tcp_send_memcpy"
            ]
        );
        let qd1 = &figures[0];
        assert_eq!(
            (qd1.n, qd1.bytes, qd1.tsc, qd1.sent, qd1.received),
            (24, 1 << 20, 52_428_800, Some(24), Some(24))
        );
        assert_eq!(figures[3].sent, None);
        assert_eq!(qd1.mb_per_s(), Some(20.0));
        assert_eq!(figures[2].sent_per_request(), Some(2.0 / 24.0));
        assert_eq!(over_memcpy(&figures, "blk_xvda_read_qd1"), Some(200.0));
        assert_eq!(over_memcpy(&figures, "tcp_send"), Some(80.0));
        assert_eq!(over_memcpy(&figures, "blk_xvda_read_qd32"), None);
    }

    #[test]
    fn lines_without_totals_are_not_io_figures() {
        assert_eq!(parse_line("BENCH null_hypercall insns=56 n=10000"), None);
        assert_eq!(parse_line("BENCH x insns=1 n=1 bytes=5"), None);
        assert_eq!(parse_line("BENCH x insns=1 n=1 bytes=5 tsc=-1"), None);
        assert!(parse_line("BENCH x insns=1 n=1 bytes=5 tsc=9").is_some());
        assert_eq!(parse_line("bytes=5 tsc=9"), None);
    }

    #[test]
    fn the_table_shows_rates_ratios_and_notifications() {
        let table = table(&parse(LOG));
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].contains("1 instruction = 1 ns") && lines[0].contains("bytes * 1000"));
        assert!(lines[1].starts_with("xvda: Dom0's RAM disk"));
        let qd1: Vec<&str> = lines[3].split_whitespace().collect();
        assert_eq!(
            qd1,
            [
                "blk_xvda_read_qd1",
                "1048576",
                "52428800",
                "20.00",
                "457.8",
                "200.00",
                "1.00",
                "1.00"
            ]
        );
        let tcp: Vec<&str> = lines[5].split_whitespace().collect();
        assert_eq!(
            tcp,
            [
                "tcp_send", "262144", "2621440", "100.00", "-", "80.00", "-", "-"
            ]
        );
        assert_eq!(
            lines[6],
            "blk_xvda_read_qd1_memcpy 1048576 bytes: 4000 MB/s"
        );
        assert_eq!(lines.len(), 8);
    }

    #[test]
    fn the_script_runs_every_figure_with_the_sizes_asked() {
        let text = script(REDUCED);
        for name in BLK_RAM.iter().chain(&BLK_IDE) {
            let (vdev, op, depth) = split_name(name);
            assert!(
                text.contains(&format!("blk bench {vdev} 1 qd={depth} {op}\n")),
                "{text}"
            );
        }
        assert!(text.contains("tcp send 10.0.0.1 5001 262144 7\n"));
        assert!(text.find(CONFIG_B) > text.find("xvdb 1 qd=32 write"));
        assert!(text.find("xvdb connected") > text.find("xvda 1 qd=32 write"));
        let script = Script::parse(&text).unwrap();
        assert!(script.steps.len() > 10);
        assert_eq!(split_name("blk_xvdb_write_qd32"), ("xvdb", "write", "32"));
        assert_eq!(split_name(BLK_RAM[0]), (RAM_VDEV, "read", "1"));
    }

    #[test]
    fn the_boot_is_the_xl_system_under_icount() {
        let images = Images::in_dir(Path::new("/i"));
        let b = boot(Hypervisor::Xen417, "/x".into(), &images);
        assert!(b.icount);
        assert_eq!(b.dom0_args, DOM0_ARGS);
        assert_eq!(b.ramdisk, Some(PathBuf::from("/i/dom0-ramdisk.cpio")));
        assert!(b.hypervisor_cmdline().ends_with(XEN_417_NO_MITIGATIONS));
        let ours = boot(Hypervisor::XenCore, "/x".into(), &images);
        assert_eq!(ours.hypervisor_cmdline(), "console=com1 dom0_mem=64M");
        let options = run_options(FULL, "/d.img".into()).unwrap();
        assert!(options.stop_after_input);
        assert_eq!(options.disk, Some(PathBuf::from("/d.img")));
    }
}
