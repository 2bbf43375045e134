use super::*;
use alloc::vec;

fn q(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

fn parse(parts: &[&str]) -> Result<AttributeWrite, AttrError> {
    parse_query(&q(parts))
}

fn write(parts: &[&str]) -> AttributeWrite {
    match parse(parts) {
        Ok(w) => w,
        Err(e) => panic!("{parts:?} refused: {e}"),
    }
}

// --- parsing -------------------------------------------------------------------------------

#[test]
fn parses_every_period() {
    let w = write(&["pmin=10", "pmax=60", "epmin=1", "epmax=4294967295"]);
    assert_eq!(w.pmin, Edit::Set(10));
    assert_eq!(w.pmax, Edit::Set(60));
    assert_eq!(w.epmin, Edit::Set(1));
    assert_eq!(w.epmax, Edit::Set(u32::MAX));
    assert_eq!(w.gt, Edit::Unchanged);
    // 1*DIGIT allows leading zeros and zero itself.
    assert_eq!(write(&["pmin=007"]).pmin, Edit::Set(7));
    assert_eq!(write(&["pmax=0"]).pmax, Edit::Set(0));
}

#[test]
fn refuses_bad_periods() {
    for bad in [
        "pmin=",
        "pmin=-1",
        "pmin=+1",
        "pmin=1.5",
        "pmin=1e3",
        "pmin= 1",
        "pmin=1 ",
        "pmin=abc",
        "pmin=4294967296",
        "pmax=99999999999999999999",
        "epmin=x",
        "epmax=-0",
    ] {
        match parse(&[bad]) {
            Err(AttrError::BadValue { .. }) => {}
            other => panic!("{bad}: {other:?}"),
        }
    }
    assert_eq!(
        parse(&["pmin=4294967296"]),
        Err(AttrError::BadValue {
            name: "pmin",
            value: "4294967296".to_string()
        })
    );
}

#[test]
fn parses_thresholds() {
    let w = write(&["gt=45", "lt=-20.5", "st=0.5"]);
    assert_eq!(w.gt, Edit::Set(45.0));
    assert_eq!(w.lt, Edit::Set(-20.5));
    assert_eq!(w.st, Edit::Set(0.5));
    // What Leshan sends for a Java double.
    assert_eq!(write(&["gt=45.0"]).gt, Edit::Set(45.0));
    assert_eq!(write(&["lt=0"]).lt, Edit::Set(0.0));
    assert_eq!(write(&["st=0"]).st, Edit::Set(0.0));
    assert_eq!(write(&["gt=00012.250"]).gt, Edit::Set(12.25));
}

#[test]
fn refuses_bad_thresholds() {
    for bad in [
        "gt=",
        "gt=-",
        "gt=.5",
        "gt=5.",
        "gt=1e3",
        "gt=1E3",
        "gt=NaN",
        "gt=nan",
        "gt=inf",
        "gt=-inf",
        "gt=infinity",
        "gt=+5",
        "gt=--5",
        "gt=1.2.3",
        "gt=0x10",
        "gt=1,5",
        "lt=abc",
        "lt=- 1",
        "st=-1",
        "st=-0",
        "st=+1",
        "st=",
    ] {
        match parse(&[bad]) {
            Err(AttrError::BadValue { .. }) => {}
            other => panic!("{bad}: {other:?}"),
        }
    }
    // 400 digits are valid syntax but no f64: refused, not stored as infinity.
    let huge = format!("gt={}", "9".repeat(400));
    assert!(matches!(
        parse(&[&huge]),
        Err(AttrError::BadValue { name: "gt", .. })
    ));
}

#[test]
fn a_name_without_value_unsets() {
    // Transport 1.2 Write-Attributes example 2: PUT /3/0/9?pmin
    let w = write(&["pmin"]);
    assert_eq!(w.pmin, Edit::Unset);
    assert_eq!(w.pmax, Edit::Unchanged);
    let w = write(&["gt", "lt", "st", "pmax", "epmin", "epmax"]);
    assert_eq!(w.gt, Edit::Unset);
    assert_eq!(w.lt, Edit::Unset);
    assert_eq!(w.st, Edit::Unset);
    assert_eq!(w.epmax, Edit::Unset);
}

#[test]
fn refuses_duplicates() {
    assert_eq!(
        parse(&["pmin=1", "pmin=2"]),
        Err(AttrError::Duplicate("pmin"))
    );
    assert_eq!(parse(&["gt", "gt=1"]), Err(AttrError::Duplicate("gt")));
    assert_eq!(parse(&["st", "st"]), Err(AttrError::Duplicate("st")));
}

#[test]
fn refuses_unknown_and_read_only() {
    assert_eq!(
        parse(&["pmin=1", "foo=2"]),
        Err(AttrError::Unknown("foo".to_string()))
    );
    for name in ["PMIN=1", "stp=1", "edge=1", "con=1", "hqmax=3", "=5", ""] {
        assert!(
            matches!(parse(&[name]), Err(AttrError::Unknown(_))),
            "{name}"
        );
    }
    for name in ["dim", "ssid", "uri", "ver", "lwm2m"] {
        let with_value = format!("{name}=1");
        assert_eq!(
            parse(&[&with_value]),
            Err(AttrError::ReadOnly(name.to_string()))
        );
        assert_eq!(parse(&[name]), Err(AttrError::ReadOnly(name.to_string())));
    }
}

#[test]
fn refuses_an_empty_query() {
    assert_eq!(parse(&[]), Err(AttrError::Empty));
}

#[test]
fn errors_are_bad_request_with_a_short_reason() {
    let long = format!("{}=1", "x".repeat(1000));
    let e = parse(&[&long]).unwrap_err();
    assert_eq!(e.code(), msg::BAD_REQUEST);
    assert_eq!(
        e.to_string(),
        format!("unknown attribute {:?}", "x".repeat(ECHO_CHARS))
    );
    assert_eq!(
        parse(&["pmin=x"]).unwrap_err().to_string(),
        "attribute pmin has an invalid value \"x\""
    );
    assert_eq!(
        AttrError::Full(8).to_string(),
        "attribute store is full (8 levels with attributes)"
    );
    for e in [
        AttrError::Empty,
        AttrError::NotNumeric,
        AttrError::LtNotBelowGt,
        AttrError::StepTooLarge,
        AttrError::NoObject,
        AttrError::Full(1),
    ] {
        assert_eq!(e.code(), msg::BAD_REQUEST);
    }
}

// --- storing and validation ----------------------------------------------------------------

const BATTERY: Path = Path::resource(3, 0, 9);

#[test]
fn apply_merges_into_the_level() {
    let mut s = AttributeStore::new(16);
    s.apply(1, &BATTERY, &write(&["pmin=10", "gt=45"]), true)
        .unwrap();
    s.apply(1, &BATTERY, &write(&["pmax=60", "st=10"]), true)
        .unwrap();
    let expected = Attributes {
        pmin: Some(10),
        pmax: Some(60),
        gt: Some(45.0),
        st: Some(10.0),
        ..Attributes::default()
    };
    assert_eq!(s.attached(1, &BATTERY), expected);
    // Example 2: a name without value removes it at that level only.
    s.apply(1, &BATTERY, &write(&["pmin"]), true).unwrap();
    assert_eq!(
        s.attached(1, &BATTERY),
        Attributes {
            pmin: None,
            ..expected
        }
    );
}

#[test]
fn a_level_left_empty_is_removed() {
    let mut s = AttributeStore::new(16);
    s.apply(1, &BATTERY, &write(&["pmin=10", "gt=45"]), true)
        .unwrap();
    assert_eq!(s.len(), 1);
    s.apply(1, &BATTERY, &write(&["pmin", "gt"]), true).unwrap();
    assert!(s.is_empty());
    // Unsetting what is not there is a no-op, not an error, and stores nothing.
    s.apply(1, &Path::object(3), &write(&["pmax"]), false)
        .unwrap();
    assert!(s.is_empty());
}

#[test]
fn periods_attach_at_every_level() {
    let mut s = AttributeStore::new(16);
    for p in [
        Path::object(3),
        Path::instance(3, 0),
        Path::resource(3, 0, 1),
        Path::resource_instance(3, 0, 7, 1),
    ] {
        s.apply(
            1,
            &p,
            &write(&["pmin=1", "pmax=2", "epmin=3", "epmax=4"]),
            false,
        )
        .unwrap();
    }
    assert_eq!(s.len(), 4);
    assert_eq!(
        s.apply(1, &Path::ROOT, &write(&["pmin=1"]), false),
        Err(AttrError::NoObject)
    );
}

#[test]
fn lt_must_be_below_gt() {
    let mut s = AttributeStore::new(16);
    for bad in [&["lt=50", "gt=50"][..], &["lt=51", "gt=50"]] {
        assert_eq!(
            s.apply(1, &BATTERY, &write(bad), true),
            Err(AttrError::LtNotBelowGt)
        );
    }
    s.apply(1, &BATTERY, &write(&["lt=20", "gt=85"]), true)
        .unwrap();
    // The check is on the merged level: a later gt under the stored lt is refused too.
    assert_eq!(
        s.apply(1, &BATTERY, &write(&["gt=10"]), true),
        Err(AttrError::LtNotBelowGt)
    );
}

#[test]
fn lt_plus_two_steps_must_be_below_gt() {
    let mut s = AttributeStore::new(16);
    // 20 + 2*10 = 40 < 85: the Transport 1.2 example.
    s.apply(1, &BATTERY, &write(&["lt=20", "gt=85", "st=10"]), true)
        .unwrap();
    // 20 + 2*32.5 = 85, not below.
    assert_eq!(
        s.apply(1, &BATTERY, &write(&["st=32.5"]), true),
        Err(AttrError::StepTooLarge)
    );
    s.apply(1, &BATTERY, &write(&["st=32.4"]), true).unwrap();
    // Without lt, st is free.
    let mut t = AttributeStore::new(16);
    t.apply(1, &BATTERY, &write(&["gt=1", "st=1000"]), true)
        .unwrap();
}

#[test]
fn value_conditions_only_on_numeric_resources() {
    let mut s = AttributeStore::new(16);
    for p in [Path::object(3), Path::instance(3, 0)] {
        for w in [&["gt=45"][..], &["lt=1"], &["st=1"], &["gt"]] {
            assert_eq!(s.apply(1, &p, &write(w), true), Err(AttrError::NotNumeric));
        }
    }
    // /3/0/0 Manufacturer is a String.
    assert_eq!(
        s.apply(1, &Path::resource(3, 0, 0), &write(&["gt=45"]), false),
        Err(AttrError::NotNumeric)
    );
    assert_eq!(
        s.apply(
            1,
            &Path::resource_instance(3, 0, 7, 0),
            &write(&["lt=3"]),
            false
        ),
        Err(AttrError::NotNumeric)
    );
    assert!(s.is_empty());
    s.apply(
        1,
        &Path::resource_instance(3, 0, 7, 0),
        &write(&["lt=3"]),
        true,
    )
    .unwrap();
}

#[test]
fn numeric_types() {
    let numeric: Vec<ResourceType> = ResourceType::ALL
        .into_iter()
        .filter(|t| is_numeric_type(*t))
        .collect();
    assert_eq!(
        numeric,
        [
            ResourceType::Integer,
            ResourceType::UnsignedInteger,
            ResourceType::Float,
            ResourceType::Time
        ]
    );
}

#[test]
fn a_failed_apply_changes_nothing() {
    let mut s = AttributeStore::new(2);
    s.apply(1, &BATTERY, &write(&["pmin=10", "lt=20", "gt=85"]), true)
        .unwrap();
    s.apply(1, &Path::object(3), &write(&["pmax=60"]), false)
        .unwrap();
    let before = s.clone();
    // Valid pmin, invalid gt in the same write: neither is applied.
    assert_eq!(
        s.apply(1, &BATTERY, &write(&["pmin=99", "gt=5"]), true),
        Err(AttrError::LtNotBelowGt)
    );
    assert_eq!(
        s.apply(1, &BATTERY, &write(&["pmin", "st=40"]), true),
        Err(AttrError::StepTooLarge)
    );
    assert_eq!(
        s.apply(1, &Path::object(3), &write(&["pmax", "gt=1"]), false),
        Err(AttrError::NotNumeric)
    );
    // Full: a third level is refused, but the two stored levels can still change.
    assert_eq!(
        s.apply(2, &BATTERY, &write(&["pmin=1"]), true),
        Err(AttrError::Full(2))
    );
    assert_eq!(s, before);
    s.apply(1, &Path::object(3), &write(&["pmax=61"]), false)
        .unwrap();
    assert_eq!(s.attached(1, &Path::object(3)).pmax, Some(61));
}

#[test]
fn room_freed_by_an_unset_is_reusable() {
    let mut s = AttributeStore::new(1);
    s.apply(1, &BATTERY, &write(&["pmin=1"]), true).unwrap();
    assert_eq!(
        s.apply(1, &Path::object(3), &write(&["pmin=1"]), false),
        Err(AttrError::Full(1))
    );
    s.apply(1, &BATTERY, &write(&["pmin"]), true).unwrap();
    s.apply(1, &Path::object(3), &write(&["pmin=1"]), false)
        .unwrap();
    let mut none = AttributeStore::new(0);
    assert_eq!(
        none.apply(1, &BATTERY, &write(&["pmin=1"]), true),
        Err(AttrError::Full(0))
    );
}

// --- inheritance ---------------------------------------------------------------------------

/// Server 1 sets something at each of /3, /3/0, /3/0/7 and /3/0/7/1.
fn layered() -> AttributeStore {
    let mut s = AttributeStore::new(16);
    let r = Path::resource(3, 0, 7);
    let ri = Path::resource_instance(3, 0, 7, 1);
    s.apply(
        1,
        &Path::object(3),
        &write(&["pmin=10", "pmax=600", "epmax=30"]),
        false,
    )
    .unwrap();
    s.apply(
        1,
        &Path::instance(3, 0),
        &write(&["pmax=60", "epmin=2"]),
        false,
    )
    .unwrap();
    s.apply(1, &r, &write(&["pmin=5", "gt=50", "lt=42.2"]), true)
        .unwrap();
    s.apply(1, &ri, &write(&["lt=45", "st=1"]), true).unwrap();
    s
}

#[test]
fn lower_levels_prevail_attribute_by_attribute() {
    let s = layered();
    assert_eq!(
        s.effective(1, &Path::resource_instance(3, 0, 7, 1), None, None),
        Attributes {
            pmin: Some(5),
            pmax: Some(60),
            epmin: Some(2),
            epmax: Some(30),
            gt: Some(50.0),
            lt: Some(45.0),
            st: Some(1.0),
        }
    );
    // Another instance of the same resource: only R and above.
    assert_eq!(
        s.effective(1, &Path::resource_instance(3, 0, 7, 0), None, None),
        Attributes {
            pmin: Some(5),
            pmax: Some(60),
            epmin: Some(2),
            epmax: Some(30),
            gt: Some(50.0),
            lt: Some(42.2),
            st: None,
        }
    );
    // Another resource of the instance: OI and O.
    assert_eq!(
        s.effective(1, &Path::resource(3, 0, 9), None, None),
        Attributes {
            pmin: Some(10),
            pmax: Some(60),
            epmin: Some(2),
            epmax: Some(30),
            ..Attributes::default()
        }
    );
}

#[test]
fn observing_an_object_or_instance_uses_the_levels_above_only() {
    let s = layered();
    let on_instance = s.effective(1, &Path::instance(3, 0), None, None);
    assert_eq!(
        on_instance,
        Attributes {
            pmin: Some(10),
            pmax: Some(60),
            epmin: Some(2),
            epmax: Some(30),
            ..Attributes::default()
        }
    );
    assert_eq!(
        s.effective(1, &Path::object(3), None, None),
        Attributes {
            pmin: Some(10),
            pmax: Some(600),
            epmax: Some(30),
            ..Attributes::default()
        }
    );
    assert_eq!(
        s.effective(1, &Path::instance(3, 1), None, None),
        s.effective(1, &Path::object(3), None, None)
    );
    assert_eq!(
        s.effective(1, &Path::ROOT, Some(1), Some(2)),
        Attributes {
            pmin: Some(1),
            pmax: Some(2),
            ..Attributes::default()
        }
    );
}

#[test]
fn attributes_are_per_server() {
    let mut s = layered();
    let ri = Path::resource_instance(3, 0, 7, 1);
    assert_eq!(s.effective(2, &ri, None, None), Attributes::default());
    assert_eq!(s.attached(2, &Path::object(3)), Attributes::default());
    s.apply(2, &Path::object(3), &write(&["pmin=99"]), false)
        .unwrap();
    assert_eq!(s.effective(2, &ri, None, None).pmin, Some(99));
    assert_eq!(s.effective(1, &ri, None, None).pmin, Some(5));
    assert_eq!(s.levels(2).count(), 1);
    assert_eq!(s.levels(1).count(), 4);
    s.forget_server(1);
    assert_eq!(s.levels(1).count(), 0);
    assert_eq!(s.effective(2, &ri, None, None).pmin, Some(99));
}

#[test]
fn server_defaults_fill_only_pmin_and_pmax() {
    let s = layered();
    // Nothing attached by server 3: the Server object's /1/x/2 and /1/x/3 apply.
    assert_eq!(
        s.effective(3, &BATTERY, Some(15), Some(300)),
        Attributes {
            pmin: Some(15),
            pmax: Some(300),
            ..Attributes::default()
        }
    );
    // Attached values win over the defaults.
    let a = s.effective(1, &Path::resource(3, 0, 7), Some(15), Some(300));
    assert_eq!((a.pmin, a.pmax), (Some(5), Some(60)));
    let mut t = AttributeStore::new(4);
    t.apply(1, &BATTERY, &write(&["pmax=20"]), true).unwrap();
    let a = t.effective(1, &BATTERY, Some(15), None);
    assert_eq!((a.pmin, a.pmax), (Some(15), Some(20)));
}

#[test]
fn attached_is_exactly_the_level() {
    let s = layered();
    assert_eq!(
        s.attached(1, &Path::instance(3, 0)),
        Attributes {
            pmax: Some(60),
            epmin: Some(2),
            ..Attributes::default()
        }
    );
    assert_eq!(
        s.attached(1, &Path::resource(3, 0, 9)),
        Attributes::default()
    );
    let paths: Vec<String> = s.levels(1).map(|(p, _)| p.to_string()).collect();
    assert_eq!(paths, ["/3", "/3/0", "/3/0/7", "/3/0/7/1"]);
}

#[test]
fn forgetting_an_instance_drops_it_and_deeper_levels() {
    let mut s = layered();
    s.apply(2, &Path::resource(3, 0, 9), &write(&["pmin=1"]), true)
        .unwrap();
    s.apply(1, &Path::instance(3, 1), &write(&["pmin=1"]), false)
        .unwrap();
    s.forget_instance(3, 0);
    let left: Vec<(u16, String)> = [1, 2]
        .into_iter()
        .flat_map(|ssid| {
            s.levels(ssid)
                .map(move |(p, _)| (ssid, p.to_string()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(left, vec![(1, "/3".to_string()), (1, "/3/1".to_string())]);
    // A resource instance deleted: only its own level.
    let mut s = layered();
    s.forget_below(&Path::resource_instance(3, 0, 7, 1));
    assert_eq!(s.len(), 3);
    assert_eq!(s.attached(1, &Path::resource(3, 0, 7)).lt, Some(42.2));
}

// --- Discover rendering --------------------------------------------------------------------

fn rendered(a: &Attributes) -> Vec<(String, String)> {
    link_params(a)
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn link_params_in_fixed_order() {
    let a = Attributes {
        pmin: Some(10),
        pmax: Some(60),
        epmin: Some(1),
        epmax: Some(2),
        gt: Some(45.0),
        lt: Some(-42.2),
        st: Some(0.5),
    };
    assert_eq!(
        rendered(&a),
        pairs(&[
            ("pmin", "10"),
            ("pmax", "60"),
            ("gt", "45"),
            ("lt", "-42.2"),
            ("st", "0.5"),
            ("epmin", "1"),
            ("epmax", "2"),
        ])
    );
    assert_eq!(rendered(&Attributes::default()), pairs(&[]));
    assert_eq!(
        rendered(&Attributes {
            pmax: Some(0),
            st: Some(0.0),
            ..Attributes::default()
        }),
        pairs(&[("pmax", "0"), ("st", "0")])
    );
}

#[test]
fn link_floats_have_no_exponent_and_read_back() {
    let cases: [(f64, &str); 7] = [
        (45.0, "45"),
        (0.5, "0.5"),
        (-0.0, "0"),
        (1e21, "1000000000000000000000"),
        (1e-7, "0.0000001"),
        (-12.25, "-12.25"),
        (0.1, "0.1"),
    ];
    for (x, text) in cases {
        let a = Attributes {
            gt: Some(x),
            ..Attributes::default()
        };
        assert_eq!(rendered(&a), pairs(&[("gt", text)]), "{x}");
        let back = write(&[&format!("gt={text}")]);
        assert_eq!(back.gt, Edit::Set(x), "{text}");
    }
    // Non-finite values cannot be written in the syntax: left out.
    let a = Attributes {
        gt: Some(f64::NAN),
        lt: Some(f64::NEG_INFINITY),
        st: Some(f64::INFINITY),
        ..Attributes::default()
    };
    assert_eq!(rendered(&a), pairs(&[]));
}
