//! The session core without sockets or fleet: frames in, outputs out.
#![allow(clippy::indexing_slicing)]

use super::*;
use crate::model::uuid::uuid_from_u16;
use crate::model::{CharProps, GattCharacteristic, GattDescriptor, GattService, RadioId};
use crate::native_api::messages::bluetooth::{
    ConnectionResponse, DeviceRequest, SubscribeAdvertisements,
};
use crate::native_api::messages::gatt::GattError;
use crate::native_api::messages::gatt::{HandleData, HandleRequest, ServicesBatch};
use crate::native_api::messages::request_type;
use crate::native_api::messages::session::{DeviceInfoResponse, HelloRequest};
use prost::Message;

const SENSOR: Address = Address::new([0xA4, 0xC1, 0x38, 0, 0, 1]);

fn frame(message_type: u16, message: &impl Message) -> Event {
    Event::Frame(RawFrame {
        message_type,
        payload: message.encode_to_vec().into(),
    })
}

fn empty(message_type: u16) -> Event {
    Event::Frame(RawFrame {
        message_type,
        payload: Bytes::new(),
    })
}

fn sent(outputs: &[Output]) -> Vec<u16> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Send(m) => Some(m.message_type),
            _ => None,
        })
        .collect()
}

fn decoded<M: Message + Default>(outputs: &[Output], message_type: u16) -> M {
    outputs
        .iter()
        .find_map(|o| match o {
            Output::Send(m) if m.message_type == message_type => {
                Some(M::decode(&m.payload[..]).unwrap())
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no message {message_type} in {outputs:?}"))
}

fn actions(outputs: &[Output]) -> Vec<Action> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Act(a) => Some(a.clone()),
            _ => None,
        })
        .collect()
}

fn table() -> Arc<GattTable> {
    Arc::new(GattTable {
        mtu: 247,
        services: vec![GattService {
            uuid: uuid_from_u16(0x181A),
            handle: 1,
            characteristics: vec![GattCharacteristic {
                uuid: uuid_from_u16(0x2A6E),
                handle: 3,
                properties: CharProps::READ | CharProps::NOTIFY,
                descriptors: vec![GattDescriptor {
                    uuid: uuid_from_u16(0x2902),
                    handle: 4,
                }],
            }],
        }],
    })
}

struct Harness {
    session: Session,
    now: Instant,
}

impl Harness {
    fn new(free: u32) -> Self {
        let now = Instant::now();
        let mut session = Session::new(
            Arc::new(Identity::new("hub")),
            false,
            Keepalive::default(),
            free,
            1,
            now,
        );
        let hello = HelloRequest {
            client_info: "test".into(),
            api_version_major: 1,
            api_version_minor: 19,
        };
        session.handle(frame(id::HELLO_REQUEST, &hello), now);
        Self { session, now }
    }

    fn on(&mut self, event: Event) -> Vec<Output> {
        self.session.handle(event, self.now)
    }

    fn device_request(&mut self, kind: u32) -> Vec<Output> {
        let request = DeviceRequest {
            address: SENSOR.to_u64(),
            request_type: kind,
            has_address_type: true,
            address_type: 0,
        };
        self.on(frame(id::DEVICE_REQUEST, &request))
    }

    fn connected(&mut self) {
        self.on(empty(id::SUBSCRIBE_CONNECTIONS_FREE));
        self.device_request(request_type::CONNECT_V3_WITHOUT_CACHE);
        self.on(Event::Connected {
            address: SENSOR,
            outcome: Ok((table(), 247)),
        });
    }
}

#[tokio::test(start_paused = true)]
async fn hello_first_then_device_info_with_the_flags() {
    let mut session = Session::new(
        Arc::new(Identity::new("hub")),
        true,
        Keepalive::default(),
        3,
        1,
        Instant::now(),
    );
    let early = session.handle(empty(id::DEVICE_INFO_REQUEST), Instant::now());
    assert!(matches!(early[..], [Output::Close(_)]), "{early:?}");

    let mut h = Harness::new(3);
    let out = h.on(empty(id::DEVICE_INFO_REQUEST));
    let info: DeviceInfoResponse = decoded(&out, id::DEVICE_INFO_RESPONSE);
    assert_eq!(
        info.bluetooth_proxy_feature_flags,
        crate::proxy::identity::FEATURE_FLAGS
    );
    assert_eq!(
        sent(&h.on(empty(id::LIST_ENTITIES_REQUEST))),
        [id::LIST_ENTITIES_DONE]
    );
    assert_eq!(sent(&h.on(empty(id::PING_REQUEST))), [id::PING_RESPONSE]);
    let bye = h.on(empty(id::DISCONNECT_REQUEST));
    assert_eq!(sent(&bye), [id::DISCONNECT_RESPONSE]);
    assert!(matches!(bye.last(), Some(Output::Close(_))));
}

#[tokio::test(start_paused = true)]
async fn adverts_go_out_in_batches_of_sixteen_and_on_ticks() {
    let mut h = Harness::new(3);
    let advert = |n: u8| {
        let mut a = Advertisement::from_raw(
            Address::new([1, 2, 3, 4, 5, n]),
            RadioId::new("r"),
            -60,
            Instant::now(),
            Bytes::from_static(&[2, 1, 6]),
        )
        .unwrap();
        a.address_kind = AddressKind::Random;
        a
    };
    assert!(
        h.on(Event::Advert(advert(0))).is_empty(),
        "not subscribed yet"
    );
    let out = h.on(frame(
        id::SUBSCRIBE_ADVERTISEMENTS,
        &SubscribeAdvertisements { flags: 1 },
    ));
    let state: ScannerState = decoded(&out, id::SCANNER_STATE);
    assert_eq!((state.state, state.mode), (2, 1));
    let mut batches = Vec::new();
    for n in 0..20 {
        batches.extend(h.on(Event::Advert(advert(n))));
    }
    assert_eq!(batches.len(), 1);
    let batch: RawAdvertisements = decoded(&batches, id::RAW_ADVERTISEMENTS);
    assert_eq!(batch.advertisements.len(), ADVERT_BATCH);
    assert_eq!(batch.advertisements[0].address_type, 1);
    assert_eq!(batch.advertisements[0].rssi, -60);
    let rest: RawAdvertisements = decoded(&h.on(Event::Tick), id::RAW_ADVERTISEMENTS);
    assert_eq!(rest.advertisements.len(), 4);
}

#[tokio::test(start_paused = true)]
async fn slot_reports_count_only_this_clients_connections() {
    let mut h = Harness::new(2);
    let first: ConnectionsFree = decoded(&h.on(empty(id::SUBSCRIBE_CONNECTIONS_FREE)), 81);
    assert_eq!((first.free, first.limit, first.allocated.len()), (2, 2, 0));
    let out = h.device_request(request_type::CONNECT_V3_WITHOUT_CACHE);
    assert_eq!(actions(&out), [Action::Connect(SENSOR)]);
    let report: ConnectionsFree = decoded(&out, 81);
    assert_eq!((report.free, report.limit), (2, 3));
    assert_eq!(report.allocated, [SENSOR.to_u64()]);
    // The fleet took the slot: free drops, the client's view stays consistent.
    let report: ConnectionsFree = decoded(&h.on(Event::SlotsFree(1)), 81);
    assert_eq!(
        (report.free, report.limit, report.allocated.len()),
        (1, 2, 1)
    );
    assert!(h.on(Event::SlotsFree(1)).is_empty(), "unchanged: no push");
}

#[tokio::test(start_paused = true)]
async fn connect_services_read_notify_disconnect() {
    let mut h = Harness::new(3);
    h.connected();
    let out = h.on(frame(
        id::GET_SERVICES_REQUEST,
        &HandleRequest {
            address: SENSOR.to_u64(),
            handle: 0,
        },
    ));
    assert_eq!(
        sent(&out),
        [id::GET_SERVICES_RESPONSE, id::GET_SERVICES_DONE]
    );
    let batch: ServicesBatch = decoded(&out, id::GET_SERVICES_RESPONSE);
    assert_eq!(batch.services[0].characteristics[0].handle, 3);

    let read = HandleRequest {
        address: SENSOR.to_u64(),
        handle: 3,
    };
    let out = h.on(frame(id::READ_REQUEST, &read));
    let [Action::Read { target, .. }] = &actions(&out)[..] else {
        panic!("{out:?}");
    };
    assert_eq!(target.characteristic, uuid_from_u16(0x2A6E));
    let reply = h.on(Event::OpDone {
        address: SENSOR,
        handle: 3,
        reply: OpReply::Value(Bytes::from_static(b"\x01\x02")),
    });
    let data: HandleData = decoded(&reply, id::READ_RESPONSE);
    assert_eq!(&data.data[..], b"\x01\x02");

    let cccd = HandleData {
        address: SENSOR.to_u64(),
        handle: 4,
        data: Bytes::from_static(&[1, 0]),
    };
    let out = h.on(frame(id::WRITE_DESCRIPTOR_REQUEST, &cccd));
    assert!(matches!(
        &actions(&out)[..],
        [Action::Subscribe {
            descriptor_handle: 4,
            value_handle: 3,
            ..
        }]
    ));
    let data = h.on(Event::Notification {
        address: SENSOR,
        handle: 3,
        data: Bytes::from_static(b"x"),
    });
    assert_eq!(sent(&data), [id::NOTIFY_DATA]);

    let out = h.device_request(request_type::DISCONNECT);
    assert_eq!(actions(&out), [Action::Release(SENSOR)]);
    let response: ConnectionResponse = decoded(&out, id::CONNECTION_RESPONSE);
    assert!(!response.connected);
    assert!(h
        .on(Event::Notification {
            address: SENSOR,
            handle: 3,
            data: Bytes::new()
        })
        .is_empty());
}

#[tokio::test(start_paused = true)]
async fn requests_for_connections_the_client_does_not_hold_are_not_connected() {
    let mut h = Harness::new(3);
    let read = HandleRequest {
        address: SENSOR.to_u64(),
        handle: 3,
    };
    let out = h.on(frame(id::READ_REQUEST, &read));
    let error: GattError = decoded(&out, id::GATT_ERROR);
    assert_eq!(error.error, -1);
    assert!(actions(&out).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_failed_connect_answers_with_its_code_and_frees_the_slot() {
    let mut h = Harness::new(1);
    h.on(empty(id::SUBSCRIBE_CONNECTIONS_FREE));
    h.device_request(request_type::CONNECT_V3_WITH_CACHE);
    let out = h.on(Event::Connected {
        address: SENSOR,
        outcome: Err(0x100),
    });
    let response: ConnectionResponse = decoded(&out, id::CONNECTION_RESPONSE);
    assert_eq!((response.connected, response.error), (false, 0x100));
    let report: ConnectionsFree = decoded(&out, 81);
    assert!(report.allocated.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_lost_link_is_reported_once() {
    let mut h = Harness::new(3);
    h.connected();
    let out = h.on(Event::LinkLost {
        address: SENSOR,
        reason: 0x13,
    });
    let response: ConnectionResponse = decoded(&out, id::CONNECTION_RESPONSE);
    assert_eq!(response.error, 0x13);
    assert!(h
        .on(Event::LinkLost {
            address: SENSOR,
            reason: 0x13
        })
        .is_empty());
}

#[tokio::test(start_paused = true)]
async fn silence_pings_then_ends_the_session() {
    let mut h = Harness::new(3);
    h.now += Duration::from_secs(21);
    assert_eq!(sent(&h.on(Event::Tick)), [id::PING_REQUEST]);
    assert!(h.on(Event::Tick).is_empty(), "one ping per silence");
    h.now += Duration::from_secs(40);
    assert!(matches!(h.on(Event::Tick)[..], [Output::Close(_)]));
}
