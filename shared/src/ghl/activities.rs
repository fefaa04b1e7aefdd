//! Tasks and notes on a contact (`tests/contract/ghl-api/apps/contacts.json`).

use reqwest::Method;

use super::client::{Call, GhlClient};
use super::error::GhlError;
use super::retry::Idempotence;
use super::types::{
    NewTask, Note, NoteEnvelope, NoteFields, NoteList, Succeeded, Task, TaskEnvelope, TaskFields, TaskList,
};

impl GhlClient {
    pub async fn list_tasks(&self, contact_id: &str) -> Result<Vec<Task>, GhlError> {
        let answer: TaskList = self.call(Call::get(&["contacts", contact_id, "tasks"])).await?;
        Ok(answer.tasks)
    }

    pub async fn get_task(&self, contact_id: &str, task_id: &str) -> Result<Task, GhlError> {
        let answer: TaskEnvelope = self
            .call(Call::get(&["contacts", contact_id, "tasks", task_id]))
            .await?;
        Ok(answer.task)
    }

    /// `POST /contacts/:contactId/tasks`. Not idempotent in GHL: pass `Protected` only when the
    /// caller's own idempotency record guards this task.
    pub async fn create_task(
        &self,
        contact_id: &str,
        task: &NewTask,
        idempotence: Idempotence,
    ) -> Result<Task, GhlError> {
        let answer: TaskEnvelope = self
            .call(Call::send(
                Method::POST,
                &["contacts", contact_id, "tasks"],
                task,
                idempotence,
            ))
            .await?;
        Ok(answer.task)
    }

    pub async fn update_task(
        &self,
        contact_id: &str,
        task_id: &str,
        fields: &TaskFields,
    ) -> Result<Task, GhlError> {
        let path = ["contacts", contact_id, "tasks", task_id];
        let answer: TaskEnvelope = self
            .call(Call::send(Method::PUT, &path, fields, Idempotence::Idempotent))
            .await?;
        Ok(answer.task)
    }

    /// `PUT /contacts/:contactId/tasks/:taskId/completed`.
    pub async fn set_task_completed(
        &self,
        contact_id: &str,
        task_id: &str,
        completed: bool,
    ) -> Result<Task, GhlError> {
        let path = ["contacts", contact_id, "tasks", task_id, "completed"];
        let body = serde_json::json!({ "completed": completed });
        let answer: TaskEnvelope = self
            .call(Call::send(Method::PUT, &path, body, Idempotence::Idempotent))
            .await?;
        Ok(answer.task)
    }

    pub async fn delete_task(&self, contact_id: &str, task_id: &str) -> Result<(), GhlError> {
        let path = ["contacts", contact_id, "tasks", task_id];
        let answer: Option<Succeeded> = self
            .call(Call {
                method: Method::DELETE,
                ..Call::get(&path)
            })
            .await?;
        answer.map_or(Ok(()), |a| a.check())
    }

    pub async fn list_notes(&self, contact_id: &str) -> Result<Vec<Note>, GhlError> {
        let answer: NoteList = self.call(Call::get(&["contacts", contact_id, "notes"])).await?;
        Ok(answer.notes)
    }

    pub async fn get_note(&self, contact_id: &str, note_id: &str) -> Result<Note, GhlError> {
        let answer: NoteEnvelope = self
            .call(Call::get(&["contacts", contact_id, "notes", note_id]))
            .await?;
        Ok(answer.note)
    }

    /// `POST /contacts/:contactId/notes` (`body` required). Same idempotence rule as tasks.
    pub async fn create_note(
        &self,
        contact_id: &str,
        note: &NoteFields,
        idempotence: Idempotence,
    ) -> Result<Note, GhlError> {
        if note.body.as_deref().is_none_or(str::is_empty) {
            return Err(GhlError::Unprocessable {
                messages: vec!["note body is required".into()],
            });
        }
        let answer: NoteEnvelope = self
            .call(Call::send(
                Method::POST,
                &["contacts", contact_id, "notes"],
                note,
                idempotence,
            ))
            .await?;
        Ok(answer.note)
    }

    pub async fn update_note(
        &self,
        contact_id: &str,
        note_id: &str,
        note: &NoteFields,
    ) -> Result<Note, GhlError> {
        let path = ["contacts", contact_id, "notes", note_id];
        let answer: NoteEnvelope = self
            .call(Call::send(Method::PUT, &path, note, Idempotence::Idempotent))
            .await?;
        Ok(answer.note)
    }

    pub async fn delete_note(&self, contact_id: &str, note_id: &str) -> Result<(), GhlError> {
        let path = ["contacts", contact_id, "notes", note_id];
        let answer: Option<Succeeded> = self
            .call(Call {
                method: Method::DELETE,
                ..Call::get(&path)
            })
            .await?;
        answer.map_or(Ok(()), |a| a.check())
    }
}
