//! A contact's tasks (`TaskSchema`, `CreateTaskParams`, `UpdateTaskBody`, `UpdateTaskStatusParams`).

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};

use super::{Reply, location_with_contact, reply};
use crate::body::{self, Object};
use crate::error::{ApiError, Problems};
use crate::gate::Caller;
use crate::model::{Task, parse_iso};
use crate::server::Shared;

const FIELDS: [&str; 5] = ["title", "body", "dueDate", "completed", "assignedTo"];

pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(contact_id): Path<String>,
) -> Reply {
    let mut state = shared.state();
    let loc = location_with_contact(&mut state, &caller, &contact_id)?;
    let tasks: Vec<Value> = loc
        .tasks
        .get(&contact_id)
        .into_iter()
        .flatten()
        .map(Task::to_json)
        .collect();
    reply(StatusCode::OK, json!({"tasks": tasks}))
}

pub(crate) async fn get(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path((contact_id, task_id)): Path<(String, String)>,
) -> Reply {
    let mut state = shared.state();
    let loc = location_with_contact(&mut state, &caller, &contact_id)?;
    let task = find(loc.tasks.get_mut(&contact_id), &task_id)?;
    reply(StatusCode::OK, json!({"task": task.to_json()}))
}

pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(contact_id): Path<String>,
    body: Bytes,
) -> Reply {
    let body = body::object(&body)?;
    let mut problems = Problems::default();
    body::reject_unknown(&body, &FIELDS, &mut problems);
    let title = body::required_string(&body, "title", &mut problems);
    let due_date = due_date(&body, true, &mut problems);
    let completed = body::required_boolean(&body, "completed", &mut problems);
    let text = optional_text(&body, &mut problems);
    problems.into_result()?;
    let mut state = shared.state();
    let id = state.new_id();
    let loc = location_with_contact(&mut state, &caller, &contact_id)?;
    let (Some(title), Some(due_date), Some(completed)) = (title, due_date, completed) else {
        return Err(ApiError::unprocessable(
            "title, dueDate and completed are required",
        ));
    };
    let task = Task {
        id,
        contact_id: contact_id.clone(),
        title,
        body: text.body.flatten(),
        assigned_to: text.assigned_to.flatten(),
        due_date,
        completed,
    };
    loc.tasks.entry(contact_id).or_default().push(task.clone());
    shared.webhooks.task("TaskCreate", &caller.location_id, &task);
    if task.completed {
        shared.webhooks.task("TaskComplete", &caller.location_id, &task);
    }
    reply(StatusCode::CREATED, json!({"task": task.to_json()}))
}

pub(crate) async fn update(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path((contact_id, task_id)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let body = body::object(&body)?;
    let mut problems = Problems::default();
    body::reject_unknown(&body, &FIELDS, &mut problems);
    let title = body::string(&body, "title", &mut problems).flatten();
    let due_date = due_date(&body, false, &mut problems);
    let completed = body::boolean(&body, "completed", &mut problems);
    let text = optional_text(&body, &mut problems);
    problems.into_result()?;
    let mut state = shared.state();
    let loc = location_with_contact(&mut state, &caller, &contact_id)?;
    let task = find(loc.tasks.get_mut(&contact_id), &task_id)?;
    let was_completed = task.completed;
    if let Some(title) = title {
        task.title = title;
    }
    if let Some(due_date) = due_date {
        task.due_date = due_date;
    }
    if let Some(completed) = completed {
        task.completed = completed;
    }
    if let Some(body) = text.body {
        task.body = body;
    }
    if let Some(assigned_to) = text.assigned_to {
        task.assigned_to = assigned_to;
    }
    if task.completed && !was_completed {
        shared.webhooks.task("TaskComplete", &caller.location_id, task);
    }
    reply(StatusCode::OK, json!({"task": task.to_json()}))
}

pub(crate) async fn complete(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path((contact_id, task_id)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let body = body::object(&body)?;
    let mut problems = Problems::default();
    body::reject_unknown(&body, &["completed"], &mut problems);
    let completed = body::required_boolean(&body, "completed", &mut problems);
    problems.into_result()?;
    let mut state = shared.state();
    let loc = location_with_contact(&mut state, &caller, &contact_id)?;
    let task = find(loc.tasks.get_mut(&contact_id), &task_id)?;
    let was_completed = task.completed;
    task.completed = completed.unwrap_or(task.completed);
    if task.completed && !was_completed {
        shared.webhooks.task("TaskComplete", &caller.location_id, task);
    }
    reply(StatusCode::OK, json!({"task": task.to_json()}))
}

pub(crate) async fn delete(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path((contact_id, task_id)): Path<(String, String)>,
) -> Reply {
    let mut state = shared.state();
    let loc = location_with_contact(&mut state, &caller, &contact_id)?;
    let tasks = loc.tasks.entry(contact_id).or_default();
    let Some(at) = tasks.iter().position(|t| t.id == task_id) else {
        return Err(ApiError::NotFound("Task not found".into()));
    };
    let removed = tasks.remove(at);
    shared.webhooks.task("TaskDelete", &caller.location_id, &removed);
    reply(StatusCode::OK, json!({"succeded": true}))
}

fn find<'a>(tasks: Option<&'a mut Vec<Task>>, task_id: &str) -> Result<&'a mut Task, ApiError> {
    tasks
        .into_iter()
        .flatten()
        .find(|t| t.id == task_id)
        .ok_or_else(|| ApiError::NotFound("Task not found".into()))
}

struct OptionalText {
    body: Option<Option<String>>,
    assigned_to: Option<Option<String>>,
}

fn optional_text(body: &Object, problems: &mut Problems) -> OptionalText {
    OptionalText {
        body: body::string(body, "body", problems),
        assigned_to: body::string(body, "assignedTo", problems),
    }
}

fn due_date(body: &Object, required: bool, problems: &mut Problems) -> Option<time::OffsetDateTime> {
    let parsed = match body.get("dueDate") {
        None if !required => return None,
        Some(Value::String(s)) => parse_iso(s),
        _ => None,
    };
    if parsed.is_none() {
        problems.push("dueDate must be a valid ISO 8601 date string");
    }
    parsed
}
