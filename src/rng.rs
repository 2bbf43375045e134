//! A small deterministic PRNG (SplitMix64) for tokens, message-ID starts and jitter.
//!
//! The core must not read OS entropy (sans-I/O, DESIGN §1), so the caller seeds it: adapters
//! from the OS, tests with a fixed seed so that every run is reproducible. Not for key material.

/// A SplitMix64 generator; the `u64` is its state. Same seed, same sequence.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator starting from `seed` (any value, zero included).
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi` (returns `lo` when the range is empty).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        let span = hi - lo + 1;
        lo + self.next_u64() % span
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn deterministic_and_in_range() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..100 {
            let x = a.range(2000, 3000);
            assert_eq!(x, b.range(2000, 3000));
            assert!((2000..=3000).contains(&x));
        }
        assert_eq!(a.range(5, 5), 5);
    }
}
