//! `GET /`: the original ChartHall's list of repositories.

use hyper::StatusCode;

use super::response::{self, Reply};
use super::App;

/// The repositories, as YAML: `---\nrepos:\n- <repo>\n…`.
pub fn repositories(app: &App) -> Reply {
    let names = app.catalog.names();
    let body = if names.is_empty() {
        "---\nrepos: []\n".to_string()
    } else {
        let list = serde_yaml::to_string(&names).expect("strings serialize");
        format!("---\nrepos:\n{list}")
    };
    response::bytes(StatusCode::OK, response::YAML, body)
}
