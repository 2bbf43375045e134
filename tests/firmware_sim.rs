//! Firmware Update by push on the sans-I/O client (object 5, Core 1.1 §E.6; RFC 7959 Block1):
//! a package written in blocks reaches the application's installer in order and whole, the
//! state machine answers Update and Cancel, and State / Update Result read and notify.

mod common;

use std::sync::{Arc, Mutex};

use coap_lite::{CoapOption, Packet};
use common::*;
use lwm2mc::coap::msg;
use lwm2mc::object::{
    Applied, DownloadFailure, DownloadProtocol, FirmwareInstaller, InstallFailure,
};

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

/// An installer that downloads `http(s)://` itself and may defer an update to its user.
struct AppInstaller {
    inner: Installer,
    protocols: Vec<DownloadProtocol>,
    downloads: Arc<Mutex<Vec<String>>>,
    defer: bool,
}

impl FirmwareInstaller for AppInstaller {
    fn open(&mut self, size: Option<u64>) -> Result<(), DownloadFailure> {
        self.inner.open(size)
    }
    fn write(&mut self, offset: u64, chunk: &[u8]) -> Result<(), DownloadFailure> {
        self.inner.write(offset, chunk)
    }
    fn verify(&mut self) -> Result<(), DownloadFailure> {
        self.inner.verify()
    }
    fn apply(&mut self) -> Result<Applied, InstallFailure> {
        self.inner.apply()
    }
    fn discard(&mut self) {
        self.inner.discard()
    }
    fn download_protocols(&self) -> &[DownloadProtocol] {
        &self.protocols
    }
    fn download(&mut self, uri: &str) -> Result<(), DownloadFailure> {
        self.downloads.lock().unwrap().push(uri.to_string());
        Ok(())
    }
    fn defer_update(&mut self) -> bool {
        self.defer
    }
}

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
    let pkg = package(100 * 1024 + 333);
    let codes = push(&mut net, &pkg);
    assert_eq!(*codes.last().unwrap(), msg::CHANGED);
    let f = flash.lock().unwrap();
    assert!(f.image == pkg);
    assert_eq!(f.writes, 101, "every block handed over once");
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
    // An empty Package URI resets too, in Idle as well.
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

// ---- pull from a Package URI (/5/0/1) ----

/// A file server beside the LwM2M Server.
const FILE_PORT: u16 = 5703;

fn with_file_server(net: &mut Net, path: &str, file: &[u8]) {
    let mut files = FakeDm::new(7);
    files.files.insert(path.into(), file.to_vec());
    net.servers.insert(FILE_PORT, Server::Dm(files));
}

fn state_and_result(net: &mut Net) -> (String, String) {
    (read(net, "/5/0/3"), read(net, "/5/0/5"))
}

/// Writes Package URI and runs until State leaves Downloading (or `limit_ms` passes).
fn pull(net: &mut Net, uri: &str, limit_ms: u64) -> u8 {
    let code = ask(net, put("/5/0/1", 0, uri.as_bytes().to_vec())).0;
    net.run_until(limit_ms, |n| {
        n.client.store().value(&lwm2mc::Path::resource(5, 0, 3)) != Some(&lwm2mc::Value::Integer(1))
    });
    code
}

#[test]
fn a_package_pulled_over_coap_comes_block_by_block_to_the_installer_then_installs() {
    let (mut net, flash) = device(101);
    let pkg = package(100 * 1024 + 300);
    with_file_server(&mut net, "fw/image.bin", &pkg);
    // XML /5/0/8: CoAP is supported; /5/0/9: push and pull.
    let (_, _, support) = ask(&mut net, get("/5/0/8", Some(11542)));
    assert_eq!(
        support,
        [0x83, 0x08, 0x41, 0x00, 0x00],
        "TLV: /5/0/8 with /5/0/8/0 = 0"
    );
    assert_eq!(read(&mut net, "/5/0/9"), "2");

    let uri = "coap://127.0.0.1:5703/fw/image.bin";
    assert_eq!(pull(&mut net, uri, 60_000), msg::CHANGED);
    assert_eq!(state_and_result(&mut net), ("2".into(), "0".into()));
    assert_eq!(read(&mut net, "/5/0/1"), uri);
    let f = flash.lock().unwrap();
    assert!(f.image == pkg, "the exact bytes, in order");
    // RFC 7959 §4: Size2 asked on the first block, its answer given to open().
    assert_eq!(f.opened, [Some(pkg.len() as u64)]);
    assert_eq!((f.writes, f.verified), (101, 1));
    drop(f);
    let gets = net.dm(FILE_PORT).file_gets.clone();
    let expected: Vec<(u32, u8, bool)> = (0..101).map(|n| (n, 6, n == 0)).collect();
    assert_eq!(gets, expected);

    assert_eq!(ask(&mut net, execute("/5/0/2")).0, msg::CHANGED);
    assert_eq!(state_and_result(&mut net), ("0".into(), "1".into()));
    // The file server's peer was released once the pull ended.
    assert!(net.client.peers().all(|(_, i)| i.uri.port != FILE_PORT));
}

#[test]
fn a_pull_from_the_lwm2m_server_itself_over_a_lossy_link_at_its_block_size_arrives_exactly() {
    let (net, flash) = device(103);
    let mut net = net.with_loss(104, 10, 10);
    let pkg = package(20 * 1024 + 5);
    net.dm(DM_PORT).files.insert("fw".into(), pkg.clone());
    net.dm(DM_PORT).file_szx = 4; // 256-byte blocks
    let peers_before = net.client.peers().count();
    let code = ask(
        &mut net,
        put("/5/0/1", 0, b"coap://127.0.0.1:5683/fw".to_vec()),
    )
    .0;
    assert_eq!(code, msg::CHANGED);
    // The server's own peer serves the file: no new one.
    assert_eq!(net.client.peers().count(), peers_before);
    net.run_until(600_000, |n| {
        n.client.store().value(&lwm2mc::Path::resource(5, 0, 3)) == Some(&lwm2mc::Value::Integer(2))
    });
    assert!(flash.lock().unwrap().image == pkg);
    let gets = net.dm(DM_PORT).file_gets.clone();
    // After the first block (asked at 1024, answered at 256) the client asks for 256.
    assert_eq!(gets[0], (0, 4, true));
    assert!(gets[1..].iter().all(|(_, szx, _)| *szx == 4));
    let last = gets.iter().map(|g| g.0).max().unwrap();
    assert_eq!(last as usize, pkg.len() / 256);
}

#[test]
fn a_missing_file_a_changed_file_and_a_dead_server_end_the_pull_with_7_4_and_4() {
    let (mut net, flash) = device(105);
    with_file_server(&mut net, "fw", &package(5000));
    assert_eq!(
        pull(&mut net, "coap://127.0.0.1:5703/nothing", 60_000),
        msg::CHANGED
    );
    assert_eq!(state_and_result(&mut net), ("0".into(), "7".into()));

    // The ETag changes at the third block: the file is another one now (RFC 7959 §2.4).
    net.dm(FILE_PORT).file_replaced_at = Some(2);
    assert_eq!(
        pull(&mut net, "coap://127.0.0.1:5703/fw", 60_000),
        msg::CHANGED
    );
    assert_eq!(state_and_result(&mut net), ("0".into(), "4".into()));
    assert_eq!(
        net.dm(FILE_PORT).file_gets.len(),
        3,
        "nothing asked after the change"
    );
    assert!(flash.lock().unwrap().discarded >= 1);

    // Nobody answers: after MAX_RETRANSMIT, Update Result 4.
    net.dead.push(FILE_PORT);
    let started = net.now;
    assert_eq!(
        pull(&mut net, "coap://127.0.0.1:5703/fw", 400_000),
        msg::CHANGED
    );
    assert_eq!(state_and_result(&mut net), ("0".into(), "4".into()));
    assert!(net.now - started >= 45_000, "retransmitted first");
}

#[test]
fn cancel_stops_a_pull_and_schemes_nobody_downloads_are_result_9() {
    let (mut net, flash) = device(107);
    with_file_server(&mut net, "fw", &package(50 * 1024));
    net.delay_max = 40; // each block takes a while: Cancel comes half way
    let code = ask(
        &mut net,
        put("/5/0/1", 0, b"coap://127.0.0.1:5703/fw".to_vec()),
    )
    .0;
    assert_eq!(code, msg::CHANGED);
    assert_eq!(ask(&mut net, execute("/5/0/10")).0, msg::CHANGED);
    let asked = net.dm(FILE_PORT).file_gets.len();
    assert!(asked < 50, "cancelled before the end: {asked} blocks");
    net.run_until(30_000, |_| false);
    assert_eq!(
        net.dm(FILE_PORT).file_gets.len(),
        asked,
        "no block asked after Cancel"
    );
    assert_eq!(state_and_result(&mut net), ("0".into(), "10".into()));
    assert!(flash.lock().unwrap().image.is_empty());

    // XML /5/0/5 9: a scheme the device does not support; the Write itself succeeds.
    for uri in ["http://h/fw", "coaps://h/fw", "coap+tcp://h/fw"] {
        assert_eq!(
            ask(&mut net, put("/5/0/1", 0, uri.as_bytes().to_vec())).0,
            msg::CHANGED
        );
        assert_eq!(
            state_and_result(&mut net),
            ("0".into(), "9".into()),
            "{uri}"
        );
    }
    // 7: not a URI at all.
    assert_eq!(
        ask(&mut net, put("/5/0/1", 0, b"coap:/x".to_vec())).0,
        msg::CHANGED
    );
    assert_eq!(state_and_result(&mut net), ("0".into(), "7".into()));
}

/// The URIs an installer was asked to download.
type Downloads = Arc<Mutex<Vec<String>>>;

/// A registered device whose installer downloads http(s) itself and defers when `defer`.
fn app_device(seed: u64, defer: bool) -> (Net, Arc<Mutex<Flash>>, Downloads) {
    let flash = Arc::new(Mutex::new(Flash::default()));
    let downloads = Arc::new(Mutex::new(Vec::new()));
    let mut client = lwm2mc::Client::new(config(seed), factory_bs_only(0));
    let installer = AppInstaller {
        inner: Installer(flash.clone()),
        protocols: vec![DownloadProtocol::Http, DownloadProtocol::Https],
        downloads: downloads.clone(),
        defer,
    };
    client.set_firmware(Box::new(installer)).unwrap();
    client.start(0);
    let mut net = Net::new(client);
    net.servers.insert(
        BS_PORT,
        Server::Bs(FakeBs::new(seed, standard_plan(1, 300))),
    );
    net.servers
        .insert(DM_PORT, Server::Dm(FakeDm::new(seed + 1)));
    assert!(net.run_until(10_000, registered));
    (net, flash, downloads)
}

#[test]
fn an_http_package_uri_is_handed_to_the_applications_downloader() {
    let (mut net, flash, downloads) = app_device(109, false);
    let (_, _, support) = ask(&mut net, get("/5/0/8", Some(11542)));
    // TLV: /5/0/8 with instances 0 = 0 (CoAP), 1 = 2 (HTTP), 2 = 3 (HTTPS).
    assert_eq!(
        support,
        [0x88, 0x08, 0x09, 0x41, 0x00, 0x00, 0x41, 0x01, 0x02, 0x41, 0x02, 0x03]
    );
    let now = net.now;
    assert_eq!(
        net.client.firmware_downloaded(now, Ok(())),
        Err(lwm2mc::client::FirmwareError::OutOfSequence),
        "no download runs"
    );
    let uri = "https://files.example/fw-2.bin";
    assert_eq!(
        ask(&mut net, put("/5/0/1", 0, uri.as_bytes().to_vec())).0,
        msg::CHANGED
    );
    assert_eq!(*downloads.lock().unwrap(), [uri]);
    assert_eq!(state_and_result(&mut net), ("1".into(), "0".into()));
    // The application stored the package itself, then reports the end: verified, Downloaded.
    flash.lock().unwrap().image = package(3000);
    let now = net.now;
    net.client.firmware_downloaded(now, Ok(())).unwrap();
    assert_eq!(state_and_result(&mut net), ("2".into(), "0".into()));
    assert_eq!(flash.lock().unwrap().verified, 1);
    // A reset, a second download that breaks off: Update Result 4.
    assert_eq!(ask(&mut net, put("/5/0/1", 0, vec![])).0, msg::CHANGED);
    assert_eq!(
        ask(&mut net, put("/5/0/1", 0, uri.as_bytes().to_vec())).0,
        msg::CHANGED
    );
    let now = net.now;
    net.client
        .firmware_downloaded(now, Err(DownloadFailure::ConnectionLost))
        .unwrap();
    assert_eq!(state_and_result(&mut net), ("0".into(), "4".into()));
}

#[test]
fn a_deferred_update_waits_for_the_user_or_for_the_maximum_defer_period() {
    let (mut net, flash, _) = app_device(111, true);
    push(&mut net, &package(2000));
    assert_eq!(ask(&mut net, execute("/5/0/2")).0, msg::CHANGED);
    // XML /5/0/3: deferred, the state stays Downloaded with Update Result 11.
    assert_eq!(state_and_result(&mut net), ("2".into(), "11".into()));
    assert!(net.has_event(|e| *e == lwm2mc::Event::FirmwareUpdateAwaitingUser));
    assert_eq!(flash.lock().unwrap().applied, 0);
    net.run_until(3_600_000, |_| false);
    assert_eq!(
        flash.lock().unwrap().applied,
        0,
        "no period: it waits for the user"
    );
    let now = net.now;
    net.client.firmware_accept_update(now).unwrap();
    assert_eq!(state_and_result(&mut net), ("0".into(), "1".into()));
    assert_eq!(flash.lock().unwrap().applied, 1);
    let now = net.now;
    assert_eq!(
        net.client.firmware_accept_update(now),
        Err(lwm2mc::client::FirmwareError::OutOfSequence)
    );

    // Maximum Defer Period 60 s: installed without the user once it is over.
    assert_eq!(
        ask(&mut net, put("/5/0/13", 0, b"60".to_vec())).0,
        msg::CHANGED
    );
    push(&mut net, &package(2000));
    assert_eq!(ask(&mut net, execute("/5/0/2")).0, msg::CHANGED);
    let deferred_at = net.now;
    assert_eq!(state_and_result(&mut net), ("2".into(), "11".into()));
    net.run_until(120_000, |n| {
        n.client.store().value(&lwm2mc::Path::resource(5, 0, 5)) == Some(&lwm2mc::Value::Integer(1))
    });
    assert_eq!(flash.lock().unwrap().applied, 2);
    assert!(net.now - deferred_at >= 60_000);

    // 0: "a deferred update is not allowed" — installed at once.
    assert_eq!(
        ask(&mut net, put("/5/0/13", 0, b"0".to_vec())).0,
        msg::CHANGED
    );
    push(&mut net, &package(2000));
    assert_eq!(ask(&mut net, execute("/5/0/2")).0, msg::CHANGED);
    assert_eq!(state_and_result(&mut net), ("0".into(), "1".into()));
    assert_eq!(flash.lock().unwrap().applied, 3);
}

#[test]
fn package_name_and_version_are_the_applications_to_set_and_the_servers_to_read() {
    let (mut net, _) = device(113);
    // XML /5/0/6, /5/0/7: read-only for servers, set by the device.
    net.client
        .set(
            &lwm2mc::Path::resource(5, 0, 6),
            lwm2mc::Value::String("acme-fw".into()),
        )
        .unwrap();
    net.client
        .set(
            &lwm2mc::Path::resource(5, 0, 7),
            lwm2mc::Value::String("2.1.0".into()),
        )
        .unwrap();
    assert_eq!(read(&mut net, "/5/0/6"), "acme-fw");
    assert_eq!(read(&mut net, "/5/0/7"), "2.1.0");
    let (code, _, _) = ask(&mut net, put("/5/0/7", 0, b"9.9".to_vec()));
    assert_eq!(code, msg::METHOD_NOT_ALLOWED);
    assert_eq!(read(&mut net, "/5/0/7"), "2.1.0");
}
