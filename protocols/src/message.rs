//! The normalized message model every protocol decodes into.
//!
//! One [`Message`] per position or event: a batch frame yields several messages. Fields that
//! all trackers share are typed; everything else a device sent is kept in [`Attributes`], so
//! nothing is thrown away.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

/// The wire protocols leasewatch speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolKind {
    /// Concox GT06 and its descendants (`78 78` / `79 79` frames).
    Gt06,
    /// JT/T 808-2013 and -2019 (`7E` delimited).
    Jt808,
    /// Teltonika Codec 8 / 8 Extended / 16 / 12 over TCP.
    Teltonika,
    /// H02 text (`*HQ,...#`) and binary (`$...`) frames.
    H02,
    /// JSON telemetry over MQTT: no wire protocol of its own, so not in [`ProtocolKind::ALL`].
    Mqtt,
}

impl ProtocolKind {
    /// Every device wire protocol (the ones with frames, listeners and decoders), in a stable order.
    pub const ALL: [ProtocolKind; 4] = [Self::Gt06, Self::Jt808, Self::Teltonika, Self::H02];

    /// The protocol's short name, as used in configuration, topics and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gt06 => "gt06",
            Self::Jt808 => "jt808",
            Self::Teltonika => "teltonika",
            Self::H02 => "h02",
            Self::Mqtt => "mqtt",
        }
    }
}

impl fmt::Display for ProtocolKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ProtocolKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .chain([Self::Mqtt])
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown protocol {s:?} (expected gt06, jt808, teltonika, h02 or mqtt)"))
    }
}

/// A device identifier (IMEI, JT/T 808 terminal phone number, H02 id) held inline as ASCII.
///
/// Inline so that decoding a frame does not allocate; 24 bytes cover every protocol here
/// (JT/T 808-2019 ids are 20 digits).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeviceId {
    len: u8,
    bytes: [u8; DeviceId::MAX],
}

impl DeviceId {
    /// Longest id accepted.
    pub const MAX: usize = 24;

    /// Builds an id from printable ASCII (digits and letters); `None` when empty, too long or not printable.
    pub fn new(text: &[u8]) -> Option<Self> {
        if text.is_empty() || text.len() > Self::MAX || !text.iter().all(u8::is_ascii_alphanumeric) {
            return None;
        }
        let mut bytes = [0; Self::MAX];
        bytes[..text.len()].copy_from_slice(text);
        Some(Self { len: text.len() as u8, bytes })
    }

    /// Decodes packed BCD digits, as GT06 and JT/T 808 send ids. `None` on a nibble above 9.
    pub fn from_bcd(bcd: &[u8]) -> Option<Self> {
        let mut bytes = [0; Self::MAX];
        if bcd.len() * 2 > Self::MAX {
            return None;
        }
        for (i, b) in bcd.iter().enumerate() {
            let (hi, lo) = (b >> 4, b & 0x0f);
            if hi > 9 || lo > 9 {
                return None;
            }
            bytes[2 * i] = b'0' + hi;
            bytes[2 * i + 1] = b'0' + lo;
        }
        Some(Self { len: (bcd.len() * 2) as u8, bytes })
    }

    /// The bytes as uppercase hex digits (JT/T 808 phone numbers: BCD reads as its digits, and
    /// terminals that put other nibbles there keep them). `None` when longer than 12 bytes.
    pub fn from_hex(raw: &[u8]) -> Option<Self> {
        const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
        if raw.is_empty() || raw.len() * 2 > Self::MAX {
            return None;
        }
        let mut bytes = [0; Self::MAX];
        for (i, b) in raw.iter().enumerate() {
            bytes[2 * i] = DIGITS[usize::from(b >> 4)];
            bytes[2 * i + 1] = DIGITS[usize::from(b & 0x0f)];
        }
        Some(Self { len: (raw.len() * 2) as u8, bytes })
    }

    /// The id with leading zeros removed (a 16-digit BCD IMEI becomes the usual 15 digits).
    pub fn trim_leading_zeros(self) -> Self {
        let s = self.as_bytes();
        let start = s.iter().position(|&b| b != b'0').unwrap_or(s.len().saturating_sub(1));
        Self::new(&s[start..]).unwrap_or(self)
    }

    /// The id's ASCII bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Constructors only admit ASCII alphanumerics.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

impl fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceId({})", self.as_str())
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DeviceId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// Identification: GT06 login, JT/T 808 register or auth, Teltonika IMEI handshake.
    Login,
    /// The device is leaving (JT/T 808 logout).
    Logout,
    /// A position fix, possibly with alarms.
    Position,
    /// Heartbeat or status without a fix.
    Heartbeat,
    /// An alarm without a usable fix.
    Alarm,
    /// The device asks for the server's time.
    TimeRequest,
    /// The device answers a command.
    CommandReply,
    /// A frame of a known protocol but an unknown type, kept raw.
    Unknown,
}

/// Alarms, normalized across protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Alarm {
    /// Panic / SOS button.
    Sos = 0,
    /// External (vehicle) power cut.
    PowerCut,
    /// Device removed or case opened.
    Tamper,
    /// Light sensor: the hidden device was exposed.
    LightSensor,
    /// Internal battery low.
    LowBattery,
    /// External power low.
    LowPower,
    /// Vibration.
    Vibration,
    /// Speed above the configured limit.
    Overspeed,
    /// Entered a geofence.
    GeofenceEnter,
    /// Left a geofence.
    GeofenceExit,
    /// Moved without ignition (towing or displacement).
    Tow,
    /// Collision or rollover.
    Collision,
    /// GNSS antenna cut or shorted.
    GnssAntennaCut,
    /// GNSS or GSM jamming.
    Jamming,
    /// GNSS module fault.
    GnssFault,
    /// Door opened.
    Door,
    /// Ignition switched on without authorization.
    IllegalIgnition,
    /// Fatigue driving.
    Fatigue,
    /// Harsh acceleration.
    HarshAcceleration,
    /// Harsh braking.
    HarshBraking,
    /// Harsh cornering.
    HarshCornering,
    /// Parked longer than allowed.
    ParkingOvertime,
    /// Fuel level dropped abnormally.
    FuelTheft,
    /// SIM card changed.
    SimChange,
    /// Device powered off.
    PowerOff,
    /// A generic alarm the device did not qualify.
    General,
}

impl Alarm {
    /// Every alarm, in bit order.
    pub const ALL: [Alarm; 26] = [
        Self::Sos,
        Self::PowerCut,
        Self::Tamper,
        Self::LightSensor,
        Self::LowBattery,
        Self::LowPower,
        Self::Vibration,
        Self::Overspeed,
        Self::GeofenceEnter,
        Self::GeofenceExit,
        Self::Tow,
        Self::Collision,
        Self::GnssAntennaCut,
        Self::Jamming,
        Self::GnssFault,
        Self::Door,
        Self::IllegalIgnition,
        Self::Fatigue,
        Self::HarshAcceleration,
        Self::HarshBraking,
        Self::HarshCornering,
        Self::ParkingOvertime,
        Self::FuelTheft,
        Self::SimChange,
        Self::PowerOff,
        Self::General,
    ];

    /// The alarm's stable snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sos => "sos",
            Self::PowerCut => "power_cut",
            Self::Tamper => "tamper",
            Self::LightSensor => "light_sensor",
            Self::LowBattery => "low_battery",
            Self::LowPower => "low_power",
            Self::Vibration => "vibration",
            Self::Overspeed => "overspeed",
            Self::GeofenceEnter => "geofence_enter",
            Self::GeofenceExit => "geofence_exit",
            Self::Tow => "tow",
            Self::Collision => "collision",
            Self::GnssAntennaCut => "gnss_antenna_cut",
            Self::Jamming => "jamming",
            Self::GnssFault => "gnss_fault",
            Self::Door => "door",
            Self::IllegalIgnition => "illegal_ignition",
            Self::Fatigue => "fatigue",
            Self::HarshAcceleration => "harsh_acceleration",
            Self::HarshBraking => "harsh_braking",
            Self::HarshCornering => "harsh_cornering",
            Self::ParkingOvertime => "parking_overtime",
            Self::FuelTheft => "fuel_theft",
            Self::SimChange => "sim_change",
            Self::PowerOff => "power_off",
            Self::General => "general",
        }
    }
}

/// A set of [`Alarm`]s as a bit set: copying and testing it never allocates.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AlarmSet(u32);

impl AlarmSet {
    /// No alarm.
    pub const EMPTY: AlarmSet = AlarmSet(0);

    /// Adds an alarm.
    pub fn insert(&mut self, alarm: Alarm) {
        self.0 |= 1 << alarm as u8;
    }

    /// The set with `alarm` added.
    pub fn with(mut self, alarm: Alarm) -> Self {
        self.insert(alarm);
        self
    }

    /// Whether the set holds `alarm`.
    pub fn contains(self, alarm: Alarm) -> bool {
        self.0 & (1 << alarm as u8) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The alarms in the set.
    pub fn iter(self) -> impl Iterator<Item = Alarm> {
        Alarm::ALL.into_iter().filter(move |a| self.contains(*a))
    }

    /// The raw bits (stable: bit `n` is `Alarm::ALL[n]`).
    pub fn bits(self) -> u32 {
        self.0
    }
}

impl FromIterator<Alarm> for AlarmSet {
    fn from_iter<I: IntoIterator<Item = Alarm>>(iter: I) -> Self {
        let mut set = Self::EMPTY;
        iter.into_iter().for_each(|a| set.insert(a));
        set
    }
}

impl fmt::Debug for AlarmSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(Alarm::name)).finish()
    }
}

impl Serialize for AlarmSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for a in self.iter() {
            seq.serialize_element(a.name())?;
        }
        seq.end()
    }
}

/// The serving cell, as GSM/LTE trackers report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CellInfo {
    /// Mobile country code (460 in mainland China).
    pub mcc: u16,
    /// Mobile network code.
    pub mnc: u16,
    /// Location area code.
    pub lac: u32,
    /// Cell id.
    pub cell_id: u64,
}

/// A position fix.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Position {
    /// When the fix was taken, UTC.
    pub fix_time: DateTime<Utc>,
    /// WGS-84 latitude in degrees, north positive.
    pub latitude: f64,
    /// WGS-84 longitude in degrees, east positive.
    pub longitude: f64,
    /// Ground speed in km/h.
    pub speed_kmh: f64,
    /// Course over ground in degrees from north.
    pub course: f64,
    /// Altitude in metres, when reported.
    pub altitude: Option<f64>,
    /// Satellites used, when reported.
    pub satellites: Option<u8>,
    /// Whether the receiver had a fix (a stale or estimated position is `false`).
    pub valid: bool,
    /// The serving cell, when reported.
    pub cell: Option<CellInfo>,
}

/// Vehicle and device status that accompanies positions and heartbeats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Status {
    /// Ignition (ACC) on.
    pub ignition: Option<bool>,
    /// External (vehicle) power voltage in volts.
    pub power_voltage: Option<f64>,
    /// Internal battery level in percent.
    pub battery_percent: Option<u8>,
    /// Total odometer in metres.
    pub odometer_m: Option<u64>,
    /// GSM signal strength as reported (protocol scale).
    pub gsm_signal: Option<u8>,
}

/// A value of a protocol-specific attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// An integer.
    Int(i64),
    /// A boolean flag.
    Bool(bool),
    /// A measured quantity.
    Float(f64),
    /// Text.
    Text(String),
    /// Raw bytes, shown as hex.
    Bytes(Vec<u8>),
}

impl Serialize for AttrValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Int(v) => s.serialize_i64(*v),
            Self::Bool(v) => s.serialize_bool(*v),
            Self::Float(v) => s.serialize_f64(*v),
            Self::Text(v) => s.serialize_str(v),
            Self::Bytes(v) => s.collect_str(&HexDisplay(v)),
        }
    }
}

/// Formats bytes as uppercase hex without separators.
pub struct HexDisplay<'a>(pub &'a [u8]);

impl fmt::Display for HexDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02X}"))
    }
}

/// An attribute's name: a fixed name, or a numbered I/O element (`io239`) as Teltonika sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrKey {
    /// A named attribute.
    Name(&'static str),
    /// Teltonika I/O element id.
    Io(u16),
    /// JT/T 808 additional-information item id.
    Item(u8),
}

impl fmt::Display for AttrKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(n) => f.write_str(n),
            Self::Io(id) => write!(f, "io{id}"),
            Self::Item(id) => write!(f, "item_{id:02x}"),
        }
    }
}

/// Protocol-specific values a device sent that have no typed field, in the order received.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attributes(Vec<(AttrKey, AttrValue)>);

impl Attributes {
    /// Adds an attribute.
    pub fn push(&mut self, key: AttrKey, value: AttrValue) {
        self.0.push((key, value));
    }

    /// Makes room for `additional` more attributes in one allocation.
    pub fn reserve(&mut self, additional: usize) {
        self.0.reserve(additional);
    }

    /// Adds a named attribute.
    pub fn set(&mut self, name: &'static str, value: AttrValue) {
        self.push(AttrKey::Name(name), value);
    }

    /// The value of the first attribute with this key.
    pub fn get(&self, key: AttrKey) -> Option<&AttrValue> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The value of a named attribute.
    pub fn named(&self, name: &str) -> Option<&AttrValue> {
        self.0.iter().find(|(k, _)| matches!(k, AttrKey::Name(n) if *n == name)).map(|(_, v)| v)
    }

    /// All attributes in order.
    pub fn iter(&self) -> impl Iterator<Item = &(AttrKey, AttrValue)> {
        self.0.iter()
    }

    /// How many attributes there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Attributes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(&k.to_string(), v)?;
        }
        map.end()
    }
}

/// One decoded message: a position or an event from one device.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    /// The protocol it came in.
    pub protocol: ProtocolKind,
    /// What it is.
    #[serde(rename = "type")]
    pub kind: MessageKind,
    /// The device, when the frame (or the session's login) names it.
    pub device_id: Option<DeviceId>,
    /// The device's message serial number, when the protocol has one.
    pub serial: Option<u32>,
    /// The fix, for position-bearing messages.
    pub position: Option<Position>,
    /// Vehicle and device status.
    pub status: Status,
    /// Alarms raised by this message.
    pub alarms: AlarmSet,
    /// Whether the frame's checksum matched (`true` where the protocol has none).
    pub checksum_ok: bool,
    /// Everything else the device sent.
    pub attributes: Attributes,
}

impl Message {
    /// An empty message of the given kind; decoders fill in the rest.
    pub fn new(protocol: ProtocolKind, kind: MessageKind) -> Self {
        Self {
            protocol,
            kind,
            device_id: None,
            serial: None,
            position: None,
            status: Status::default(),
            alarms: AlarmSet::EMPTY,
            checksum_ok: true,
            attributes: Attributes::default(),
        }
    }

    /// For a frame of a type the decoder does not read (kept raw), the type as its protocol names
    /// it: `0x9B` (GT06), `0x0F01` (JT/T 808), `V9` (H02). `None` for anything decoded.
    pub fn unknown_type(&self) -> Option<String> {
        if self.kind != MessageKind::Unknown || self.position.is_some() {
            return None;
        }
        match (self.attributes.named("proto"), self.attributes.named("msg_id"), self.attributes.named("command")) {
            (Some(AttrValue::Int(t)), _, _) => Some(format!("0x{t:02X}")),
            (_, Some(AttrValue::Int(t)), _) => Some(format!("0x{t:04X}")),
            (_, _, Some(AttrValue::Text(t))) => {
                Some(t.chars().filter(char::is_ascii_alphanumeric).take(8).collect::<String>().to_ascii_uppercase())
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcd_imei_with_leading_zero_becomes_fifteen_digits() {
        let id = DeviceId::from_bcd(&[0x08, 0x64, 0x71, 0x70, 0x03, 0x28, 0x35, 0x81]);
        assert_eq!(id.map(|i| i.trim_leading_zeros().to_string()), Some("864717003283581".into()));
    }

    #[test]
    fn bcd_with_hex_nibble_is_refused() {
        assert!(DeviceId::from_bcd(&[0x1A]).is_none());
    }

    #[test]
    fn device_id_refuses_punctuation_and_overlong_text() {
        assert!(DeviceId::new(b"12;3").is_none());
        assert!(DeviceId::new(&[b'1'; 25]).is_none());
        assert!(DeviceId::new(b"").is_none());
    }

    #[test]
    fn alarm_set_round_trips_every_alarm() {
        let all: AlarmSet = Alarm::ALL.into_iter().collect();
        assert_eq!(all.iter().count(), Alarm::ALL.len());
        assert!(AlarmSet::EMPTY.with(Alarm::Tow).contains(Alarm::Tow));
        assert!(!AlarmSet::EMPTY.with(Alarm::Tow).contains(Alarm::Sos));
    }
}
