//! A device actor's place in the slot FIFO: the ledger's ticket and the receiver its grant
//! arrives on, kept together in [`SlotQueue`] so that leaving the queue drops both at once.
//!
//! Why: the grant's receiver used to live inside a spawned future, cancelled with
//! `cancel_future` when the machine left the queue. Actix removes a cancelled future only later
//! in the same turn of the context, and may still poll it before. So when a device left the
//! queue and joined it again within one turn (two adverts in the mailbox: the first made it back
//! off, the second queued it again, with the same ticket number), the old waiter woke to its
//! dropped ticket and cleared the wait the device had just joined: the new ticket was dropped,
//! the machine stayed queued and no radio would ever grant it (the fault-schedule soak's seed
//! 1001299). A grant sent but not yet taken also lived on in the cancelled future, holding its
//! slot, so a join in that turn was refused as "already held". Now a wait is numbered, the
//! future ([`GrantArrival`]) only takes the grant of the wait it was spawned for and ends
//! quietly once that wait is gone, and leaving drops the receiver, and any grant in it, at once.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Poll};

use actix::prelude::*;
use tokio::sync::oneshot;

use super::DeviceActor;
use crate::adapter::slots::{Grant, SlotTicket};
use crate::model::RadioId;

/// The one wait for a slot a device has, if any.
#[derive(Debug, Default)]
pub(super) struct SlotQueue {
    wait: Option<Wait>,
    /// Waits joined so far: the next one's number.
    joined: u64,
}

#[derive(Debug)]
struct Wait {
    number: u64,
    ticket: SlotTicket,
    granted: oneshot::Receiver<Grant>,
}

impl SlotQueue {
    /// Holds a new wait (an older one is left) and returns what delivers its grant.
    pub(super) fn join(
        &mut self,
        ticket: SlotTicket,
        granted: oneshot::Receiver<Grant>,
    ) -> GrantArrival {
        self.joined += 1;
        let number = self.joined;
        self.wait = Some(Wait {
            number,
            ticket,
            granted,
        });
        GrantArrival { wait: number }
    }

    /// Changes the radios the waiting ticket accepts, keeping its place.
    pub(super) fn set_radios(&self, radios: Vec<RadioId>) {
        if let Some(wait) = &self.wait {
            wait.ticket.set_radios(radios);
        }
    }

    /// Leaves the queue: the ticket goes, and a grant already sent goes back to the ledger now.
    pub(super) fn leave(&mut self) {
        self.wait = None;
    }

    /// The grant of wait `number`, once it arrived (the wait is over then); nothing, at once,
    /// if that wait is no longer the current one.
    fn poll_grant(
        &mut self,
        number: u64,
        task: &mut std::task::Context<'_>,
    ) -> Poll<Option<Grant>> {
        let Some(wait) = self.wait.as_mut().filter(|w| w.number == number) else {
            return Poll::Ready(None);
        };
        let arrived = ready!(Pin::new(&mut wait.granted).poll(task));
        self.wait = None;
        Poll::Ready(arrived.ok())
    }
}

/// Resolves with the grant of one wait of the actor's [`SlotQueue`], or with nothing once the
/// actor left that wait.
#[derive(Debug)]
pub(super) struct GrantArrival {
    wait: u64,
}

impl ActorFuture<DeviceActor> for GrantArrival {
    type Output = Option<Grant>;

    fn poll(
        self: Pin<&mut Self>,
        act: &mut DeviceActor,
        _: &mut Context<DeviceActor>,
        task: &mut std::task::Context<'_>,
    ) -> Poll<Option<Grant>> {
        act.slot_queue.poll_grant(self.wait, task)
    }
}

#[cfg(test)]
mod tests {
    use std::task::{Context, Waker};

    use super::*;
    use crate::adapter::slots::SlotLedger;
    use crate::model::Address;

    fn device() -> Address {
        Address::new([0xA4, 0xC1, 0x38, 0, 0, 1])
    }

    /// A ledger with one radio, up, whose one slot is held by someone else.
    fn full_radio() -> (SlotLedger, RadioId, crate::adapter::slots::SlotLease) {
        let ledger = SlotLedger::new();
        let radio = RadioId::new("hci0");
        ledger.add_radio(&radio, 1);
        ledger.set_up(&radio, true);
        let held = ledger
            .try_lease(&radio, Address::new([0xA4, 0xC1, 0x38, 0, 0, 9]))
            .expect("a free slot");
        (ledger, radio, held)
    }

    fn poll(queue: &mut SlotQueue, arrival: &GrantArrival) -> Poll<Option<Grant>> {
        queue.poll_grant(arrival.wait, &mut Context::from_waker(Waker::noop()))
    }

    /// Seed 1001299's sequence: left and joined again (same place) before the old waiter ran.
    #[tokio::test(start_paused = true)]
    async fn the_waiter_of_a_wait_left_ends_without_touching_the_next_wait() {
        let (ledger, radio, held) = full_radio();
        let mut queue = SlotQueue::default();
        let (ticket, granted) = ledger.request(device(), vec![radio.clone()], None).unwrap();
        let place = ticket.place();
        let old = queue.join(ticket, granted);
        queue.leave();
        let (ticket, granted) = ledger
            .request(device(), vec![radio.clone()], Some(place))
            .unwrap();
        assert_eq!(ticket.place(), place, "the old place is kept");
        let new = queue.join(ticket, granted);

        assert!(matches!(poll(&mut queue, &old), Poll::Ready(None)));
        assert!(poll(&mut queue, &new).is_pending(), "still waiting");
        let queued = &ledger.usage()[0].queued;
        assert_eq!(
            queued,
            &vec![device()],
            "the new ticket is still in the FIFO"
        );

        drop(held);
        let Poll::Ready(Some(grant)) = poll(&mut queue, &new) else {
            panic!("the freed slot is granted to the waiting device");
        };
        assert_eq!(grant.lease.radio(), &radio);
    }

    /// A grant sent but not taken goes back when the device leaves: joining again is not
    /// refused as "already held", and nothing stays held.
    #[tokio::test(start_paused = true)]
    async fn leaving_with_a_grant_in_flight_gives_the_slot_back_at_once() {
        let (ledger, radio, held) = full_radio();
        let mut queue = SlotQueue::default();
        let (ticket, granted) = ledger.request(device(), vec![radio.clone()], None).unwrap();
        let _arrival = queue.join(ticket, granted);
        drop(held);
        assert_eq!(ledger.holder(&device()), Some(radio.clone()), "granted");

        queue.leave();
        assert_eq!(ledger.holder(&device()), None, "given back on leaving");
        assert!(ledger.request(device(), vec![radio], None).is_ok());
    }
}
