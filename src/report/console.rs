//! Where sinks write text. Injected, so tests capture exactly what a user would see.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// A shared, thread-safe writer (stderr in the binary, a buffer in tests).
#[derive(Clone)]
pub struct Console(Arc<Mutex<dyn Write + Send>>);

impl Console {
    pub fn stderr() -> Self {
        Console(Arc::new(Mutex::new(std::io::stderr())))
    }

    pub fn stdout() -> Self {
        Console(Arc::new(Mutex::new(std::io::stdout())))
    }

    /// A console writing into a buffer, and the buffer to read it back.
    pub fn capture() -> (Self, Captured) {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        (Console(Arc::new(Mutex::new(CaptureWriter(buffer.clone())))), Captured(buffer))
    }

    /// Writes one line; output errors are ignored (a closed stderr must not fail a release).
    pub fn line(&self, text: &str) {
        if let Ok(mut w) = self.0.lock() {
            let _ = writeln!(w, "{text}");
            let _ = w.flush();
        }
    }
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Console")
    }
}

/// The text written to a captured console.
#[derive(Clone)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().map(|b| b.clone()).unwrap_or_default()).into_owned()
    }
}

struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

impl Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
