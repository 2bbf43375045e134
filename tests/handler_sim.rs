//! Application-held objects: values read through the handler when a server asks, writes and
//! executes passed to it, and its errors turned into the CoAP codes it names.

mod common;

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use common::*;
use lwm2mc::coap::msg;
use lwm2mc::model::{ObjectDef, Operations, ResourceDef};
use lwm2mc::object::{ErrorCode, ObjectHandler};
use lwm2mc::{ResourceType, ResourceValue, Value};

/// IPSO Temperature (3303): 5700 Sensor Value (R, Float), 5701 Units (R, String), 5605 Reset
/// Min and Max (E), 5750 Application Type (RW, String).
fn temperature_def() -> ObjectDef {
    ObjectDef {
        id: 3303,
        name: Cow::Borrowed("Temperature"),
        version: Cow::Borrowed("1.0"),
        multiple: true,
        mandatory: false,
        resources: Cow::Owned(vec![
            ResourceDef::new(
                5605,
                "Reset Min and Max Measured Values",
                ResourceType::None,
                Operations::E,
                false,
                false,
            ),
            ResourceDef::new(
                5700,
                "Sensor Value",
                ResourceType::Float,
                Operations::R,
                false,
                true,
            ),
            ResourceDef::new(
                5701,
                "Sensor Units",
                ResourceType::String,
                Operations::R,
                false,
                false,
            ),
            ResourceDef::new(
                5750,
                "Application Type",
                ResourceType::String,
                Operations::RW,
                false,
                false,
            ),
        ]),
    }
}

#[derive(Default)]
struct Sensor {
    celsius: f64,
    app_type: String,
    fail_reads: bool,
    resets: u32,
    log: Vec<String>,
}

struct Handler(Arc<Mutex<Sensor>>);

impl ObjectHandler for Handler {
    fn instances(&mut self) -> Result<Vec<u16>, ErrorCode> {
        Ok(vec![0])
    }
    fn read(&mut self, _iid: u16, rid: u16) -> Result<ResourceValue, ErrorCode> {
        let s = self.0.lock().unwrap();
        if s.fail_reads {
            return Err(ErrorCode::ServiceUnavailable);
        }
        match rid {
            5700 => Ok(ResourceValue::Single(Value::Float(s.celsius))),
            5701 => Ok(ResourceValue::Single(Value::String("Cel".into()))),
            5750 if !s.app_type.is_empty() => {
                Ok(ResourceValue::Single(Value::String(s.app_type.clone())))
            }
            _ => Err(ErrorCode::NotFound),
        }
    }
    fn write(&mut self, iid: u16, rid: u16, value: &ResourceValue) -> Result<(), ErrorCode> {
        let mut s = self.0.lock().unwrap();
        s.log.push(format!("write {iid}/{rid}"));
        match value {
            ResourceValue::Single(Value::String(t)) if t.len() <= 8 => {
                s.app_type = t.clone();
                Ok(())
            }
            _ => Err(ErrorCode::BadRequest),
        }
    }
    fn execute(&mut self, _iid: u16, rid: u16, _args: &[u8]) -> Result<(), ErrorCode> {
        let mut s = self.0.lock().unwrap();
        s.resets += 1;
        if rid == 5605 {
            Ok(())
        } else {
            Err(ErrorCode::MethodNotAllowed)
        }
    }
}

#[test]
fn reads_writes_and_executes_go_through_the_handler() {
    let sensor = Arc::new(Mutex::new(Sensor {
        celsius: 21.5,
        ..Default::default()
    }));
    let mut store = factory_bs_only(0);
    store.define(temperature_def(), false);
    let mut client = lwm2mc::Client::new(config(60), store);
    client
        .set_handler(3303, Box::new(Handler(sensor.clone())))
        .unwrap();
    let mut net = Net::new(client);
    net.servers
        .insert(BS_PORT, Server::Bs(FakeBs::new(1, standard_plan(1, 300))));
    net.servers.insert(DM_PORT, Server::Dm(FakeDm::new(2)));
    net.client.start(net.now);
    assert!(net.run_until(10_000, registered));
    assert!(
        net.dm(DM_PORT).register_payloads[0].contains("</3303/0>"),
        "the handler's instances are announced"
    );

    assert_eq!(
        ask(&mut net, get("/3303/0/5700", None)),
        (msg::CONTENT, Some(0), b"21.5".to_vec())
    );
    sensor.lock().unwrap().celsius = -3.25;
    assert_eq!(ask(&mut net, get("/3303/0/5700", None)).2, b"-3.25");
    let (code, cf, _) = ask(&mut net, get("/3303/0", None));
    assert_eq!((code, cf), (msg::CONTENT, Some(11542)));

    assert_eq!(
        ask(&mut net, put("/3303/0/5750", 0, b"room".to_vec())).0,
        msg::CHANGED
    );
    assert_eq!(sensor.lock().unwrap().app_type, "room");
    assert_eq!(ask(&mut net, get("/3303/0/5750", None)).2, b"room");
    // The application refuses a value: its code reaches the server.
    assert_eq!(
        ask(&mut net, put("/3303/0/5750", 0, b"far too long".to_vec())).0,
        msg::BAD_REQUEST
    );
    assert_eq!(sensor.lock().unwrap().app_type, "room");
    // The library keeps no copy of an application's object: its values are the handler's.
    assert_eq!(net.client.store().instance(3303, 0), None);

    assert_eq!(
        ask(&mut net, req(msg::POST, "/3303/0/5605")).0,
        msg::CHANGED
    );
    assert_eq!(sensor.lock().unwrap().resets, 1);
    assert!(
        !net.has_event(|e| matches!(e, lwm2mc::Event::Executed { .. })),
        "handled executes are not events"
    );

    sensor.lock().unwrap().fail_reads = true;
    assert_eq!(
        ask(&mut net, get("/3303/0/5700", None)).0,
        msg::SERVICE_UNAVAILABLE
    );
    // An instance the application does not have is 4.04 without asking for values.
    assert_eq!(ask(&mut net, get("/3303/1/5700", None)).0, msg::NOT_FOUND);
}

#[test]
fn bootstrap_discover_lists_the_instances_of_application_objects() {
    // Found against Wakaama's bootstrap_server: Discover `/` answered `</3303>` while Register
    // announced `</3303/0>`, because the session's copy of the store was taken before the
    // application was asked for its instances.
    let mut store = factory_bs_only(0);
    store.define(temperature_def(), false);
    let mut client = lwm2mc::Client::new(config(61), store);
    client
        .set_handler(3303, Box::new(Handler(Arc::default())))
        .unwrap();
    let mut plan = standard_plan(1, 300);
    plan.insert(0, get("/", Some(40)));
    let mut net = Net::new(client);
    net.servers
        .insert(BS_PORT, Server::Bs(FakeBs::new(3, plan)));
    net.servers.insert(DM_PORT, Server::Dm(FakeDm::new(4)));
    net.client.start(net.now);
    assert!(net.run_until(10_000, registered));
    let discover = net.bs().answers[0].clone();
    assert_eq!(discover.code, msg::CONTENT);
    let links = String::from_utf8(discover.payload).unwrap();
    assert!(links.ends_with(",</3/0>,</3303/0>"), "{links}");
}

/// A sensor that lists its resources and counts the reads it is asked for.
struct Listed(Arc<Mutex<u32>>);

impl ObjectHandler for Listed {
    fn instances(&mut self) -> Result<Vec<u16>, ErrorCode> {
        Ok(vec![0, 1])
    }
    fn read(&mut self, _iid: u16, _rid: u16) -> Result<ResourceValue, ErrorCode> {
        *self.0.lock().unwrap() += 1;
        Ok(ResourceValue::Single(Value::Float(20.0)))
    }
    fn write(&mut self, _iid: u16, _rid: u16, _value: &ResourceValue) -> Result<(), ErrorCode> {
        Ok(())
    }
    fn execute(&mut self, _iid: u16, _rid: u16, _args: &[u8]) -> Result<(), ErrorCode> {
        Ok(())
    }
    fn resources(
        &mut self,
        iid: u16,
    ) -> Result<Option<lwm2mc::object::PresentResources>, ErrorCode> {
        // Instance 1 has no units; 9999 is not in the object's definition and is left out.
        Ok(Some(if iid == 0 {
            vec![(5700, None), (5701, None), (9999, None)]
        } else {
            vec![(5700, None)]
        }))
    }
}

#[test]
fn discover_of_an_object_that_lists_its_resources_reads_nothing() {
    let reads = Arc::new(Mutex::new(0));
    let mut store = factory_bs_only(0);
    store.define(temperature_def(), false);
    let mut client = lwm2mc::Client::new(config(62), store);
    client
        .set_handler(3303, Box::new(Listed(reads.clone())))
        .unwrap();
    let mut net = Net::new(client);
    net.servers
        .insert(BS_PORT, Server::Bs(FakeBs::new(5, standard_plan(1, 300))));
    net.servers.insert(DM_PORT, Server::Dm(FakeDm::new(6)));
    net.client.start(net.now);
    assert!(net.run_until(10_000, registered));
    let text = |p: Vec<u8>| String::from_utf8(p).unwrap();
    let (code, cf, body) = ask(&mut net, get("/3303", Some(40)));
    assert_eq!((code, cf), (msg::CONTENT, Some(40)));
    assert_eq!(
        text(body),
        "</3303>,</3303/0>,</3303/0/5605>,</3303/0/5700>,</3303/0/5701>,\
         </3303/1>,</3303/1/5605>,</3303/1/5700>"
    );
    assert_eq!(
        text(ask(&mut net, get("/3303/1", Some(40))).2),
        "</3303/1>,</3303/1/5605>,</3303/1/5700>"
    );
    assert_eq!(ask(&mut net, get("/3303/2", Some(40))).0, msg::NOT_FOUND);
    assert_eq!(*reads.lock().unwrap(), 0, "Discover read a sensor");
    // A Read still reads.
    assert_eq!(ask(&mut net, get("/3303/0/5700", None)).0, msg::CONTENT);
    assert_eq!(*reads.lock().unwrap(), 1);
}

/// An object with two writable resources (5750 Application Type, 5701 Sensor Units made
/// writable here) whose handler keeps a log of its transaction calls and restores its values
/// on rollback.
#[derive(Default)]
struct Journal {
    values: std::collections::BTreeMap<u16, String>,
    saved: Option<std::collections::BTreeMap<u16, String>>,
    log: Vec<String>,
    refuse_validate: bool,
}

struct Transactional(Arc<Mutex<Journal>>);

impl ObjectHandler for Transactional {
    fn instances(&mut self) -> Result<Vec<u16>, ErrorCode> {
        Ok(vec![0])
    }
    fn read(&mut self, _iid: u16, rid: u16) -> Result<ResourceValue, ErrorCode> {
        let j = self.0.lock().unwrap();
        let v = j.values.get(&rid).ok_or(ErrorCode::NotFound)?;
        Ok(ResourceValue::Single(Value::String(v.clone())))
    }
    fn write(&mut self, _iid: u16, rid: u16, value: &ResourceValue) -> Result<(), ErrorCode> {
        let mut j = self.0.lock().unwrap();
        j.log.push(format!("write {rid}"));
        match value {
            ResourceValue::Single(Value::String(t)) if t != "bad" => {
                j.values.insert(rid, t.clone());
                Ok(())
            }
            _ => Err(ErrorCode::BadRequest),
        }
    }
    fn execute(&mut self, _iid: u16, _rid: u16, _args: &[u8]) -> Result<(), ErrorCode> {
        Ok(())
    }
    fn begin(&mut self) -> Result<(), ErrorCode> {
        let mut j = self.0.lock().unwrap();
        j.log.push("begin".into());
        j.saved = Some(j.values.clone());
        Ok(())
    }
    fn validate(&mut self) -> Result<(), ErrorCode> {
        let mut j = self.0.lock().unwrap();
        j.log.push("validate".into());
        match j.refuse_validate {
            true => Err(ErrorCode::BadRequest),
            false => Ok(()),
        }
    }
    fn commit(&mut self) {
        let mut j = self.0.lock().unwrap();
        j.log.push("commit".into());
        j.saved = None;
    }
    fn rollback(&mut self) {
        let mut j = self.0.lock().unwrap();
        j.log.push("rollback".into());
        if let Some(saved) = j.saved.take() {
            j.values = saved;
        }
    }
}

fn transactional_client(journal: &Arc<Mutex<Journal>>) -> Net {
    let mut def = temperature_def();
    let mut resources = def.resources.to_vec();
    for r in resources.iter_mut().filter(|r| r.id == 5701) {
        r.operations = Operations::RW;
    }
    def.resources = Cow::Owned(resources);
    let mut store = factory_bs_only(0);
    store.define(def, false);
    let mut client = lwm2mc::Client::new(config(63), store);
    client
        .set_handler(3303, Box::new(Transactional(journal.clone())))
        .unwrap();
    let mut net = Net::new(client);
    net.servers
        .insert(BS_PORT, Server::Bs(FakeBs::new(7, standard_plan(1, 300))));
    net.servers.insert(DM_PORT, Server::Dm(FakeDm::new(8)));
    net.client.start(net.now);
    assert!(net.run_until(10_000, registered));
    net
}

/// A SenML JSON payload writing 5701 and 5750 of /3303/0.
fn two_values(units: &str, app_type: &str) -> Vec<u8> {
    format!(r#"[{{"bn":"/3303/0/","n":"5701","vs":"{units}"}},{{"n":"5750","vs":"{app_type}"}}]"#)
        .into_bytes()
}

#[test]
fn a_write_the_application_refuses_half_way_rolls_back_the_whole_request() {
    let journal = Arc::new(Mutex::new(Journal::default()));
    let mut net = transactional_client(&journal);
    let ok = ask(
        &mut net,
        post("/3303/0", Some(110), &two_values("Cel", "room")),
    );
    assert_eq!(ok.0, msg::CHANGED);
    let log = std::mem::take(&mut journal.lock().unwrap().log);
    assert_eq!(
        log,
        ["begin", "write 5701", "write 5750", "validate", "commit"]
    );

    // 5701 is written, then 5750 is refused: 4.00, and 5701 is back to "Cel".
    let refused = ask(
        &mut net,
        post("/3303/0", Some(110), &two_values("K", "bad")),
    );
    assert_eq!(refused.0, msg::BAD_REQUEST);
    let j = journal.lock().unwrap();
    assert_eq!(j.log, ["begin", "write 5701", "write 5750", "rollback"]);
    assert_eq!(j.values.get(&5701).map(String::as_str), Some("Cel"));
    assert_eq!(j.values.get(&5750).map(String::as_str), Some("room"));
}

#[test]
fn an_object_that_refuses_to_validate_refuses_the_request_and_rolls_back() {
    let journal = Arc::new(Mutex::new(Journal::default()));
    let mut net = transactional_client(&journal);
    journal.lock().unwrap().refuse_validate = true;
    let events_before = net.events.len();
    let refused = ask(
        &mut net,
        post("/3303/0", Some(110), &two_values("K", "hall")),
    );
    assert_eq!(refused.0, msg::BAD_REQUEST);
    let j = journal.lock().unwrap();
    assert_eq!(
        j.log,
        ["begin", "write 5701", "write 5750", "validate", "rollback"]
    );
    assert!(
        j.values.is_empty(),
        "rolled back to nothing: {:?}",
        j.values
    );
    // A refused request is no Written event.
    assert!(!net.events[events_before..]
        .iter()
        .any(|(_, e)| matches!(e, lwm2mc::Event::Written { .. })));
}

#[test]
fn a_read_of_an_application_resource_reads_that_resource_only_and_a_write_reads_nothing() {
    let journal = Arc::new(Mutex::new(Journal::default()));
    let mut net = transactional_client(&journal);
    assert_eq!(
        ask(&mut net, put("/3303/0/5750", 0, b"lab".to_vec())).0,
        msg::CHANGED
    );
    let log = std::mem::take(&mut journal.lock().unwrap().log);
    assert_eq!(log, ["begin", "write 5750", "validate", "commit"]);
    assert_eq!(ask(&mut net, get("/3303/0/5750", None)).2, b"lab");
}
