// The API docs page: Swagger UI over the service's own OpenAPI document.
// The token came in the address once (?token=): the docs session cookie
// opens this page, its files and the document now, and the token leaves the
// address. The cookie opens nothing else: "Try it out" needs the token typed
// into "Authorize", which Swagger UI keeps in this page's memory only and
// sends as "Authorization: Bearer"; requests to the API carry no cookie.
if (location.search)
    history.replaceState(null, '', location.pathname);

const answer = await fetch('/api/v1/openapi.json', { credentials: 'same-origin' });
if (!answer.ok) {
    // A session that ended (12 hours at most, an hour unused) or none at all.
    document.getElementById('swagger-ui').textContent =
        `The API description could not be read (HTTP ${answer.status}): open /docs?token=<token> again.`;
    throw new Error(`GET /api/v1/openapi.json: ${answer.status}`);
}
const spec = await answer.json();
// Try-it-out goes to this service, whatever address it listens on.
spec.servers = [{ url: location.origin, description: 'this service' }];

window.ui = SwaggerUIBundle({
    spec,
    dom_id: '#swagger-ui',
    deepLinking: false,
    persistAuthorization: false, // the token is never written to storage
    validatorUrl: null, // no requests to validator.swagger.io
    requestInterceptor: (request) => {
        request.credentials = 'omit';
        return request;
    },
});
