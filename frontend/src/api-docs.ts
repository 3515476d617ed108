// /api/docs: the REST API's reference, drawn by Swagger UI (from npm, bundled here: nothing is
// loaded from another site) from the service's own OpenAPI document.
import SwaggerUIBundle from "swagger-ui-dist/swagger-ui-bundle.js";

const root = document.getElementById("api-reference");
if (root instanceof HTMLElement && root.dataset["specUrl"]) {
  root.replaceChildren();
  SwaggerUIBundle({
    url: root.dataset["specUrl"],
    domNode: root,
    deepLinking: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    filter: true,
    displayRequestDuration: true,
    // "Try it out" sends the signed-in session's cookies (same origin); an API key goes in Authorize.
    withCredentials: true,
    // The default would ask validator.swagger.io to check the document: no calls to other sites.
    validatorUrl: null,
  });
}
