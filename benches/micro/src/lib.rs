//! Timing helpers for `benches/hot_paths.rs` (no benchmark crate: `std::time::Instant`).
//!
//! ```
//! let stats = ops_micro_benches::measure(5, std::time::Duration::ZERO, || 2 + 2);
//! assert_eq!(stats.runs, 5);
//! assert!(stats.median <= stats.p90);
//! ```

use std::time::{Duration, Instant};

/// The timings of one benchmark.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    /// How many times the closure ran (after one warm-up run).
    pub runs: usize,
    /// The median time of one run.
    pub median: Duration,
    /// The 90th percentile.
    pub p90: Duration,
    /// The fastest run.
    pub min: Duration,
}

/// Runs `f` once to warm up, then at least `min_runs` times and for at least
/// `min_time`; the result of each run goes through [`std::hint::black_box`].
pub fn measure<T>(min_runs: usize, min_time: Duration, mut f: impl FnMut() -> T) -> Stats {
    std::hint::black_box(f());
    let mut times = Vec::with_capacity(min_runs);
    let started = Instant::now();
    while times.len() < min_runs.max(1) || started.elapsed() < min_time {
        let t = Instant::now();
        std::hint::black_box(f());
        times.push(t.elapsed());
    }
    times.sort_unstable();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Stats {
        runs: times.len(),
        median: at(0.5),
        p90: at(0.9),
        min: times[0],
    }
}

/// A duration in the unit that suits it (ns, µs, ms).
pub fn human(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 10_000 {
        format!("{ns} ns")
    } else if ns < 10_000_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else {
        format!("{:.2} ms", ns as f64 / 1e6)
    }
}

/// Prints one line of the results table.
pub fn report(name: &str, stats: Stats) {
    println!(
        "| {name} | {} | {} | {} | {} |",
        human(stats.median),
        human(stats.p90),
        human(stats.min),
        stats.runs
    );
}
