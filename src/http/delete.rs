//! `DELETE /api/<repo>/charts/<name>/<version>`.

use hyper::StatusCode;

use super::response::{self, Reply};
use super::App;
use crate::index::DeleteError;

pub async fn delete(app: &App, repo: String, name: String, version: String) -> Reply {
    let catalog = app.catalog.clone();
    let deleted =
        tokio::task::spawn_blocking(move || catalog.delete(&repo, &name, &version)).await.expect("delete task");
    match deleted {
        Ok(()) => response::json(StatusCode::OK, &serde_json::json!({ "deleted": true })),
        Err(DeleteError::NotFound(message)) => response::delete_error(StatusCode::NOT_FOUND, message),
        Err(DeleteError::Storage(error)) => {
            tracing::error!(%error, "delete failed");
            response::delete_error(StatusCode::INTERNAL_SERVER_ERROR, format!("storage error: {error}"))
        }
    }
}
