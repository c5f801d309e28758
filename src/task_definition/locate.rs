//! Where a path (`containerDefinitions[0].essentail`) is in the text of a JSON or YAML file, as 1-based line and
//! column. Both parsers attach their position to an error raised while a value is visited, so a visitor that walks
//! down the path and fails on arrival is made to report where it stopped.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::document::Format;
use super::validate::{FieldPath, Segment};

/// The message of the error that marks the place; anything else means the path is not in the text.
const HERE: &str = "\u{0}pipeline: here";
const GONE: &str = "\u{0}pipeline: not here";

/// Line and column of `path` in `text`: of its key when `key` is set, else of its value.
pub fn locate(text: &str, format: Format, path: &FieldPath, key: bool) -> Option<(usize, usize)> {
    let seek = Seek { path: &path.0, key };
    match format {
        Format::Json => {
            let mut de = serde_json::Deserializer::from_str(text);
            let err = seek.deserialize(&mut de).err()?;
            // serde_json reports where it stopped reading: the end of a string or number, the start of an object.
            err.to_string().starts_with(HERE).then(|| token_start(text, err.line(), err.column()))
        }
        Format::Yaml => {
            let err = seek.deserialize(serde_norway::Deserializer::from_str(text)).err()?;
            let place = err.location()?;
            err.to_string().contains(HERE).then(|| (place.line(), place.column()))
        }
    }
}

/// From where serde_json stopped back to the token's first character: it stops on a string's closing quote or a
/// number's last digit, and after the whitespace that follows an object's or a list's opening bracket.
fn token_start(text: &str, line: usize, column: usize) -> (usize, usize) {
    let chars: Vec<char> = text.chars().collect();
    let mut line_start = 0;
    for _ in 1..line {
        match chars[line_start..].iter().position(|c| *c == '\n') {
            Some(n) => line_start += n + 1,
            None => return (line, column),
        }
    }
    let mut at = (line_start + column.saturating_sub(1)).min(chars.len().saturating_sub(1));
    while at > 0 && chars[at].is_whitespace() {
        at -= 1;
    }
    let word = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.');
    match chars.get(at) {
        Some('"') => {
            while at > 0 {
                at -= 1;
                if chars[at] == '"' && chars[at - 1] != '\\' {
                    break;
                }
            }
        }
        Some(c) if word(*c) => {
            while at > 0 && word(chars[at - 1]) {
                at -= 1;
            }
        }
        _ => {}
    }
    let line = chars[..at].iter().filter(|c| **c == '\n').count() + 1;
    let column = at - chars[..at].iter().rposition(|c| *c == '\n').map_or(0, |n| n + 1) + 1;
    (line, column)
}

struct Seek<'p> {
    path: &'p [Segment],
    key: bool,
}

impl Seek<'_> {
    fn arrive<E: de::Error>(&self) -> Result<(), E> {
        Err(E::custom(if self.path.is_empty() { HERE } else { GONE }))
    }
}

impl<'de> DeserializeSeed<'de> for Seek<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seek<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.arrive()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.arrive()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.arrive()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.arrive()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.arrive()
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.arrive()
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((first, rest)) = self.path.split_first() else { return self.arrive() };
        let Segment::Key(wanted) = first else { return Err(de::Error::custom(GONE)) };
        let at_key = rest.is_empty() && self.key;
        while let Some(found) = map.next_key_seed(Key { wanted, at_key })? {
            if found {
                return map.next_value_seed(Seek { path: rest, key: self.key });
            }
            map.next_value::<IgnoredAny>()?;
        }
        Err(de::Error::custom(GONE))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((first, rest)) = self.path.split_first() else { return self.arrive() };
        let Segment::Index(index) = first else { return Err(de::Error::custom(GONE)) };
        for _ in 0..*index {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Err(de::Error::custom(GONE));
            }
        }
        seq.next_element_seed(Seek { path: rest, key: self.key })?;
        Err(de::Error::custom(GONE))
    }
}

/// A map key: true when it is the one wanted; fails on it (marking its place) when the key itself is the target.
struct Key<'w> {
    wanted: &'w str,
    at_key: bool,
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        match key == self.wanted {
            true if self.at_key => Err(E::custom(HERE)),
            found => Ok(found),
        }
    }

    // YAML keys may be numbers or booleans; they are never the ones a task definition names.
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(segments: &[&str]) -> FieldPath {
        FieldPath(
            segments
                .iter()
                .map(|s| s.parse::<usize>().map_or_else(|_| Segment::Key((*s).to_owned()), Segment::Index))
                .collect(),
        )
    }

    const JSON: &str = "{\n  \"familly\": \"web\",\n  \"containerDefinitions\": [\n    {\"name\": \"web\", \"image\": \"x\", \"essentail\": true},\n    {\"name\": \"b\",\n     \"cpu\": {\"x\": 1}, \"memory\": 512}\n  ]\n}\n";
    const YAML: &str = "familly: web\ncontainerDefinitions:\n  - name: web\n    image: x\n    essentail: true\n  - name: b\n    cpu: {x: 1}\n";

    #[test]
    fn json_keys_and_values_are_found_at_their_first_character() {
        assert_eq!(locate(JSON, Format::Json, &path(&["familly"]), true), Some((2, 3)));
        assert_eq!(locate(JSON, Format::Json, &path(&["familly"]), false), Some((2, 14)));
        assert_eq!(locate(JSON, Format::Json, &path(&["containerDefinitions", "0", "essentail"]), true), Some((4, 35)));
        assert_eq!(locate(JSON, Format::Json, &path(&["containerDefinitions", "1", "cpu"]), false), Some((6, 13)));
        assert_eq!(locate(JSON, Format::Json, &path(&["containerDefinitions", "1", "memory"]), false), Some((6, 33)));
        assert_eq!(locate(JSON, Format::Json, &path(&["containerDefinitions", "1"]), false), Some((5, 5)));
        assert_eq!(locate(JSON, Format::Json, &path(&[]), false), Some((1, 1)));
        assert_eq!(locate(JSON, Format::Json, &path(&["nope"]), true), None);
        assert_eq!(locate(JSON, Format::Json, &path(&["containerDefinitions", "7"]), false), None);
    }

    #[test]
    fn yaml_keys_and_values_are_found() {
        assert_eq!(locate(YAML, Format::Yaml, &path(&["familly"]), true), Some((1, 1)));
        assert_eq!(locate(YAML, Format::Yaml, &path(&["containerDefinitions", "0", "essentail"]), true), Some((5, 5)));
        assert_eq!(locate(YAML, Format::Yaml, &path(&["containerDefinitions", "1", "cpu"]), false), Some((7, 10)));
        assert_eq!(locate(YAML, Format::Yaml, &path(&["containerDefinitions", "1"]), false), Some((6, 5)));
        assert_eq!(locate(YAML, Format::Yaml, &path(&["nope"]), true), None);
    }
}
