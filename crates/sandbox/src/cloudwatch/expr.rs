//! A small evaluator for CloudWatch metric-math expressions (REFERENCE 4.3), enough for rate alarms such as
//! `IF(m2 > 0, 100 * (FILL(m1,0) + FILL(m3,0)) / m2, 0)`.
//!
//! Expressions are evaluated one period at a time: every metric id is a single value or missing, and, as in
//! CloudWatch's aligned time series, an operation on a missing value is missing (only `FILL` supplies one).
//! Supported: numbers, metric ids, `+ - * / ^`, comparisons, `AND`/`&&`, `OR`/`||`, parentheses and the
//! functions `FILL(x, n)`, `IF(c, a[, b])`, `ABS`, `CEIL`, `FLOOR`, `LOG`, `LOG10`, and `AVG`, `MAX`, `MIN`,
//! `SUM`, `STDDEV` over an array of series (`MAX([m1, m2])`: per period, over the series that have a value).
//! Any other function, and these aggregates over one series (a scalar over the whole time range), is a
//! `ValidationError` naming it (README, "Where it differs from AWS").

use crate::AwsError;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Num(f64),
    Var(String),
    Neg(Box<Expr>),
    Bin(Op, Box<Expr>, Box<Expr>),
    Call(String, Vec<Expr>),
    /// `[a, b, ...]`: an array of time series, only as the argument of an aggregate (`MAX([a, b])`).
    Array(Vec<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Ident(String),
    Op(&'static str),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
}

fn invalid(expr: &str, why: impl std::fmt::Display) -> AwsError {
    AwsError::client("ValidationError", format!("Invalid metrics expression '{expr}': {why}"))
}

fn tokenize(src: &str) -> Result<Vec<Tok>, AwsError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            out.push(Tok::Num(text.parse().map_err(|_| invalid(src, format!("bad number {text}")))?));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            match word.as_str() {
                "AND" => out.push(Tok::Op("&&")),
                "OR" => out.push(Tok::Op("||")),
                _ => out.push(Tok::Ident(word)),
            }
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let op2 = ["<=", ">=", "==", "!=", "&&", "||"].into_iter().find(|op| *op == two);
            if let Some(op) = op2 {
                out.push(Tok::Op(op));
                i += 2;
                continue;
            }
            out.push(match c {
                '(' => Tok::LParen,
                ')' => Tok::RParen,
                '[' => Tok::LBracket,
                ']' => Tok::RBracket,
                ',' => Tok::Comma,
                '+' => Tok::Op("+"),
                '-' => Tok::Op("-"),
                '*' => Tok::Op("*"),
                '/' => Tok::Op("/"),
                '^' => Tok::Op("^"),
                '<' => Tok::Op("<"),
                '>' => Tok::Op(">"),
                other => return Err(invalid(src, format!("unexpected character '{other}'"))),
            });
            i += 1;
        }
    }
    Ok(out)
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Tok>,
    pos: usize,
}

/// Functions of the metric-math reference (REFERENCE 4.3) that this evaluator supports, with their arities.
const FUNCTIONS: &[(&str, usize, usize)] = &[
    ("FILL", 2, 2),
    ("IF", 2, 3),
    ("ABS", 1, 1),
    ("CEIL", 1, 1),
    ("FLOOR", 1, 1),
    ("LOG", 1, 1),
    ("LOG10", 1, 1),
    ("AVG", 1, 1),
    ("MAX", 1, 1),
    ("MIN", 1, 1),
    ("SUM", 1, 1),
    ("STDDEV", 1, 1),
];

/// Functions that reduce an array of series to one series, period by period.
const AGGREGATES: &[&str] = &["AVG", "MAX", "MIN", "SUM", "STDDEV"];

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn eat_op(&mut self, ops: &[&'static str]) -> Option<&'static str> {
        match self.peek() {
            Some(Tok::Op(op)) if ops.contains(op) => {
                let op = *op;
                self.pos += 1;
                Some(op)
            }
            _ => None,
        }
    }

    fn binary(
        &mut self,
        ops: &[&'static str],
        next: fn(&mut Self) -> Result<Expr, AwsError>,
    ) -> Result<Expr, AwsError> {
        let mut left = next(self)?;
        while let Some(op) = self.eat_op(ops) {
            let right = next(self)?;
            left = Expr::Bin(op_of(op), Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn or(&mut self) -> Result<Expr, AwsError> {
        self.binary(&["||"], Self::and)
    }
    fn and(&mut self) -> Result<Expr, AwsError> {
        self.binary(&["&&"], Self::cmp)
    }
    fn cmp(&mut self) -> Result<Expr, AwsError> {
        self.binary(&["<", "<=", ">", ">=", "==", "!="], Self::add)
    }
    fn add(&mut self) -> Result<Expr, AwsError> {
        self.binary(&["+", "-"], Self::mul)
    }
    fn mul(&mut self) -> Result<Expr, AwsError> {
        self.binary(&["*", "/"], Self::pow)
    }
    fn pow(&mut self) -> Result<Expr, AwsError> {
        self.binary(&["^"], Self::unary)
    }

    fn unary(&mut self) -> Result<Expr, AwsError> {
        if self.eat_op(&["-"]).is_some() {
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        if self.eat_op(&["+"]).is_some() {
            return self.unary();
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, AwsError> {
        let tok = self.peek().cloned().ok_or_else(|| invalid(self.src, "unexpected end"))?;
        self.pos += 1;
        match tok {
            Tok::Num(n) => Ok(Expr::Num(n)),
            Tok::LParen => {
                let inner = self.or()?;
                self.expect_rparen()?;
                Ok(inner)
            }
            Tok::Ident(name) if self.peek() == Some(&Tok::LParen) => {
                self.pos += 1;
                let upper = name.to_ascii_uppercase();
                let Some(&(_, min, max)) = FUNCTIONS.iter().find(|(f, _, _)| *f == upper) else {
                    return Err(invalid(self.src, format!("function {name} is not supported by pipeline-sandbox")));
                };
                let aggregate = AGGREGATES.contains(&upper.as_str());
                let mut args = Vec::new();
                if aggregate && self.peek() == Some(&Tok::LBracket) {
                    self.pos += 1;
                    args.push(Expr::Array(self.list(Tok::RBracket)?));
                } else if self.peek() != Some(&Tok::RParen) {
                    args.push(self.or()?);
                    while self.peek() == Some(&Tok::Comma) {
                        self.pos += 1;
                        args.push(self.or()?);
                    }
                }
                self.expect_rparen()?;
                if args.len() < min || args.len() > max {
                    return Err(invalid(self.src, format!("{upper} takes {min}..{max} arguments")));
                }
                if aggregate && !matches!(args[0], Expr::Array(_)) {
                    return Err(invalid(
                        self.src,
                        format!(
                            "{upper} over a single time series (a scalar over the whole time range) is not \
                             supported by pipeline-sandbox; {upper}([a, b, ...]) is"
                        ),
                    ));
                }
                Ok(Expr::Call(upper, args))
            }
            Tok::Ident(name) => Ok(Expr::Var(name)),
            other => Err(invalid(self.src, format!("unexpected {other:?}"))),
        }
    }

    /// Comma-separated expressions up to `close`, which is consumed.
    fn list(&mut self, close: Tok) -> Result<Vec<Expr>, AwsError> {
        let mut items = vec![self.or()?];
        while self.peek() == Some(&Tok::Comma) {
            self.pos += 1;
            items.push(self.or()?);
        }
        if self.peek() != Some(&close) {
            return Err(invalid(self.src, format!("expected {close:?}")));
        }
        self.pos += 1;
        Ok(items)
    }

    fn expect_rparen(&mut self) -> Result<(), AwsError> {
        if self.peek() == Some(&Tok::RParen) {
            self.pos += 1;
            Ok(())
        } else {
            Err(invalid(self.src, "expected ')'"))
        }
    }
}

fn op_of(op: &str) -> Op {
    match op {
        "+" => Op::Add,
        "-" => Op::Sub,
        "*" => Op::Mul,
        "/" => Op::Div,
        "^" => Op::Pow,
        "<" => Op::Lt,
        "<=" => Op::Le,
        ">" => Op::Gt,
        ">=" => Op::Ge,
        "==" => Op::Eq,
        "!=" => Op::Ne,
        "&&" => Op::And,
        _ => Op::Or,
    }
}

impl Expr {
    pub fn parse(src: &str) -> Result<Expr, AwsError> {
        let mut parser = Parser { src, toks: tokenize(src)?, pos: 0 };
        let expr = parser.or()?;
        if parser.pos != parser.toks.len() {
            return Err(invalid(src, "trailing input"));
        }
        Ok(expr)
    }

    /// The metric ids the expression reads.
    pub fn vars(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_vars(&mut out);
        out
    }

    fn collect_vars(&self, out: &mut Vec<String>) {
        match self {
            Expr::Num(_) => {}
            Expr::Var(v) => out.push(v.clone()),
            Expr::Neg(e) => e.collect_vars(out),
            Expr::Bin(_, a, b) => {
                a.collect_vars(out);
                b.collect_vars(out);
            }
            Expr::Call(_, args) | Expr::Array(args) => args.iter().for_each(|a| a.collect_vars(out)),
        }
    }

    /// The value for one period; `None` is "no datapoint".
    pub fn eval(&self, env: &dyn Fn(&str) -> Option<f64>) -> Option<f64> {
        let truth = |b: bool| if b { 1.0 } else { 0.0 };
        let value = match self {
            Expr::Num(n) => *n,
            Expr::Var(v) => env(v)?,
            Expr::Neg(e) => -e.eval(env)?,
            Expr::Bin(op, a, b) => {
                let (a, b) = (a.eval(env)?, b.eval(env)?);
                match op {
                    Op::Add => a + b,
                    Op::Sub => a - b,
                    Op::Mul => a * b,
                    Op::Div => a / b,
                    Op::Pow => a.powf(b),
                    Op::Lt => truth(a < b),
                    Op::Le => truth(a <= b),
                    Op::Gt => truth(a > b),
                    Op::Ge => truth(a >= b),
                    Op::Eq => truth(a == b),
                    Op::Ne => truth(a != b),
                    Op::And => truth(a != 0.0 && b != 0.0),
                    Op::Or => truth(a != 0.0 || b != 0.0),
                }
            }
            Expr::Call(f, args) => match (f.as_str(), args.as_slice()) {
                ("FILL", [x, fill]) => x.eval(env).or_else(|| fill.eval(env))?,
                ("IF", [c, a, rest @ ..]) => {
                    if c.eval(env)? != 0.0 {
                        a.eval(env)?
                    } else {
                        rest.first()?.eval(env)?
                    }
                }
                ("ABS", [x]) => x.eval(env)?.abs(),
                ("CEIL", [x]) => x.eval(env)?.ceil(),
                ("FLOOR", [x]) => x.eval(env)?.floor(),
                ("LOG", [x]) => x.eval(env)?.ln(),
                ("LOG10", [x]) => x.eval(env)?.log10(),
                (f, [Expr::Array(items)]) => {
                    // Series without a value in this period are left out; none at all gives none.
                    let values: Vec<f64> = items.iter().filter_map(|e| e.eval(env)).collect();
                    aggregate(f, &values)?
                }
                _ => return None,
            },
            // Only reachable as an aggregate's argument, handled above.
            Expr::Array(_) => return None,
        };
        // Division by zero and friends produce no datapoint, as CloudWatch drops non-finite values.
        value.is_finite().then_some(value)
    }
}

/// One period's value of `AVG`, `MAX`, `MIN`, `SUM` or `STDDEV` (population) over the series that have one.
fn aggregate(function: &str, values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let sum: f64 = values.iter().sum();
    Some(match function {
        "SUM" => sum,
        "AVG" => sum / n,
        "MAX" => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        "MIN" => values.iter().copied().fold(f64::INFINITY, f64::min),
        "STDDEV" => {
            let mean = sum / n;
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt()
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(src: &str, vars: &[(&str, f64)]) -> Option<f64> {
        let expr = Expr::parse(src).expect("parses");
        expr.eval(&|name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| *v))
    }

    #[test]
    fn the_reference_5xx_rate_expression_evaluates() {
        let src = "IF(m2 > 0, 100 * (FILL(m1,0) + FILL(m3,0)) / m2, 0)";
        assert_eq!(eval(src, &[("m1", 3.0), ("m2", 50.0), ("m3", 2.0)]), Some(10.0));
        assert_eq!(eval(src, &[("m1", 3.0), ("m2", 60.0)]), Some(5.0));
        assert_eq!(eval(src, &[("m2", 0.0)]), Some(0.0));
        // No requests at all: the condition is missing, so is the datapoint.
        assert_eq!(eval(src, &[("m1", 3.0)]), None);
        assert_eq!(Expr::parse(src).expect("parses").vars(), vec!["m2", "m1", "m3", "m2"]);
    }

    /// Issue 17: `err / MAX([err, req])` was refused with "unexpected character '['".
    #[test]
    fn aggregates_over_arrays_evaluate_per_period() {
        let vars = [("err", 2.0), ("req", 50.0), ("other", 8.0)];
        assert_eq!(eval("err / MAX([err, req])", &vars), Some(0.04));
        assert_eq!(eval("MIN([err, req, other])", &vars), Some(2.0));
        assert_eq!(eval("SUM([err, req]) + AVG([err, other])", &vars), Some(57.0));
        assert_eq!(eval("STDDEV([err, other])", &vars), Some(3.0));
        assert_eq!(eval("MAX([FILL(missing, 0), 1])", &vars), Some(1.0));
        // A series without a datapoint is left out of the period; no datapoint at all is none.
        assert_eq!(eval("SUM([err, missing])", &vars), Some(2.0));
        assert_eq!(eval("MAX([missing])", &vars), None);
        assert_eq!(eval("LOG10(req * 2)", &vars), Some(2.0));
        assert_eq!(Expr::parse("MAX([a, b]) / c").expect("parses").vars(), vec!["a", "b", "c"]);
    }

    #[test]
    fn unsupported_functions_are_named_in_the_validation_error() {
        for (src, named) in [
            ("RATE(m1)", "function RATE is not supported"),
            ("ANOMALY_DETECTION_BAND(m1)", "function ANOMALY_DETECTION_BAND is not supported"),
            ("MAX(m1)", "MAX over a single time series"),
        ] {
            let e = Expr::parse(src).expect_err(src);
            assert_eq!(e.code, "ValidationError");
            assert!(e.message.contains(named), "{src}: {}", e.message);
        }
        assert!(Expr::parse("MAX([a, b)").is_err());
        assert!(Expr::parse("[a, b]").is_err());
        assert!(Expr::parse("ABS([a])").is_err());
    }

    #[test]
    fn precedence_and_errors() {
        assert_eq!(eval("1 + 2 * 3 ^ 2 - -1", &[]), Some(20.0));
        assert_eq!(eval("m1 / 0", &[("m1", 1.0)]), None);
        assert_eq!(eval("1 < 2 AND 3 >= 3", &[]), Some(1.0));
        assert!(Expr::parse("ANOMALY_DETECTION_BAND(m1)").is_err());
        assert!(Expr::parse("(1 + 2").is_err());
        assert!(Expr::parse("1 $ 2").is_err());
    }
}
