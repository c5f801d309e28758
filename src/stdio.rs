//! Writing to stdout and stderr as command-line tools do: when the reader has gone away
//! (`pipeline schema | head -1` closes the pipe after one line), the output ends quietly instead of
//! panicking the way `println!` does on a broken pipe.

use std::io::Write;

/// Writes `text` to stdout. A closed pipe ends the output; nothing is left to report an error to.
pub fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush());
}

/// Writes `text` to stderr, likewise.
pub fn err(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes()).and_then(|()| stderr.flush());
}
