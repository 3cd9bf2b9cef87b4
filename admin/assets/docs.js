// The API reference page: Swagger UI over the daemon's own OpenAPI document, nothing fetched elsewhere.
window.addEventListener("load", () => {
  window.SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#docs",
    deepLinking: true,
    validatorUrl: null,
    tryItOutEnabled: false,
  });
});
