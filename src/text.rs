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

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn one_is_singular_and_the_rest_plural() {
        assert_eq!(count(1u32, "epoch"), "1 epoch");
        assert_eq!(count(0u32, "rating"), "0 ratings");
        assert_eq!(count(100_836u64, "rating"), "100836 ratings");
    }
}
