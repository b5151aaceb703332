//! The state every request handler shares.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::config::{ClientRegistration, DevProviderConfig, DevUser};
use crate::faults::Faults;
use crate::keys::KeyRing;
use crate::store::Store;

/// One running provider's configuration, keys, records, faults and request counters.
pub(crate) struct Provider {
    pub(crate) issuer: String,
    pub(crate) app_host: String,
    pub(crate) config: DevProviderConfig,
    pub(crate) faults: Faults,
    /// The nonce DPoP proofs must carry when the configuration requires one.
    pub(crate) dpop_nonce: String,
    keys: RwLock<KeyRing>,
    store: Mutex<Store>,
    counters: Mutex<BTreeMap<String, u64>>,
}

// Locks hold plain data that every write leaves consistent, so a poisoned lock (a panic in
// another handler) is recovered rather than turned into a panic here.
impl Provider {
    pub(crate) fn new(app_host: String, config: DevProviderConfig, keys: KeyRing) -> Self {
        Self {
            issuer: format!("{app_host}/oidc"),
            app_host,
            config,
            faults: Faults::default(),
            dpop_nonce: crate::store::random_string(24),
            keys: RwLock::new(keys),
            store: Mutex::new(Store::default()),
            counters: Mutex::new(BTreeMap::new()),
        }
    }

    pub(crate) fn client(&self, app_id: &str) -> Option<&ClientRegistration> {
        self.config.clients.iter().find(|c| c.app_id == app_id)
    }

    pub(crate) fn user_by_sub(&self, sub: &str) -> Option<&DevUser> {
        self.config.users.iter().find(|u| u.sub == sub)
    }

    pub(crate) fn user_by_username(&self, username: &str) -> Option<&DevUser> {
        self.config.users.iter().find(|u| u.username == username)
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn keys(&self) -> RwLockReadGuard<'_, KeyRing> {
        self.keys.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn keys_mut(&self) -> RwLockWriteGuard<'_, KeyRing> {
        self.keys.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn count_request(&self, path: &str) {
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        *counters.entry(path.to_owned()).or_insert(0) += 1;
    }

    pub(crate) fn request_counts(&self) -> BTreeMap<String, u64> {
        self.counters.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
