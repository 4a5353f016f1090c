//! How the process asks glibc's allocator to behave: fixed thresholds for `mmap` (16 MiB)
//! and for trimming (1 MiB), instead of glibc's sliding ones, and one arena per core
//! instead of eight.
//!
//! Why: the server's big buffers (HTTP reads, upload blocks, chunker windows: 128 KiB to
//! 1 MiB; the object-storage tier's 8 MiB read blocks) are taken on one thread and freed
//! on another. With the sliding thresholds, freeing one large block raises the mmap
//! threshold and the trim threshold (up to 32 and 64 MiB), after which those buffers come
//! from the per-thread arenas and freed space is kept. Measured on a 4 GiB S3 multipart
//! upload: peak RSS 87–119 MiB from run to run over a heap that peaked at 34 MiB; with
//! fixed 1 MiB thresholds 76–79 MiB, at the same CPU cost (a 128 KiB threshold gave 69 MiB
//! but +0.5 s of CPU per GiB uploaded).
//!
//! The mmap threshold is 16 MiB, above the tier's 8 MiB blocks: with 1 MiB every block of
//! a cold read was a fresh mapping, page-faulted and zeroed page by page (a sixth of the
//! server's CPU in a profile). Measured 2026-12-07, alternating, same binary: a cold read
//! of 1 GiB at 607–613 MB/s instead of 541–545 (0.84–0.94× a boto3 ranged download of the
//! same packs instead of 0.70–0.76×), while the peak RSS of a 2 GiB boto3 multipart upload
//! (10 threads, 8 MiB parts) stayed 71 MiB against 73 (the trim threshold, kept at 1 MiB,
//! is what holds freed space down; raising it too cost +5–8 MiB).
//!
//! The arenas: ten parallel part uploads run on a dozen blocking threads, and glibc gives
//! threads up to eight arenas per core, each keeping its own freed space. With the fixed
//! thresholds alone the same upload still peaked at 69–109 MiB from run to run (two cores,
//! later measurements); with one arena per core 64–69 MiB, at the same speed (22.8–23.5 s
//! for 4 GiB either way).
//!
//! A user who sets `MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_`, `MALLOC_ARENA_MAX`
//! or `GLIBC_TUNABLES` keeps their own settings.

/// Applies the settings (call first thing in `main`, before any thread starts).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn tune() {
    let user_set = [
        "MALLOC_MMAP_THRESHOLD_",
        "MALLOC_TRIM_THRESHOLD_",
        "MALLOC_ARENA_MAX",
        "GLIBC_TUNABLES",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some());
    if user_set {
        return;
    }
    const MIB: libc::c_int = 1 << 20;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let arenas = libc::c_int::try_from(cores.max(2)).unwrap_or(libc::c_int::MAX);
    // SAFETY: mallopt only changes allocator parameters (under glibc's own arena lock); it
    // takes two integers and touches no memory of ours. A refused value leaves glibc's
    // defaults, which are correct, just hungrier.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 16 * MIB);
        libc::mallopt(libc::M_TRIM_THRESHOLD, MIB);
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

/// Other platforms keep their allocator's defaults.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune() {}
