//! Firmware Update by push on the sans-I/O client (object 5, Core 1.1 §E.6; RFC 7959 Block1):
//! a package written in blocks reaches the application's installer in order and whole, the
//! state machine answers Update and Cancel, and State / Update Result read and notify.

mod common;

use std::sync::{Arc, Mutex};

use coap_lite::{CoapOption, Packet};
use common::*;
use lwm2mc::coap::msg;
use lwm2mc::object::{Applied, DownloadFailure, FirmwareInstaller, InstallFailure};

#[derive(Default)]
struct Flash {
    opened: Vec<Option<u64>>,
    image: Vec<u8>,
    writes: usize,
    verified: usize,
    applied: usize,
    discarded: usize,
    bad_image: bool,
    /// `write` refuses past this many bytes (a full flash).
    capacity: Option<usize>,
    /// `apply` restarts the device instead of finishing in place.
    restarts: bool,
    /// What `outcome` says after a restart.
    failed_after_restart: bool,
}

struct Installer(Arc<Mutex<Flash>>);

impl FirmwareInstaller for Installer {
    fn open(&mut self, size: Option<u64>) -> Result<(), DownloadFailure> {
        let mut f = self.0.lock().unwrap();
        f.opened.push(size);
        f.image.clear();
        Ok(())
    }
    fn write(&mut self, offset: u64, chunk: &[u8]) -> Result<(), DownloadFailure> {
        let mut f = self.0.lock().unwrap();
        assert_eq!(offset as usize, f.image.len(), "chunks come in order");
        if f.capacity.is_some_and(|c| f.image.len() + chunk.len() > c) {
            return Err(DownloadFailure::NotEnoughFlash);
        }
        f.image.extend_from_slice(chunk);
        f.writes += 1;
        Ok(())
    }
    fn verify(&mut self) -> Result<(), DownloadFailure> {
        let mut f = self.0.lock().unwrap();
        f.verified += 1;
        match f.bad_image {
            true => Err(DownloadFailure::IntegrityFailure),
            false => Ok(()),
        }
    }
    fn apply(&mut self) -> Result<Applied, InstallFailure> {
        let mut f = self.0.lock().unwrap();
        f.applied += 1;
        Ok(match f.restarts {
            true => Applied::Restarting,
            false => Applied::Running,
        })
    }
    fn outcome(&mut self) -> Result<(), InstallFailure> {
        match self.0.lock().unwrap().failed_after_restart {
            true => Err(InstallFailure::Failed),
            false => Ok(()),
        }
    }
    fn discard(&mut self) {
        let mut f = self.0.lock().unwrap();
        f.discarded += 1;
        f.image.clear();
    }
}

fn device(seed: u64) -> (Net, Arc<Mutex<Flash>>) {
    let flash = Arc::new(Mutex::new(Flash::default()));
    let net = life(seed, &FaultyStorage::new(usize::MAX, false), &flash);
    (net, flash)
}

fn package(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 253) as u8).collect()
}

/// Writes `pkg` to /5/0/0 in 1024-byte Block1 blocks; the codes of the answers.
fn push(net: &mut Net, pkg: &[u8]) -> Vec<u8> {
    let blocks: Vec<&[u8]> = pkg.chunks(1024).collect();
    let mut codes = Vec::new();
    for (num, part) in blocks.iter().enumerate() {
        let more = num + 1 < blocks.len();
        let mut p = put("/5/0/0", 42, part.to_vec());
        let value = ((num as u32) << 4) | (u32::from(more) << 3) | 6;
        p.add_option(CoapOption::Block1, msg::encode_uint(value));
        if num == 0 {
            p.add_option(CoapOption::Size1, msg::encode_uint(pkg.len() as u32));
        }
        codes.push(ask(net, p).0);
    }
    codes
}

fn read(net: &mut Net, path: &str) -> String {
    let (code, _, body) = ask(net, get(path, None));
    assert_eq!(code, msg::CONTENT, "{path}");
    String::from_utf8(body).unwrap()
}

fn execute(path: &str) -> Packet {
    post(path, None, b"")
}

#[test]
fn a_pushed_100_kib_package_reaches_the_installer_whole_then_update_succeeds() {
    let (mut net, flash) = device(81);
    assert_eq!(
        (read(&mut net, "/5/0/3"), read(&mut net, "/5/0/5")),
        ("0".into(), "0".into())
    );
    let pkg = package(100 * 1024);
    let codes = push(&mut net, &pkg);
    assert_eq!(codes.len(), 100);
    assert!(codes[..99].iter().all(|c| *c == msg::CONTINUE));
    assert_eq!(codes[99], msg::CHANGED);
    {
        let f = flash.lock().unwrap();
        assert_eq!(f.opened, [Some(100 * 1024)]);
        assert_eq!((f.writes, f.verified), (100, 1));
        assert!(f.image == pkg, "the exact bytes, in order");
    }
    // Downloaded (2), result 0; Update moves to Updating, the installer succeeds: Idle, 1.
    assert_eq!(read(&mut net, "/5/0/3"), "2");
    assert_eq!(ask(&mut net, execute("/5/0/2")).0, msg::CHANGED);
    assert_eq!(flash.lock().unwrap().applied, 1);
    assert_eq!(
        (read(&mut net, "/5/0/3"), read(&mut net, "/5/0/5")),
        ("0".into(), "1".into())
    );
    // Update again in Idle: 4.05 (Core 1.1 §E.6: only executable in Downloaded).
    assert_eq!(ask(&mut net, execute("/5/0/2")).0, msg::METHOD_NOT_ALLOWED);
}

#[test]
fn a_package_pushed_over_a_lossy_link_still_arrives_exactly_once() {
    let (mut net, flash) = device(83);
    net.loss = 10;
    net.dup = 10;
    let pkg = package(20 * 1024 + 333);
    let codes = push(&mut net, &pkg);
    assert_eq!(*codes.last().unwrap(), msg::CHANGED);
    let f = flash.lock().unwrap();
    assert!(f.image == pkg);
    assert_eq!(f.writes, 21, "every block handed over once");
}

#[test]
fn a_failed_integrity_check_a_gap_and_an_empty_package_each_end_in_idle() {
    let (mut net, flash) = device(85);
    flash.lock().unwrap().bad_image = true;
    push(&mut net, &package(3000));
    // Update Result 5, Integrity check failure; the image is discarded.
    assert_eq!(
        (read(&mut net, "/5/0/3"), read(&mut net, "/5/0/5")),
        ("0".into(), "5".into())
    );
    assert_eq!(flash.lock().unwrap().discarded, 1);
    flash.lock().unwrap().bad_image = false;

    // Block 0, then block 2: 4.08, and Update Result 4 (connection lost during download).
    let mut first = put("/5/0/0", 42, vec![1; 1024]);
    first.add_option(CoapOption::Block1, vec![0x0E]);
    assert_eq!(ask(&mut net, first).0, msg::CONTINUE);
    assert_eq!(read(&mut net, "/5/0/3"), "1");
    let mut third = put("/5/0/0", 42, vec![3; 1024]);
    third.add_option(CoapOption::Block1, vec![0x2E]);
    assert_eq!(ask(&mut net, third).0, msg::REQUEST_ENTITY_INCOMPLETE);
    assert_eq!(
        (read(&mut net, "/5/0/3"), read(&mut net, "/5/0/5")),
        ("0".into(), "4".into())
    );

    // Downloaded, then an empty Package resets to Idle and result 0 (XML /5/0/3).
    push(&mut net, &package(1500));
    assert_eq!(read(&mut net, "/5/0/3"), "2");
    assert_eq!(ask(&mut net, put("/5/0/0", 42, vec![])).0, msg::CHANGED);
    assert_eq!(
        (read(&mut net, "/5/0/3"), read(&mut net, "/5/0/5")),
        ("0".into(), "0".into())
    );
    // This device takes no pull: a Package URI is refused, the empty one accepted.
    assert_eq!(
        ask(&mut net, put("/5/0/1", 0, b"coap://h/fw".to_vec())).0,
        msg::METHOD_NOT_ALLOWED
    );
    assert_eq!(ask(&mut net, put("/5/0/1", 0, vec![])).0, msg::CHANGED);
}

#[test]
fn cancel_during_the_download_discards_it_and_reports_10() {
    let (mut net, flash) = device(87);
    let mut first = put("/5/0/0", 42, vec![9; 1024]);
    first.add_option(CoapOption::Block1, vec![0x0E]);
    assert_eq!(ask(&mut net, first).0, msg::CONTINUE);
    assert_eq!(ask(&mut net, execute("/5/0/10")).0, msg::CHANGED);
    assert_eq!(
        (read(&mut net, "/5/0/3"), read(&mut net, "/5/0/5")),
        ("0".into(), "10".into())
    );
    assert_eq!(flash.lock().unwrap().discarded, 1);
}

#[test]
fn an_observer_of_the_state_sees_downloading_then_downloaded() {
    let (mut net, _flash) = device(89);
    let skip = net.dm(DM_PORT).answers.len();
    let mut obs = get("/5/0/3", None);
    msg::set_observe(&mut obs, 0);
    let now = net.now;
    net.dm(DM_PORT).send(now, obs);
    assert!(net.run_until(5_000, |n| n.dm(DM_PORT).answers.len() > skip));
    push(&mut net, &package(2048 + 10));
    let end = net.now + 1_000;
    net.run_until(1_000, |n| n.now >= end);
    let states: Vec<String> = net.dm(DM_PORT).answers[skip..]
        .iter()
        .filter(|a| a.observe.is_some())
        .map(|a| String::from_utf8_lossy(&a.payload).into_owned())
        .collect();
    assert_eq!(states, ["0", "1", "2"]);
}

/// One life of a device over `storage` (what survives a restart).
fn life(seed: u64, storage: &FaultyStorage, flash: &Arc<Mutex<Flash>>) -> Net {
    let store = factory_bs_only(0);
    let mut client = lwm2mc::Client::with_storage(config(seed), store, Box::new(storage.clone()));
    client
        .set_firmware(Box::new(Installer(flash.clone())))
        .unwrap();
    client.start(0);
    let mut net = Net::new(client);
    net.servers.insert(
        BS_PORT,
        Server::Bs(FakeBs::new(seed, standard_plan(1, 300))),
    );
    net.servers
        .insert(DM_PORT, Server::Dm(FakeDm::new(seed + 1)));
    assert!(net.run_until(10_000, registered));
    net
}

#[test]
fn an_update_that_restarts_the_device_is_reported_after_the_restart() {
    // Core 1.1 §E.6: the outcome of an installation that restarted the device is reported
    // by the device once it runs again: State Idle and Update Result 1 (or 8).
    for (failed, result) in [(false, "1"), (true, "8")] {
        let storage = FaultyStorage::new(usize::MAX, false);
        let flash = Arc::new(Mutex::new(Flash {
            restarts: true,
            failed_after_restart: failed,
            ..Flash::default()
        }));
        let mut first = life(91, &storage, &flash);
        push(&mut first, &package(3000));
        assert_eq!(ask(&mut first, execute("/5/0/2")).0, msg::CHANGED);
        assert_eq!(
            read(&mut first, "/5/0/3"),
            "3",
            "Updating until the restart"
        );
        drop(first); // the device restarts into the new firmware
        let mut second = life(93, &storage, &flash);
        assert_eq!(
            (read(&mut second, "/5/0/3"), read(&mut second, "/5/0/5")),
            (
                if failed { "2" } else { "0" }.to_string(),
                result.to_string()
            )
        );
        assert_eq!(flash.lock().unwrap().applied, 1);
    }
}

#[test]
fn a_push_that_stops_half_way_ends_with_result_4_after_exchange_lifetime() {
    let (mut net, flash) = device(95);
    let mut first = put("/5/0/0", 42, vec![7; 1024]);
    first.add_option(CoapOption::Block1, vec![0x0E]);
    assert_eq!(ask(&mut net, first).0, msg::CONTINUE);
    assert_eq!(read(&mut net, "/5/0/3"), "1");
    // No further block: after EXCHANGE_LIFETIME (247 s) the download is given up.
    let end = net.now + 250_000;
    net.run_until(250_000, |n| n.now >= end);
    assert_eq!(
        (read(&mut net, "/5/0/3"), read(&mut net, "/5/0/5")),
        ("0".into(), "4".into())
    );
    assert_eq!(flash.lock().unwrap().discarded, 1);
}

#[test]
fn a_full_flash_stops_the_push_with_5_00_and_result_2() {
    let (mut net, flash) = device(97);
    flash.lock().unwrap().capacity = Some(1500);
    let codes = push(&mut net, &package(4096));
    // Block 0 fits, block 1 does not: the server is told to stop (5.00) and the reason is
    // Update Result 2 (not enough flash); what follows is out of place (4.08).
    assert_eq!(codes[..2], [msg::CONTINUE, msg::INTERNAL_SERVER_ERROR]);
    assert!(
        codes[2..]
            .iter()
            .all(|c| *c == msg::REQUEST_ENTITY_INCOMPLETE),
        "{codes:?}"
    );
    assert_eq!(
        (read(&mut net, "/5/0/3"), read(&mut net, "/5/0/5")),
        ("0".into(), "2".into())
    );
    assert_eq!(flash.lock().unwrap().discarded, 1);
}
