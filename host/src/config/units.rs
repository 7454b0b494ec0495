//! Sizes (`"64KiB"`) and durations (`"250ms"`) as written in the config file.
//!
//! The serde adapters check values inside their visitors on purpose: toml attaches the
//! value's line and column only to errors raised while the value is being visited.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};

const SIZE_HELP: &str = "expected a byte count such as 65536 or a string such as \"64KiB\" \
                         (units: B, KiB or k, MiB or m, GiB or g)";
const DURATION_HELP: &str = "expected a string such as \"10s\" or \"250ms\" (units: ms, s, m, h)";

/// Parses `"512B"`, `"64KiB"`, `"64k"`, `"1MiB"`, `"2g"` or plain digits (bytes).
/// Units are case-insensitive and binary: `k` is 1024, never 1000.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let invalid = || format!("invalid size {text:?}: {SIZE_HELP}");
    let (number, unit) = split_number(text).ok_or_else(invalid)?;
    let scale: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        _ => return Err(invalid()),
    };
    number.parse::<u64>().ok().and_then(|n| n.checked_mul(scale)).ok_or_else(|| format!("size {text:?} is too large"))
}

/// Parses `"250ms"`, `"10s"`, `"2m"` or `"1h"`. A bare number is refused: whether `10`
/// meant seconds or milliseconds is exactly the mistake we want the user to resolve.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = split_number(text).ok_or_else(|| format!("invalid duration {text:?}: {DURATION_HELP}"))?;
    if unit.is_empty() {
        return Err(missing_unit(text));
    }
    let millis_per_unit: u64 = match unit.to_ascii_lowercase().as_str() {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(format!("invalid duration {text:?}: {DURATION_HELP}")),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(millis_per_unit))
        .map(Duration::from_millis)
        .ok_or_else(|| format!("duration {text:?} is too large"))
}

fn missing_unit(number: impl fmt::Display) -> String {
    format!("duration {number} has no unit; add one, e.g. \"{number}s\" or \"{number}ms\"")
}

/// Splits `"64 KiB"` into `("64", "KiB")`; `None` when there are no leading digits.
fn split_number(text: &str) -> Option<(&str, &str)> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let (number, rest) = text.split_at(digits);
    Some((number, rest.trim_start_matches(' ')))
}

// === serde adapters ===

/// A size that must fit `T` (`usize` for in-memory buffers, `u64` for streamed bodies).
pub(crate) fn size<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    deserializer.deserialize_any(SizeVisitor(PhantomData))
}

/// A bytes-per-second rate where 0 means "off".
pub(crate) fn rate<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    let bytes: u64 = size(deserializer)?;
    Ok((bytes > 0).then_some(bytes))
}

pub(crate) fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    deserializer.deserialize_any(DurationVisitor)
}

/// For keys that fall back to another value when absent (`#[serde(default)]` gives `None`).
pub(crate) fn some_duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    duration(deserializer).map(Some)
}

pub(crate) fn some_size<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<usize>, D::Error> {
    size(deserializer).map(Some)
}

/// The `Via` pseudonym: `""` turns the header off. Checked here because the value is
/// written into a header verbatim, so CR/LF or spaces would corrupt the request.
pub(crate) fn via<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    deserializer.deserialize_str(ViaVisitor)
}

struct SizeVisitor<T>(PhantomData<T>);

impl<T: TryFrom<u64>> Visitor<'_> for SizeVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a size such as 65536 or \"64KiB\"")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        let v = u64::try_from(v).map_err(|_| E::custom(format!("size {v} must not be negative")))?;
        self.visit_u64(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::custom(format!("size {v} is too large")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        self.visit_u64(parse_size(v).map_err(E::custom)?)
    }
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as \"10s\" or \"250ms\"")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        Err(E::custom(missing_unit(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        Err(E::custom(missing_unit(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        parse_duration(v).map_err(E::custom)
    }
}

struct ViaVisitor;

impl Visitor<'_> for ViaVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a pseudonym string such as \"portcullis\", or \"\" to omit `Via`")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<String>, E> {
        if v.is_empty() {
            return Ok(None);
        }
        if !v.bytes().all(|b| crate::http1::framing::is_tchar(b) || b":[]".contains(&b)) {
            return Err(E::custom(format!("invalid `Via` pseudonym {v:?}: use letters, digits and -._ (no spaces)")));
        }
        Ok(Some(v.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sizes_accept_plain_and_binary_units_case_insensitively() {
        for (text, bytes) in [
            ("0", 0),
            ("512", 512),
            ("512B", 512),
            ("512b", 512),
            ("64KiB", 65_536),
            ("64kib", 65_536),
            ("64k", 65_536),
            ("64K", 65_536),
            ("64 KiB", 65_536),
            ("1MiB", 1 << 20),
            ("1m", 1 << 20),
            ("2GiB", 2 << 30),
            ("2g", 2 << 30),
        ] {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
    }

    #[test]
    fn sizes_reject_unknown_units_fractions_and_overflow() {
        for text in ["", "KiB", "64KB", "64 kilobytes", "1.5MiB", "-1", "64KiB ", " 64"] {
            let err = parse_size(text).unwrap_err();
            assert!(err.starts_with("invalid size"), "{text}: {err}");
        }
        assert_eq!(parse_size("99999999999999GiB").unwrap_err(), "size \"99999999999999GiB\" is too large");
    }

    #[test]
    fn durations_accept_ms_s_m_h() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("10S"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn durations_demand_a_unit() {
        assert_eq!(parse_duration("10").unwrap_err(), "duration 10 has no unit; add one, e.g. \"10s\" or \"10ms\"");
        for text in ["", "s", "10 sec", "1.5s", "10d", "1h30m"] {
            let err = parse_duration(text).unwrap_err();
            assert!(err.starts_with("invalid duration"), "{text}: {err}");
        }
    }
}
