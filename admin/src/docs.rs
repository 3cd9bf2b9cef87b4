//! The OpenAPI 3.1 document, generated from the handlers' annotations, completed with what every
//! operation shares (the bearer scheme and the problem responses), and the reference page.

use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::error::{FieldError, Problem};

/// The document's fixed parts; paths come from the routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "leasewatch admin API",
        description = "The back office of the leasing company: users, roles, positions and regions, audit, \
                       workflows and settings, then every business resource. Conventions: `admin/README.md`.",
    ),
    components(schemas(Problem, FieldError))
)]
pub struct ApiDoc;

/// Adds the bearer security scheme and, to every operation, the problem responses it can give.
pub fn complete(spec: &mut Value) {
    spec["components"]["securitySchemes"]["bearer"] =
        json!({"type": "http", "scheme": "bearer", "description": "An access token from POST /api/v1/auth/login"});
    let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for operation in item.values_mut().filter_map(Value::as_object_mut) {
            // Handlers are named for their action (`list`, `create`); the tag makes the id unique.
            let tag = operation.get("tags").and_then(|t| t[0].as_str()).map(str::to_owned);
            if let (Some(tag), Some(Value::String(id))) = (tag, operation.get_mut("operationId")) {
                *id = format!("{tag}_{id}");
            }
            let has_body = operation.contains_key("requestBody");
            let public = operation.get("security") == Some(&json!([{}]));
            let responses = operation.entry("responses").or_insert_with(|| json!({}));
            let Some(responses) = responses.as_object_mut() else { continue };
            let mut add = |status: &str, description: &str| {
                responses.entry(status).or_insert_with(|| problem(description));
            };
            add("400", "The request cannot be read");
            add("401", "Not signed in, or the token is invalid or expired");
            if public {
                add("429", "Too many failed sign-ins: try again after `Retry-After` seconds");
            }
            if !public {
                add("403", "A permission is missing, or the action is not allowed to this user");
                add("404", "No such record in the caller's region");
                add("409", "The record changed (stale version), exists already, or is in the wrong state");
            }
            if has_body {
                add("415", "The body is not JSON");
            }
            add("422", "The values are not acceptable; `errors` lists each field");
        }
    }
}

fn problem(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    })
}

/// The interactive reference page: Swagger UI, served from the binary, reading `/api/openapi.json`.
pub const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>leasewatch API reference</title>
<link rel="stylesheet" href="/assets/swagger-ui/swagger-ui.css">
</head>
<body>
<div id="docs"></div>
<script src="/assets/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/assets/docs.js"></script>
</body>
</html>
"#;
