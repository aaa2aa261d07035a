//! What a connection costs each server in memory: `cargo bench -p server --bench echo --
//! memory [N]`. N connections (4,000 by default) each echo one 1 KiB message; the growth of
//! the heap in use (glibc's `mallinfo2`) and of the process's resident memory is divided
//! by N, then the heap is measured again after 25 s without a message (our server gives an
//! idle connection's read buffer back after 20 s; freed memory stays resident, so only
//! the heap shows it). Each server is measured in a process of its own (the bench runs
//! itself again): memory one server freed would be reused by the next and flatter it. The
//! load generator's side of the connections is in the figures too, the same for every
//! server.

use super::{Impl, client, masked_frame, start_server};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const IMPLS: [(&str, Impl); 3] = [
    ("voxelcast", Impl::Voxelcast),
    ("tokio-tungstenite", Impl::Tungstenite),
    ("fastwebsockets", Impl::Fastwebsockets),
];
const SIZE: usize = 1024;
const IDLE: Duration = Duration::from_secs(25);

/// Measures every server, each in a fresh process, and prints a Markdown table.
pub fn run(n: usize) {
    println!(
        "| server | heap KiB a connection after one 1 KiB echo | after 25 s idle | resident KiB a connection |"
    );
    println!("| --- | ---: | ---: | ---: |");
    for (name, _) in IMPLS {
        let exe = std::env::current_exe().expect("the bench's own path");
        let out = std::process::Command::new(exe)
            .args(["memory-one", name, &n.to_string()])
            .output()
            .expect("the bench runs again");
        let text = String::from_utf8_lossy(&out.stdout);
        let figures: Vec<&str> = text.split_whitespace().collect();
        match figures[..] {
            [busy, idle, resident] => println!("| {name} | {busy} | {idle} | {resident} |"),
            _ => panic!("{name}: {text} {}", String::from_utf8_lossy(&out.stderr)),
        }
    }
}

/// One server's figures, printed as three numbers: heap KiB a connection busy, then idle,
/// then resident KiB a connection.
pub fn one(name: &str, n: usize) {
    let (_, which) = IMPLS
        .into_iter()
        .find(|(known, _)| *known == name)
        .expect("a known server");
    let server = start_server(which);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let frame = masked_frame(SIZE);
        let mut echo = vec![0u8; 4 + SIZE];
        let mut streams = Vec::with_capacity(n + 1);
        // One connection first, so one-off memory (the runtimes', the allocator's) is
        // there before the baseline.
        let mut connect_and_echo = async || {
            let mut s = client(&server.addr).await;
            s.write_all(&frame).await.expect("send");
            s.read_exact(&mut echo).await.expect("echo");
            s
        };
        streams.push(connect_and_echo().await);
        let (heap_before, resident_before) = (heap_kib(), resident_kib());
        for _ in 0..n {
            streams.push(connect_and_echo().await);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (busy, resident) = (heap_kib(), resident_kib());
        tokio::time::sleep(IDLE).await;
        let idle = heap_kib();
        let per_conn = |kib: f64, before: f64| (kib - before) / n as f64;
        println!(
            "{:.1} {:.1} {:.1}",
            per_conn(busy, heap_before),
            per_conn(idle, heap_before),
            per_conn(resident, resident_before)
        );
    });
}

/// glibc's account of its heap (all arenas); the fields are `size_t`.
#[repr(C)]
struct Mallinfo2 {
    arena: usize,
    ordblks: usize,
    smblks: usize,
    hblks: usize,
    /// Bytes in blocks of their own (`mmap`), the large buffers.
    hblkhd: usize,
    usmblks: usize,
    fsmblks: usize,
    /// Bytes in use in the arenas.
    uordblks: usize,
    fordblks: usize,
    keepcost: usize,
}

unsafe extern "C" {
    /// Reads the allocator's counters; no preconditions.
    safe fn mallinfo2() -> Mallinfo2;
}

/// Heap memory in use, in KiB.
fn heap_kib() -> f64 {
    let info = mallinfo2();
    (info.uordblks + info.hblkhd) as f64 / 1024.0
}

/// The process's resident memory in KiB, from `/proc/self/statm` (in pages of 4 KiB).
fn resident_kib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    (pages * 4) as f64
}
