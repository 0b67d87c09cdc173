//! Campaign throughput: programs per second of `bpfdiff campaign --tier
//! verifier --jobs 2` on several backend sets, through the campaign
//! library (the same code as the CLI, without the progress bar).
//!
//! Run with `cargo bench --bench campaign_throughput`. Each round runs
//! every set once, back to back, so that the sets of one round share the
//! machine's load; the table shows, per set, the median over the rounds of
//! programs/s (wall clock), of CPU time per program (user + system, all
//! threads of this process; worker processes not included) and of the
//! ratio to the first set's programs/s in the same round. Settings, by
//! environment variable:
//!
//! - `BPFDIFF_BENCH_PROGRAMS`: programs per run (default 20,000);
//! - `BPFDIFF_BENCH_ROUNDS`: rounds (default 3);
//! - `BPFDIFF_BENCH_SETS`: backend sets, `;`-separated (default
//!   `interp;interp,jit;interp,rbpf;interp,rbpf-jit;interp,kernel;interp,jit,rbpf,rbpf-jit,kernel`);
//!   a set whose backends cannot run here (no kernel, no rbpf worker) is
//!   reported and skipped.
//!
//! When a set includes `kernel`, each round also measures the kernel's own
//! cost for the same programs, `kernel floor`: the wrapped programs loaded,
//! test-run and closed on 2 threads with nothing else around them. No set
//! with the kernel can beat it.
//!
//! Targets (issue 12): `interp,jit` ≥ 60,000 programs/s and all five
//! backends ≥ 15,000 programs/s on 2 cores.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use bpfdiff::campaign::{self, CampaignConfig};
use bpfdiff::gen::{seeded, Knobs, Tier};
use bpfdiff::known_rules;
use bpfdiff_oracle::backend::kernel::{loader, wrapper};
use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The same allocator as the `bpfdiff` binary, so that the figures are the
/// CLI's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One run's measurements.
#[derive(Clone, Copy)]
struct Sample {
    programs_per_s: f64,
    cpu_us_per_program: f64,
}

/// The name of the kernel-floor row ([`kernel_floor`]).
const KERNEL_FLOOR: &str = "kernel floor (bare load + test run, 2 threads)";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// User + system CPU time of this process so far.
fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn run(backends: &str, programs: u64) -> Result<Sample, String> {
    let mut config = CampaignConfig::new(
        0,
        programs,
        Tier::Verifier,
        backends.split(',').map(str::to_string).collect(),
    );
    config.jobs = 2;
    config.rules = known_rules::builtin().map_err(|e| e.to_string())?;
    config.kernel_reasons = true;
    let cpu = cpu_time();
    let start = Instant::now();
    let summary = campaign::run(config).map_err(|e| e.to_string())?;
    let wall = start.elapsed();
    let cpu = cpu_time() - cpu;
    let idle = summary.backends_that_ran_nothing();
    if !idle.is_empty() {
        return Err(format!("{} ran none of the programs", idle.join(", ")));
    }
    if summary.programs != programs || summary.diverge_new > 0 {
        return Err(format!(
            "{} programs run, {} new divergences",
            summary.programs, summary.diverge_new
        ));
    }
    Ok(Sample {
        programs_per_s: programs as f64 / wall.as_secs_f64(),
        cpu_us_per_program: cpu.as_secs_f64() * 1e6 / programs as f64,
    })
}

/// A one-entry ARRAY map of `value_size` bytes, as the kernel backend
/// binds a program's input memory (a bare `BPF_MAP_CREATE`).
fn array_map(value_size: usize) -> Result<OwnedFd, String> {
    // map_type, key_size, value_size, max_entries; the rest of the
    // attribute zero.
    let mut attr = [0u32; 32];
    attr[0] = 2; // BPF_MAP_TYPE_ARRAY
    attr[1] = 4;
    attr[2] = value_size as u32;
    attr[3] = 1;
    // SAFETY: BPF_MAP_CREATE (0) reads `size_of_val(&attr)` bytes of attr.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            0,
            attr.as_ptr(),
            std::mem::size_of_val(&attr),
        )
    };
    if fd < 0 {
        return Err(format!(
            "BPF_MAP_CREATE: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// The kernel's own cost for the campaign's programs: the first `programs`
/// cases of the campaign (seed 0, verifier tier), wrapped as the kernel
/// backend wraps them, each loaded (`BPF_PROG_LOAD`, no log), test-run
/// when the kernel accepts it and closed, on 2 threads. Nothing else runs:
/// no generator, no engine, no map writes. No set with the kernel can go
/// faster than this.
fn kernel_floor(programs: u64) -> Result<Sample, String> {
    let cases: Vec<_> = (0..programs)
        .map(|i| seeded::case(Tier::Verifier, &Knobs::default(), campaign::case_seed(0, i)))
        .collect();
    let mut maps: HashMap<usize, OwnedFd> = HashMap::new();
    let mut wrapped = Vec::with_capacity(cases.len());
    for case in &cases {
        let len = case.input.len();
        let fd = if len == 0 {
            0
        } else {
            match maps.entry(len) {
                std::collections::hash_map::Entry::Occupied(map) => map.get().as_raw_fd(),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(array_map(len)?).as_raw_fd()
                }
            }
        };
        wrapped.push(wrapper::wrap(&case.program, fd, len));
    }
    let cpu = cpu_time();
    let start = Instant::now();
    let accepted: usize = std::thread::scope(|scope| {
        let halves: Vec<_> = wrapped
            .chunks(wrapped.len().div_ceil(2).max(1))
            .map(|half| {
                scope.spawn(move || {
                    let mut accepted = 0;
                    for insns in half {
                        if let Ok(prog) = loader::load(insns, 0) {
                            let mut ctx = [0u8; wrapper::CTX_SIZE];
                            let _ = loader::test_run(&prog, &mut ctx);
                            accepted += 1;
                        }
                    }
                    accepted
                })
            })
            .collect();
        halves.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    let wall = start.elapsed();
    let cpu = cpu_time() - cpu;
    if accepted == 0 {
        return Err("the kernel accepted none of the programs".into());
    }
    Ok(Sample {
        programs_per_s: programs as f64 / wall.as_secs_f64(),
        cpu_us_per_program: cpu.as_secs_f64() * 1e6 / programs as f64,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> ExitCode {
    if let Some(code) = bpfdiff::worker_hook::serve_if_asked() {
        return code;
    }
    // `cargo bench` passes `--bench`; without it (`cargo test --benches`)
    // this is a smoke test: one round of 200 programs.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let programs = if smoke {
        200
    } else {
        env_or("BPFDIFF_BENCH_PROGRAMS", 20_000)
    };
    let rounds = if smoke {
        1
    } else {
        env_or("BPFDIFF_BENCH_ROUNDS", 3usize).max(1)
    };
    let sets: Vec<String> = env_or(
        "BPFDIFF_BENCH_SETS",
        "interp;interp,jit;interp,rbpf;interp,rbpf-jit;interp,kernel;interp,jit,rbpf,rbpf-jit,kernel"
            .to_string(),
    )
    .split(';')
    .map(str::to_string)
    .collect();
    println!(
        "campaign throughput: {programs} verifier-tier programs, 2 jobs, {rounds} round(s); load average {}",
        load_average()
    );
    // With a kernel set, the kernel's own cost for the same programs is
    // measured in each round too, as the pseudo-set `kernel floor`.
    let mut sets = sets;
    if sets.iter().any(|s| s.split(',').any(|b| b == "kernel")) {
        sets.push(KERNEL_FLOOR.to_string());
    }
    let mut samples: Vec<Vec<Option<Sample>>> = vec![Vec::new(); sets.len()];
    for round in 0..rounds {
        for (i, set) in sets.iter().enumerate() {
            let measured = if set == KERNEL_FLOOR {
                kernel_floor(programs)
            } else {
                run(set, programs)
            };
            let sample = match measured {
                Ok(s) => Some(s),
                Err(e) => {
                    println!("  round {round}: {set}: skipped: {e}");
                    None
                }
            };
            if let Some(s) = sample {
                println!(
                    "  round {round}: {set}: {:.0} programs/s, {:.1} µs CPU/program",
                    s.programs_per_s, s.cpu_us_per_program
                );
            }
            samples[i].push(sample);
        }
    }
    println!("load average {}", load_average());
    println!("| backends | programs/s | CPU µs/program | × first set |");
    println!("|---|---|---|---|");
    for (i, set) in sets.iter().enumerate() {
        let ok: Vec<(usize, Sample)> = samples[i]
            .iter()
            .enumerate()
            .filter_map(|(r, s)| s.map(|s| (r, s)))
            .collect();
        if ok.is_empty() {
            println!("| `{set}` | n/a | n/a | n/a |");
            continue;
        }
        let ratios: Vec<f64> = ok
            .iter()
            .filter_map(|(r, s)| {
                samples[0][*r].map(|first| s.programs_per_s / first.programs_per_s)
            })
            .collect();
        let ratio = if ratios.is_empty() {
            "n/a".to_string()
        } else {
            format!("{:.2}", median(ratios))
        };
        println!(
            "| `{set}` | {:.0} | {:.1} | {ratio} |",
            median(ok.iter().map(|(_, s)| s.programs_per_s).collect()),
            median(ok.iter().map(|(_, s)| s.cpu_us_per_program).collect()),
        );
    }
    ExitCode::SUCCESS
}
