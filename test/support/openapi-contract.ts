/**
 * The HTTP contract as the OpenAPI document states it, checked on real responses: every response
 * the HTTP suites receive (`test/support/app.ts` routes every request of a test app through
 * `check`) must have a status the document lists for its operation (exactly, as a range such
 * as `4XX`, or `default`), a content type listed for that status, and a body that matches the
 * schema listed for it — validated by ajv (JSON Schema 2020-12, the dialect of OpenAPI 3.1) with
 * the document's components. One rule goes beyond JSON Schema's defaults: an object may carry no
 * property its schema does not name, so every field the service sends is documented.
 *
 * Requests outside the document: the HTML pages and assets listed in `UNDOCUMENTED` are not
 * checked; anything else (an unknown route, a method a path does not have) must be answered
 * with a documented problem (`components.schemas.Problem`, `application/problem+json`, 4xx).
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

/** What of an OpenAPI 3.1 document the check reads. */
export interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation | unknown>>;
  components?: { schemas?: Record<string, unknown> };
  [key: string]: unknown;
}

interface OpenApiOperation {
  operationId?: string;
  responses: Record<string, { description?: string; content?: Record<string, { schema?: unknown }> }>;
}

/** Routes the document leaves out by design: the admin page, the API reference, the document itself, metrics, the index. */
export const UNDOCUMENTED = [/^\/$/, /^\/openapi\.json$/, /^\/docs(\/|$)/, /^\/admin(\/|$)/, /^\/metrics$/];

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const COMPONENTS_ID = 'https://coupon-stock.dev/openapi/components';
const REF = '#/components/schemas/';
const OPEN = '__open';

/** A response that breaks the document. */
export class ContractViolation extends Error {
  override name = 'ContractViolation';
}

export interface ResponseContract {
  /** Throws a `ContractViolation` when `response` breaks the document; reads a clone of the body. */
  check(method: string, path: string, response: Response): Promise<void>;
  /** Responses checked against an operation, answered outside the document (a problem), and not checked (`UNDOCUMENTED`). */
  readonly counts: { operations: number; outside: number; unchecked: number };
  /** Every violation found so far (also thrown), for hosts whose caller cannot see a throw (an app served over HTTP). */
  readonly violations: string[];
}

interface Route {
  method: string;
  template: string;
  pattern: RegExp;
  /** Templated segments: a literal path wins over a templated one (`/webhooks/deliveries` over `/webhooks/{id}`). */
  params: number;
  operation: OpenApiOperation;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function routesOf(document: OpenApiDocument): Route[] {
  const routes: Route[] = [];
  for (const [template, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (!METHODS.includes(method)) continue;
      const parts = template.split(/(\{[^}]+\})/);
      const source = parts.map((p) => (/^\{[^}]+\}$/.test(p) ? '[^/]+' : escape(p))).join('');
      routes.push({ method: method.toUpperCase(), template, pattern: new RegExp(`^${source}$`), params: (template.match(/\{/g) ?? []).length, operation: operation as OpenApiOperation });
    }
  }
  return routes.sort((a, b) => a.params - b.params);
}

/**
 * A deep copy for ajv: `#/components/schemas/X` refs point into the shared components schema, and
 * every object is closed to properties its schema does not name (`unevaluatedProperties: false`).
 * `open` leaves the top level unclosed: the members of an `allOf` (and the components they refer
 * to, as `X${OPEN}`) are parts of one object, closed once by the schema that combines them — a
 * member closed on its own would refuse the properties the other members add.
 */
function prepare(schema: unknown, open = false): unknown {
  if (Array.isArray(schema)) return schema.map((s) => prepare(s, open));
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$ref' && typeof value === 'string' && value.startsWith(REF)) out[key] = `${COMPONENTS_ID}#/$defs/${value.slice(REF.length)}${open ? OPEN : ''}`;
    else if (key === 'properties' && value && typeof value === 'object') out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, prepare(v)]));
    else if (key === 'allOf') out[key] = prepare(value, true);
    // Alternatives describe the same object as their parent: open with it, closed with it.
    else if (key === 'anyOf' || key === 'oneOf') out[key] = prepare(value, open);
    else if (key === 'items' || key === 'additionalProperties' || key === 'prefixItems') out[key] = prepare(value);
    else out[key] = prepare(value, open);
  }
  const describesObject = 'properties' in out || 'allOf' in out;
  if (!open && describesObject && !('additionalProperties' in out) && !('unevaluatedProperties' in out)) out.unevaluatedProperties = false;
  return out;
}

/** Every component twice: closed (`X`, used as a whole) and open (`X${OPEN}`, used as an `allOf` member). */
function componentDefs(schemas: Record<string, unknown>): Record<string, unknown> {
  const defs: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(schemas)) {
    defs[name] = prepare(schema);
    defs[`${name}${OPEN}`] = prepare(schema, true);
  }
  return defs;
}

const mediaOf = (contentType: string | null) => (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
const isJson = (media: string) => media === 'application/json' || media.endsWith('+json');

/** What is compiled once per document: the routes and ajv with the components. */
interface Compiled {
  routes: Route[];
  /** The validator of a schema of the document, compiled on first use. */
  validator(key: string, schema: unknown): ValidateFunction;
  errorsText(v: ValidateFunction): string;
}

/** Per document text: every test app of a file checks against the same document, compiled once. */
const compiledDocuments = new Map<string, Compiled>();

function compile(document: OpenApiDocument): Compiled {
  const text = JSON.stringify(document);
  const known = compiledDocuments.get(text);
  if (known) return known;
  // ajv-formats is CommonJS: its default export arrives as the module object under some loaders.
  const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as typeof addFormatsModule;
  // Strict but for types: an `allOf` wrapper closed here names no `type` of its own.
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false });
  addFormats(ajv);
  ajv.addKeyword({ keyword: 'example' }); // an OpenAPI annotation, not a JSON Schema keyword
  ajv.addSchema({ $id: COMPONENTS_ID, $defs: componentDefs(document.components?.schemas ?? {}) });
  const validators = new Map<string, ValidateFunction>();
  const compiled: Compiled = {
    routes: routesOf(document),
    validator: (key, schema) => {
      let v = validators.get(key);
      if (!v) {
        v = ajv.compile(prepare(schema) as object);
        validators.set(key, v);
      }
      return v;
    },
    errorsText: (v) => ajv.errorsText(v.errors, { dataVar: 'body', separator: '; ' }),
  };
  compiledDocuments.set(text, compiled);
  return compiled;
}

/** Builds the check for one document (its counts and violations are this check's own). */
export function responseContract(document: OpenApiDocument): ResponseContract {
  const { routes, validator, errorsText } = compile(document);
  const problem = () => validator('#/components/schemas/Problem', { $ref: '#/components/schemas/Problem' });
  const counts = { operations: 0, outside: 0, unchecked: 0 };
  const violations: string[] = [];

  const fail = (what: string, message: string): never => {
    const text = `${what}: ${message}`;
    violations.push(text);
    throw new ContractViolation(`the response breaks the OpenAPI document — ${text}`);
  };

  async function check(method: string, rawPath: string, response: Response): Promise<void> {
    const path = rawPath.split('?')[0] ?? rawPath;
    const what = `${method} ${path} → ${response.status}`;
    const verb = method.toUpperCase() === 'HEAD' ? 'GET' : method.toUpperCase();
    const route = routes.find((r) => r.method === verb && r.pattern.test(path));
    const media = mediaOf(response.headers.get('content-type'));
    const text = method.toUpperCase() === 'HEAD' ? null : await response.clone().text();
    const json = (media: string): unknown => {
      try {
        return JSON.parse(text ?? '');
      } catch {
        return fail(what, `the ${media} body is not JSON: ${(text ?? '').slice(0, 200)}`);
      }
    };
    if (!route) {
      if (UNDOCUMENTED.some((p) => p.test(path))) {
        counts.unchecked++;
        return;
      }
      counts.outside++;
      if (response.status < 400 || response.status >= 500) fail(what, `${method} ${path} is not in the document, yet answered ${response.status}`);
      if (media !== 'application/problem+json') fail(what, `outside the document a refusal is application/problem+json, not "${media}"`);
      if (text !== null && !problem()(json(media))) fail(what, `not a Problem: ${errorsText(problem())}`);
      return;
    }
    counts.operations++;
    const op = `${verb} ${route.template}${route.operation.operationId ? ` (${route.operation.operationId})` : ''}`;
    const responses = route.operation.responses;
    const status = String(response.status);
    const key = [status, `${status[0]}XX`, `${status[0]}xx`, 'default'].find((k) => k in responses);
    if (!key) fail(what, `${response.status} is not documented for ${op} (documented: ${Object.keys(responses).join(', ')})`);
    const documented = responses[key as string] ?? {};
    const content = documented.content ?? {};
    if (Object.keys(content).length === 0) {
      if (text) fail(what, `${op} documents no body for ${key}, yet one came (${media}): ${text.slice(0, 200)}`);
      return;
    }
    if (!(media in content)) fail(what, `content type "${media}" is not documented for ${op} ${key} (documented: ${Object.keys(content).join(', ')})`);
    const schema = content[media]?.schema;
    if (text === null || schema === undefined) return;
    if (!isJson(media)) return;
    const body = json(media);
    const validate = validator(`${route.method} ${route.template} ${key} ${media}`, schema);
    if (!validate(body)) fail(what, `body does not match the schema of ${op} ${key} ${media}: ${errorsText(validate)}; body: ${text.slice(0, 500)}`);
  }

  return { check, counts, violations };
}
