//! GitHub's rebuild endpoints in the fake: `repository_dispatch` (`POST
//! /repos/{o}/{r}/dispatches`) and `workflow_dispatch` (`POST
//! /repos/{o}/{r}/actions/workflows/{id}/dispatches`), answered as GitHub answers them: 204
//! with no body on success, 403 "Resource not accessible by integration" for a read-only
//! token, 404 for a workflow the repository does not have, 422 for a body GitHub refuses
//! (no `event_type`, more than 10 `client_payload` properties, no `ref`, an input the
//! workflow does not declare or that is not a string), and 403 with `Retry-After` while a
//! secondary rate limit is armed.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::Account;
use crate::sigstore::server::{Request, Response};

/// A dispatch the fake accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Dispatch {
    /// `owner/name`.
    pub repository: String,
    /// `repository_dispatch`'s `event_type`, or `None` for a `workflow_dispatch`.
    pub event_type: Option<String>,
    /// `workflow_dispatch`'s workflow file name or id.
    pub workflow: Option<String>,
    /// `workflow_dispatch`'s `ref`.
    pub git_ref: Option<String>,
    /// `client_payload`, or the `inputs`.
    pub payload: Value,
}

#[derive(Debug, Default)]
pub(crate) struct Dispatches {
    pub accepted: Vec<Dispatch>,
    /// (`owner/name`, workflow file name) → the inputs it declares.
    pub workflows: BTreeMap<(String, String), Vec<String>>,
    /// Requests still to refuse as over the secondary rate limit, and the `Retry-After`.
    pub limited: (u32, u64),
}

fn error(status: u16, message: &str, doc: &str) -> Response {
    Response::json(
        status,
        &json!({
            "message": message,
            "documentation_url": format!("https://docs.github.com/rest/{doc}"),
            "status": status.to_string(),
        }),
    )
}

fn no_content() -> Response {
    Response {
        status: 204,
        content_type: "application/json",
        headers: Vec::new(),
        body: Vec::new(),
    }
}

/// Handles a dispatch, or `None` when `segments` name no dispatch endpoint.
pub(crate) fn handle(
    state: &mut Dispatches,
    account: &Account,
    request: &Request,
    segments: &[&str],
) -> Option<Response> {
    let (owner, name, workflow) = match (request.method.as_str(), segments) {
        ("POST", ["repos", owner, name, "dispatches"]) => (*owner, *name, None),
        ("POST", ["repos", owner, name, "actions", "workflows", id, "dispatches"]) => (
            *owner,
            *name,
            Some(crate::sigstore::server::percent_decode(id)),
        ),
        _ => return None,
    };
    let doc = if workflow.is_some() {
        "actions/workflows#create-a-workflow-dispatch-event"
    } else {
        "repos/repos#create-a-repository-dispatch-event"
    };
    if state.limited.0 > 0 {
        state.limited.0 -= 1;
        return Some(
            error(403, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", doc)
                .with_header("retry-after", state.limited.1.to_string()),
        );
    }
    if !account.writes {
        return Some(error(403, "Resource not accessible by integration", doc));
    }
    let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
        return Some(error(400, "Problems parsing JSON", doc));
    };
    let repository = format!("{owner}/{name}");
    let dispatch = match workflow {
        None => {
            let Some(event_type) = body.get("event_type").and_then(Value::as_str) else {
                return Some(error(
                    422,
                    "Invalid request.\n\n\"event_type\" wasn't supplied.",
                    doc,
                ));
            };
            let payload = body.get("client_payload").cloned().unwrap_or(json!({}));
            if payload.as_object().is_some_and(|p| p.len() > 10) {
                return Some(error(
                    422,
                    "client_payload cannot have more than 10 top-level properties",
                    doc,
                ));
            }
            Dispatch {
                repository,
                event_type: Some(event_type.to_owned()),
                workflow: None,
                git_ref: None,
                payload,
            }
        }
        Some(workflow) => {
            let Some(declared) = state.workflows.get(&(repository.clone(), workflow.clone()))
            else {
                return Some(error(404, "Not Found", doc));
            };
            let Some(git_ref) = body.get("ref").and_then(Value::as_str) else {
                return Some(error(
                    422,
                    "Invalid request.\n\n\"ref\" wasn't supplied.",
                    doc,
                ));
            };
            let inputs = body.get("inputs").cloned().unwrap_or(json!({}));
            let Some(map) = inputs.as_object() else {
                return Some(error(
                    422,
                    "Invalid request.\n\nFor 'properties/inputs', is not an object.",
                    doc,
                ));
            };
            let unexpected: Vec<&String> = map.keys().filter(|k| !declared.contains(k)).collect();
            if !unexpected.is_empty() {
                let names: Vec<String> = unexpected.iter().map(|k| format!("\"{k}\"")).collect();
                return Some(error(
                    422,
                    &format!("Unexpected inputs provided: [{}]", names.join(", ")),
                    doc,
                ));
            }
            if map.values().any(|v| !v.is_string()) {
                return Some(error(
                    422,
                    "Invalid request.\n\nFor 'properties/inputs', values must be strings.",
                    doc,
                ));
            }
            Dispatch {
                repository,
                event_type: None,
                workflow: Some(workflow),
                git_ref: Some(git_ref.to_owned()),
                payload: inputs,
            }
        }
    };
    state.accepted.push(dispatch);
    Some(no_content())
}
