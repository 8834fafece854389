mod common;
use common::*;

#[test]
fn upload_then_index_lists_it() {
    let server = Server::start(&[]);
    let package = ChartBuilder::new("web", "1.0.0").build();
    let response = server.upload("team", &package);
    assert_eq!(response.status(), StatusCode::CREATED);
    let index = yaml(&server.get("/team/index.yaml").text().unwrap());
    assert_eq!(index_versions(&index, "web"), ["1.0.0"]);
    assert_eq!(
        index["entries"]["web"][0]["digest"].as_str().unwrap(),
        sha256_hex(&package)
    );
}
