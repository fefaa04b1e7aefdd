//! One location's contacts, indexed the ways GHL looks them up: by id, in list order
//! (dateAdded, id), and by email / phone for the duplicate rules.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;

use crate::model::Contact;

#[derive(Debug, Default)]
pub(crate) struct ContactStore {
    by_id: HashMap<String, Contact>,
    order: BTreeSet<(i64, String)>,
    /// Several ids per key only if seeding or an upsert created a clash; the oldest wins lookups.
    by_email: HashMap<String, Vec<String>>,
    by_phone: HashMap<String, Vec<String>>,
}

/// Where a list page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cursor {
    Start,
    /// Strictly after this (dateAdded ms, id).
    After(i64, String),
    /// Strictly after this dateAdded ms, any id.
    AfterMs(i64),
}

pub(crate) fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// `+` and digits only, so "+1 888-888-8888" and "+18888888888" are the same phone.
pub(crate) fn phone_key(phone: &str) -> String {
    let trimmed = phone.trim();
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    if trimmed.starts_with('+') {
        format!("+{digits}")
    } else {
        digits
    }
}

impl ContactStore {
    pub(crate) fn len(&self) -> usize {
        self.by_id.len()
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Contact> {
        self.by_id.get(id)
    }

    pub(crate) fn contains(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    pub(crate) fn find_by_email(&self, email: &str) -> Option<&Contact> {
        self.first_of(self.by_email.get(&email_key(email)))
    }

    pub(crate) fn find_by_phone(&self, phone: &str) -> Option<&Contact> {
        let key = phone_key(phone);
        if key.is_empty() || key == "+" {
            return None;
        }
        self.first_of(self.by_phone.get(&key))
    }

    fn first_of(&self, ids: Option<&Vec<String>>) -> Option<&Contact> {
        ids.into_iter()
            .flatten()
            .filter_map(|id| self.by_id.get(id))
            .min_by_key(|c| (c.date_added_ms(), c.id.clone()))
    }

    /// Inserts or replaces by id, keeping the indexes in step.
    pub(crate) fn put(&mut self, contact: Contact) {
        self.remove(&contact.id);
        self.order.insert((contact.date_added_ms(), contact.id.clone()));
        if let Some(email) = &contact.email {
            self.by_email
                .entry(email_key(email))
                .or_default()
                .push(contact.id.clone());
        }
        if let Some(phone) = &contact.phone {
            self.by_phone
                .entry(phone_key(phone))
                .or_default()
                .push(contact.id.clone());
        }
        self.by_id.insert(contact.id.clone(), contact);
    }

    pub(crate) fn remove(&mut self, id: &str) -> Option<Contact> {
        let contact = self.by_id.remove(id)?;
        self.order.remove(&(contact.date_added_ms(), contact.id.clone()));
        if let Some(email) = &contact.email {
            unindex(&mut self.by_email, &email_key(email), id);
        }
        if let Some(phone) = &contact.phone {
            unindex(&mut self.by_phone, &phone_key(phone), id);
        }
        Some(contact)
    }

    /// All contacts in list order.
    pub(crate) fn ordered(&self) -> impl Iterator<Item = &Contact> {
        self.order.iter().filter_map(|(_, id)| self.by_id.get(id))
    }

    /// Contacts after the cursor, in list order.
    pub(crate) fn after(&self, cursor: &Cursor) -> impl Iterator<Item = &Contact> {
        let start = match cursor {
            Cursor::Start => Bound::Unbounded,
            Cursor::After(ms, id) => Bound::Excluded((*ms, id.clone())),
            Cursor::AfterMs(ms) => Bound::Included((ms.saturating_add(1), String::new())),
        };
        self.order
            .range((start, Bound::Unbounded))
            .filter_map(|(_, id)| self.by_id.get(id))
    }
}

fn unindex(index: &mut HashMap<String, Vec<String>>, key: &str, id: &str) {
    if let Some(ids) = index.get_mut(key) {
        ids.retain(|other| other != id);
        if ids.is_empty() {
            index.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn contact(id: &str, ms: i64, email: &str) -> Contact {
        let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap();
        let mut c = Contact::new(id.into(), "loc".into(), at);
        c.email = Some(email.into());
        c
    }

    #[test]
    fn cursors_follow_date_then_id() {
        let mut store = ContactStore::default();
        store.put(contact("b", 10, "b@x.io"));
        store.put(contact("a", 10, "a@x.io"));
        store.put(contact("c", 20, "c@x.io"));
        let ids = |cursor: Cursor| store.after(&cursor).map(|c| c.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(Cursor::Start), ["a", "b", "c"]);
        assert_eq!(ids(Cursor::After(10, "a".into())), ["b", "c"]);
        assert_eq!(ids(Cursor::AfterMs(10)), ["c"]);
    }

    #[test]
    fn email_lookup_ignores_case_and_follows_updates() {
        let mut store = ContactStore::default();
        store.put(contact("a", 1, "Ann@X.io"));
        assert_eq!(store.find_by_email("ann@x.IO").map(|c| c.id.as_str()), Some("a"));
        store.put(contact("a", 1, "other@x.io"));
        assert!(store.find_by_email("ann@x.io").is_none());
        assert_eq!(phone_key("+1 888-888-8888"), "+18888888888");
    }
}
