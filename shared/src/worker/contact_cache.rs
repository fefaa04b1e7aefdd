//! The learner → contact links one invocation has read or written, so that a batch of events for
//! one learner reads its contact link once (`docs/architecture.md`, "The worker's effects").
//!
//! A [`ContactCache`] is made per SQS batch (`crate::lambda::handle_batch`) and dropped with it,
//! never kept in the worker: a link another invocation rewrites is seen by the next batch at the
//! latest, as a single message sees a link rewritten between its read and its GHL calls. Within
//! the batch, every contact link write goes through the cache (it keeps what was written), and a
//! message that fails empties it, so that a link that may be why it failed (a contact merged or
//! deleted in GHL) is read afresh by the next message.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;

use crate::domain::SourcePlatform;
use crate::keys::{self, EntityKey};
use crate::ports::{ContactLink, EntityLink, EntityMap, LearnerMirror, PortError};

/// Contact links by entity-map key, for one invocation.
#[derive(Debug, Default)]
pub struct ContactCache(Mutex<HashMap<String, ContactLink>>);

impl ContactCache {
    fn get(&self, key: &str) -> Option<ContactLink> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    fn keep(&self, link: &ContactLink) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(keys::contact(&link.source, &link.source_user_id), link.clone());
    }

    fn forget(&self, key: &str) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).remove(key);
    }

    /// Forgets every link (a message failed).
    pub(crate) fn clear(&self) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }
}

/// The entity map as one message's rules see it: contact links through the invocation's cache,
/// everything else straight through.
pub(crate) struct CachedEntities<'a> {
    pub(crate) inner: &'a dyn EntityMap,
    pub(crate) cache: &'a ContactCache,
}

#[async_trait]
impl EntityMap for CachedEntities<'_> {
    async fn contact(
        &self,
        source: &SourcePlatform,
        source_user_id: &str,
    ) -> Result<Option<ContactLink>, PortError> {
        if let Some(link) = self.cache.get(&keys::contact(source, source_user_id)) {
            return Ok(Some(link));
        }
        // An absent link is not kept: the event upserts the contact and writes it, through here.
        let found = self.inner.contact(source, source_user_id).await?;
        if let Some(link) = &found {
            self.cache.keep(link);
        }
        Ok(found)
    }

    async fn put_contact(&self, link: &ContactLink) -> Result<(), PortError> {
        match self.inner.put_contact(link).await {
            Ok(()) => {
                self.cache.keep(link);
                Ok(())
            }
            Err(e) => {
                // The write may or may not have landed: whatever the cache held may be stale.
                self.cache
                    .forget(&keys::contact(&link.source, &link.source_user_id));
                Err(e)
            }
        }
    }

    async fn link(&self, key: &EntityKey) -> Result<Option<EntityLink>, PortError> {
        self.inner.link(key).await
    }

    async fn put_link(&self, link: &EntityLink) -> Result<(), PortError> {
        self.inner.put_link(link).await
    }

    async fn put_link_if_absent(&self, link: &EntityLink) -> Result<bool, PortError> {
        self.inner.put_link_if_absent(link).await
    }

    async fn mirror(&self, target: &str, contact_id: &str) -> Result<Option<LearnerMirror>, PortError> {
        self.inner.mirror(target, contact_id).await
    }

    async fn put_mirror(
        &self,
        target: &str,
        contact_id: &str,
        mirror: &LearnerMirror,
    ) -> Result<bool, PortError> {
        self.inner.put_mirror(target, contact_id, mirror).await
    }

    async fn mirrors(
        &self,
        target: &str,
        contact_ids: &[&str],
    ) -> Result<BTreeMap<String, LearnerMirror>, PortError> {
        self.inner.mirrors(target, contact_ids).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryEntityMap;

    fn link(contact_id: &str) -> ContactLink {
        ContactLink {
            source: SourcePlatform::skilljar(),
            source_user_id: "u1".into(),
            location_id: "loc-1".into(),
            contact_id: contact_id.into(),
        }
    }

    #[tokio::test]
    async fn links_are_read_once_written_through_and_forgotten_when_cleared() -> Result<(), PortError> {
        let map = MemoryEntityMap::default();
        let cache = ContactCache::default();
        let cached = CachedEntities {
            inner: &map,
            cache: &cache,
        };
        let source = SourcePlatform::skilljar();
        let contact_of = async || {
            cached
                .contact(&source, "u1")
                .await
                .map(|l| l.map(|l| l.contact_id))
        };

        // An absent link is looked up each time: the event that found none writes it.
        assert_eq!(contact_of().await?, None);
        assert_eq!(contact_of().await?, None);
        assert_eq!(map.contact_reads(), 2);
        cached.put_contact(&link("c-1")).await?;
        assert_eq!(contact_of().await?.as_deref(), Some("c-1"));
        assert_eq!(
            map.contact_reads(),
            2,
            "what the invocation wrote is known without a read"
        );

        // Another invocation re-links the learner: seen once a failed message empties the cache.
        map.put_contact(&link("c-2")).await?;
        assert_eq!(contact_of().await?.as_deref(), Some("c-1"));
        cache.clear();
        assert_eq!(contact_of().await?.as_deref(), Some("c-2"));
        assert_eq!(contact_of().await?.as_deref(), Some("c-2"));
        assert_eq!(map.contact_reads(), 3);
        Ok(())
    }
}
