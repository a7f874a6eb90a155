//! The numeric conversions a JavaScript or Wasm engine applies to `Atomics` arguments before
//! they reach the typed Rust API.

use std::time::Duration;

use super::error::AtomicsError;

/// 2^53 − 1, the largest index `ToIndex` accepts.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;
/// 2^63 as an `f64`.
const TWO_63: f64 = 9_223_372_036_854_775_808.0;
/// 2^64 as an `f64`.
const TWO_64: f64 = 18_446_744_073_709_551_616.0;

/// JavaScript's `ToIndex` on a Number: `NaN` is 0, fractions are truncated, negatives and
/// values above 2^53 − 1 are a `RangeError`.
///
/// ```
/// use agentsync::memory::to_index;
/// assert_eq!(to_index(3.7), Ok(3));
/// assert_eq!(to_index(f64::NAN), Ok(0));
/// assert_eq!(to_index(-0.5), Ok(0)); // truncates to -0, which is 0
/// assert!(to_index(-1.0).is_err());
/// assert!(to_index(f64::INFINITY).is_err());
/// ```
///
/// # Errors
/// [`AtomicsError::InvalidIndex`] with the value given.
pub fn to_index(value: f64) -> Result<usize, AtomicsError> {
    let integer = if value.is_nan() { 0.0 } else { value.trunc() };
    if !(0.0..=MAX_SAFE_INTEGER).contains(&integer) {
        return Err(AtomicsError::InvalidIndex { value });
    }
    // Saturates on 32-bit targets, where such an index is past every view anyway.
    Ok(integer as usize)
}

/// The timeout of `Atomics.wait` / `waitAsync` from JavaScript milliseconds: `NaN` and +∞
/// (and `undefined`, which is `NaN`) wait forever (`None`); negative values and −∞ are 0;
/// otherwise that many milliseconds, fractions kept. Values too large for a `Duration` wait
/// forever too.
///
/// ```
/// use agentsync::memory::timeout_from_ms;
/// use std::time::Duration;
/// assert_eq!(timeout_from_ms(f64::NAN), None);
/// assert_eq!(timeout_from_ms(f64::INFINITY), None);
/// assert_eq!(timeout_from_ms(-5.0), Some(Duration::ZERO));
/// assert_eq!(timeout_from_ms(1.5), Some(Duration::from_micros(1500)));
/// assert_eq!(timeout_from_ms(1e300), None);
/// ```
pub fn timeout_from_ms(ms: f64) -> Option<Duration> {
    if ms.is_nan() {
        return None;
    }
    if ms <= 0.0 {
        return Some(Duration::ZERO);
    }
    // +∞ and values beyond `Duration::MAX` fail here: both mean forever.
    Duration::try_from_secs_f64(ms / 1000.0).ok()
}

/// The timeout of Wasm's `memory.atomic.wait32` / `wait64`: nanoseconds, negative never
/// expires.
///
/// ```
/// use agentsync::memory::timeout_from_ns;
/// use std::time::Duration;
/// assert_eq!(timeout_from_ns(-1), None);
/// assert_eq!(timeout_from_ns(0), Some(Duration::ZERO));
/// assert_eq!(timeout_from_ns(1_500), Some(Duration::from_nanos(1_500)));
/// ```
pub fn timeout_from_ns(ns: i64) -> Option<Duration> {
    u64::try_from(ns).ok().map(Duration::from_nanos)
}

/// The count of `Atomics.notify` from an optional JavaScript Number: absent is all
/// (`usize::MAX`); otherwise truncated toward zero and clamped at 0 (`NaN` and negatives wake
/// nobody), +∞ is all.
///
/// ```
/// use agentsync::memory::notify_count_from_f64;
/// assert_eq!(notify_count_from_f64(None), usize::MAX);
/// assert_eq!(notify_count_from_f64(Some(2.9)), 2);
/// assert_eq!(notify_count_from_f64(Some(f64::NAN)), 0);
/// assert_eq!(notify_count_from_f64(Some(-3.0)), 0);
/// assert_eq!(notify_count_from_f64(Some(f64::INFINITY)), usize::MAX);
/// ```
pub fn notify_count_from_f64(count: Option<f64>) -> usize {
    match count {
        None => usize::MAX,
        // `as` saturates: NaN → 0, negative → 0, +∞ and huge → usize::MAX.
        Some(count) => count.trunc() as usize,
    }
}

/// A JavaScript Number as an integer modulo 2^64: `NaN` and ±∞ are 0, fractions are
/// truncated. Passing the result to an `Atomics` operation gives exactly JavaScript's
/// `ToInt8` … `ToUint32` of the Number, since those only keep the low bits.
///
/// ```
/// use agentsync::memory::wrap_number;
/// assert_eq!(wrap_number(-1.9), -1);
/// assert_eq!(wrap_number(f64::NAN), 0);
/// assert_eq!(wrap_number(4294967301.0) as u32, 5); // 2^32 + 5
/// assert_eq!(wrap_number(1e20) as u32, 1661992960); // ToUint32(1e20)
/// ```
pub fn wrap_number(value: f64) -> i64 {
    if !value.is_finite() {
        return 0;
    }
    // `%` on f64 is exact: the remainder is the integer part modulo 2^64, with its sign.
    let rest = value.trunc() % TWO_64;
    if rest >= TWO_63 {
        (rest - TWO_64) as i64
    } else if rest < -TWO_63 {
        (rest + TWO_64) as i64
    } else {
        rest as i64
    }
}
