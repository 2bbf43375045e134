use super::*;
use alloc::string::String;

fn attrs(f: impl FnOnce(&mut Attributes)) -> Attributes {
    let mut a = Attributes::default();
    f(&mut a);
    a
}

/// Observe answered with `from` at t=0, the value changes to `to` at t=1000 with no periods set:
/// is a notification due right away?
fn notifies(a: &Attributes, from: f64, to: f64) -> bool {
    let mut s = Schedule::started(0, Some(from));
    s.changed(a, 1000, Some(to));
    match s.due(a, 1000) {
        Due::Notify => true,
        Due::Nothing => false,
        Due::Evaluate => panic!("no evaluation period set"),
    }
}

#[test]
fn transport_example_gt_45_st_10() {
    // Transport 1.2: /3/0/9?gt=45&st=10
    let a = attrs(|a| {
        a.gt = Some(45.0);
        a.st = Some(10.0);
    });
    assert!(notifies(&a, 45.0, 50.0), "45 -> 50: rises above gt");
    assert!(
        notifies(&a, 38.0, 49.0),
        "38 -> 49: rises above gt, steps 11"
    );
    assert!(
        !notifies(&a, 48.0, 42.0),
        "48 -> 42: falls through gt, steps 6"
    );
}

#[test]
fn transport_example_lt_20_gt_85_st_10() {
    // Transport 1.2: /3/0/9?lt=20&gt=85&st=10
    let a = attrs(|a| {
        a.lt = Some(20.0);
        a.gt = Some(85.0);
        a.st = Some(10.0);
    });
    assert!(notifies(&a, 75.0, 90.0), "75 -> 90: rises above gt");
    assert!(notifies(&a, 50.0, 10.0), "50 -> 10: falls below lt");
    assert!(notifies(&a, 87.0, 99.0), "87 -> 99: steps 12");
    assert!(
        !notifies(&a, 17.0, 24.0),
        "17 -> 24: rises through lt, steps 7"
    );
}

#[test]
fn each_value_condition_alone() {
    let gt = attrs(|a| a.gt = Some(45.0));
    assert!(notifies(&gt, 40.0, 45.5));
    assert!(!notifies(&gt, 40.0, 45.0), "reaching gt is not above it");
    assert!(!notifies(&gt, 50.0, 60.0), "already above");
    assert!(!notifies(&gt, 50.0, 40.0));
    let lt = attrs(|a| a.lt = Some(-5.0));
    assert!(notifies(&lt, -5.0, -5.5));
    assert!(!notifies(&lt, -6.0, -7.0));
    assert!(!notifies(&lt, -6.0, 0.0));
    let st = attrs(|a| a.st = Some(0.5));
    assert!(notifies(&st, 1.0, 1.5));
    assert!(notifies(&st, 1.0, 0.5));
    assert!(!notifies(&st, 1.0, 1.25));
}

#[test]
fn without_value_conditions_any_change_notifies() {
    let a = Attributes::default();
    assert!(notifies(&a, 1.0, 1.5));
    // A numeric value written again unchanged is no change.
    assert!(!notifies(&a, 1.0, 1.0));
    // Non-numeric or composite targets: the caller's word that something changed.
    let mut s = Schedule::started(0, None);
    s.changed(&a, 10, None);
    assert_eq!(s.due(&a, 10), Due::Notify);
}

#[test]
fn step_counts_from_the_last_notified_value() {
    let a = attrs(|a| {
        a.st = Some(10.0);
        a.pmin = Some(1);
    });
    let mut s = Schedule::started(0, Some(40.0));
    s.changed(&a, 100, Some(45.0));
    s.changed(&a, 200, Some(49.0));
    assert!(!s.is_pending());
    s.changed(&a, 300, Some(50.0));
    assert!(s.is_pending());
    assert_eq!(s.next_deadline(&a), Some(1000));
}

#[test]
fn crossing_counts_from_the_previous_value() {
    let a = attrs(|a| a.gt = Some(45.0));
    let mut s = Schedule::started(0, Some(50.0));
    s.changed(&a, 100, Some(40.0));
    assert_eq!(s.due(&a, 100), Due::Nothing);
    s.changed(&a, 200, Some(50.0));
    assert_eq!(s.due(&a, 200), Due::Notify);
}

#[test]
fn pmin_holds_a_change_until_exactly_last_plus_pmin() {
    let a = attrs(|a| a.pmin = Some(10));
    let mut s = Schedule::started(1_000, Some(1.0));
    assert_eq!(s.next_deadline(&a), None);
    s.changed(&a, 3_000, Some(2.0));
    s.changed(&a, 4_000, Some(3.0));
    assert_eq!(s.next_deadline(&a), Some(11_000));
    assert_eq!(s.due(&a, 3_000), Due::Nothing);
    assert_eq!(s.due(&a, 10_999), Due::Nothing);
    assert_eq!(s.due(&a, 11_000), Due::Notify);
    // The caller sends the latest value; timers restart from this notification.
    s.notified(11_000, Some(3.0));
    assert_eq!(s.next_deadline(&a), None);
    assert_eq!(s.due(&a, 50_000), Due::Nothing);
    // A change after pmin has elapsed is due at once (its deadline is already past).
    s.changed(&a, 30_000, Some(4.0));
    assert_eq!(s.next_deadline(&a), Some(21_000));
    assert_eq!(s.due(&a, 30_000), Due::Notify);
}

#[test]
fn a_held_change_stays_pending_even_if_it_reverts() {
    // The change happened; at pmin the caller sends the then-current value.
    let a = attrs(|a| {
        a.pmin = Some(5);
        a.gt = Some(45.0);
    });
    let mut s = Schedule::started(0, Some(40.0));
    s.changed(&a, 1_000, Some(50.0));
    s.changed(&a, 2_000, Some(42.0));
    assert_eq!(s.due(&a, 5_000), Due::Notify);
}

#[test]
fn pmax_forces_a_notification_at_exactly_last_plus_pmax() {
    let a = attrs(|a| a.pmax = Some(60));
    let mut s = Schedule::started(500, Some(7.0));
    assert_eq!(s.next_deadline(&a), Some(60_500));
    assert_eq!(s.due(&a, 60_499), Due::Nothing);
    assert_eq!(s.due(&a, 60_500), Due::Notify);
    s.notified(60_700, Some(7.0));
    assert_eq!(s.next_deadline(&a), Some(120_700));
    // A change restarts nothing by itself, but its notification does.
    s.changed(&a, 70_000, Some(8.0));
    assert_eq!(s.due(&a, 70_000), Due::Notify);
    s.notified(70_000, Some(8.0));
    assert_eq!(s.next_deadline(&a), Some(130_000));
}

#[test]
fn pmax_with_pmin() {
    let a = attrs(|a| {
        a.pmin = Some(10);
        a.pmax = Some(10);
    });
    let mut s = Schedule::started(0, None);
    assert_eq!(s.next_deadline(&a), Some(10_000));
    s.changed(&a, 1, None);
    assert_eq!(s.next_deadline(&a), Some(10_000));
    assert_eq!(s.due(&a, 9_999), Due::Nothing);
    assert_eq!(s.due(&a, 10_000), Due::Notify);
}

#[test]
fn pmax_below_pmin_or_zero_is_ignored() {
    for a in [
        attrs(|a| {
            a.pmin = Some(10);
            a.pmax = Some(5);
        }),
        attrs(|a| a.pmax = Some(0)),
    ] {
        let mut s = Schedule::started(0, Some(1.0));
        assert_eq!(s.next_deadline(&a), None, "{a:?}");
        assert_eq!(s.due(&a, u64::MAX), Due::Nothing);
        s.changed(&a, 1, Some(2.0));
        let expect = u64::from(a.pmin.unwrap_or(0)) * 1000;
        assert_eq!(s.next_deadline(&a), Some(expect));
    }
}

#[test]
fn epmax_asks_for_an_evaluation() {
    let a = attrs(|a| {
        a.epmax = Some(30);
        a.pmax = Some(300);
    });
    let mut s = Schedule::started(0, Some(20.0));
    assert_eq!(s.next_deadline(&a), Some(30_000));
    assert_eq!(s.due(&a, 29_999), Due::Nothing);
    assert_eq!(s.due(&a, 30_000), Due::Evaluate);
    // Same value: nothing to send, the next evaluation is epmax later.
    s.evaluated(&a, 30_000, Some(20.0));
    assert_eq!(s.due(&a, 30_000), Due::Nothing);
    assert_eq!(s.next_deadline(&a), Some(60_000));
    // A new value: notified at once (pmin 0); the notification is an evaluation too.
    s.evaluated(&a, 60_000, Some(21.0));
    assert_eq!(s.due(&a, 60_000), Due::Notify);
    s.notified(60_100, Some(21.0));
    assert_eq!(s.next_deadline(&a), Some(90_100));
    // A non-numeric target re-read with nothing reported changed: no notification.
    let mut t = Schedule::started(0, None);
    t.evaluated(&a, 30_000, None);
    assert_eq!(t.due(&a, 30_000), Due::Nothing);
}

#[test]
fn epmin_defers_the_evaluation_of_a_change() {
    let a = attrs(|a| a.epmin = Some(5));
    let mut s = Schedule::started(0, Some(1.0));
    s.changed(&a, 1_000, Some(2.0));
    assert_eq!(s.due(&a, 1_000), Due::Nothing);
    assert_eq!(s.next_deadline(&a), Some(5_000));
    assert_eq!(s.due(&a, 4_999), Due::Nothing);
    assert_eq!(s.due(&a, 5_000), Due::Evaluate);
    s.evaluated(&a, 5_000, Some(3.0));
    assert_eq!(s.due(&a, 5_000), Due::Notify);
    s.notified(5_000, Some(3.0));
    // After epmin, a change is evaluated when it is reported.
    s.changed(&a, 10_000, Some(4.0));
    assert_eq!(s.due(&a, 10_000), Due::Notify);
    // A deferred change on a non-numeric target counts as a change when evaluated.
    let mut t = Schedule::started(0, None);
    t.changed(&a, 1, None);
    assert_eq!(t.due(&a, 5_000), Due::Evaluate);
    t.evaluated(&a, 5_000, None);
    assert_eq!(t.due(&a, 5_000), Due::Notify);
}

#[test]
fn epmax_below_epmin_is_ignored() {
    let a = attrs(|a| {
        a.epmin = Some(10);
        a.epmax = Some(5);
    });
    let s = Schedule::started(0, Some(1.0));
    assert_eq!(s.next_deadline(&a), None);
}

#[test]
fn notify_wins_over_evaluate() {
    let a = attrs(|a| {
        a.pmax = Some(30);
        a.epmax = Some(30);
    });
    let s = Schedule::started(0, Some(1.0));
    assert_eq!(s.next_deadline(&a), Some(30_000));
    assert_eq!(s.due(&a, 30_000), Due::Notify);
}

#[test]
fn deadlines_saturate_near_the_end_of_time() {
    let a = attrs(|a| {
        a.pmin = Some(u32::MAX);
        a.pmax = Some(u32::MAX);
        a.epmax = Some(u32::MAX);
    });
    let mut s = Schedule::started(u64::MAX - 10, Some(1.0));
    assert_eq!(s.next_deadline(&a), Some(u64::MAX));
    assert_eq!(s.due(&a, u64::MAX - 1), Due::Nothing);
    assert_eq!(s.due(&a, u64::MAX), Due::Notify);
    s.changed(&a, u64::MAX, Some(2.0));
    assert_eq!(s.next_deadline(&a), Some(u64::MAX));
    // The largest periods from time 0 are exact: u32::MAX seconds in ms fits a u64.
    let s = Schedule::started(0, None);
    assert_eq!(s.next_deadline(&a), Some(u64::from(u32::MAX) * 1000));
    // A clock that went backwards is not due early and does not panic.
    let s = Schedule::started(5_000, None);
    let b = attrs(|a| a.pmax = Some(1));
    assert_eq!(s.due(&b, 0), Due::Nothing);
    assert_eq!(s.next_deadline(&b), Some(6_000));
}

#[test]
fn odd_values_do_not_panic() {
    let a = attrs(|a| {
        a.gt = Some(1.0);
        a.st = Some(1.0);
    });
    let mut s = Schedule::started(0, Some(f64::NAN));
    s.changed(&a, 1, Some(f64::INFINITY));
    s.changed(&a, 2, Some(f64::NAN));
    s.changed(&a, 3, None);
    assert_eq!(s.due(&a, 3), Due::Notify);
}

#[test]
fn numeric_values() {
    assert_eq!(numeric(&Value::Integer(-3)), Some(-3.0));
    assert_eq!(numeric(&Value::Unsigned(7)), Some(7.0));
    assert_eq!(numeric(&Value::Float(0.25)), Some(0.25));
    assert_eq!(numeric(&Value::Time(1_700_000_000)), Some(1.7e9));
    assert_eq!(numeric(&Value::Boolean(true)), None);
    assert_eq!(numeric(&Value::String(String::from("1"))), None);
    assert_eq!(numeric(&Value::Opaque(alloc::vec![1])), None);
    assert_eq!(numeric(&Value::Objlnk(1, 2)), None);
    assert_eq!(numeric(&Value::Corelnk(String::new())), None);
}
