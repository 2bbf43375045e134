use super::*;
use alloc::string::ToString;

const CHANGED_STATE: Output = Output::Changed {
    state: true,
    result: false,
};
const CHANGED_RESULT: Output = Output::Changed {
    state: false,
    result: true,
};
const CHANGED_BOTH: Output = Output::Changed {
    state: true,
    result: true,
};

const URI: &str = "coap://fw.example.org/image.bin";

fn both() -> Firmware {
    Firmware::new(Delivery::Both, &[Protocol::Coap, Protocol::Coaps])
}

/// (State, Update Result) as resource values.
fn values(fw: &Firmware) -> (u8, u8) {
    (fw.state().value(), fw.result().value())
}

fn ok(fw: &mut Firmware, input: Input) -> Vec<Output> {
    let what = format!("{input:?} in {:?}", fw.machine);
    fw.handle(input)
        .unwrap_or_else(|r| panic!("{what} refused: {r:?}"))
}

/// The input is refused with `code` and the machine is untouched.
fn refused(fw: &mut Firmware, input: Input, code: u8) {
    let before = fw.clone();
    let what = format!("{input:?} in {:?}", fw.machine);
    let refusal = fw
        .handle(input)
        .expect_err(&format!("{what} should be refused"));
    assert_eq!(refusal.code(), code, "{what}: {refusal:?}");
    assert!(!refusal.reason().is_empty());
    assert_eq!(*fw, before, "{what} changed the machine");
}

/// A machine in one of the interesting places, reached through inputs only.
fn at(place: &str) -> Firmware {
    let mut fw = both();
    if place == "idle" {
        return fw;
    }
    ok(&mut fw, Input::PackageWriteStarted { size: Some(10) });
    if place == "receiving" {
        return fw;
    }
    ok(&mut fw, Input::PackageChunk { len: 10 });
    ok(&mut fw, Input::PackageComplete);
    if place == "verifying" {
        return fw;
    }
    ok(&mut fw, Input::VerifyResult(Ok(())));
    if place == "downloaded" {
        return fw;
    }
    if place == "deferred" {
        ok(&mut fw, Input::UpdateExecuted { defer: true });
        return fw;
    }
    assert_eq!(place, "updating");
    ok(&mut fw, Input::UpdateExecuted { defer: false });
    fw
}

const PLACES: [&str; 6] = [
    "idle",
    "receiving",
    "verifying",
    "downloaded",
    "deferred",
    "updating",
];

#[test]
fn places_have_the_expected_values() {
    let expected = [(0, 0), (1, 0), (1, 0), (2, 0), (2, 11), (3, 0)];
    for (place, want) in PLACES.into_iter().zip(expected) {
        assert_eq!(values(&at(place)), want, "{place}");
    }
}

#[test]
fn resource_values() {
    for (v, s) in [
        (0, State::Idle),
        (1, State::Downloading),
        (2, State::Downloaded),
        (3, State::Updating),
    ] {
        assert_eq!(s.value(), v);
        assert_eq!(State::from_value(v), Some(s));
    }
    assert_eq!(State::from_value(4), None);
    for (i, r) in UpdateResult::ALL.into_iter().enumerate() {
        assert_eq!(usize::from(r.value()), i);
        assert_eq!(UpdateResult::from_value(r.value()), Some(r));
    }
    assert_eq!(UpdateResult::from_value(12), None);
    assert_eq!(UpdateResult::from_value(255), None);
    // [XML /5/0/5]
    assert_eq!(UpdateResult::NotEnoughFlash.value(), 2);
    assert_eq!(UpdateResult::UnsupportedProtocol.value(), 9);
    assert_eq!(UpdateResult::Cancelled.value(), 10);
    assert_eq!(UpdateResult::Deferred.value(), 11);
    let errors = [
        (DownloadError::NotEnoughFlash, 2),
        (DownloadError::OutOfRam, 3),
        (DownloadError::ConnectionLost, 4),
        (DownloadError::IntegrityFailure, 5),
        (DownloadError::UnsupportedPackage, 6),
        (DownloadError::InvalidUri, 7),
        (DownloadError::UnsupportedProtocol, 9),
    ];
    for (e, v) in errors {
        assert_eq!(e.result().value(), v, "{e:?}");
    }
    assert_eq!(
        [Delivery::Pull, Delivery::Push, Delivery::Both].map(Delivery::value),
        [0, 1, 2]
    );
    assert_eq!(Protocol::ALL.map(Protocol::value), [0, 1, 2, 3, 4, 5]);
    assert_eq!(
        Protocol::ALL.map(Protocol::scheme),
        ["coap", "coaps", "http", "https", "coap+tcp", "coaps+tcp"]
    );
}

#[test]
fn new_machine_is_idle_with_initial_result() {
    let fw = both();
    assert_eq!(values(&fw), (0, 0));
    assert_eq!(fw.package_uri(), "");
    assert_eq!(fw.delivery(), Delivery::Both);
    let protocols: Vec<Protocol> = fw.protocols().collect();
    assert_eq!(protocols, [Protocol::Coap, Protocol::Coaps]);
    // "CoAP is the default setting" [XML /5/0/8].
    let fw = Firmware::new(Delivery::Push, &[]);
    let protocols: Vec<Protocol> = fw.protocols().collect();
    assert_eq!(protocols, [Protocol::Coap]);
    assert_eq!(fw.delivery().value(), 1);
}

#[test]
fn refusal_codes() {
    assert_eq!(Refusal::NotAllowed("x").code(), 0x85);
    assert_eq!(Refusal::BadValue("x").code(), 0x80);
    assert_eq!(Refusal::OutOfSequence("x").code(), 0xA0);
    assert_eq!(Refusal::BadValue("why").reason(), "why");
}

#[test]
fn push_download_verify_update_success() {
    let mut fw = both();
    assert_eq!(
        ok(&mut fw, Input::PackageWriteStarted { size: Some(150) }),
        [Output::OpenPackage { size: Some(150) }, CHANGED_STATE]
    );
    assert_eq!(values(&fw), (1, 0));
    assert_eq!(
        ok(&mut fw, Input::PackageChunk { len: 100 }),
        [Output::WriteChunk {
            offset: 0,
            len: 100
        }]
    );
    assert_eq!(ok(&mut fw, Input::PackageChunk { len: 0 }), []);
    assert_eq!(
        ok(&mut fw, Input::PackageChunk { len: 50 }),
        [Output::WriteChunk {
            offset: 100,
            len: 50
        }]
    );
    assert_eq!(values(&fw), (1, 0));
    assert_eq!(ok(&mut fw, Input::PackageComplete), [Output::Verify]);
    assert_eq!(values(&fw), (1, 0));
    assert_eq!(ok(&mut fw, Input::VerifyResult(Ok(()))), [CHANGED_STATE]);
    assert_eq!(values(&fw), (2, 0));
    assert_eq!(
        ok(&mut fw, Input::UpdateExecuted { defer: false }),
        [Output::Apply, CHANGED_STATE]
    );
    assert_eq!(values(&fw), (3, 0));
    assert_eq!(ok(&mut fw, Input::UpdateFinished(Ok(()))), [CHANGED_BOTH]);
    assert_eq!(values(&fw), (0, 1));
}

#[test]
fn push_without_size() {
    let mut fw = both();
    assert_eq!(
        ok(&mut fw, Input::PackageWriteStarted { size: None }),
        [Output::OpenPackage { size: None }, CHANGED_STATE]
    );
}

#[test]
fn a_new_download_resets_the_result() {
    // "Once the updating process is initiated (Download /Update), this Resource MUST be reset
    // to Initial value" [XML /5/0/5].
    let mut fw = at("updating");
    ok(&mut fw, Input::UpdateFinished(Ok(())));
    assert_eq!(values(&fw), (0, 1));
    assert_eq!(
        ok(&mut fw, Input::PackageWriteStarted { size: None }),
        [Output::OpenPackage { size: None }, CHANGED_BOTH]
    );
    assert_eq!(values(&fw), (1, 0));

    let mut fw = both();
    ok(&mut fw, Input::UriWritten("ftp://h/x".to_string()));
    assert_eq!(values(&fw), (0, 9));
    assert_eq!(
        ok(&mut fw, Input::UriWritten(URI.to_string())),
        [
            Output::StartPull {
                uri: URI.to_string()
            },
            CHANGED_BOTH
        ]
    );
    assert_eq!(values(&fw), (1, 0));
}

#[test]
fn pull_download_verify_update_success() {
    let mut fw = both();
    assert_eq!(
        ok(&mut fw, Input::UriWritten(URI.to_string())),
        [
            Output::StartPull {
                uri: URI.to_string()
            },
            CHANGED_STATE
        ]
    );
    assert_eq!(values(&fw), (1, 0));
    assert_eq!(fw.package_uri(), URI);
    assert_eq!(
        ok(&mut fw, Input::PackageChunk { len: 512 }),
        [Output::WriteChunk {
            offset: 0,
            len: 512
        }]
    );
    assert_eq!(
        ok(&mut fw, Input::PackageChunk { len: 7 }),
        [Output::WriteChunk {
            offset: 512,
            len: 7
        }]
    );
    assert_eq!(ok(&mut fw, Input::PackageComplete), [Output::Verify]);
    assert_eq!(ok(&mut fw, Input::VerifyResult(Ok(()))), [CHANGED_STATE]);
    assert_eq!(values(&fw), (2, 0));
    assert_eq!(
        ok(&mut fw, Input::UpdateExecuted { defer: false }),
        [Output::Apply, CHANGED_STATE]
    );
    assert_eq!(ok(&mut fw, Input::UpdateFinished(Ok(()))), [CHANGED_BOTH]);
    assert_eq!(values(&fw), (0, 1));
    assert_eq!(fw.package_uri(), URI, "the URI stays readable");
}

#[test]
fn uri_checks() {
    let all = Firmware::new(Delivery::Pull, &Protocol::ALL);
    let good = [
        "coap://h",
        "coap://h/fw?v=2#x",
        "COAPS://fw.example.org:5684/image",
        "coap://[2001:db8::1]:5683/fw",
        "coap://user@h/fw",
        "http://h/fw",
        "https://h/fw",
        "coap+tcp://h/fw",
        "coaps+tcp://h/fw",
    ];
    for uri in good {
        let mut fw = all.clone();
        assert_eq!(
            ok(&mut fw, Input::UriWritten(uri.to_string())),
            [
                Output::StartPull {
                    uri: uri.to_string()
                },
                CHANGED_STATE
            ],
            "{uri}"
        );
        assert_eq!(values(&fw), (1, 0), "{uri}");
    }
    // Malformed: 7 "Invalid URI", the Write accepted, State stays Idle ([E.6]).
    let invalid = [
        "fw.example.org/image",
        "coap//h/x",
        "1coap://h",
        ":x",
        "co ap://h",
        "coap_x://h",
        "coap://",
        "coap:///fw",
        "coap://user@/fw",
        "coap://:5683/fw",
        "coap://[2001:db8::1/fw",
        "coap://[]/fw",
        "coap:h/fw",
        "coap://h/a b",
        "coap://h/\u{e9}",
        "coap://h/\t",
    ];
    for uri in invalid {
        let mut fw = all.clone();
        assert_eq!(
            ok(&mut fw, Input::UriWritten(uri.to_string())),
            [CHANGED_RESULT],
            "{uri}"
        );
        assert_eq!(values(&fw), (0, 7), "{uri}");
        assert_eq!(
            fw.package_uri(),
            uri,
            "a Write that succeeded stores its value"
        );
    }
    // A well-formed scheme the client does not support: 9 [XML /5/0/5].
    let mut fw = both();
    for (i, uri) in ["ftp://h/fw", "http://h/fw", "coaps+tcp://h/fw", "urn:x:y"]
        .into_iter()
        .enumerate()
    {
        let expected = if i == 0 { vec![CHANGED_RESULT] } else { vec![] };
        assert_eq!(
            ok(&mut fw, Input::UriWritten(uri.to_string())),
            expected,
            "{uri}"
        );
        assert_eq!(values(&fw), (0, 9), "{uri}");
    }
    // From 9 to 7: only the result changes.
    assert_eq!(
        ok(&mut fw, Input::UriWritten("coap://".to_string())),
        [CHANGED_RESULT]
    );
    assert_eq!(values(&fw), (0, 7));
}

#[test]
fn uri_length_is_checked_against_its_range() {
    // RangeEnumeration 0..255 of /5/0/1; a range failure is 4.00 (FACTS §4.1).
    let prefix = "coap://h/";
    let longest = format!("{prefix}{}", "a".repeat(MAX_URI_LEN - prefix.len()));
    assert_eq!(longest.len(), 255);
    let mut fw = both();
    refused(&mut fw, Input::UriWritten(format!("{longest}a")), 0x80);
    assert_eq!(fw.package_uri(), "");
    ok(&mut fw, Input::UriWritten(longest.clone()));
    assert_eq!(values(&fw), (1, 0));
    assert_eq!(fw.package_uri(), longest);
}

#[test]
fn download_failures_go_to_idle_with_their_result() {
    let errors = [
        DownloadError::NotEnoughFlash,
        DownloadError::OutOfRam,
        DownloadError::ConnectionLost,
        DownloadError::IntegrityFailure,
        DownloadError::UnsupportedPackage,
        DownloadError::InvalidUri,
        DownloadError::UnsupportedProtocol,
    ];
    for place in ["receiving", "verifying"] {
        for error in errors {
            let mut fw = at(place);
            assert_eq!(
                ok(&mut fw, Input::DownloadFailed(error)),
                [Output::Discard, CHANGED_BOTH],
                "{place} {error:?}"
            );
            assert_eq!(
                values(&fw),
                (0, error.result().value()),
                "{place} {error:?}"
            );
        }
    }
    for error in errors {
        let mut fw = at("verifying");
        assert_eq!(
            ok(&mut fw, Input::VerifyResult(Err(error))),
            [Output::Discard, CHANGED_BOTH],
            "{error:?}"
        );
        assert_eq!(values(&fw), (0, error.result().value()));
    }
    // A pull that lost its connection.
    let mut fw = both();
    ok(&mut fw, Input::UriWritten(URI.to_string()));
    ok(&mut fw, Input::PackageChunk { len: 64 });
    assert_eq!(
        ok(
            &mut fw,
            Input::DownloadFailed(DownloadError::ConnectionLost)
        ),
        [Output::Discard, CHANGED_BOTH]
    );
    assert_eq!(values(&fw), (0, 4));
    // After a failure a new download starts from offset 0.
    ok(&mut fw, Input::PackageWriteStarted { size: None });
    assert_eq!(
        ok(&mut fw, Input::PackageChunk { len: 8 }),
        [Output::WriteChunk { offset: 0, len: 8 }]
    );
}

#[test]
fn update_failures() {
    // Generic failure: back to Downloaded with 8 [XML 1.0 /5/0/3]; Update may run again.
    let mut fw = at("updating");
    assert_eq!(
        ok(&mut fw, Input::UpdateFinished(Err(UpdateError::Failed))),
        [CHANGED_BOTH]
    );
    assert_eq!(values(&fw), (2, 8));
    assert_eq!(
        ok(&mut fw, Input::UpdateExecuted { defer: false }),
        [Output::Apply, CHANGED_BOTH]
    );
    assert_eq!(values(&fw), (3, 0));
    // The image is unusable: Idle with 8, image removed.
    assert_eq!(
        ok(
            &mut fw,
            Input::UpdateFinished(Err(UpdateError::FailedImageLost))
        ),
        [Output::Discard, CHANGED_BOTH]
    );
    assert_eq!(values(&fw), (0, 8));
    // "Integrity Check Failure results in the client moving to the Idle state" [XML /5/0/3].
    let mut fw = at("updating");
    assert_eq!(
        ok(
            &mut fw,
            Input::UpdateFinished(Err(UpdateError::IntegrityFailure))
        ),
        [Output::Discard, CHANGED_BOTH]
    );
    assert_eq!(values(&fw), (0, 5));
}

#[test]
fn deferred_update() {
    // [XML /5/0/3]: "the state stays in Downloaded state and the Update Result is set to 11.
    // Once a user accepted the firmware update, the state changes to Updating."
    let mut fw = at("downloaded");
    assert_eq!(
        ok(&mut fw, Input::UpdateExecuted { defer: true }),
        [Output::AskUser, CHANGED_RESULT]
    );
    assert_eq!(values(&fw), (2, 11));
    // Executed again while deferred: ask again, nothing changes.
    assert_eq!(
        ok(&mut fw, Input::UpdateExecuted { defer: true }),
        [Output::AskUser]
    );
    assert_eq!(values(&fw), (2, 11));
    assert_eq!(
        ok(&mut fw, Input::UpdateAccepted),
        [Output::Apply, CHANGED_BOTH]
    );
    assert_eq!(values(&fw), (3, 0));
    // A server may also execute Update again without deferral.
    let mut fw = at("deferred");
    assert_eq!(
        ok(&mut fw, Input::UpdateExecuted { defer: false }),
        [Output::Apply, CHANGED_BOTH]
    );
    assert_eq!(values(&fw), (3, 0));
}

#[test]
fn cancel() {
    // [XML /5/0/10]: result 10, State 0.
    for place in ["receiving", "verifying", "downloaded", "deferred"] {
        let mut fw = at(place);
        assert_eq!(
            ok(&mut fw, Input::CancelExecuted),
            [Output::Discard, CHANGED_BOTH],
            "{place}"
        );
        assert_eq!(values(&fw), (0, 10), "{place}");
    }
    let mut fw = both();
    ok(&mut fw, Input::UriWritten(URI.to_string()));
    ok(&mut fw, Input::CancelExecuted);
    assert_eq!(values(&fw), (0, 10));
    assert_eq!(fw.package_uri(), "");
    // "If the device is in the process of installing the firmware or has already completed
    // installation it MUST respond with Method Not Allowed error code."
    refused(&mut at("updating"), Input::CancelExecuted, 0x85);
    let mut fw = at("updating");
    ok(&mut fw, Input::UpdateFinished(Ok(())));
    refused(&mut fw, Input::CancelExecuted, 0x85);
    refused(&mut both(), Input::CancelExecuted, 0x85);
}

#[test]
fn empty_package_or_uri_resets() {
    // [XML /5/0/3]: State Idle, Update Result 0, downloaded image removed.
    let resets = || [Input::PackageEmpty, Input::UriWritten(String::new())];
    let expected = [
        ("receiving", vec![Output::Discard, CHANGED_STATE]),
        ("verifying", vec![Output::Discard, CHANGED_STATE]),
        ("downloaded", vec![Output::Discard, CHANGED_STATE]),
        ("deferred", vec![Output::Discard, CHANGED_BOTH]),
        ("idle", vec![]),
    ];
    for (place, outputs) in expected {
        for reset in resets() {
            let mut fw = at(place);
            let what = format!("{reset:?} in {place}");
            assert_eq!(ok(&mut fw, reset), outputs, "{what}");
            assert_eq!(values(&fw), (0, 0), "{what}");
        }
    }
    // Idle after a failure or a success: only the result goes back to 0.
    for reset in resets() {
        let mut fw = at("verifying");
        ok(
            &mut fw,
            Input::VerifyResult(Err(DownloadError::IntegrityFailure)),
        );
        assert_eq!(values(&fw), (0, 5));
        assert_eq!(ok(&mut fw, reset), [CHANGED_RESULT]);
        assert_eq!(values(&fw), (0, 0));
    }
    for reset in resets() {
        let mut fw = at("updating");
        ok(&mut fw, Input::UpdateFinished(Ok(())));
        assert_eq!(ok(&mut fw, reset), [CHANGED_RESULT]);
        assert_eq!(values(&fw), (0, 0));
    }
    // A pull reset through its URI clears the URI and stops the transfer.
    let mut fw = both();
    ok(&mut fw, Input::UriWritten(URI.to_string()));
    assert_eq!(
        ok(&mut fw, Input::UriWritten(String::new())),
        [Output::Discard, CHANGED_STATE]
    );
    assert_eq!(fw.package_uri(), "");
    let mut fw = both();
    ok(&mut fw, Input::UriWritten(URI.to_string()));
    ok(&mut fw, Input::PackageEmpty);
    assert_eq!(fw.package_uri(), "");
    // Not while installing (our reading, like Cancel).
    for reset in resets() {
        refused(&mut at("updating"), reset, 0x85);
    }
}

#[test]
fn empty_package_payloads() {
    assert!(is_empty_package(b""));
    assert!(is_empty_package(b"\0"));
    assert!(!is_empty_package(b"\0\0"));
    assert!(!is_empty_package(b"0"));
    assert!(!is_empty_package(b"\x01"));
}

#[test]
fn delivery_method_limits_the_writes() {
    // [XML /5/0/9]: a pull-only device takes no Package, a push-only one no Package URI.
    let mut pull = Firmware::new(Delivery::Pull, &[Protocol::Coap]);
    refused(&mut pull, Input::PackageWriteStarted { size: None }, 0x85);
    assert_eq!(ok(&mut pull, Input::PackageEmpty), []);
    ok(&mut pull, Input::UriWritten(URI.to_string()));
    assert_eq!(values(&pull), (1, 0));

    let mut push = Firmware::new(Delivery::Push, &[Protocol::Coap]);
    refused(&mut push, Input::UriWritten(URI.to_string()), 0x85);
    assert_eq!(ok(&mut push, Input::UriWritten(String::new())), []);
    ok(&mut push, Input::PackageWriteStarted { size: None });
    assert_eq!(values(&push), (1, 0));
}

/// Every input in every place: accepted (`None`) or refused with the code.
#[test]
fn refusal_matrix() {
    const NA: Option<u8> = Some(0x85);
    const OOS: Option<u8> = Some(0xA0);
    const OK: Option<u8> = None;
    // Columns: idle, receiving, verifying, downloaded, deferred, updating.
    let rows: [(Input, [Option<u8>; 6]); 13] = [
        (
            Input::PackageWriteStarted { size: None },
            [OK, NA, NA, NA, NA, NA],
        ),
        (Input::UriWritten(URI.to_string()), [OK, NA, NA, NA, NA, NA]),
        (Input::PackageEmpty, [OK, OK, OK, OK, OK, NA]),
        (Input::UriWritten(String::new()), [OK, OK, OK, OK, OK, NA]),
        (
            Input::UpdateExecuted { defer: false },
            [NA, NA, NA, OK, OK, NA],
        ),
        (
            Input::UpdateExecuted { defer: true },
            [NA, NA, NA, OK, OK, NA],
        ),
        (Input::CancelExecuted, [NA, OK, OK, OK, OK, NA]),
        (
            Input::PackageChunk { len: 1 },
            [OOS, OK, OOS, OOS, OOS, OOS],
        ),
        (Input::PackageComplete, [OOS, OK, OOS, OOS, OOS, OOS]),
        (
            Input::DownloadFailed(DownloadError::OutOfRam),
            [OOS, OK, OK, OOS, OOS, OOS],
        ),
        (Input::VerifyResult(Ok(())), [OOS, OOS, OK, OOS, OOS, OOS]),
        (Input::UpdateAccepted, [OOS, OOS, OOS, OOS, OK, OOS]),
        (Input::UpdateFinished(Ok(())), [OOS, OOS, OOS, OOS, OOS, OK]),
    ];
    for (input, expected) in rows {
        for (place, want) in PLACES.into_iter().zip(expected) {
            let mut fw = at(place);
            match want {
                None => {
                    fw.handle(input.clone())
                        .unwrap_or_else(|r| panic!("{input:?} in {place}: {r:?}"));
                }
                Some(code) => refused(&mut fw, input.clone(), code),
            }
        }
    }
    // Update in Idle after a finished update and after a failure, too.
    let mut fw = at("updating");
    ok(&mut fw, Input::UpdateFinished(Ok(())));
    refused(&mut fw, Input::UpdateExecuted { defer: false }, 0x85);
    let mut fw = at("receiving");
    ok(
        &mut fw,
        Input::DownloadFailed(DownloadError::ConnectionLost),
    );
    refused(&mut fw, Input::UpdateExecuted { defer: false }, 0x85);
    refused(&mut fw, Input::PackageChunk { len: 1 }, 0xA0);
}

#[test]
fn state_checks_come_before_the_range_check() {
    let long = format!("coap://h/{}", "a".repeat(300));
    refused(&mut at("receiving"), Input::UriWritten(long.clone()), 0x85);
    refused(&mut at("idle"), Input::UriWritten(long), 0x80);
}

#[test]
fn snapshot_round_trip() {
    for place in PLACES {
        let fw = at(place);
        let snap = fw.snapshot();
        assert_eq!((snap.state, snap.result), values(&fw), "{place}");
        let mut back = both();
        back.restore(&snap).unwrap();
        assert_eq!(back.snapshot().package_uri, snap.package_uri, "{place}");
        if place == "receiving" || place == "verifying" {
            continue; // see restore_after_reboot_while_downloading
        }
        assert_eq!(back.snapshot(), snap, "{place}");
    }
    let mut fw = both();
    ok(&mut fw, Input::UriWritten("coap://".to_string()));
    let snap = fw.snapshot();
    assert_eq!(
        snap,
        Snapshot {
            state: 0,
            result: 7,
            package_uri: "coap://".to_string()
        }
    );
    let mut back = both();
    assert_eq!(back.restore(&snap), Ok(vec![]));
    assert_eq!(back, fw);
}

#[test]
fn restore_after_reboot_while_updating() {
    // The snapshot taken after Apply was decided (State 3) survives the reboot; on the next
    // start the application reports how the installation ended.
    let snap = at("updating").snapshot();
    assert_eq!((snap.state, snap.result), (3, 0));

    let mut fw = both();
    assert_eq!(fw.restore(&snap), Ok(vec![Output::QueryOutcome]));
    assert_eq!(values(&fw), (3, 0));
    assert_eq!(ok(&mut fw, Input::UpdateFinished(Ok(()))), [CHANGED_BOTH]);
    assert_eq!(values(&fw), (0, 1));

    let mut fw = both();
    fw.restore(&snap).unwrap();
    assert_eq!(
        ok(&mut fw, Input::UpdateFinished(Err(UpdateError::Failed))),
        [CHANGED_BOTH]
    );
    assert_eq!(values(&fw), (2, 8));

    let mut fw = both();
    fw.restore(&snap).unwrap();
    assert_eq!(
        ok(
            &mut fw,
            Input::UpdateFinished(Err(UpdateError::FailedImageLost))
        ),
        [Output::Discard, CHANGED_BOTH]
    );
    assert_eq!(values(&fw), (0, 8));

    // While the outcome is unknown the server may not cancel or reset.
    let mut fw = both();
    fw.restore(&snap).unwrap();
    refused(&mut fw, Input::CancelExecuted, 0x85);
    refused(&mut fw, Input::PackageEmpty, 0x85);
}

#[test]
fn restore_after_reboot_while_downloading() {
    for place in ["receiving", "verifying"] {
        let mut fw = both();
        assert_eq!(
            fw.restore(&at(place).snapshot()),
            Ok(vec![Output::Discard, CHANGED_BOTH]),
            "{place}"
        );
        assert_eq!(values(&fw), (0, 4), "{place}");
    }
    let mut fw = both();
    ok(&mut fw, Input::UriWritten(URI.to_string()));
    let mut back = both();
    back.restore(&fw.snapshot()).unwrap();
    assert_eq!(values(&back), (0, 4));
    assert_eq!(back.package_uri(), URI);
}

#[test]
fn restore_downloaded_and_deferred() {
    let mut fw = both();
    assert_eq!(fw.restore(&at("downloaded").snapshot()), Ok(vec![]));
    assert_eq!(values(&fw), (2, 0));
    ok(&mut fw, Input::UpdateExecuted { defer: false });
    assert_eq!(values(&fw), (3, 0));

    let mut fw = both();
    assert_eq!(
        fw.restore(&at("deferred").snapshot()),
        Ok(vec![Output::AskUser])
    );
    assert_eq!(values(&fw), (2, 11));
    ok(&mut fw, Input::UpdateAccepted);
    assert_eq!(values(&fw), (3, 0));

    let mut failed = at("updating");
    ok(&mut failed, Input::UpdateFinished(Err(UpdateError::Failed)));
    let mut fw = both();
    assert_eq!(fw.restore(&failed.snapshot()), Ok(vec![]));
    assert_eq!(values(&fw), (2, 8));
}

#[test]
fn restore_idle_keeps_the_result() {
    for result in 0..=10 {
        let mut fw = both();
        let snap = Snapshot {
            state: 0,
            result,
            package_uri: String::new(),
        };
        assert_eq!(fw.restore(&snap), Ok(vec![]), "result {result}");
        assert_eq!(values(&fw), (0, result));
    }
}

#[test]
fn restore_refuses_what_no_run_produces() {
    let bad = [
        (4, 0),
        (255, 0),
        (0, 12),
        (0, 11),
        (1, 4),
        (1, 11),
        (2, 1),
        (2, 5),
        (2, 10),
        (3, 1),
        (3, 8),
    ];
    for (state, result) in bad {
        let mut fw = both();
        let snap = Snapshot {
            state,
            result,
            package_uri: String::new(),
        };
        assert_eq!(
            fw.restore(&snap),
            Err(InvalidSnapshot),
            "({state}, {result})"
        );
        assert_eq!(fw, both());
    }
    let mut fw = both();
    let snap = Snapshot {
        state: 0,
        result: 0,
        package_uri: "a".repeat(256),
    };
    assert_eq!(fw.restore(&snap), Err(InvalidSnapshot));
    assert_eq!(fw, both());
}
