//! Kubernetes resource quantities (`500m`, `0.5`, `1Gi`, `1024Mi`, `1e3`) compared by value, as
//! the API server does: it rewrites quantities into a canonical form, so `cpu: 0.5` in git comes
//! back as `500m` and must not count as drift.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::Value;

/// The exact value of a quantity, or `None` if the text is not a quantity.
pub fn parse(text: &str) -> Option<Decimal> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let split = text
        .char_indices()
        .find(|(i, c)| !(c.is_ascii_digit() || *c == '.' || ((*c == '+' || *c == '-') && *i == 0)))
        .map_or(text.len(), |(i, _)| i);
    let (number, suffix) = text.split_at(split);
    if number.is_empty() || number == "+" || number == "-" || number.matches('.').count() > 1 {
        return None;
    }
    let number = number.strip_prefix('+').unwrap_or(number);
    let base = Decimal::from_str(number).ok()?;
    let binary = |power: u32| Decimal::from(1u64 << (10 * power));
    let decimal = |exp: i32| -> Option<Decimal> {
        if exp >= 0 {
            Decimal::from_str(&format!("1{}", "0".repeat(exp as usize))).ok()
        } else {
            Decimal::from_str(&format!("0.{}1", "0".repeat((-exp - 1) as usize))).ok()
        }
    };
    let factor = match suffix {
        "" => Decimal::ONE,
        "Ki" => binary(1),
        "Mi" => binary(2),
        "Gi" => binary(3),
        "Ti" => binary(4),
        "Pi" => binary(5),
        "Ei" => binary(6),
        "n" => decimal(-9)?,
        "u" => decimal(-6)?,
        "m" => decimal(-3)?,
        "k" => decimal(3)?,
        "M" => decimal(6)?,
        "G" => decimal(9)?,
        "T" => decimal(12)?,
        "P" => decimal(15)?,
        "E" => decimal(18)?,
        other => {
            let exp = other.strip_prefix(['e', 'E'])?;
            let exp: i32 = exp.parse().ok()?;
            if !(-28..=28).contains(&exp) {
                return None;
            }
            decimal(exp)?
        }
    };
    base.checked_mul(factor)
}

/// Whether two JSON values are the same quantity (numbers count: YAML `cpu: 1` is a number).
pub fn equal(a: &Value, b: &Value) -> bool {
    match (as_quantity(a), as_quantity(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

fn as_quantity(value: &Value) -> Option<Decimal> {
    match value {
        Value::String(s) => parse(s),
        Value::Number(n) => parse(&n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_forms_are_equal() {
        for (a, b) in [
            (json!("0.5"), json!("500m")),
            (json!(0.5), json!("500m")),
            (json!("1Gi"), json!("1024Mi")),
            (json!("1"), json!(1)),
            (json!("1000m"), json!("1")),
            (json!("1e3"), json!("1k")),
            (json!("1.5Gi"), json!("1536Mi")),
            (json!("2000M"), json!("2G")),
            (json!("100n"), json!("0.1u")),
            (json!("1E"), json!("1e18")),
            (json!("+1"), json!("1")),
        ] {
            assert!(equal(&a, &b), "{a} should equal {b}");
        }
    }

    #[test]
    fn different_amounts_differ() {
        for (a, b) in [
            (json!("1Gi"), json!("1G")),
            (json!("500m"), json!("0.6")),
            (json!("1Mi"), json!("1M")),
            (json!("2"), json!("2k")),
        ] {
            assert!(!equal(&a, &b), "{a} should differ from {b}");
        }
    }

    #[test]
    fn non_quantities_are_not_equal() {
        assert!(!equal(&json!("abc"), &json!("abc")));
        assert!(!equal(&json!("1.2.3"), &json!("1.2.3")));
        assert!(parse("1Xi").is_none());
        assert!(parse("").is_none());
        assert!(parse("e3").is_none());
        assert!(parse("99999999999999999999999Ei").is_none());
    }
}
