//! Durations on the command line, humantime-style: a sequence of numbers
//! with units (`ms`, `s`, `m`, `h`, `d`), e.g. `90s`, `10m`, `1h30m`.

use std::time::Duration;

/// Parses `text` (`60s`, `10m`, `1h`, `1h30m`, `500ms`).
pub fn parse(text: &str) -> Result<Duration, String> {
    let bad = |why: &str| format!("bad duration `{text}`: {why} (e.g. 60s, 10m, 1h, 1h30m)");
    let s = text.trim();
    if s.is_empty() {
        return Err(bad("empty"));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad("expected a number"));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| bad("number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.chars().take_while(char::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = rest[unit_len..].trim_start();
        let ms_per: u64 = match unit {
            "ms" => 1,
            "s" | "sec" | "secs" => 1000,
            "m" | "min" | "mins" => 60_000,
            "h" | "hr" | "hrs" => 3_600_000,
            "d" => 86_400_000,
            "" => return Err(bad("a number needs a unit")),
            _ => return Err(bad(&format!("unknown unit `{unit}`"))),
        };
        let ms = n.checked_mul(ms_per).ok_or_else(|| bad("too long"))?;
        total = total
            .checked_add(Duration::from_millis(ms))
            .ok_or_else(|| bad("too long"))?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_humantime() {
        assert_eq!(parse("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        for bad in ["", "10", "m", "10x", "-1s", "1.5h"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
