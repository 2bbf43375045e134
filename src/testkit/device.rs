//! A device (a `Client` in a `UdpClient` loop) running on its own thread, for tests and the
//! demo: events come back on a channel, and `stop` de-registers and returns the client so its
//! final state can be inspected.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::TestkitError;
use crate::client::Client;
use crate::event::Event;
use crate::transport::udp::{Tap, UdpClient};

/// What the device thread hands back: the client and its last events.
type Finished = Result<(Client, Vec<Event>), String>;

/// A running device.
pub struct DeviceThread {
    stop: Arc<AtomicBool>,
    events: Receiver<Event>,
    addr: SocketAddr,
    thread: Option<JoinHandle<Finished>>,
}

impl DeviceThread {
    /// Binds 127.0.0.1 on an ephemeral port and starts `client` there.
    pub fn start(client: Client, tap: Option<Tap>) -> Result<DeviceThread, TestkitError> {
        let mut udp = UdpClient::bind(client, SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let addr = udp.local_addr()?;
        if let Some(tap) = tap {
            udp.set_tap(tap);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, events) = channel();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || -> Finished {
            udp.start().map_err(|e| e.to_string())?;
            while !flag.load(Ordering::SeqCst) {
                for ev in udp
                    .turn(Duration::from_millis(10))
                    .map_err(|e| e.to_string())?
                {
                    let _ = tx.send(ev);
                }
            }
            let last = udp
                .shutdown(Duration::from_secs(10))
                .map_err(|e| e.to_string())?;
            Ok((udp.into_client(), last))
        });
        Ok(DeviceThread {
            stop,
            events,
            addr,
            thread: Some(thread),
        })
    }

    /// The device's UDP address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits for an event matching `want`; other events are passed to `seen`.
    pub fn wait_event(
        &self,
        timeout: Duration,
        want: impl Fn(&Event) -> bool,
        mut seen: impl FnMut(&Event),
    ) -> Result<Event, TestkitError> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ev = self
                .events
                .recv_timeout(left)
                .map_err(|_| TestkitError::Timeout("awaited event".into()))?;
            if want(&ev) {
                return Ok(ev);
            }
            seen(&ev);
        }
    }

    /// Events that arrived and were not waited for.
    pub fn drain_events(&self) -> Vec<Event> {
        self.events.try_iter().collect()
    }

    /// Stops the loop (de-registering) and returns the client and the last events.
    pub fn stop(mut self) -> Result<(Client, Vec<Event>), TestkitError> {
        self.stop.store(true, Ordering::SeqCst);
        let thread = self.thread.take().ok_or(TestkitError::Poisoned)?;
        let (client, last) = thread
            .join()
            .map_err(|_| TestkitError::Poisoned)?
            .map_err(TestkitError::Timeout)?;
        let mut events: Vec<Event> = self.events.try_iter().collect();
        events.extend(last);
        Ok((client, events))
    }
}

impl Drop for DeviceThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
