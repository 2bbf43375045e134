//! Client Registration interface (Core 1.1 §5.3, Transport 1.1 §6.2): Register, Update,
//! De-register messages and the per-server registration state.

use alloc::borrow::Cow;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::accounts::ServerAccount;
use crate::coap::message::option;
use crate::coap::message_buf::MessageBuf;
use crate::coap::msg;
use crate::codec::link::LinkWriter;
use crate::codec::ContentFormat;
use crate::config::{Config, RootFormats, Version};
use crate::data_model::AppInstances;
use crate::decimal::Decimal;
use crate::model::oid;
use crate::path::Path;
use crate::peer::PeerId;
use crate::store::Store;

pub(crate) mod procedure;

/// Where one server's registration stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RegState {
    /// Not registered; the next Register is due when the client's `Timer::Register` fires
    /// (none armed: not scheduled).
    Idle,
    Registering,
    Registered,
    Updating,
    Deregistering,
    /// Every retry failed; waiting for the sequence to restart or for bootstrap.
    Failed,
}

/// One LwM2M Server the client registers with.
#[derive(Debug, Clone)]
pub(crate) struct Registration {
    pub account: ServerAccount,
    pub peer: PeerId,
    pub state: RegState,
    /// Every Location-Path segment of the 2.01 (Transport 1.1 §6.2.1: "MUST return a location
    /// under the /rd path segment"; keep them all, not only the last).
    pub location: Vec<String>,
    /// Lifetime and binding as last sent, to send only what changed in an Update (Core 1.1
    /// §5.3.2: "MUST contain only the parameters ... which have changed").
    pub sent_lifetime_s: i64,
    pub sent_binding: String,
    pub sent_links: String,
    /// The object list the Register or Update in flight carries (or would have carried: an
    /// Update sends it only when changed), the server's once answered.
    pub pending_links: String,
    /// Failed attempts in the current sequence.
    pub failures: u32,
    /// An Update is wanted as soon as no other exchange is running.
    pub update_wanted: bool,
    /// Waiting for its turn in the Registration Priority Order (`/1/x/13`).
    pub waiting: bool,
    /// Whether the Initial Registration Delay Timer (`/1/x/14`) still applies: "only applied
    /// until the first successful registration after a successful bootstrapping sequence"
    /// [XML /1/x/14].
    pub initial_delay_applies: bool,
    /// Disabled (`/1/x/4`) until this time: de-registered, silent, and registering again then.
    pub disabled_until: Option<u64>,
}

impl Registration {
    pub(crate) fn new(account: ServerAccount, peer: PeerId) -> Registration {
        Registration {
            account,
            peer,
            state: RegState::Idle,
            location: Vec::new(),
            sent_lifetime_s: 0,
            sent_binding: String::new(),
            sent_links: String::new(),
            pending_links: String::new(),
            failures: 0,
            update_wanted: false,
            waiting: false,
            initial_delay_applies: true,
            disabled_until: None,
        }
    }

    /// True once the server accepted a Register and until De-register or expiry.
    pub(crate) fn is_registered(&self) -> bool {
        matches!(self.state, RegState::Registered | RegState::Updating)
    }

    /// Wants an Update and can send it now: registered, with no Update or Register in flight.
    pub(crate) fn wants_update_now(&self) -> bool {
        self.update_wanted && self.state == RegState::Registered
    }

    pub(crate) fn location_path(&self) -> String {
        format!("/{}", self.location.join("/"))
    }
}

/// The Content-Formats this build decodes and encodes, besides plain text and opaque.
pub(crate) fn supported_formats() -> Vec<u16> {
    let mut v = alloc::vec![ContentFormat::Tlv.code()];
    if ContentFormat::SenmlJson.can_encode() {
        v.push(ContentFormat::SenmlJson.code());
    }
    if ContentFormat::SenmlCbor.can_encode() {
        v.push(ContentFormat::SenmlCbor.code());
    }
    v.sort_unstable();
    v
}

/// The value of the root link's `ct` attribute, if any (see `RootFormats`).
pub(crate) fn root_ct(config: &Config) -> Option<String> {
    if config.version == Version::V1_0 {
        // 1.0 servers know TLV and LwM2M JSON (11543) only; we announce nothing, as TLV is
        // assumed (Core 1.0 §6.4).
        return None;
    }
    match config.root_formats {
        RootFormats::Omit => None,
        RootFormats::Preferred => {
            let senml = [ContentFormat::SenmlJson, ContentFormat::SenmlCbor];
            config
                .preferred_format
                .filter(|f| senml.contains(f))
                .into_iter()
                .chain(senml)
                .find(|f| f.can_encode())
                .map(|f| f.code().to_string())
        }
        RootFormats::All => Some(
            supported_formats()
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(" "),
        ),
    }
}

/// The object list of Register and Update (Core 1.1 §5.3.1): every object except Security (and
/// OSCORE), instances as `</O/I>`, `</O>;ver=x.y` when the version is not 1.0, and `</O>` for
/// objects without instances.
/// The object list of Register and Update (Core 1.1 §5.3.1), with the application's objects
/// showing the instances in `app`.
pub(crate) fn object_links(store: &Store, config: &Config, app: &AppInstances) -> String {
    // Written directly rather than as `Link`s through `format_links` (issue 15: a `Link` with
    // its strings per instance and the formatter were ~13,000 instructions of a Register).
    // Room for the root link and a typical list (~12 bytes per object or instance).
    let entries: usize = store
        .object_ids()
        .map(|o| 1 + store.instances(o).map_or(0, |i| i.len()))
        .sum();
    let mut links = LinkWriter::with_capacity(40 + 12 * entries);
    links.target(&Path::ROOT);
    links.attr("rt", Some("oma.lwm2m"));
    if let Some(ct) = root_ct(config) {
        links.attr("ct", Some(&ct));
    }
    for o in store
        .object_ids()
        .filter(|o| *o != oid::SECURITY && *o != oid::OSCORE)
    {
        let Some(def) = store.def(o) else { continue };
        // In 1.0 mode the core objects are announced as their 1.0 versions (the 1.1 tables only
        // add optional resources).
        let ver = if config.version == Version::V1_0 && o <= oid::DEVICE {
            None
        } else {
            def.announced_version()
        };
        let app_ids = app.get(&o);
        let stored = store.instances(o).filter(|_| app_ids.is_none());
        let count = app_ids.map_or(0, Vec::len) + stored.map_or(0, |i| i.len());
        if count == 0 || ver.is_some() {
            links.target(&Path::object(o));
            if let Some(v) = ver {
                links.attr("ver", Some(v));
            }
        }
        let ids = app_ids.into_iter().flatten().copied();
        for i in ids.chain(stored.into_iter().flat_map(|m| m.keys().copied())) {
            links.target(&Path::instance(o, i));
        }
    }
    links.finish()
}

/// `POST /rd?ep=..&lt=..&lwm2m=..&b=..` with the object list (Transport 1.1 §6.2.1).
pub(crate) fn register_packet(
    endpoint: &str,
    version: Version,
    account: &ServerAccount,
    links: &str,
    queue_mode: bool,
) -> MessageBuf {
    // Queue mode (FACTS §3.1): 1.1 says so with a separate `Q` parameter, 1.0 with the
    // binding `UQ` (Core 1.0 §5.3.1.1).
    let binding = match (queue_mode, version) {
        (true, Version::V1_0) if !account.binding.contains('Q') => {
            Cow::Owned(account.binding.replacen('U', "UQ", 1))
        }
        _ => Cow::Borrowed(account.binding.as_str()),
    };
    let mut p = MessageBuf::request(msg::POST, &["rd"], &[]);
    p.add_uint(
        option::CONTENT_FORMAT,
        ContentFormat::LinkFormat.code().into(),
    );
    p.add_joined(option::URI_QUERY, &[b"ep=", endpoint.as_bytes()]);
    let lifetime = Decimal::of(account.lifetime_s);
    p.add_joined(option::URI_QUERY, &[b"lt=", lifetime.as_bytes()]);
    p.add_joined(option::URI_QUERY, &[b"lwm2m=", version.as_str().as_bytes()]);
    p.add_joined(option::URI_QUERY, &[b"b=", binding.as_bytes()]);
    if queue_mode && version == Version::V1_1 {
        p.add(option::URI_QUERY, b"Q");
    }
    p.payload = links.as_bytes().to_vec();
    p
}

/// `POST /{location}` with only what changed; an empty Update is the lifetime refresh.
pub(crate) fn update_packet(reg: &Registration, links: &str) -> MessageBuf {
    let mut p = location_request(msg::POST, reg);
    if links != reg.sent_links {
        p.add_uint(
            option::CONTENT_FORMAT,
            ContentFormat::LinkFormat.code().into(),
        );
        p.payload = links.as_bytes().to_vec();
    }
    if reg.account.lifetime_s != reg.sent_lifetime_s {
        let lifetime = Decimal::of(reg.account.lifetime_s);
        p.add_joined(option::URI_QUERY, &[b"lt=", lifetime.as_bytes()]);
    }
    if reg.account.binding != reg.sent_binding {
        p.add_joined(option::URI_QUERY, &[b"b=", reg.account.binding.as_bytes()]);
    }
    p
}

/// `DELETE /{location}`.
pub(crate) fn deregister_packet(reg: &Registration) -> MessageBuf {
    location_request(msg::DELETE, reg)
}

/// A request to the registration's location, one Uri-Path option per segment.
fn location_request(code: u8, reg: &Registration) -> MessageBuf {
    let mut p = MessageBuf::new(code);
    for segment in &reg.location {
        p.add(option::URI_PATH, segment.as_bytes());
    }
    p
}

/// How long after a successful Register/Update the next Update is sent. The TS gives no formula
/// (FACTS §3.4); like Wakaama we leave MAX_TRANSMIT_WAIT (93 s) for the Update's own
/// retransmissions when the lifetime allows it, else half the lifetime, and never under 1 s.
pub(crate) fn update_delay_ms(lifetime_s: i64, max_transmit_wait_ms: u64) -> u64 {
    let lifetime_ms = u64::try_from(lifetime_s).unwrap_or(0).saturating_mul(1000);
    let delay = if lifetime_ms > 2 * max_transmit_wait_ms {
        lifetime_ms - max_transmit_wait_ms
    } else {
        lifetime_ms / 2
    };
    delay.max(1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{factory, server_accounts};

    fn store() -> Store {
        let mut s = Store::with_standard_objects();
        factory::add_bootstrap_account(&mut s, "coap://127.0.0.1:5783", 0).unwrap();
        factory::add_server_account(&mut s, 101, "coap://127.0.0.1:5683", 300).unwrap();
        factory::add_device(&mut s, "ACME", "M1", "0001").unwrap();
        s
    }

    fn config(version: Version, root_formats: RootFormats) -> Config {
        let mut c = Config::new("dev-1");
        c.version = version;
        c.root_formats = root_formats;
        c
    }

    // The expected strings name the SenML formats of the default build.
    #[cfg(all(feature = "json", feature = "cbor"))]
    #[test]
    fn object_list_never_contains_security() {
        let s = store();
        assert_eq!(
            object_links(
                &s,
                &config(Version::V1_1, RootFormats::Preferred),
                &Default::default()
            ),
            "</>;rt=\"oma.lwm2m\";ct=110,</1>;ver=1.1,</1/0>,</2>,</3>;ver=1.1,</3/0>"
        );
        assert_eq!(
            object_links(
                &s,
                &config(Version::V1_0, RootFormats::Preferred),
                &Default::default()
            ),
            "</>;rt=\"oma.lwm2m\",</1/0>,</2>,</3/0>"
        );
    }

    // The expected strings name the SenML formats of the default build.
    #[cfg(all(feature = "json", feature = "cbor"))]
    #[test]
    fn root_link_announces_one_senml_format_by_default() {
        // Wakaama's server refuses `ct="110 112 11542"` with 4.00 (FACTS §3.1); one value passes.
        let mut c = config(Version::V1_1, RootFormats::Preferred);
        assert_eq!(root_ct(&c).as_deref(), Some("110"));
        c.preferred_format = Some(ContentFormat::SenmlCbor);
        assert_eq!(root_ct(&c).as_deref(), Some("112"));
        // A TLV preference still announces SenML: TLV needs no announcement.
        c.preferred_format = Some(ContentFormat::Tlv);
        assert_eq!(root_ct(&c).as_deref(), Some("110"));
        c.root_formats = RootFormats::All;
        assert_eq!(root_ct(&c).as_deref(), Some("110 112 11542"));
        assert!(object_links(&store(), &c, &Default::default())
            .starts_with("</>;rt=\"oma.lwm2m\";ct=\"110 112 11542\","));
        c.root_formats = RootFormats::Omit;
        assert_eq!(root_ct(&c), None);
        assert!(object_links(&store(), &c, &Default::default())
            .starts_with("</>;rt=\"oma.lwm2m\",</1>"));
        let c = config(Version::V1_0, RootFormats::All);
        assert_eq!(root_ct(&c), None);
    }

    #[test]
    fn register_update_deregister_messages() {
        let s = store();
        let acct = server_accounts(&s).remove(0);
        let p = register_packet("dev-1", Version::V1_1, &acct, "</1/0>", false).to_packet();
        assert_eq!(msg::uri_path(&p).unwrap(), ["rd"]);
        assert_eq!(
            msg::uri_query(&p).unwrap(),
            ["ep=dev-1", "lt=300", "lwm2m=1.1", "b=U"]
        );
        assert_eq!(msg::content_format(&p), Some(40));
        assert_eq!(p.payload, b"</1/0>");

        let mut reg = Registration::new(acct, PeerId(1));
        reg.location = alloc::vec!["rd".into(), "5a3f".into()];
        reg.sent_lifetime_s = 300;
        reg.sent_binding = "U".into();
        reg.sent_links = "</1/0>".into();
        let u = update_packet(&reg, "</1/0>").to_packet();
        assert_eq!(msg::uri_path(&u).unwrap(), ["rd", "5a3f"]);
        assert!(msg::uri_query(&u).unwrap().is_empty());
        assert!(u.payload.is_empty());
        reg.account.lifetime_s = 60;
        let u = update_packet(&reg, "</1/0>,</3/0>").to_packet();
        assert_eq!(msg::uri_query(&u).unwrap(), ["lt=60"]);
        assert_eq!(u.payload, b"</1/0>,</3/0>");
        let d = deregister_packet(&reg).to_packet();
        assert_eq!(msg::code_of(&d), msg::DELETE);
        assert_eq!(msg::uri_path(&d).unwrap(), ["rd", "5a3f"]);
    }

    #[test]
    fn update_leaves_room_for_retransmissions() {
        assert_eq!(update_delay_ms(300, 93_000), 207_000);
        assert_eq!(update_delay_ms(60, 93_000), 30_000);
        assert_eq!(update_delay_ms(0, 93_000), 1000);
        assert_eq!(update_delay_ms(-5, 93_000), 1000);
    }
}
