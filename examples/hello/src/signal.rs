//! Exit promptly on SIGTERM.
//!
//! In a `FROM scratch` image this binary is PID 1, and the kernel ignores signals PID 1 has no handler for, so
//! without this `docker stop` (and ECS stopping a task) would wait its whole grace period and then SIGKILL.
//! The service holds no state worth a graceful drain, so the handler just ends the process. std has no signal
//! API and this crate stays dependency-free, hence the two libc declarations.

const SIGTERM: i32 = 15;
const SIGINT: i32 = 2;

unsafe extern "C" {
    fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
    fn _exit(status: i32) -> !;
}

/// Exit 0: being stopped is a clean shutdown, not a crash (ECS reports the container's exit code).
extern "C" fn on_signal(_signum: i32) {
    // SAFETY: `_exit` is async-signal-safe (unlike `std::process::exit`, which runs atexit handlers).
    unsafe { _exit(0) }
}

pub fn exit_on_sigterm() {
    // SAFETY: installs a handler that only calls an async-signal-safe function; the return value (the previous
    // handler) is not needed.
    unsafe {
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
    }
}
