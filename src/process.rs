//! Process and runtime metrics: a background thread reads `/proc` and the tokio runtime's
//! counters into a snapshot every few seconds; the observable callbacks only read the snapshot.

use crate::catalog::instruments::{
    PROCESS_CPU_TIME, PROCESS_CPU_UTILIZATION, PROCESS_MEMORY_USAGE, PROCESS_MEMORY_VIRTUAL, PROCESS_OPEN_FDS,
    PROCESS_THREAD_COUNT, PROCESS_UPTIME, RUNTIME_GLOBAL_QUEUE_DEPTH, RUNTIME_TASKS, RUNTIME_WORKERS,
};
use crate::catalog::values::CpuMode;
use arc_swap::ArcSwap;
use opentelemetry::metrics::Meter;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the snapshot is refreshed.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(5);

/// Linux reports CPU times in clock ticks of `USER_HZ`, which is 100 on every Linux ABI.
const TICKS_PER_SECOND: f64 = 100.0;

static RUNTIME: OnceLock<tokio::runtime::Handle> = OnceLock::new();

/// Reports this tokio runtime's workers, tasks and queue depth (taken automatically when
/// telemetry is installed inside a runtime).
pub fn watch_tokio_runtime(handle: tokio::runtime::Handle) {
    let _ = RUNTIME.set(handle);
}

/// One reading of the process.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessSnapshot {
    /// User CPU seconds.
    pub cpu_user: f64,
    /// System CPU seconds.
    pub cpu_system: f64,
    /// CPU used over the last interval, as a fraction of one core.
    pub cpu_utilization: Option<f64>,
    /// Resident set size, bytes.
    pub rss_bytes: Option<i64>,
    /// Virtual size, bytes.
    pub virtual_bytes: Option<i64>,
    /// Threads.
    pub threads: Option<i64>,
    /// Open file descriptors.
    pub open_fds: Option<i64>,
    /// Seconds since the process started.
    pub uptime: f64,
    /// Tokio workers, alive tasks, global queue depth.
    pub tokio: Option<(usize, usize, usize)>,
    /// Whether `/proc` was readable.
    pub has_proc: bool,
}

/// Reads `/proc/self` (Linux); other systems get uptime and runtime figures only.
pub fn read_snapshot(started: Instant, start_offset: f64) -> ProcessSnapshot {
    let mut s = ProcessSnapshot { uptime: started.elapsed().as_secs_f64() + start_offset, ..Default::default() };
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // The command name may contain spaces; fields start after the closing parenthesis.
        if let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) {
            let f: Vec<&str> = rest.split_whitespace().collect();
            // After ')' the fields are numbered from 3 (state): utime=14, stime=15, threads=20, vsize=23.
            let field = |n: usize| f.get(n - 3).and_then(|v| v.parse::<f64>().ok());
            s.cpu_user = field(14).unwrap_or(0.0) / TICKS_PER_SECOND;
            s.cpu_system = field(15).unwrap_or(0.0) / TICKS_PER_SECOND;
            s.threads = field(20).map(|v| v as i64);
            s.virtual_bytes = field(23).map(|v| v as i64);
            s.has_proc = true;
        }
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        s.rss_bytes = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<i64>().ok())
            .map(|kb| kb * 1024);
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        s.open_fds = Some(dir.count() as i64);
    }
    let handle = RUNTIME.get().cloned();
    if let Some(h) = handle {
        let m = h.metrics();
        s.tokio = Some((m.num_workers(), m.num_alive_tasks(), m.global_queue_depth()));
    }
    s
}

/// Seconds the process had been running when telemetry started (from `/proc`), else 0.
fn start_offset() -> f64 {
    let uptime = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|u| u.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()));
    let start_ticks = std::fs::read_to_string("/proc/self/stat").ok().and_then(|stat| {
        let rest = &stat[stat.rfind(')')? + 2..];
        rest.split_whitespace().nth(22 - 3).and_then(|v| v.parse::<f64>().ok())
    });
    match (uptime, start_ticks) {
        (Some(up), Some(ticks)) => (up - ticks / TICKS_PER_SECOND).max(0.0),
        _ => 0.0,
    }
}

/// The running collector; stops its thread on drop.
#[derive(Debug)]
pub struct ProcessMetrics {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ProcessMetrics {
    /// Registers the process/runtime instruments on `meter` and starts the refresher.
    pub fn start(meter: &Meter) -> Option<Self> {
        if let Ok(h) = tokio::runtime::Handle::try_current() {
            watch_tokio_runtime(h);
        }
        let started = Instant::now();
        let offset = start_offset();
        let snap = Arc::new(ArcSwap::from_pointee(read_snapshot(started, offset)));
        register(meter, snap.clone());
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("swaggy-process-metrics".into())
            .spawn(move || {
                let mut last = (Instant::now(), snap.load().cpu_user + snap.load().cpu_system);
                while !flag.load(Ordering::Relaxed) {
                    // Sleep in short steps so shutdown is prompt.
                    let wake = Instant::now() + REFRESH_INTERVAL;
                    while Instant::now() < wake && !flag.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    let mut s = read_snapshot(started, offset);
                    let cpu = s.cpu_user + s.cpu_system;
                    let elapsed = last.0.elapsed().as_secs_f64();
                    if s.has_proc && elapsed > 0.0 {
                        s.cpu_utilization = Some(((cpu - last.1) / elapsed).max(0.0));
                    }
                    last = (Instant::now(), cpu);
                    snap.store(Arc::new(s));
                }
            })
            .ok()?;
        Some(ProcessMetrics { stop, thread: Some(thread) })
    }
}

impl Drop for ProcessMetrics {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn register(meter: &Meter, snap: Arc<ArcSwap<ProcessSnapshot>>) {
    let s = snap.clone();
    PROCESS_CPU_TIME.register(meter, move |o| {
        let v = s.load();
        if v.has_proc {
            o.observe(v.cpu_user, (CpuMode::User,));
            o.observe(v.cpu_system, (CpuMode::System,));
        }
    });
    let s = snap.clone();
    PROCESS_CPU_UTILIZATION.register(meter, move |o| {
        if let Some(u) = s.load().cpu_utilization {
            o.observe(u, ());
        }
    });
    let s = snap.clone();
    PROCESS_MEMORY_USAGE.register(meter, move |o| {
        if let Some(v) = s.load().rss_bytes {
            o.observe(v, ());
        }
    });
    let s = snap.clone();
    PROCESS_MEMORY_VIRTUAL.register(meter, move |o| {
        if let Some(v) = s.load().virtual_bytes {
            o.observe(v, ());
        }
    });
    let s = snap.clone();
    PROCESS_THREAD_COUNT.register(meter, move |o| {
        if let Some(v) = s.load().threads {
            o.observe(v, ());
        }
    });
    let s = snap.clone();
    PROCESS_OPEN_FDS.register(meter, move |o| {
        if let Some(v) = s.load().open_fds {
            o.observe(v, ());
        }
    });
    let s = snap.clone();
    PROCESS_UPTIME.register(meter, move |o| o.observe(s.load().uptime, ()));
    let s = snap.clone();
    RUNTIME_WORKERS.register(meter, move |o| {
        if let Some((w, _, _)) = s.load().tokio {
            o.observe(w as f64, ());
        }
    });
    let s = snap.clone();
    RUNTIME_TASKS.register(meter, move |o| {
        if let Some((_, t, _)) = s.load().tokio {
            o.observe(t as f64, ());
        }
    });
    RUNTIME_GLOBAL_QUEUE_DEPTH.register(meter, move |o| {
        if let Some((_, _, q)) = snap.load().tokio {
            o.observe(q as f64, ());
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let s = read_snapshot(Instant::now(), start_offset());
        if cfg!(target_os = "linux") {
            assert!(s.has_proc);
            assert!(s.rss_bytes.unwrap() > 0);
            assert!(s.threads.unwrap() >= 1);
            assert!(s.open_fds.unwrap() >= 3);
            assert!(s.uptime >= 0.0);
        }
    }
}
