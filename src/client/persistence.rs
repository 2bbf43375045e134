//! Loading the committed configuration at start and saving every commit (the snapshot of
//! `persist.rs`, through the application's `Storage`).

use super::*;

impl Client {
    pub(super) fn load_snapshot(&mut self) {
        let Some(storage) = self.storage.as_mut() else {
            return;
        };
        let loaded = self.persister.load(storage.as_mut());
        let snapshot = match loaded {
            Ok(LoadOutcome::Empty) => return,
            Ok(LoadOutcome::Loaded(s)) => s,
            Ok(LoadOutcome::Recovered { snapshot, ignored }) => {
                self.emit(Event::StorageError {
                    reason: format!(
                        "one snapshot copy was unreadable ({ignored}); loaded the other"
                    ),
                });
                snapshot
            }
            Err(e) => {
                self.emit(Event::StorageError {
                    reason: format!("stored configuration unusable ({e}); using factory state"),
                });
                return;
            }
        };
        let mut restored = self.store.clone();
        match persist::apply_snapshot(&snapshot, &mut restored) {
            Ok(()) => self.store = restored,
            Err(e) => self.emit(Event::StorageError {
                reason: format!(
                    "stored configuration does not fit the objects ({e}); using factory state"
                ),
            }),
        }
    }

    /// Saves the committed configuration now (after the application changed a persistent
    /// object through `store_mut`). Without storage this does nothing.
    pub fn persist(&mut self) -> Result<(), persist::PersistError> {
        let Some(storage) = self.storage.as_mut() else {
            return Ok(());
        };
        self.persister
            .save(storage.as_mut(), &self.store)
            .map(|_| ())
    }

    /// Saves `candidate` as the new committed configuration; on failure reports it.
    pub(super) fn save_candidate(&mut self, candidate: &Store) -> bool {
        let Some(storage) = self.storage.as_mut() else {
            return true;
        };
        match self.persister.save(storage.as_mut(), candidate) {
            Ok(_) => true,
            Err(e) => {
                self.emit(Event::StorageError {
                    reason: format!("saving the configuration failed: {e}"),
                });
                false
            }
        }
    }
}
