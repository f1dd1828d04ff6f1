//! The xenbus handshake of a split driver as each end runs it: from both ends' states, its next state and what to do first.
// Both ends publish their state in xenstore and watch the other's. The conventions (as Linux's
// and Xen's drivers follow them): the backend goes to InitWait once it has published its
// features; the frontend, seeing InitWait, sets up its ring, publishes ring-ref and
// event-channel and goes to Initialised; the backend, seeing Initialised (or Connected), maps
// the ring and goes to Connected; the frontend, seeing Connected, goes to Connected. Either end
// closing goes Closing then Closed, and the other follows. The other end is not trusted: any
// state it writes is only an input here.

use hypercall_abi::xenbus::XenbusState;

/// Which end of the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The driver in Dom0 serving the device.
    Backend,
    /// The driver in the guest using it.
    Frontend,
}

/// What an end must do before it writes its next state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing but the state change.
    None,
    /// Backend: publish the device's features (sectors, sector-size, feature-*, ...).
    PublishFeatures,
    /// Frontend: allocate and grant the ring, allocate the event channel, publish ring-ref and
    /// event-channel (and protocol).
    SetUpRing,
    /// Backend: read ring-ref and event-channel, map the ring, bind the event channel.
    MapRing,
    /// Stop using the ring: drain or fail what is in flight, unmap or revoke it, close the port.
    TearDown,
}

/// One step: the state to write and what to do first; `None` when the end stays as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// The state to write next.
    pub next: XenbusState,
    /// What to do before writing it.
    pub action: Action,
}

const fn step(next: XenbusState, action: Action) -> Option<Step> {
    Some(Step { next, action })
}

/// The next step of `role`, now in `ours`, after seeing the other end in `theirs`.
pub fn next(role: Role, ours: XenbusState, theirs: XenbusState) -> Option<Step> {
    use XenbusState::*;
    match (role, ours, theirs) {
        // Closed is final for this connection: a new one starts from Initialising again.
        (_, Closed, _) => None,
        // The other end is going or gone: follow it down. A frontend closes once the backend
        // is closing; a backend waits for the frontend's Closed (as Linux's blkback and
        // netback do), so the toolstack, which removes both directories once the backend is
        // Closed, never races a frontend still writing its state.
        (Role::Frontend, Closing, Closing | Closed | Unknown) => step(Closed, Action::None),
        (Role::Backend, Closing, Closed | Unknown) => step(Closed, Action::None),
        (_, Closing, _) => None,
        (_, _, Closing | Closed) if ours != Initialising => step(Closing, Action::TearDown),
        (Role::Backend, Initialising, _) => step(InitWait, Action::PublishFeatures),
        (Role::Backend, InitWait, Initialised | Connected) => step(Connected, Action::MapRing),
        (Role::Frontend, Initialising, InitWait) => step(Initialised, Action::SetUpRing),
        (Role::Frontend, Initialised, Connected) => step(Connected, Action::None),
        _ => None,
    }
}

/// The step an end takes to close on its own (unplug, shutdown, a corrupt ring).
pub fn close(ours: XenbusState) -> Option<Step> {
    match ours {
        XenbusState::Closing | XenbusState::Closed => None,
        XenbusState::Unknown | XenbusState::Initialising => step(XenbusState::Closed, Action::None),
        _ => step(XenbusState::Closing, Action::TearDown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use XenbusState::*;

    /// Runs both ends against each other until neither moves; their final states and the
    /// actions taken, in order.
    fn run(
        mut back: XenbusState,
        mut front: XenbusState,
    ) -> (XenbusState, XenbusState, Vec<(Role, Action)>) {
        let mut actions = Vec::new();
        for _ in 0..20 {
            let mut moved = false;
            if let Some(s) = next(Role::Backend, back, front) {
                back = s.next;
                actions.push((Role::Backend, s.action));
                moved = true;
            }
            if let Some(s) = next(Role::Frontend, front, back) {
                front = s.next;
                actions.push((Role::Frontend, s.action));
                moved = true;
            }
            if !moved {
                break;
            }
        }
        (back, front, actions)
    }

    #[test]
    fn both_ends_connect_in_the_usual_order() {
        let (back, front, actions) = run(Initialising, Initialising);
        assert_eq!((back, front), (Connected, Connected));
        assert_eq!(
            actions,
            [
                (Role::Backend, Action::PublishFeatures),
                (Role::Frontend, Action::SetUpRing),
                (Role::Backend, Action::MapRing),
                (Role::Frontend, Action::None),
            ]
        );
    }

    #[test]
    fn the_frontend_waits_for_the_backend_features() {
        assert_eq!(next(Role::Frontend, Initialising, Initialising), None);
        assert_eq!(next(Role::Frontend, Initialising, Unknown), None);
        assert_eq!(next(Role::Backend, InitWait, Initialising), None);
    }

    #[test]
    fn a_closing_frontend_takes_the_backend_down_and_both_end_closed() {
        let mut front = close(Connected).unwrap();
        assert_eq!(
            front,
            Step {
                next: Closing,
                action: Action::TearDown
            }
        );
        let back = next(Role::Backend, Connected, front.next).unwrap();
        assert_eq!(
            back,
            Step {
                next: Closing,
                action: Action::TearDown
            }
        );
        // The backend stays Closing until the frontend is Closed.
        assert_eq!(next(Role::Backend, back.next, front.next), None);
        front = next(Role::Frontend, front.next, back.next).unwrap();
        assert_eq!(front.next, Closed);
        let back2 = next(Role::Backend, back.next, front.next).unwrap();
        assert_eq!(back2.next, Closed);
        assert_eq!(next(Role::Frontend, Closed, Closed), None);
    }

    #[test]
    fn a_backend_that_goes_away_closes_the_frontend() {
        let (back, front, _) = run(Closed, Connected);
        assert_eq!((back, front), (Closed, Closed));
        let (back, front, _) = run(Connected, Closed);
        assert_eq!((back, front), (Closed, Closed));
    }

    #[test]
    fn closing_before_setup_is_immediate() {
        assert_eq!(
            close(Initialising),
            Some(Step {
                next: Closed,
                action: Action::None
            })
        );
        assert_eq!(close(Closed), None);
        assert_eq!(close(Closing), None);
    }

    #[test]
    fn every_pair_of_states_settles_without_panicking() {
        for &b in &XenbusState::ALL {
            for &f in &XenbusState::ALL {
                let (back, front, actions) = run(b, f);
                assert!(actions.len() < 20, "{b:?}/{f:?} never settles");
                // Settled pairs are either both connected or nothing more to do.
                assert!(next(Role::Backend, back, front).is_none());
                assert!(next(Role::Frontend, front, back).is_none());
            }
        }
    }
}
