//! Contacts, tags and appointments (`tests/contract/ghl-api/apps/contacts.json`).

use futures_util::Stream;
use futures_util::stream::try_unfold;
use reqwest::Method;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::client::{Call, GhlClient};
use super::error::GhlError;
use super::retry::Idempotence;
use super::types::{
    Appointment, AppointmentList, BusinessContacts, Contact, ContactEnvelope, ContactFields, ContactPage,
    DuplicateAnswer, SearchPage, SearchQuery, Succeeded, TagsAnswer, TagsBody, UpsertContactResponse,
    WithLocation,
};

/// What `create_contact` found: a new contact, or the existing one GHL's duplicate rule matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    New(String),
    Existing(String),
}

impl Created {
    pub fn id(&self) -> &str {
        match self {
            Created::New(id) | Created::Existing(id) => id,
        }
    }
}

impl GhlClient {
    /// `GET /contacts/:contactId`.
    pub async fn get_contact(&self, contact_id: &str) -> Result<Contact, GhlError> {
        let answer: ContactEnvelope = self.call(Call::get(&["contacts", contact_id])).await?;
        Ok(answer.contact)
    }

    /// `POST /contacts/`. A location that forbids duplicates answers 400 with the matching
    /// contact's id: that becomes `Created::Existing`.
    pub async fn create_contact(
        &self,
        fields: &ContactFields,
        idempotence: Idempotence,
    ) -> Result<Created, GhlError> {
        let location_id = self.location_id().await?;
        let body = WithLocation {
            location_id: &location_id,
            fields,
        };
        match self
            .call::<ContactEnvelope>(Call::send(Method::POST, &["contacts", ""], body, idempotence))
            .await
        {
            Ok(answer) => Ok(Created::New(answer.contact.id)),
            Err(GhlError::Rejected {
                status: 400,
                existing_contact_id: Some(id),
                ..
            }) => Ok(Created::Existing(id)),
            Err(e) => Err(e),
        }
    }

    /// `PUT /contacts/:contactId`; the updated contact when GHL sends it back.
    pub async fn update_contact(
        &self,
        contact_id: &str,
        fields: &ContactFields,
    ) -> Result<Option<Contact>, GhlError> {
        let path = ["contacts", contact_id];
        let answer: Succeeded = self
            .call(Call::send(Method::PUT, &path, fields, Idempotence::Idempotent))
            .await?;
        answer.check()?;
        Ok(answer.contact)
    }

    /// `DELETE /contacts/:contactId`.
    pub async fn delete_contact(&self, contact_id: &str) -> Result<(), GhlError> {
        let path = ["contacts", contact_id];
        let call = Call {
            method: Method::DELETE,
            ..Call::get(&path)
        };
        let answer: Option<Succeeded> = self.call(call).await?;
        answer.map_or(Ok(()), |a| a.check())
    }

    /// `POST /contacts/upsert`: creates the contact or updates the one GHL's duplicate rules match.
    pub async fn upsert_contact(&self, fields: &ContactFields) -> Result<UpsertContactResponse, GhlError> {
        let location_id = self.location_id().await?;
        let body = WithLocation {
            location_id: &location_id,
            fields,
        };
        self.call(Call::send(
            Method::POST,
            &["contacts", "upsert"],
            body,
            Idempotence::Idempotent,
        ))
        .await
    }

    /// `GET /contacts/business/:businessId`.
    pub async fn contacts_of_business(&self, business_id: &str) -> Result<Vec<Contact>, GhlError> {
        let location_id = self.location_id().await?;
        let path = ["contacts", "business", business_id];
        let call = Call::get(&path).query("locationId", location_id);
        let answer: BusinessContacts = self.call(call).await?;
        Ok(answer.contacts)
    }

    /// `GET /contacts/` page by page (`startAfterId` / `startAfter`), until a short page.
    pub fn list_contacts(
        &self,
        page_size: u32,
    ) -> impl Stream<Item = Result<ContactPage, GhlError>> + Send + '_ {
        let page_size = page_size.clamp(1, 100);
        try_unfold(Some(None::<(String, i64)>), move |cursor| async move {
            let Some(cursor) = cursor else { return Ok(None) };
            let location_id = self.location_id().await?;
            let mut call = Call::get(&["contacts", ""])
                .query("locationId", location_id)
                .query("limit", page_size.to_string());
            if let Some((after_id, after)) = &cursor {
                call = call
                    .query("startAfterId", after_id.clone())
                    .query("startAfter", after.to_string());
            }
            let page: ContactPage = self.call(call).await?;
            let full = page.contacts.len() >= page_size as usize;
            let next = if full { next_list_cursor(&page) } else { None };
            // A cursor that does not move would page forever.
            let next = next.filter(|n| Some(n) != cursor.as_ref());
            Ok(Some((page, next.map(Some))))
        })
    }

    /// `POST /contacts/search` with `searchAfter` paging, until a short page.
    pub fn search_contacts<'a>(
        &'a self,
        query: &'a SearchQuery,
        page_limit: u32,
    ) -> impl Stream<Item = Result<SearchPage, GhlError>> + Send + 'a {
        try_unfold(Some(None::<Vec<serde_json::Value>>), move |cursor| async move {
            let Some(cursor) = cursor else { return Ok(None) };
            let (page, next) = self.search_after(query, cursor, page_limit).await?;
            Ok(Some((page, next.map(Some))))
        })
    }

    /// `POST /contacts/search`, the page after `after` (`None`: the first), and the `searchAfter`
    /// of the page that follows it (`None` after a short page: the last). Resumable: the daily
    /// batch stores the returned cursor between invocations.
    pub async fn search_after(
        &self,
        query: &SearchQuery,
        after: Option<Vec<serde_json::Value>>,
        page_limit: u32,
    ) -> Result<(SearchPage, Option<Vec<serde_json::Value>>), GhlError> {
        let page_limit = page_limit.clamp(1, 500);
        let location_id = self.location_id().await?;
        let mut body = serde_json::to_value(query).unwrap_or_else(|_| serde_json::json!({}));
        body["locationId"] = location_id.into();
        body["pageLimit"] = page_limit.into();
        if let Some(after) = &after {
            body["searchAfter"] = serde_json::Value::Array(after.clone());
        }
        let page = self.search_call(body).await?;
        let full = page.contacts.len() >= page_limit as usize;
        let next = if full {
            page.contacts.last().and_then(|c| c.search_after.clone())
        } else {
            None
        };
        // A cursor that does not move would page forever.
        let next = next.filter(|n| Some(n) != after.as_ref());
        Ok((page, next))
    }

    /// `POST /contacts/search`, one page by number (1-based).
    pub async fn search_page(
        &self,
        query: &SearchQuery,
        page: u32,
        page_limit: u32,
    ) -> Result<SearchPage, GhlError> {
        let location_id = self.location_id().await?;
        let mut body = serde_json::to_value(query).unwrap_or_else(|_| serde_json::json!({}));
        body["locationId"] = location_id.into();
        body["pageLimit"] = page_limit.clamp(1, 500).into();
        body["page"] = page.max(1).into();
        self.search_call(body).await
    }

    async fn search_call(&self, body: serde_json::Value) -> Result<SearchPage, GhlError> {
        let call = Call::send(
            Method::POST,
            &["contacts", "search"],
            body,
            Idempotence::Idempotent,
        );
        // The spec documents no body for this answer; an empty one is an empty page.
        let page: Option<SearchPage> = self.call(call).await?;
        Ok(page.unwrap_or_default())
    }

    /// `GET /contacts/search/duplicate`: the contact GHL's duplicate rules match, if any.
    pub async fn find_duplicate(
        &self,
        email: Option<&str>,
        phone: Option<&str>,
    ) -> Result<Option<Contact>, GhlError> {
        let location_id = self.location_id().await?;
        let mut call = Call::get(&["contacts", "search", "duplicate"]).query("locationId", location_id);
        if let Some(email) = email {
            call = call.query("email", email);
        }
        if let Some(phone) = phone {
            call = call.query("number", phone);
        }
        let answer: Option<DuplicateAnswer> = self.call(call).await?;
        Ok(answer.and_then(|a| a.contact))
    }

    /// `POST /contacts/:contactId/tags`: adds tags, keeping the contact's others.
    pub async fn add_tags(&self, contact_id: &str, tags: &[String]) -> Result<Vec<String>, GhlError> {
        let path = ["contacts", contact_id, "tags"];
        let call = Call::send(Method::POST, &path, TagsBody { tags }, Idempotence::Idempotent);
        let answer: Option<TagsAnswer> = self.call(call).await?;
        Ok(answer.map(|a| a.tags).unwrap_or_default())
    }

    /// `DELETE /contacts/:contactId/tags`.
    pub async fn remove_tags(&self, contact_id: &str, tags: &[String]) -> Result<Vec<String>, GhlError> {
        let path = ["contacts", contact_id, "tags"];
        let call = Call::send(Method::DELETE, &path, TagsBody { tags }, Idempotence::Idempotent);
        let answer: Option<TagsAnswer> = self.call(call).await?;
        Ok(answer.map(|a| a.tags).unwrap_or_default())
    }

    /// `GET /contacts/:contactId/appointments`.
    pub async fn appointments(&self, contact_id: &str) -> Result<Vec<Appointment>, GhlError> {
        let answer: AppointmentList = self
            .call(Call::get(&["contacts", contact_id, "appointments"]))
            .await?;
        Ok(answer.events)
    }
}

/// The next `(startAfterId, startAfter)`: GHL's `meta` when present, else the page's last row.
fn next_list_cursor(page: &ContactPage) -> Option<(String, i64)> {
    if let Some(meta) = &page.meta
        && let (Some(id), Some(after)) = (&meta.start_after_id, meta.start_after)
    {
        return Some((id.clone(), after));
    }
    let last = page.contacts.last()?;
    let added = OffsetDateTime::parse(last.date_added.as_deref()?, &Rfc3339).ok()?;
    Some((last.id.clone(), (added.unix_timestamp_nanos() / 1_000_000) as i64))
}
