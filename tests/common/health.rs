//! Reading the service's `/health` JSON.

use serde_json::Value;

/// The check called `name` in a `/health` body (panics with the body when absent).
pub fn check<'a>(health: &'a Value, name: &str) -> &'a Value {
    health["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {health}"))
}

/// The pid of a stdio MCP server, from its health check's detail (`… pid 1234`): the process is
/// the service's child, so a test can signal it by its own handle.
pub fn mcp_server_pid(health: &Value, server: &str) -> u32 {
    let name = format!("mcp_server:{server}");
    let detail = check(health, &name)["detail"].as_str().unwrap_or_default();
    detail
        .rsplit("pid ")
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pid in the {name} check: {detail:?}"))
}
