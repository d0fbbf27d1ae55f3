//! The Bluetooth half of the session: device requests, service discovery, GATT and notify,
//! answered the way `bluetooth_proxy.cpp` does (research notes §1.7).
//!
//! A client controls only its own connections: GATT requests for an address it does not hold
//! get error −1 ("not connected"), as the firmware answers for an address without a slot.
//! The CCCD write is how the client turns notifications on (it owns the CCCD with
//! REMOTE_CACHING): a non-zero write subscribes this client through the fleet, a zero write
//! or a notify-disable unsubscribes it. bluefleet itself writes the device's CCCD, once, for
//! every client that subscribed, so two clients never fight over it.

use std::sync::Arc;

use bytes::Bytes;

use super::{services, Action, ClientMessage, Connection, OpReply, Output, Session, Target};
use crate::backend::WriteMode;
use crate::model::uuid::uuid_from_u16;
use crate::model::{Address, GattTable};
use crate::native_api::messages::bluetooth::{ClearCacheResponse, ConnectionResponse};
use crate::native_api::messages::gatt::{GattError, HandleData, HandleRequest};
use crate::native_api::messages::{id, request_type};
use crate::proxy::failure_words::{ATTRIBUTE_NOT_FOUND, NOT_CONNECTED, NO_SLOT};

/// The Client Characteristic Configuration descriptor.
const CCCD: uuid::Uuid = uuid_from_u16(0x2902);

fn connection_response(address: Address, connected: bool, mtu: u16, error: i32) -> Output {
    super::send(
        id::CONNECTION_RESPONSE,
        &ConnectionResponse {
            address: address.to_u64(),
            connected,
            mtu: u32::from(mtu),
            error,
        },
    )
}

fn gatt_error(address: Address, handle: u32, error: i32) -> Output {
    super::send(
        id::GATT_ERROR,
        &GattError {
            address: address.to_u64(),
            handle,
            error,
        },
    )
}

fn ack(message_type: u16, address: Address, handle: u32) -> Output {
    super::send(
        message_type,
        &HandleRequest {
            address: address.to_u64(),
            handle,
        },
    )
}

impl Session {
    pub(super) fn bluetooth(&mut self, message: ClientMessage, out: &mut Vec<Output>) {
        match message {
            ClientMessage::Device(request) => {
                let address = Address::from_u64(request.address);
                self.count("device_request");
                match request.request_type {
                    request_type::CONNECT_V3_WITH_CACHE
                    | request_type::CONNECT_V3_WITHOUT_CACHE => {
                        self.count("connect");
                        self.connect(address, request.has_address_type, out);
                    }
                    request_type::DISCONNECT => {
                        self.count("disconnect");
                        if self.connections.remove(&address).is_some() {
                            out.push(Output::Act(Action::Release(address)));
                        }
                        out.push(connection_response(address, false, 0, 0));
                        self.report_slots(out, false);
                    }
                    request_type::CLEAR_CACHE => {
                        self.count("clear_cache");
                        out.push(Output::Act(Action::ClearCache(address)));
                        out.push(super::send(
                            id::CLEAR_CACHE_RESPONSE,
                            &ClearCacheResponse {
                                address: address.to_u64(),
                                success: true,
                                error: 0,
                            },
                        ));
                    }
                    other => {
                        // v1 connects (removed from the firmware) and pairing (not offered in
                        // the feature flags): refuse the way the firmware refuses v1.
                        tracing::info!(%address, request_type = other, "unsupported device request");
                        out.push(connection_response(address, false, 0, NO_SLOT));
                    }
                }
            }
            ClientMessage::GetServices(request) => {
                self.count("get_services");
                let address = Address::from_u64(request.address);
                match self.table(address) {
                    Some(table) => {
                        for batch in services::batches(request.address, &table, self.client_minor) {
                            out.push(super::send(id::GET_SERVICES_RESPONSE, &batch));
                        }
                        out.push(ack(id::GET_SERVICES_DONE, address, 0));
                    }
                    None => out.push(gatt_error(address, 0, NOT_CONNECTED)),
                }
            }
            ClientMessage::Read(request) => {
                self.count("read");
                let address = Address::from_u64(request.address);
                self.characteristic_op(address, request.handle, out, |target| Action::Read {
                    address,
                    handle: request.handle,
                    target,
                });
            }
            ClientMessage::Write(request) => {
                self.count("write");
                let address = Address::from_u64(request.address);
                let mode = if request.response {
                    WriteMode::WithResponse
                } else {
                    WriteMode::WithoutResponse
                };
                self.characteristic_op(address, request.handle, out, |target| Action::Write {
                    address,
                    handle: request.handle,
                    target,
                    data: request.data,
                    mode,
                });
            }
            ClientMessage::ReadDescriptor(request) => {
                self.count("read_descriptor");
                let address = Address::from_u64(request.address);
                self.descriptor_op(address, request.handle, None, out);
            }
            ClientMessage::WriteDescriptor(request) => {
                self.count("write_descriptor");
                let address = Address::from_u64(request.address);
                self.descriptor_op(address, request.handle, Some(request.data), out);
            }
            ClientMessage::Notify(request) => {
                self.count("notify");
                let address = Address::from_u64(request.address);
                if self.table(address).is_none() {
                    out.push(gatt_error(address, request.handle, NOT_CONNECTED));
                    return;
                }
                if !request.enable {
                    out.push(Output::Act(Action::Unsubscribe {
                        address,
                        value_handle: request.handle,
                    }));
                }
                // Enabling only registers interest, as on the firmware: data flows once the
                // client writes the CCCD.
                out.push(ack(id::NOTIFY_RESPONSE, address, request.handle));
            }
            other => tracing::debug!(?other, "not a Bluetooth request"),
        }
    }

    fn table(&self, address: Address) -> Option<Arc<GattTable>> {
        match self.connections.get(&address) {
            Some(Connection::Connected { table }) => Some(Arc::clone(table)),
            _ => None,
        }
    }

    fn connect(&mut self, address: Address, has_address_type: bool, out: &mut Vec<Output>) {
        match self.connections.get(&address) {
            Some(Connection::Connected { table }) => {
                let mtu = table.mtu;
                out.push(connection_response(address, true, mtu, 0));
                self.report_slots(out, true);
            }
            // Already connecting: ignored, as the firmware does.
            Some(Connection::Connecting) => {}
            None if !has_address_type => out.push(connection_response(address, false, 0, NO_SLOT)),
            None => {
                self.connections.insert(address, Connection::Connecting);
                out.push(Output::Act(Action::Connect(address)));
                self.report_slots(out, false);
            }
        }
    }

    pub(super) fn connected(
        &mut self,
        address: Address,
        outcome: Result<(Arc<GattTable>, u16), i32>,
        out: &mut Vec<Output>,
    ) {
        if !matches!(self.connections.get(&address), Some(Connection::Connecting)) {
            // The client gave up (disconnect) before the connect finished: let the link go.
            if outcome.is_ok() {
                out.push(Output::Act(Action::Release(address)));
            }
            return;
        }
        match outcome {
            Ok((table, mtu)) => {
                self.connections
                    .insert(address, Connection::Connected { table });
                out.push(connection_response(address, true, mtu, 0));
            }
            Err(code) => {
                self.connections.remove(&address);
                out.push(Output::Act(Action::Release(address)));
                out.push(connection_response(address, false, 0, code));
            }
        }
        self.report_slots(out, false);
    }

    pub(super) fn link_lost(&mut self, address: Address, reason: i32, out: &mut Vec<Output>) {
        if self.connections.remove(&address).is_some() {
            out.push(Output::Act(Action::Release(address)));
            out.push(connection_response(address, false, 0, reason));
            self.report_slots(out, false);
        }
    }

    pub(super) fn op_done(
        &mut self,
        address: Address,
        handle: u32,
        reply: OpReply,
        out: &mut Vec<Output>,
    ) {
        if self.table(address).is_none() {
            return;
        }
        out.push(match reply {
            OpReply::Silent => return,
            OpReply::Value(data) => super::send(
                id::READ_RESPONSE,
                &HandleData {
                    address: address.to_u64(),
                    handle,
                    data,
                },
            ),
            OpReply::Written => ack(id::WRITE_RESPONSE, address, handle),
            OpReply::Failed(code) => gatt_error(address, handle, code),
        });
    }

    pub(super) fn notification(
        &mut self,
        address: Address,
        handle: u32,
        data: Bytes,
        out: &mut Vec<Output>,
    ) {
        if self.table(address).is_some() {
            out.push(super::send(
                id::NOTIFY_DATA,
                &HandleData {
                    address: address.to_u64(),
                    handle,
                    data,
                },
            ));
        }
    }

    fn characteristic_op(
        &mut self,
        address: Address,
        handle: u32,
        out: &mut Vec<Output>,
        action: impl FnOnce(Target) -> Action,
    ) {
        let Some(table) = self.table(address) else {
            out.push(gatt_error(address, handle, NOT_CONNECTED));
            return;
        };
        match services::characteristic(&table, handle) {
            Some((service, characteristic)) => out.push(Output::Act(action(Target {
                service: service.uuid,
                characteristic: characteristic.uuid,
            }))),
            None => out.push(gatt_error(address, handle, ATTRIBUTE_NOT_FOUND)),
        }
    }

    fn descriptor_op(
        &mut self,
        address: Address,
        handle: u32,
        write: Option<Bytes>,
        out: &mut Vec<Output>,
    ) {
        let Some(table) = self.table(address) else {
            out.push(gatt_error(address, handle, NOT_CONNECTED));
            return;
        };
        let Some((characteristic, descriptor)) = services::descriptor(&table, handle) else {
            out.push(gatt_error(address, handle, ATTRIBUTE_NOT_FOUND));
            return;
        };
        let service = services::characteristic(&table, u32::from(characteristic.handle))
            .map(|(s, _)| s.uuid)
            .unwrap_or_default();
        let action = match write {
            Some(data) if descriptor == CCCD => {
                if data.iter().all(|b| *b == 0) {
                    out.push(Output::Act(Action::Unsubscribe {
                        address,
                        value_handle: u32::from(characteristic.handle),
                    }));
                    out.push(ack(id::WRITE_RESPONSE, address, handle));
                    return;
                }
                Action::Subscribe {
                    address,
                    descriptor_handle: handle,
                    value_handle: u32::from(characteristic.handle),
                    target: Target {
                        service,
                        characteristic: characteristic.uuid,
                    },
                }
            }
            Some(data) => Action::WriteDescriptor {
                address,
                handle,
                characteristic: characteristic.uuid,
                descriptor,
                data,
            },
            None => Action::ReadDescriptor {
                address,
                handle,
                characteristic: characteristic.uuid,
                descriptor,
            },
        };
        out.push(Output::Act(action));
    }
}
