//! Parsing of the human units the configuration accepts: durations (`90s`, `30m`, `1h30m`),
//! Docker-style sizes (`16g` = `16GiB`: k/m/g/t are powers of 1024, as `docker run --shm-size`
//! reads them) and token counts (`1K` = 1024 tokens). Errors are plain strings that say what
//! forms are accepted; callers add the file, line and field.

use std::time::Duration;

/// A duration: `500ms`, `90s`, `30m`, `1h30m`, `2d`, or a plain integer of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "`{s}` is not a duration; use e.g. 90s, 30m, 1h30m (units ms, s, m, h, d) or plain seconds"
        )
    };
    let t = s.trim();
    if t.is_empty() {
        return Err(bad());
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse::<u64>().map(Duration::from_secs).map_err(|_| bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.checked_mul(60).ok_or_else(bad)?),
            "h" => Duration::from_secs(n.checked_mul(3600).ok_or_else(bad)?),
            "d" => Duration::from_secs(n.checked_mul(86_400).ok_or_else(bad)?),
            _ => return Err(bad()),
        };
        total = total.checked_add(part).ok_or_else(bad)?;
    }
    Ok(total)
}

/// A byte size as Docker reads `--shm-size`: a plain integer is bytes; suffixes `k`, `m`, `g`,
/// `t` (also `kb`/`kib`, `mb`/`mib`, …; any case) are powers of 1024, so `16g` = `16GiB`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "`{s}` is not a size; use e.g. 16g, 16GiB, 512m or plain bytes (k/m/g/t = powers of 1024, as Docker reads them)"
        )
    };
    let t = s.trim().to_ascii_lowercase();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(bad());
    }
    let n: u64 = t[..digits].parse().map_err(|_| bad())?;
    let power = match t[digits..].trim_start() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 1,
        "m" | "mb" | "mib" => 2,
        "g" | "gb" | "gib" => 3,
        "t" | "tb" | "tib" => 4,
        _ => return Err(bad()),
    };
    n.checked_mul(1u64 << (10 * power)).ok_or_else(bad)
}

/// A token count: a plain integer, or `<n>K` with K = 1024 tokens (`1K` = 1024, `96K` = 98304).
pub fn parse_token_count(s: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "`{s}` is not a token count; use an integer or <n>K with K = 1024 tokens (1K, 4K, 96K)"
        )
    };
    let t = s.trim();
    let (num, mult) = match t.strip_suffix(['K', 'k']) {
        Some(n) => (n, 1024),
        None => (t, 1),
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1800"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration(" 45s "), Ok(Duration::from_secs(45)));
        for bad in [
            "",
            "m",
            "30x",
            "1.5h",
            "h1",
            "-5s",
            "30 m",
            "99999999999999999999h",
        ] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.contains("not a duration"), "{bad}: {e}");
        }
    }

    #[test]
    fn sizes_are_binary_like_docker() {
        assert_eq!(parse_size("16g"), Ok(16 << 30));
        assert_eq!(parse_size("16GiB"), Ok(16 << 30));
        assert_eq!(parse_size("16GB"), Ok(16 << 30));
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("1t"), Ok(1 << 40));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("17179869184"), Ok(16 << 30));
        for bad in ["", "g", "16x", "1.5g", "-1g", "99999999999t"] {
            assert!(parse_size(bad).unwrap_err().contains("not a size"), "{bad}");
        }
    }

    #[test]
    fn token_counts_count_k_as_1024() {
        assert_eq!(parse_token_count("1K"), Ok(1024));
        assert_eq!(parse_token_count("4K"), Ok(4096));
        assert_eq!(parse_token_count("96K"), Ok(98_304));
        assert_eq!(parse_token_count("8k"), Ok(8192));
        assert_eq!(parse_token_count("1000"), Ok(1000));
        for bad in ["", "K", "1.5K", "1M", "-1", "1KK", "x"] {
            assert!(
                parse_token_count(bad).unwrap_err().contains("K = 1024"),
                "{bad}"
            );
        }
    }
}
