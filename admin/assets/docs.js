// The API reference page: Swagger UI over the daemon's own OpenAPI document, nothing fetched elsewhere.
window.addEventListener("load", () => {
  window.SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#docs",
    deepLinking: true,
    validatorUrl: null,
    tryItOutEnabled: false,
    // Tags folded: the reference has well over a hundred operations, and Swagger UI stops
    // rendering a fully unfolded list of that many.
    docExpansion: "none",
  });
});
