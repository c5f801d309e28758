//! Request handling as a pure function, so it is tested without sockets.

/// What the environment configures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub port: u16,
    pub version: String,
    /// `HELLO_FAIL=500`: `/` (or `HELLO_FAIL_PATH`) answers this status (health stays 200).
    pub fail_status: Option<u16>,
    /// `HELLO_FAIL_PATH=/smoke`: the path `HELLO_FAIL` breaks; default `/`. A release that fails only its smoke test.
    pub fail_path: String,
    /// `HELLO_EXIT=<code>`: exit at start with this code.
    pub exit_code: Option<i32>,
}

impl Config {
    /// Reads the configuration through `get` (the process environment in `main`, a map in tests).
    /// Unparseable values fall back to the default rather than crash: the crash switch is `HELLO_EXIT`, explicitly.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Config {
        let nonempty = |key: &str| get(key).filter(|value| !value.trim().is_empty());
        Config {
            port: nonempty("PORT").and_then(|p| p.trim().parse().ok()).unwrap_or(8080),
            version: nonempty("HELLO_VERSION").unwrap_or_else(|| "dev".to_string()),
            fail_status: nonempty("HELLO_FAIL").and_then(|s| s.trim().parse().ok()).filter(|s| (100..=599).contains(s)),
            fail_path: nonempty("HELLO_FAIL_PATH").map(|p| p.trim().to_string()).unwrap_or_else(|| "/".to_string()),
            exit_code: nonempty("HELLO_EXIT").and_then(|c| c.trim().parse().ok()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

impl Response {
    fn new(status: u16, body: impl Into<String>) -> Response {
        Response { status, body: body.into() }
    }

    /// The response on the wire; `close` adds `Connection: close`.
    pub fn to_bytes(&self, close: bool) -> Vec<u8> {
        let connection = if close { "close" } else { "keep-alive" };
        format!(
            "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n{}",
            self.status,
            reason(self.status),
            self.body.len(),
            self.body
        )
        .into_bytes()
    }
}

/// Answers one request line, e.g. `GET /health HTTP/1.1`.
pub fn respond(request_line: &str, config: &Config) -> Response {
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Response::new(400, "bad request\n");
    };
    // The query string does not select a route.
    let path = target.split('?').next().unwrap_or(target);
    match (method, path) {
        ("GET" | "HEAD", "/health") => Response::new(200, "ok"),
        ("GET" | "HEAD", "/" | "/smoke") if config.fail_status.is_some() && path == config.fail_path => {
            let status = config.fail_status.unwrap_or(500);
            Response::new(status, format!("hello {} failing on purpose (HELLO_FAIL)\n", config.version))
        }
        ("GET" | "HEAD", "/") => Response::new(200, format!("hello from {}\n", config.version)),
        // What a smoke test checks: the release answers, and says which it is.
        ("GET" | "HEAD", "/smoke") => Response::new(200, format!("smoke ok {}\n", config.version)),
        (_, "/" | "/health" | "/smoke") => Response::new(405, "method not allowed\n"),
        _ => Response::new(404, "not found\n"),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Config {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_env(|key| map.get(key).cloned())
    }

    #[test]
    fn defaults() {
        let c = config(&[]);
        assert_eq!(
            c,
            Config { port: 8080, version: "dev".into(), fail_status: None, fail_path: "/".into(), exit_code: None }
        );
    }

    #[test]
    fn env_switches() {
        let c = config(&[("PORT", "9000"), ("HELLO_VERSION", "v1.2.3"), ("HELLO_FAIL", "500"), ("HELLO_EXIT", "3")]);
        assert_eq!(c.port, 9000);
        assert_eq!(c.version, "v1.2.3");
        assert_eq!(c.fail_status, Some(500));
        assert_eq!(c.exit_code, Some(3));
    }

    #[test]
    fn bad_values_fall_back() {
        let c = config(&[("PORT", "nope"), ("HELLO_FAIL", "yes"), ("HELLO_VERSION", " ")]);
        assert_eq!(c.port, 8080);
        assert_eq!(c.fail_status, None);
        assert_eq!(c.version, "dev");
    }

    #[test]
    fn root_says_hello_with_version() {
        let r = respond("GET / HTTP/1.1", &config(&[("HELLO_VERSION", "v2.0.0")]));
        assert_eq!(r, Response::new(200, "hello from v2.0.0\n"));
        assert_eq!(respond("GET / HTTP/1.1", &config(&[])).body, "hello from dev\n");
    }

    #[test]
    fn health_is_ok() {
        assert_eq!(respond("GET /health HTTP/1.1", &config(&[])), Response::new(200, "ok"));
        assert_eq!(respond("GET /health?probe=1 HTTP/1.1", &config(&[])).status, 200);
    }

    #[test]
    fn fail_switch_breaks_root_but_not_health() {
        let c = config(&[("HELLO_FAIL", "500")]);
        assert_eq!(respond("GET / HTTP/1.1", &c).status, 500);
        assert_eq!(respond("GET /health HTTP/1.1", &c), Response::new(200, "ok"));
    }

    #[test]
    fn the_fail_switch_can_break_only_the_smoke_path() {
        let c = config(&[("HELLO_FAIL", "500"), ("HELLO_FAIL_PATH", "/smoke"), ("HELLO_VERSION", "v2")]);
        assert_eq!(respond("GET /smoke HTTP/1.1", &c).status, 500);
        assert_eq!(respond("GET / HTTP/1.1", &c), Response::new(200, "hello from v2\n"));
        assert_eq!(
            respond("GET /smoke HTTP/1.1", &config(&[("HELLO_VERSION", "v2")])),
            Response::new(200, "smoke ok v2\n")
        );
    }

    #[test]
    fn unknown_paths_and_methods() {
        let c = config(&[]);
        assert_eq!(respond("GET /nope HTTP/1.1", &c).status, 404);
        assert_eq!(respond("POST / HTTP/1.1", &c).status, 405);
        assert_eq!(respond("", &c).status, 400);
        assert_eq!(respond("GET", &c).status, 400);
    }

    #[test]
    fn wire_format() {
        let bytes = Response::new(200, "ok").to_bytes(true);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(text.contains("Content-Length: 2\r\n"));
        assert!(text.contains("Connection: close\r\n"));
        assert!(text.ends_with("\r\n\r\nok"));
    }
}
