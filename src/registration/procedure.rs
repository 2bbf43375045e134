//! The LwM2M 1.1 registration procedure of one server (Core 1.1 §6.2.1.1, and the descriptions
//! of `/1/x/13` to `/1/x/20` in `models/1-1_2.xml`, quoted below as [XML /1/x/N]): when a
//! failed Register is tried again, and when the registration counts as failed.

use crate::accounts::RegistrationProcedure;

/// Communication Retry Count, Retry Timer, Sequence Delay Timer and Sequence Retry Count,
/// with the defaults of FACTS §1.10 for those absent (5, 60 s, 86400 s, 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPlan {
    /// "The number of successive communication attempts before which a communication
    /// sequence is considered as failed" [XML /1/x/17]; at least 1.
    attempts: u64,
    /// "The delay ... between successive communication attempts in a communication sequence.
    /// This value is multiplied by two to the power of the communication retry attempt minus
    /// one" [XML /1/x/18].
    timer_ms: u64,
    /// "The delay ... between successive communication sequences ... MAX_VALUE means do not
    /// perform another communication sequence" [XML /1/x/19]: `None` for MAX_VALUE.
    sequence_delay_ms: Option<u64>,
    /// "The number of successive communication sequences before which a registration attempt
    /// is considered as failed" [XML /1/x/20]; at least 1.
    sequences: u64,
}

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Try again after this many milliseconds.
    After(u64),
    /// The registration failed.
    GiveUp,
}

/// The resource value read as MAX_VALUE of an Unsigned Integer (the XML names no width; a
/// 32-bit one and anything larger count).
const MAX_VALUE: u64 = u32::MAX as u64;

impl RetryPlan {
    /// The plan the server's resources set; `None` when none of 17 to 20 is present, so that
    /// the device's own policy (`Config::registration_retry`) applies, as it does for 1.0.
    pub(crate) fn of(p: &RegistrationProcedure) -> Option<RetryPlan> {
        let any = [
            p.retry_count,
            p.retry_timer_s,
            p.sequence_delay_s,
            p.sequence_retry_count,
        ]
        .iter()
        .any(Option::is_some);
        any.then(|| RetryPlan {
            attempts: p.retry_count.unwrap_or(5).max(1),
            timer_ms: p.retry_timer_s.unwrap_or(60).saturating_mul(1000),
            sequence_delay_ms: match p.sequence_delay_s.unwrap_or(86_400) {
                s if s >= MAX_VALUE => None,
                s => Some(s.saturating_mul(1000)),
            },
            sequences: p.sequence_retry_count.unwrap_or(1).max(1),
        })
    }

    /// After `failures` failed attempts in a row (1 for the first), what comes next.
    pub(crate) fn after_failure(&self, failures: u32) -> Retry {
        let n = u64::from(failures.max(1));
        let in_sequence = (n - 1) % self.attempts + 1;
        let sequence = (n - 1) / self.attempts + 1;
        if in_sequence < self.attempts {
            // The first retry waits the timer, each next one twice the previous.
            let shift = u32::try_from(in_sequence - 1).unwrap_or(u32::MAX).min(32);
            return Retry::After(self.timer_ms.saturating_mul(1u64 << shift));
        }
        match self.sequence_delay_ms {
            Some(delay) if sequence < self.sequences => Retry::After(delay),
            _ => Retry::GiveUp,
        }
    }
}

/// The Initial Registration Delay Timer in milliseconds (0 if absent, FACTS §1.10).
pub(crate) fn initial_delay_ms(p: &RegistrationProcedure) -> u64 {
    p.initial_delay_s.unwrap_or(0).saturating_mul(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(count: u64, timer: u64, delay: u64, sequences: u64) -> RetryPlan {
        RetryPlan::of(&RegistrationProcedure {
            retry_count: Some(count),
            retry_timer_s: Some(timer),
            sequence_delay_s: Some(delay),
            sequence_retry_count: Some(sequences),
            ..RegistrationProcedure::default()
        })
        .unwrap()
    }

    #[test]
    fn retries_double_within_a_sequence_then_wait_the_sequence_delay_then_give_up() {
        let p = plan(3, 10, 500, 2);
        let steps: Vec<Retry> = (1..=6).map(|n| p.after_failure(n)).collect();
        assert_eq!(
            steps,
            [
                Retry::After(10_000),
                Retry::After(20_000),
                Retry::After(500_000), // the first sequence is over
                Retry::After(10_000),
                Retry::After(20_000),
                Retry::GiveUp, // the second and last
            ]
        );
    }

    #[test]
    fn absent_resources_take_the_recommended_defaults_and_none_at_all_no_plan() {
        assert_eq!(RetryPlan::of(&RegistrationProcedure::default()), None);
        let p = RetryPlan::of(&RegistrationProcedure {
            retry_timer_s: Some(2),
            ..RegistrationProcedure::default()
        })
        .unwrap();
        // 5 attempts: 4 retries at 2, 4, 8, 16 s; one sequence.
        let steps: Vec<Retry> = (1..=5).map(|n| p.after_failure(n)).collect();
        assert_eq!(
            steps,
            [
                Retry::After(2_000),
                Retry::After(4_000),
                Retry::After(8_000),
                Retry::After(16_000),
                Retry::GiveUp
            ]
        );
    }

    #[test]
    fn max_value_sequence_delay_means_no_further_sequence_and_zero_counts_as_one() {
        let p = plan(1, 10, u64::from(u32::MAX), 3);
        assert_eq!(p.after_failure(1), Retry::GiveUp);
        let p = plan(0, 10, 100, 0);
        assert_eq!(
            p.after_failure(1),
            Retry::GiveUp,
            "one attempt, one sequence"
        );
        let p = plan(u64::MAX, u64::MAX, 1, 1);
        assert_eq!(p.after_failure(40), Retry::After(u64::MAX), "saturating");
    }
}
