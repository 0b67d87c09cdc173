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
//! Targets (issue 12): `interp,jit` ≥ 60,000 programs/s and all five
//! backends ≥ 15,000 programs/s on 2 cores.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use bpfdiff::campaign::{self, CampaignConfig};
use bpfdiff::gen::Tier;
use bpfdiff::known_rules;

/// One run's measurements.
#[derive(Clone, Copy)]
struct Sample {
    programs_per_s: f64,
    cpu_us_per_program: f64,
}

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
    let mut samples: Vec<Vec<Option<Sample>>> = vec![Vec::new(); sets.len()];
    for round in 0..rounds {
        for (i, set) in sets.iter().enumerate() {
            let sample = match run(set, programs) {
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
