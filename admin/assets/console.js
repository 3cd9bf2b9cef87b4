// The console's own behaviour, small on purpose: pages are rendered by the server.
// Every request htmx makes carries the session's CSRF token, as every form does.
document.addEventListener("htmx:configRequest", (event) => {
  const token = document.querySelector('meta[name="csrf-token"]');
  if (token) {
    event.detail.headers["X-CSRF-Token"] = token.content;
  }
});
