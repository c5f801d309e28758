//! `.dockerignore` matching with Docker's semantics (moby/patternmatcher), not gitignore's.
//!
//! The differences matter: in Docker every pattern is anchored at the context root (`*.md` excludes only
//! root-level Markdown), `**` spans any number of directories, a pattern that matches a directory also matches
//! everything below it, and the LAST matching pattern decides, even for a file inside an excluded directory
//! (`dir` then `!dir/keep` sends `dir/keep`).

/// The parsed patterns of one `.dockerignore`, in file order.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    /// `!pattern`: re-includes what earlier patterns excluded.
    negated: bool,
    tokens: Vec<Token>,
    /// The literal text before the first wildcard, to know which directories a `!` pattern could reach into.
    literal_prefix: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Char(char),
    /// `*`: any run of characters except `/`.
    Star,
    /// `?`: one character except `/`.
    Question,
    /// `**/` or `**` inside a pattern: zero or more whole directories (`(.*/)?`).
    AnyDirs,
    /// `**` at the end: anything at all.
    AnyTail,
    /// `[...]`: a character class, possibly negated (`[!...]` or `[^...]`), with ranges.
    Class {
        negated: bool,
        items: Vec<(char, char)>,
    },
}

impl DockerIgnore {
    /// Parses the file's text: one pattern a line, `#` comments, blank lines skipped, surrounding space trimmed.
    pub fn parse(text: &str) -> DockerIgnore {
        let patterns = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .filter_map(Pattern::parse)
            .collect();
        DockerIgnore { patterns }
    }

    /// Whether a path (relative to the context root, `/`-separated) is left out of the context.
    pub fn excluded(&self, path: &str) -> bool {
        let parents: Vec<&str> = path.match_indices('/').map(|(i, _)| &path[..i]).collect();
        let mut excluded = false;
        for pattern in &self.patterns {
            // Only a pattern that would change the verdict needs evaluating.
            if pattern.negated != excluded {
                continue;
            }
            let hit = pattern.matches(path) || parents.iter().any(|parent| pattern.matches(parent));
            if hit {
                excluded = !pattern.negated;
            }
        }
        excluded
    }

    /// Whether an excluded directory must still be walked because a `!` pattern might re-include something in it.
    pub fn may_reinclude_below(&self, dir: &str) -> bool {
        let dir_slash = format!("{dir}/");
        self.patterns
            .iter()
            .filter(|p| p.negated)
            .any(|p| p.literal_prefix.starts_with(&dir_slash) || dir_slash.starts_with(&p.literal_prefix))
    }
}

impl Pattern {
    fn parse(line: &str) -> Option<Pattern> {
        let (negated, raw) = match line.strip_prefix('!') {
            Some(rest) => (true, rest.trim()),
            None => (false, line),
        };
        let cleaned = clean(raw);
        if cleaned.is_empty() {
            return None;
        }
        let literal_prefix: String = cleaned.chars().take_while(|c| !matches!(c, '*' | '?' | '[' | '\\')).collect();
        Some(Pattern { negated, tokens: tokenize(&cleaned), literal_prefix })
    }

    fn matches(&self, path: &str) -> bool {
        let chars: Vec<char> = path.chars().collect();
        match_tokens(&self.tokens, &chars)
    }
}

/// Go's `filepath.Clean` as Docker applies it to each pattern, plus the leading `/` Docker strips.
fn clean(raw: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

fn tokenize(pattern: &str) -> Vec<Token> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' if chars.get(i + 1) == Some(&'*') => {
                i += 2;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                tokens.push(if i >= chars.len() { Token::AnyTail } else { Token::AnyDirs });
                continue;
            }
            '*' => tokens.push(Token::Star),
            '?' => tokens.push(Token::Question),
            '\\' if i + 1 < chars.len() => {
                i += 1;
                tokens.push(Token::Char(chars[i]));
            }
            '[' => {
                if let Some((class, next)) = parse_class(&chars, i) {
                    tokens.push(class);
                    i = next;
                    continue;
                }
                tokens.push(Token::Char('['));
            }
            c => tokens.push(Token::Char(c)),
        }
        i += 1;
    }
    tokens
}

/// Parses `[...]` starting at `start`; returns the class and the index after `]`, or None if unterminated.
fn parse_class(chars: &[char], start: usize) -> Option<(Token, usize)> {
    let mut i = start + 1;
    let negated = matches!(chars.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut items = Vec::new();
    while i < chars.len() && (chars[i] != ']' || items.is_empty()) {
        let mut lo = chars[i];
        if lo == '\\' && i + 1 < chars.len() {
            i += 1;
            lo = chars[i];
        }
        if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|c| *c != ']') {
            items.push((lo, chars[i + 2]));
            i += 3;
        } else {
            items.push((lo, lo));
            i += 1;
        }
    }
    (i < chars.len()).then_some((Token::Class { negated, items }, i + 1))
}

/// Backtracking match of the whole path against the tokens (patterns are short; no memo needed).
fn match_tokens(tokens: &[Token], path: &[char]) -> bool {
    let Some((first, rest)) = tokens.split_first() else {
        return path.is_empty();
    };
    match first {
        Token::Char(c) => path.first() == Some(c) && match_tokens(rest, &path[1..]),
        Token::Question => path.first().is_some_and(|c| *c != '/') && match_tokens(rest, &path[1..]),
        Token::Class { negated, items } => {
            path.first().is_some_and(|c| *c != '/' && items.iter().any(|(lo, hi)| (lo..=hi).contains(&c)) != *negated)
                && match_tokens(rest, &path[1..])
        }
        Token::Star => {
            let run = path.iter().take_while(|c| **c != '/').count();
            (0..=run).any(|n| match_tokens(rest, &path[n..]))
        }
        Token::AnyTail => true,
        Token::AnyDirs => {
            // Zero directories, or skip up to and including any later `/`.
            match_tokens(rest, path)
                || path.iter().enumerate().any(|(i, c)| *c == '/' && match_tokens(rest, &path[i + 1..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignore(text: &str) -> DockerIgnore {
        DockerIgnore::parse(text)
    }

    #[test]
    fn patterns_are_anchored_at_the_root() {
        let di = ignore("*.md\n");
        assert!(di.excluded("README.md"));
        assert!(!di.excluded("docs/README.md"), "unlike gitignore, *.md is root-only");
    }

    #[test]
    fn double_star_spans_directories() {
        let di = ignore("**/*.log\n");
        assert!(di.excluded("a.log"));
        assert!(di.excluded("x/y/z.log"));
        assert!(!di.excluded("x/y/z.txt"));
        let di = ignore("a/**/b\n");
        assert!(di.excluded("a/b"));
        assert!(di.excluded("a/x/y/b"));
        let di = ignore("cache/**\n");
        assert!(di.excluded("cache/x/y"));
    }

    #[test]
    fn a_matched_directory_excludes_its_contents() {
        let di = ignore("target\n/node_modules/\n");
        assert!(di.excluded("target"));
        assert!(di.excluded("target/debug/app"));
        assert!(di.excluded("node_modules/x/index.js"));
        assert!(!di.excluded("src/target.rs"));
    }

    #[test]
    fn last_match_wins_with_negation() {
        let di = ignore("*\n!hello\n!Dockerfile\n");
        assert!(di.excluded("src/main.rs"));
        assert!(!di.excluded("hello"));
        assert!(!di.excluded("Dockerfile"));
        let di = ignore("docs\n!docs/keep.md\n");
        assert!(!di.excluded("docs/keep.md"));
        assert!(di.excluded("docs/other.md"));
        let di = ignore("!docs/keep.md\ndocs\n");
        assert!(di.excluded("docs/keep.md"), "a later exclusion wins again");
    }

    #[test]
    fn comments_blank_lines_cleaning_and_classes() {
        let di = ignore("# comment\n\n  ./build/../out  \nfile?.txt\n[ab]*.c\n[!x]y\n");
        assert!(di.excluded("out/x"));
        assert!(di.excluded("file1.txt"));
        assert!(!di.excluded("file10.txt"));
        assert!(di.excluded("abc.c"));
        assert!(!di.excluded("cbc.c"));
        assert!(di.excluded("zy"));
        assert!(!di.excluded("xy"));
        assert!(!di.excluded("# comment"));
    }

    #[test]
    fn star_does_not_cross_directories() {
        let di = ignore("src/*.rs\n");
        assert!(di.excluded("src/main.rs"));
        assert!(!di.excluded("src/image/build.rs"));
    }

    #[test]
    fn reinclusion_decides_whether_to_walk_excluded_dirs() {
        let di = ignore("*\n!hello\n");
        assert!(!di.may_reinclude_below("target"));
        let di = ignore("target\n!target/keep\n");
        assert!(di.may_reinclude_below("target"));
        let di = ignore("target\n!**/keep\n");
        assert!(di.may_reinclude_below("target"));
    }
}
