//! How the process asks glibc's allocator to behave: a fixed 1 MiB threshold for `mmap`
//! and for trimming, instead of glibc's sliding ones, and one arena per core instead of
//! eight.
//!
//! Why: the server's big buffers (HTTP reads, upload blocks, chunker windows: 128 KiB to
//! 1 MiB) are taken on one thread and freed on another. With the sliding thresholds,
//! freeing one large block raises the mmap threshold and the trim threshold (up to 32 and
//! 64 MiB), after which those buffers come from the per-thread arenas and freed space is
//! kept. Measured on a 4 GiB S3 multipart upload: peak RSS 87–119 MiB from run to run over
//! a heap that peaked at 34 MiB; with fixed 1 MiB thresholds 76–79 MiB, at the same CPU
//! cost (a 128 KiB threshold gave 69 MiB but +0.5 s of CPU per GiB uploaded).
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
        libc::mallopt(libc::M_MMAP_THRESHOLD, MIB);
        libc::mallopt(libc::M_TRIM_THRESHOLD, MIB);
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

/// Other platforms keep their allocator's defaults.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune() {}
