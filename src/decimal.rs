//! Integers written as decimal text without `core::fmt` (issue 15: `format!` costs a few
//! hundred instructions and an allocation per number on paths that run for every request, such
//! as the Register queries and the paths of a Discover).

/// The decimal text of an integer, held on the stack: up to 20 digits and a sign.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decimal {
    buf: [u8; 21],
    start: usize,
}

impl Decimal {
    /// `n` in decimal, `-` first when negative.
    pub(crate) fn of(n: i64) -> Decimal {
        let mut d = Decimal::of_unsigned(n.unsigned_abs());
        if n < 0 {
            d.start -= 1;
            if let Some(sign) = d.buf.get_mut(d.start) {
                *sign = b'-';
            }
        }
        d
    }

    /// `n` in decimal (`u64::MAX` has 20 digits).
    pub(crate) fn of_unsigned(mut n: u64) -> Decimal {
        let mut d = Decimal {
            buf: [0; 21],
            start: 21,
        };
        loop {
            d.start -= 1;
            if let Some(digit) = d.buf.get_mut(d.start) {
                *digit = b'0' + (n % 10) as u8;
            }
            n /= 10;
            // At most 20 digits: byte 0 always stays free for a sign.
            if n == 0 {
                return d;
            }
        }
    }

    /// The digits (and sign) as bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    /// The digits (and sign) as text.
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits and '-' are ever written.
        core::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn writes_what_display_writes() {
        let mut values = alloc::vec![
            0i64,
            1,
            -1,
            9,
            10,
            99,
            100,
            65535,
            86400,
            i64::MAX,
            i64::MIN + 1
        ];
        values.extend((0..64).map(|shift| 1i64.wrapping_shl(shift).wrapping_sub(1)));
        values.extend((0..19).map(|e| 10i64.pow(e)));
        for n in values {
            assert_eq!(Decimal::of(n).as_bytes(), n.to_string().as_bytes(), "{n}");
            assert_eq!(
                Decimal::of(-n).as_bytes(),
                (-n).to_string().as_bytes(),
                "{n}"
            );
        }
        for n in [
            0u64,
            7,
            5683,
            u64::from(u32::MAX),
            10u64.pow(18),
            10u64.pow(19),
            u64::MAX,
        ] {
            assert_eq!(Decimal::of_unsigned(n).as_bytes(), n.to_string().as_bytes());
        }
        assert_eq!(Decimal::of(i64::MIN).as_str(), "-9223372036854775808");
    }
}
