//! Window lengths (`"500ms"`, `"1s"`, `"10s"`, `"1m"`, `"1h"`) and the arithmetic of the
//! gateway's fixed windows, which are aligned to the Unix epoch: a `"1m"` window turns
//! over on every wall-clock minute.

/// `"<whole number><ms|s|m|h>"` → milliseconds, 1 ms to `u32::MAX` ms (49.7 days).
pub(crate) fn parse(text: &str) -> Result<u32, String> {
    let invalid =
        || format!("{text:?} is not a duration: use a whole number with ms, s, m or h, such as \"1s\" or \"10m\"");
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let scale: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(invalid()),
    };
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let ms = number.checked_mul(scale).ok_or_else(invalid)?;
    if ms == 0 {
        return Err(format!("{text:?} is empty: a window lasts at least 1ms"));
    }
    u32::try_from(ms).map_err(|_| format!("{text:?} is too long: at most {}h", u32::MAX / 3_600_000))
}

/// When the window holding `now_ms` ends.
pub(crate) fn end(now_ms: u64, window_ms: u32) -> u64 {
    let window = u64::from(window_ms);
    now_ms - now_ms % window + window
}

/// Whole seconds from `now_ms` until `end_ms`, rounded up (0 once it has passed).
pub(crate) fn seconds_until(end_ms: u64, now_ms: u64) -> u64 {
    end_ms.saturating_sub(now_ms).div_ceil(1000)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_whole_numbers_with_a_unit() {
        assert_eq!(parse("250ms"), Ok(250));
        assert_eq!(parse("1s"), Ok(1_000));
        assert_eq!(parse("10s"), Ok(10_000));
        assert_eq!(parse("1m"), Ok(60_000));
        assert_eq!(parse("1h"), Ok(3_600_000));
        assert_eq!(parse("24h"), Ok(86_400_000));
    }

    #[test]
    fn rejects_what_is_not_a_window() {
        for text in ["", "1", "s", "1.5s", "-1s", "1 s", "1S", "1d", "1sec", " 1s"] {
            assert!(parse(text).unwrap_err().contains("is not a duration"), "{text:?}");
        }
        assert_eq!(parse("0s"), Err("\"0s\" is empty: a window lasts at least 1ms".into()));
        assert_eq!(parse("1200h"), Err("\"1200h\" is too long: at most 1193h".into()));
        assert!(parse("99999999999999999999h").unwrap_err().contains("is not a duration"));
    }

    #[test]
    fn windows_align_to_the_epoch() {
        assert_eq!(end(60_000, 60_000), 120_000);
        assert_eq!(end(119_999, 60_000), 120_000);
        assert_eq!(end(1_700_000_000_250, 1_000), 1_700_000_001_000);
    }

    #[test]
    fn seconds_round_up() {
        assert_eq!(seconds_until(1_000, 0), 1);
        assert_eq!(seconds_until(1_000, 999), 1);
        assert_eq!(seconds_until(1_001, 0), 2);
        assert_eq!(seconds_until(60_000, 15_500), 45);
        assert_eq!(seconds_until(1_000, 1_000), 0);
        assert_eq!(seconds_until(1_000, 2_000), 0);
    }
}
