//! A small evaluator for CloudWatch metric-math expressions (REFERENCE 4.3), enough for rate alarms such as
//! `IF(m2 > 0, 100 * (FILL(m1,0) + FILL(m3,0)) / m2, 0)`.
//!
//! Expressions are evaluated one period at a time: every metric id is a single value or missing, and, as in
//! CloudWatch's aligned time series, an operation on a missing value is missing (only `FILL` supplies one).
//! Supported: numbers, metric ids, `+ - * / ^`, comparisons, `AND`/`&&`, `OR`/`||`, parentheses and the
//! functions `FILL(x, n)`, `IF(c, a[, b])`, `ABS`, `CEIL`, `FLOOR`.

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
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Ident(String),
    Op(&'static str),
    LParen,
    RParen,
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

const FUNCTIONS: &[(&str, usize, usize)] =
    &[("FILL", 2, 2), ("IF", 2, 3), ("ABS", 1, 1), ("CEIL", 1, 1), ("FLOOR", 1, 1)];

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
                let mut args = Vec::new();
                if self.peek() != Some(&Tok::RParen) {
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
                Ok(Expr::Call(upper, args))
            }
            Tok::Ident(name) => Ok(Expr::Var(name)),
            other => Err(invalid(self.src, format!("unexpected {other:?}"))),
        }
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
            Expr::Call(_, args) => args.iter().for_each(|a| a.collect_vars(out)),
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
                _ => return None,
            },
        };
        // Division by zero and friends produce no datapoint, as CloudWatch drops non-finite values.
        value.is_finite().then_some(value)
    }
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
