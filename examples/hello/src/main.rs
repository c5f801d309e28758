//! `hello`: the tiny HTTP service used by the pipeline demo and tests.
//!
//! Plain `std::net`, one thread per connection, no dependencies: it is built as a static binary and shipped
//! `FROM scratch`, so there is nothing else in the image. Environment switches let a demo release a bad
//! *configuration* of the same image: `HELLO_FAIL=500` makes `/` answer 500 while `/health` stays 200 (so the
//! deployment passes health checks and only the 5xx alarm can catch it), or with `HELLO_FAIL_PATH=/smoke` only the
//! smoke path `/smoke` (so only a smoke test on test traffic can catch it), and `HELLO_EXIT=<code>` exits at start
//! (a task that crashes, for the circuit breaker). `HELLO_EXPECT=NAME:HEX` makes it a job that checks its payload
//! and exits (see `job.rs`).

mod http;
mod job;
mod signal;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use http::{Config, respond};

fn main() {
    signal::exit_on_sigterm();
    if let Ok(expect) = std::env::var("HELLO_EXPECT") {
        match job::check(&expect, |key| std::env::var(key).ok()) {
            Ok(()) => std::process::exit(0),
            Err(why) => {
                eprintln!("hello: {why}");
                std::process::exit(9);
            }
        }
    }
    let config = Config::from_env(|key| std::env::var(key).ok());
    if let Some(code) = config.exit_code {
        eprintln!("hello: HELLO_EXIT={code}, exiting at start");
        std::process::exit(code);
    }
    let addr = format!("0.0.0.0:{}", config.port);
    let listener = match TcpListener::bind(&addr) {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("hello: cannot listen on {addr}: {err}");
            std::process::exit(1);
        }
    };
    eprintln!("hello {} listening on {addr}", config.version);
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let config = config.clone();
        std::thread::spawn(move || serve(stream, &config));
    }
}

/// Serves one connection, keep-alive included (load-balancer probes reuse connections).
fn serve(stream: TcpStream, config: &Config) {
    // A stuck client must not pin a thread forever.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        match reader.read_line(&mut request_line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        // Headers are read only to find the end of the request and `Connection: close`; bodies are not expected.
        let mut close = false;
        loop {
            let mut header = String::new();
            match reader.read_line(&mut header) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("connection")
                && value.trim().eq_ignore_ascii_case("close")
            {
                close = true;
            }
        }
        let http10 = request_line.trim_end().ends_with("HTTP/1.0");
        let response = respond(request_line.trim_end(), config);
        let close = close || http10;
        if writer.write_all(response.to_bytes(close).as_slice()).is_err() || close {
            return;
        }
    }
}
