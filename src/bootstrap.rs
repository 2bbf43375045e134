//! Bootstrap interface (Core 1.1 §5.2): the operations a Bootstrap-Server performs during a
//! session, applied to a staged copy of the store, and the consistency check run at
//! Bootstrap-Finish. Timers, retries and the commit live in `client.rs`.

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::accounts::{self, sec, srv};
use crate::coap::msg;
use crate::codec::link::{format_links, Link};
use crate::codec::{self, CodecError, ContentFormat};
use crate::config::Version;
use crate::data_model::{instance_ids_of, AppInstances};
use crate::model::oid;
use crate::path::Path;
use crate::peer::SecurityMode;
use crate::request::{Reply, Request};
use crate::store::Store;
use crate::transaction::Transaction;
use crate::uri::ServerUri;
use crate::value::Resources;

/// A bootstrap session in progress: the Bootstrap-Server's changes, staged in a transaction
/// until Finish. Only the objects it changed are committed, so values the application changed
/// meanwhile in other objects (battery level, ...) are not rolled back.
pub(crate) type Session = Transaction;

/// What a Bootstrap-Server request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    Reply(Reply),
    /// Bootstrap-Finish: the caller validates, commits and replies.
    Finish,
}

/// Handles one request from the Bootstrap-Server within a session.
pub(crate) fn handle(
    session: &mut Session,
    req: &Request,
    version: Version,
    max_instances: usize,
    app: &AppInstances,
) -> Action {
    if req.is_bs() {
        return match req.method {
            msg::POST if req.payload.is_empty() => Action::Finish,
            // Transport 1.1 Table 5: Bootstrap-Finish errors are 4.00 "Bad URI provided".
            _ => Action::Reply(Reply::error(
                msg::BAD_REQUEST,
                "Bootstrap-Finish is an empty POST /bs",
            )),
        };
    }
    let path = match req.path() {
        Ok(p) => p,
        Err(e) => return Action::Reply(Reply::error(msg::BAD_REQUEST, e)),
    };
    Action::Reply(match req.method {
        msg::PUT if req.queries.is_empty() => write(
            session,
            &path,
            req.payload_format(),
            &req.payload,
            max_instances,
        ),
        msg::PUT => Reply::error(
            msg::BAD_REQUEST,
            "Write-Attributes is not a bootstrap operation",
        ),
        msg::DELETE => delete(session, &path),
        msg::GET if req.accept == Some(ContentFormat::LinkFormat.code()) => {
            discover(session.staged(), &path, version, app)
        }
        msg::GET => read(session.staged(), &path, req, version),
        _ => Reply::error(msg::METHOD_NOT_ALLOWED, "not a bootstrap operation"),
    })
}

/// Bootstrap-Write, Core 1.1 §5.2.7.4: "write the value included in the payload regardless of an
/// existence of the targeted Object Instance(s) or Resource(s)" (and of access rights).
/// `format` is the payload's Content-Format, or the reply its absence or rejection earns (given
/// only once the path is known to be writable, so a bad path is reported first). Smartcard
/// provisioning writes through here too.
pub(crate) fn write(
    session: &mut Session,
    path: &Path,
    format: Result<ContentFormat, Reply>,
    payload: &[u8],
    max_instances: usize,
) -> Reply {
    let Some(o) = path.object_id() else {
        return Reply::error(msg::BAD_REQUEST, "Bootstrap-Write needs /O, /O/I or /O/I/R");
    };
    if path.resource_instance_id().is_some() {
        return Reply::error(
            msg::BAD_REQUEST,
            "Bootstrap-Write targets /O, /O/I or /O/I/R",
        );
    }
    let Some(multiple) = session.staged().def(o).map(|d| d.multiple) else {
        return Reply::error(msg::NOT_FOUND, format!("object {o} not supported"));
    };
    let format = match format {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    let decoded = match codec::decode(format, path, payload, session.staged()) {
        Ok(d) => d,
        Err(CodecError::Unsupported) => {
            return Reply::error(
                msg::UNSUPPORTED_CONTENT_FORMAT,
                format!("format {} for {path}", format.code()),
            )
        }
        Err(e) => return Reply::error(msg::BAD_REQUEST, e),
    };
    // Checked before anything changes, so a refused write leaves the object as it was; then
    // written in place (issue 15: building the new instance set as a copy first duplicated the
    // copy-on-write copy of the object).
    let existing = session.staged().instances(o);
    let held = |iid: &u16| existing.is_some_and(|e| e.contains_key(iid));
    let added = decoded.keys().filter(|iid| !held(iid)).count();
    let count = existing.map_or(0, |e| e.len()) + added;
    if !multiple && count > 1 {
        return Reply::error(msg::BAD_REQUEST, format!("object {o} is single-instance"));
    }
    // Write regardless of existence, but not without bound (`Limits::max_instances`).
    if count > max_instances {
        return Reply::error(
            msg::BAD_REQUEST,
            format!("object {o} would hold more than {max_instances} instances"),
        );
    }
    let Some(instances) = session.staged_mut().instances_mut(o) else {
        return Reply::error(msg::NOT_FOUND, format!("object {o} not supported"));
    };
    for (iid, resources) in decoded {
        match path.resource_id() {
            // Write on /O or /O/I replaces the instance, creating it if absent.
            None => {
                instances.insert(iid, resources);
            }
            // Write on /O/I/R sets that resource, creating the instance if absent.
            Some(_) => {
                let inst: &mut Resources = instances.entry(iid).or_default();
                inst.extend(resources);
            }
        }
    }
    Reply::code(msg::CHANGED)
}

/// Instances no Bootstrap-Delete may remove (Core 1.1 §5.2.7.5): the Bootstrap-Server account
/// and the single Device instance.
fn is_protected(store: &Store, o: u16, i: u16) -> bool {
    match o {
        oid::DEVICE => true,
        oid::SECURITY => accounts::security(store, i).is_some_and(|a| a.is_bootstrap()),
        _ => false,
    }
}

/// Bootstrap-Delete on `/`, `/O` or `/O/I`. Protected instances are skipped and the answer is
/// still 2.02 (FACTS §1.6: "not affected by any Delete operation"); deleting an absent instance
/// is not an error, since the goal state is reached.
fn delete(session: &mut Session, path: &Path) -> Reply {
    if path.resource_id().is_some() {
        return Reply::error(msg::BAD_REQUEST, "Bootstrap-Delete targets /, /O or /O/I");
    }
    let objects: Vec<u16> = match path.object_id() {
        None => session.staged().object_ids().collect(),
        Some(o) if session.staged().def(o).is_some() => alloc::vec![o],
        Some(o) => return Reply::error(msg::BAD_REQUEST, format!("object {o} not supported")),
    };
    for o in objects {
        let targets: Vec<u16> = match path.instance_id() {
            Some(i) => alloc::vec![i],
            None => session.staged().instance_ids(o),
        };
        for i in targets {
            if !is_protected(session.staged(), o, i) {
                session.staged_mut().remove_instance(o, i);
            }
        }
    }
    Reply::code(msg::DELETED)
}

/// Bootstrap-Discover on `/` or `/O` (Core 1.1 §5.2.7.3; exact forms in FACTS §1.7).
/// The application's objects show the instances in `app`.
pub(crate) fn discover(store: &Store, path: &Path, version: Version, app: &AppInstances) -> Reply {
    if path.instance_id().is_some() {
        return Reply::error(msg::BAD_REQUEST, "Bootstrap-Discover targets / or /O");
    }
    let objects: Vec<u16> = match path.object_id() {
        None => store.object_ids().collect(),
        Some(o) if store.def(o).is_some() => alloc::vec![o],
        Some(o) => return Reply::error(msg::NOT_FOUND, format!("object {o} not supported")),
    };
    let mut links = Vec::new();
    let mut root = Link::new(String::from("/"));
    let lwm2m = version.as_str().to_string();
    if version == Version::V1_0 {
        // 1.0.x form: a bare `lwm2m="1.0"` element, not attached to a URI (FACTS §1.7).
        root.target = String::new();
        root.attrs.push(("lwm2m".into(), Some(lwm2m)));
    } else {
        root.attrs.push(("lwm2m".into(), Some(lwm2m)));
    }
    links.push(root);
    for o in objects {
        let Some(def) = store.def(o) else { continue };
        let ids = instance_ids_of(store, app, o);
        let ver = if version == Version::V1_0 && o <= oid::DEVICE {
            None
        } else {
            def.announced_version()
        };
        if ids.is_empty() || ver.is_some() {
            let mut l = Link::new(format!("/{o}"));
            if let Some(v) = ver {
                l.attrs.push(("ver".into(), Some(v.to_string())));
            }
            links.push(l);
        }
        for i in ids {
            let mut l = Link::new(format!("/{o}/{i}"));
            match o {
                oid::SECURITY => {
                    let account = accounts::security(store, i).filter(|a| !a.is_bootstrap());
                    if let Some(acct) = account {
                        if let Some(ssid) = acct.ssid() {
                            l.attrs.push(("ssid".into(), Some(ssid.to_string())));
                        }
                        if version != Version::V1_0 {
                            l.attrs.push(("uri".into(), Some(acct.uri().to_string())));
                        }
                    }
                }
                oid::SERVER => {
                    let ssid = store
                        .resource(o, i, srv::SSID)
                        .and_then(|r| r.single())
                        .and_then(|v| v.as_i64());
                    if let Some(ssid) = ssid {
                        l.attrs.push(("ssid".into(), Some(ssid.to_string())));
                    }
                }
                _ => {}
            }
            links.push(l);
        }
    }
    Reply::content(
        ContentFormat::LinkFormat.code(),
        format_links(&links).into_bytes(),
    )
}

/// Bootstrap-Read (1.1, Core 1.1 §5.2.7.2): only `/1`, `/1/I`, `/2`, `/2/I`; other targets get
/// 4.05 (Transport 1.1 table: "Target is not allowed for Read operation").
fn read(store: &Store, path: &Path, req: &Request, version: Version) -> Reply {
    if version == Version::V1_0 {
        return Reply::error(
            msg::BAD_REQUEST,
            "Bootstrap-Read does not exist in LwM2M 1.0",
        );
    }
    let Some(o) = path.object_id() else {
        return Reply::error(msg::METHOD_NOT_ALLOWED, "Bootstrap-Read targets /1 or /2");
    };
    if !matches!(o, oid::SERVER | oid::ACCESS_CONTROL) || path.resource_id().is_some() {
        return Reply::error(
            msg::METHOD_NOT_ALLOWED,
            "Bootstrap-Read targets /1, /1/I, /2 or /2/I",
        );
    }
    let Some(all) = store.instances(o) else {
        return Reply::error(msg::NOT_FOUND, format!("object {o} not supported"));
    };
    let content = match path.instance_id() {
        None => all.clone(),
        Some(i) => match all.get(&i) {
            Some(res) => [(i, res.clone())].into_iter().collect(),
            None => return Reply::error(msg::NOT_FOUND, format!("{path} not found")),
        },
    };
    // Bootstrap-Read answers in TLV (the default) or SenML.
    let senml_or_tlv = |f| {
        matches!(
            f,
            ContentFormat::Tlv | ContentFormat::SenmlJson | ContentFormat::SenmlCbor
        )
    };
    let format = match req.answer_format(senml_or_tlv, ContentFormat::Tlv) {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    match codec::encode(format, path, &content) {
        Ok(bytes) => Reply::content(format.code(), bytes),
        Err(e) => Reply::error(msg::INTERNAL_SERVER_ERROR, e),
    }
}

/// Reports every Mandatory resource of the object model (executables aside: they hold no value)
/// that instance `/o/iid` lacks, except those `exempt` names.
fn missing_mandatory(
    store: &Store,
    o: u16,
    iid: u16,
    res: &Resources,
    exempt: &[u16],
    problems: &mut Vec<String>,
) {
    let Some(def) = store.def(o) else { return };
    for r in def
        .resources
        .iter()
        .filter(|r| r.mandatory && !r.operations.executable() && !exempt.contains(&r.id))
    {
        if !res.contains_key(&r.id) {
            problems.push(format!(
                "{} ({}, mandatory) is missing",
                Path::resource(o, iid, r.id),
                r.name
            ));
        }
    }
}

/// The key resources a Security instance may lack, by Security Mode.
///
/// The object model marks 3, 4 and 5 Mandatory, but their descriptions (Core 1.1 §E.1) give
/// them a meaning only in the modes that use them: "Public Key or Identity" is the PSK identity,
/// the RPK or the certificate, "Secret Key" the PSK or the private key, "Server Public Key" the
/// server's RPK, certificate or trust anchor. The peers agree:
/// - Wakaama's `bootstrap_server` writes a NoSec instance with 0, 1, 2 and 10 only, and its
///   client accepts it (FACTS §1.9);
/// - Anjay (`anjay_mod_security` transaction.c, `validate_instance`) requires the identity and
///   the secret key only for modes other than NoSec and EST, and never the server key;
/// - Leshan's Bootstrap-Server (`ConfigurationChecker`) requires the three *empty* for NoSec,
///   identity and secret key non-empty for PSK.
///
/// So: NoSec and Certificate-with-EST (whose keys come from the EST enrolment) need none; PSK,
/// RPK and Certificate need a non-empty identity and secret key; the server key is never
/// required (with Certificate Usage 2 or 3 the trust anchor may come from elsewhere, §E.1 /0/x/15).
fn exempt_keys(mode: Option<SecurityMode>) -> &'static [u16] {
    match mode {
        Some(
            SecurityMode::PreSharedKey | SecurityMode::RawPublicKey | SecurityMode::Certificate,
        ) => &[sec::SERVER_KEY],
        // An absent or unknown mode is reported as such; its keys mean nothing yet.
        Some(SecurityMode::NoSec | SecurityMode::CertificateWithEst) | None => {
            &[sec::IDENTITY, sec::SERVER_KEY, sec::SECRET_KEY]
        }
    }
}

/// An empty identity or secret key in a mode that authenticates with them (see `exempt_keys`).
fn empty_keys(iid: u16, mode: Option<SecurityMode>, res: &Resources, problems: &mut Vec<String>) {
    if exempt_keys(mode).contains(&sec::IDENTITY) {
        return;
    }
    for rid in [sec::IDENTITY, sec::SECRET_KEY] {
        let empty = res
            .get(&rid)
            .and_then(|r| r.single())
            .is_some_and(|v| v.as_bytes().is_some_and(<[u8]>::is_empty));
        if empty {
            problems.push(format!(
                "{} is empty, but Security Mode {} needs it",
                Path::resource(oid::SECURITY, iid, rid),
                mode.map_or(-1, SecurityMode::as_i64)
            ));
        }
    }
}

/// The consistency check of Bootstrap-Finish (Core 1.1 §5.2.6): returns every problem found;
/// empty means consistent. Each instance is read once, in place (issue 15).
pub(crate) fn validate(store: &Store) -> Vec<String> {
    let mut problems = Vec::new();
    let mut bs_count = 0;
    // The Short Server IDs of the LwM2M Server accounts' Security instances.
    let mut seen_ssids = BTreeSet::new();
    for acct in accounts::securities(store) {
        let (iid, res) = (acct.iid, acct.resources());
        let p = |r: u16| Path::resource(oid::SECURITY, iid, r);
        let mode = SecurityMode::from_i64(acct.mode());
        missing_mandatory(
            store,
            oid::SECURITY,
            iid,
            res,
            exempt_keys(mode),
            &mut problems,
        );
        empty_keys(iid, mode, res, &mut problems);
        if res.contains_key(&sec::URI) && !ServerUri::is_valid(acct.uri()) {
            problems.push(format!(
                "{} is not a valid server URI: {:?}",
                p(sec::URI),
                acct.uri()
            ));
        }
        if res.contains_key(&sec::MODE) && mode.is_none() {
            problems.push(format!("{} is not a security mode (0..4)", p(sec::MODE)));
        }
        if acct.is_bootstrap() {
            bs_count += 1;
            continue;
        }
        match acct.ssid() {
            // Core 1.1 §E.1: Short Server ID "MUST be set when res. 1 is false".
            None => problems.push(format!(
                "{} must hold a Short Server ID in 1..65534",
                p(sec::SSID)
            )),
            Some(ssid) if !seen_ssids.insert(ssid) => problems.push(format!(
                "Short Server ID {ssid} is used by two Security instances"
            )),
            Some(_) => {}
        }
    }
    // Core 1.1 §5.2.2: "MUST have at most one LwM2M Bootstrap-Server Account". Reported
    // first, as it always was.
    if bs_count > 1 {
        problems.insert(
            0,
            format!("{bs_count} Bootstrap-Server accounts (at most one allowed)"),
        );
    }
    let mut server_ssids = BTreeSet::new();
    let mut has_account = false;
    for (iid, res) in store.instances(oid::SERVER).into_iter().flatten() {
        missing_mandatory(store, oid::SERVER, *iid, res, &[], &mut problems);
        let ssid = res
            .get(&srv::SSID)
            .and_then(|r| r.single())
            .and_then(|v| v.as_i64());
        // An account pairs a valid Short Server ID with a Security instance holding it.
        has_account |= accounts::ssid_of(ssid).is_some_and(|s| seen_ssids.contains(&s));
        if let Some(ssid) = ssid {
            if !server_ssids.insert(ssid) {
                problems.push(format!(
                    "Short Server ID {ssid} is used by two Server instances"
                ));
            }
        }
    }
    // Access Control instances: their Mandatory resources and targets (Core 1.1 §7.3).
    for (iid, res) in store.instances(oid::ACCESS_CONTROL).into_iter().flatten() {
        missing_mandatory(store, oid::ACCESS_CONTROL, *iid, res, &[], &mut problems);
    }
    problems.extend(crate::access::validate(store));
    // Core 1.1 §5.2.2: "MUST have at least one LwM2M Server Account after completion of
    // Bootstrap Sequence" (a Security and a Server instance with the same Short Server ID,
    // what `accounts::server_accounts` pairs).
    if !has_account {
        problems.push(
            "no LwM2M Server account (Security + Server instance with the same Short Server ID)"
                .to_string(),
        );
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::factory;
    use crate::value::Value;

    #[test]
    fn a_refused_bootstrap_write_leaves_the_object_as_it_was() {
        use crate::codec::tlv;
        use crate::value::{Instances, ResourceValue, Resources};
        let mut s = Store::with_standard_objects();
        factory::add_device(&mut s, "ACME", "M1", "0001").unwrap();
        let mut session = Transaction::begin(&s);
        let device = |iids: &[u16]| -> Vec<u8> {
            let mut all = Instances::new();
            for i in iids {
                let mut r = Resources::new();
                r.insert(0, ResourceValue::Single(Value::String("X".into())));
                all.insert(*i, r);
            }
            tlv::encode(&Path::object(3), &all).unwrap()
        };
        let write = |session: &mut Session, path: &Path, payload: &[u8], max: usize| {
            write(session, path, Ok(ContentFormat::Tlv), payload, max)
        };
        let before = session.staged().instances(3).cloned();
        // Device is single-instance (XML /3): a second instance, whether beside the one held
        // or two in one payload, is refused and nothing is written.
        for (path, iids) in [(Path::object(3), &[1][..]), (Path::object(3), &[0, 1][..])] {
            let reply = write(&mut session, &path, &device(iids), 32);
            assert_eq!(reply.code, msg::BAD_REQUEST, "{iids:?}");
            assert_eq!(reply.payload, b"object 3 is single-instance");
            assert_eq!(session.staged().instances(3).cloned(), before);
        }
        // Over the instance limit: refused, unchanged.
        let reply = write(&mut session, &Path::object(3), &device(&[0]), 0);
        assert_eq!(reply.payload, b"object 3 would hold more than 0 instances");
        assert_eq!(session.staged().instances(3).cloned(), before);
        // The instance held is replaced; one into an empty object is created.
        let reply = write(&mut session, &Path::object(3), &device(&[0]), 32);
        assert_eq!(reply.code, msg::CHANGED);
        assert_eq!(session.staged().instance_ids(3), [0]);
        assert_eq!(
            session.staged().value(&Path::resource(3, 0, 0)),
            Some(&Value::String("X".into()))
        );
        assert_eq!(session.staged().value(&Path::resource(3, 0, 1)), None);
        assert!(session.staged_mut().remove_instance(3, 0));
        let reply = write(&mut session, &Path::object(3), &device(&[4]), 32);
        assert_eq!(reply.code, msg::CHANGED);
        assert_eq!(session.staged().instance_ids(3), [4]);
        // The committed store never saw any of it.
        assert_eq!(
            s.value(&Path::resource(3, 0, 0)),
            Some(&Value::String("ACME".into()))
        );
    }

    #[test]
    fn validate_reports_each_inconsistency() {
        let mut s = Store::with_standard_objects();
        factory::add_bootstrap_account(&mut s, "coap://127.0.0.1:5783", 0).unwrap();
        assert_eq!(validate(&s), ["no LwM2M Server account (Security + Server instance with the same Short Server ID)"]);
        factory::add_server_account(&mut s, 1, "coap://127.0.0.1:5683", 60).unwrap();
        assert!(validate(&s).is_empty());
        factory::add_bootstrap_account(&mut s, "coap://127.0.0.1:5784", 0).unwrap();
        factory::add_server_account(&mut s, 1, "not a uri", 60).unwrap();
        let p = validate(&s);
        assert!(
            p.contains(&"2 Bootstrap-Server accounts (at most one allowed)".to_string()),
            "{p:?}"
        );
        assert!(
            p.contains(&"Short Server ID 1 is used by two Security instances".to_string()),
            "{p:?}"
        );
        assert!(
            p.contains(&"Short Server ID 1 is used by two Server instances".to_string()),
            "{p:?}"
        );
        assert!(
            p.iter().any(|m| m.contains("not a valid server URI")),
            "{p:?}"
        );
        assert_eq!(p[0], "2 Bootstrap-Server accounts (at most one allowed)");
    }

    /// Finish's "at least one LwM2M Server account" is what `accounts::server_accounts` pairs:
    /// a valid Short Server ID in a Server instance and in a Security instance that is not the
    /// Bootstrap-Server's.
    #[test]
    fn validate_finds_the_accounts_server_accounts_pairs() {
        const NONE: &str =
            "no LwM2M Server account (Security + Server instance with the same Short Server ID)";
        let security_ssid = Path::resource(oid::SECURITY, 1, sec::SSID);
        let server_ssid = Path::resource(oid::SERVER, 0, srv::SSID);
        let bootstrap_flag = Path::resource(oid::SECURITY, 1, sec::BOOTSTRAP);
        let cases: [(&[(&Path, Value)], bool); 6] = [
            (&[], true),
            (&[(&server_ssid, Value::Integer(2))], false),
            (&[(&bootstrap_flag, Value::Boolean(true))], false),
            (
                &[
                    (&security_ssid, Value::Integer(65535)),
                    (&server_ssid, Value::Integer(65535)),
                ],
                false,
            ),
            (
                &[
                    (&security_ssid, Value::Integer(0)),
                    (&server_ssid, Value::Integer(0)),
                ],
                false,
            ),
            (&[(&security_ssid, Value::Integer(2))], false),
        ];
        for (writes, paired) in cases {
            let mut s = Store::with_standard_objects();
            factory::add_bootstrap_account(&mut s, "coap://127.0.0.1:5783", 0).unwrap();
            factory::add_server_account(&mut s, 1, "coap://127.0.0.1:5683", 60).unwrap();
            for (path, v) in writes {
                s.set(path, v.clone()).unwrap();
            }
            assert_eq!(
                !accounts::server_accounts(&s).is_empty(),
                paired,
                "{writes:?}"
            );
            let p = validate(&s);
            assert_eq!(!p.iter().any(|m| m == NONE), paired, "{writes:?}: {p:?}");
        }
    }
}
