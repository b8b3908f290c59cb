//! Words for what the tool prints.

/// `n` and the noun, in the singular for one: "1 epoch", "3 epochs".
pub fn count(n: impl Into<u128>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// "1 row repeats" or "N rows repeat": the subject and verb for `n`
/// duplicate rows.
pub fn repeats(n: u64) -> String {
    match n {
        1 => "1 row repeats".into(),
        _ => format!("{n} rows repeat"),
    }
}

/// `x` with three significant digits (all of an integer part) and no
/// trailing zeros, as a value to type: "0.002" (not 0.0019999999), "0.1", "1000", "1.23e-7".
pub fn short(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let mag = x.abs().log10().floor() as i32;
    if !(-5..=6).contains(&mag) {
        return format!("{x:.2e}");
    }
    let s = format!("{:.*}", (2 - mag).max(0) as usize, x);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::{count, short};

    #[test]
    fn one_repeated_row_repeats_and_more_repeat() {
        assert_eq!(super::repeats(1), "1 row repeats");
        assert_eq!(super::repeats(3), "3 rows repeat");
    }

    #[test]
    fn short_decimals_are_three_digits_without_trailing_zeros() {
        assert_eq!(short(0.002f32 as f64), "0.002");
        assert_eq!(short(0.0019999999), "0.002");
        assert_eq!(short(0.1), "0.1");
        assert_eq!(short(100.0), "100");
        assert_eq!(short(1234.6), "1235");
        assert_eq!(short(0.000_123_4), "0.000123");
        assert_eq!(short(1.5e-9), "1.50e-9");
        assert_eq!(short(-0.25), "-0.25");
    }

    #[test]
    fn one_is_singular_and_the_rest_plural() {
        assert_eq!(count(1u32, "epoch"), "1 epoch");
        assert_eq!(count(0u32, "rating"), "0 ratings");
        assert_eq!(count(100_836u64, "rating"), "100836 ratings");
    }
}
