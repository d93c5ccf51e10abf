/**
 * A tiny fake Kubernetes API server (plain HTTP on 127.0.0.1) for the audit's adapters: it
 * serves paginated lists (honouring `limit` and `continue`), single objects and report
 * writes (wgpolicyk8s PolicyReports, OpenReports Reports) from in-memory tables, and records every request, so the unit tests
 * can assert on the requests made (page sizes, selectors, writes) without a cluster.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
}

type Obj = { metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; resourceVersion?: string } } & Record<string, unknown>;

export interface FakeApi {
  kubeConfig: KubeConfig;
  requests: RecordedRequest[];
  /** Collections by list path, e.g. `/api/v1/namespaces/team-a/pods`: any objects with metadata.name. */
  collections: Map<string, object[]>;
  /** Whether the PolicyReport CRD "exists". */
  crdInstalled: boolean;
  /** Whether the OpenReports Report CRD "exists" (default: no). */
  openReportsCrdInstalled: boolean;
  /** Called before each request is handled, e.g. to change an object behind the client's back. */
  beforeRequest: ((method: string, path: string) => void) | undefined;
  close(): Promise<void>;
}

const REPORTS = "/apis/wgpolicyk8s.io/v1alpha2";
const OPEN_REPORTS = "/apis/openreports.io/v1alpha1";

function matchesSelector(obj: Obj, selector: string | null): boolean {
  if (!selector) return true;
  const labels = obj.metadata?.labels ?? {};
  const inSet = /^(\S+) in \(([^)]*)\)$/.exec(selector);
  if (inSet) return inSet[2]!.split(",").includes(labels[inSet[1]!] ?? "\u0000");
  return selector.split(",").every((term) => {
    const [k, v] = term.split("=");
    return labels[k!] === v;
  });
}

export async function startFakeApi(): Promise<FakeApi> {
  const requests: RecordedRequest[] = [];
  const collections = new Map<string, Obj[]>();
  let rv = 100;
  const state: { crdInstalled: boolean; openReportsCrdInstalled: boolean; beforeRequest: ((method: string, path: string) => void) | undefined } = {
    crdInstalled: true,
    openReportsCrdInstalled: false,
    beforeRequest: undefined,
  };

  const send = (res: http.ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  const notFound = (res: http.ServerResponse, what: string) =>
    send(res, 404, { kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404, message: `${what} not found` });

  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (c: Buffer) => (raw += c.toString()));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://fake");
      const body: unknown = raw ? JSON.parse(raw) : undefined;
      const path = url.pathname;
      requests.push({ method: req.method ?? "", path, query: url.searchParams, body });
      state.beforeRequest?.(req.method ?? "", path);

      if (path.startsWith(REPORTS) && !state.crdInstalled) return notFound(res, "the server could not find the requested resource");
      if (path.startsWith(OPEN_REPORTS) && !state.openReportsCrdInstalled) return notFound(res, "the server could not find the requested resource");
      // Cluster-wide list of reports: every namespace's collection.
      for (const [root, plural, kind] of [
        [REPORTS, "policyreports", "PolicyReportList"],
        [OPEN_REPORTS, "reports", "ReportList"],
      ] as const) {
        if (req.method !== "GET" || path !== `${root}/${plural}`) continue;
        const items = [...collections].filter(([p]) => p.startsWith(`${root}/namespaces/`)).flatMap(([, v]) => v);
        return send(res, 200, { kind, metadata: {}, items: items.filter((o) => matchesSelector(o, url.searchParams.get("labelSelector"))) });
      }
      const list = collections.get(path);
      if (req.method === "GET" && list) {
        const selected = list.filter((o) => matchesSelector(o, url.searchParams.get("labelSelector")));
        const limit = Number(url.searchParams.get("limit") ?? "0") || selected.length;
        const start = Number(url.searchParams.get("continue") ?? "0");
        const page = selected.slice(start, start + limit);
        const next = start + limit < selected.length ? String(start + limit) : undefined;
        return send(res, 200, { kind: "List", apiVersion: "v1", metadata: { resourceVersion: String(rv), ...(next ? { continue: next } : {}) }, items: page });
      }
      if (req.method === "POST" && list) {
        const obj = body as Obj;
        if (list.some((o) => o.metadata?.name === obj.metadata?.name)) return send(res, 409, { kind: "Status", reason: "AlreadyExists", code: 409, message: "exists" });
        const stored = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++rv) } };
        list.push(stored);
        return send(res, 201, stored);
      }
      // Single objects: <collection>/<name>
      const slash = path.lastIndexOf("/");
      const parent = collections.get(path.slice(0, slash));
      const name = path.slice(slash + 1);
      const index = parent?.findIndex((o) => o.metadata?.name === name) ?? -1;
      if (!parent || index < 0) return notFound(res, path);
      if (req.method === "GET") return send(res, 200, parent[index]);
      if (req.method === "PUT") {
        const obj = body as Obj;
        if (obj.metadata?.resourceVersion !== parent[index]!.metadata?.resourceVersion)
          return send(res, 409, { kind: "Status", reason: "Conflict", code: 409, message: "conflict" });
        parent[index] = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++rv) } };
        return send(res, 200, parent[index]);
      }
      if (req.method === "DELETE") {
        parent.splice(index, 1);
        return send(res, 200, { kind: "Status", status: "Success" });
      }
      return send(res, 405, { message: "method not allowed" });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: "fake", server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "fake", cluster: "fake", user: "u" }],
    currentContext: "fake",
  });
  return {
    kubeConfig,
    requests,
    collections: collections,
    get crdInstalled() {
      return state.crdInstalled;
    },
    set crdInstalled(v: boolean) {
      state.crdInstalled = v;
    },
    get openReportsCrdInstalled() {
      return state.openReportsCrdInstalled;
    },
    set openReportsCrdInstalled(v: boolean) {
      state.openReportsCrdInstalled = v;
    },
    get beforeRequest() {
      return state.beforeRequest;
    },
    set beforeRequest(f) {
      state.beforeRequest = f;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
