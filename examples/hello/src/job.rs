//! `HELLO_EXPECT=NAME:HEX`: hello as a one-off job that checks its payload. It exits 0 when the environment variable
//! NAME holds exactly the bytes HEX encodes, and 9 otherwise: the expected value travels hex-encoded, so it cannot
//! be altered on the way by the very quoting or splitting a test looks for.

/// The exit code for an expectation, reading the environment through `get`.
pub fn check(expect: &str, get: impl Fn(&str) -> Option<String>) -> Result<(), String> {
    let (name, hex) = expect.split_once(':').ok_or("HELLO_EXPECT is not NAME:HEX")?;
    let want = decode(hex).ok_or("HELLO_EXPECT's value is not hex")?;
    match get(name) {
        Some(got) if got.as_bytes() == want.as_slice() => Ok(()),
        Some(got) => Err(format!("{name} is {got:?}, expected {:?}", String::from_utf8_lossy(&want))),
        None => Err(format!("{name} is not set")),
    }
}

fn decode(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_must_match_byte_for_byte() {
        // "a b;" hex-encoded
        let get = |v: &'static str| move |k: &str| (k == "P").then(|| v.to_string());
        assert_eq!(check("P:6120623b", get("a b;")), Ok(()));
        assert!(check("P:6120623b", get("a b")).is_err());
        assert!(check("Q:00", get("x")).unwrap_err().contains("not set"));
        assert!(check("nocolon", get("x")).is_err());
    }
}
