/**
 * Where the time of a create goes, from the servers' own histograms (sum and count, so
 * means): kube-apiserver's admission steps (all mutating plugins, webhooks and policies:
 * `admit`; all validating ones: `validate`), its calls to our webhook as it times them
 * (connection, TLS, the request and the answer), and the webhook's own handler (decoded
 * review → response). Scraped before and after each round, so each round's difference
 * belongs to one configuration (plus the few other creates the cluster makes meanwhile).
 */
import https from "node:https";
import type { ControlPlane } from "../test/control-plane/harness.js";
import { sumMetric, type WebhookProcess } from "../test/e2e/webhook-process.js";

interface SumCount {
  sum: number;
  count: number;
}

export interface Scrape {
  admit: SumCount;
  validate: SumCount;
  webhookCall: SumCount;
  webhookHandler: SumCount;
}

/** Mean ms per call of each, over an interval (null where nothing was counted), and how many webhook calls. */
export type AdmissionMeans = Record<keyof Scrape, number | null> & { webhookCalls: number };

const KEYS = ["admit", "validate", "webhookCall", "webhookHandler"] as const;

function get(url: string, tls: https.RequestOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ...tls, agent: false, timeout: 10_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${url}: HTTP ${res.statusCode}`))));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url}: no answer in 10 s`)));
    req.on("error", reject);
  });
}

const sumCount = (text: string, histogram: string, labels: Record<string, string>): SumCount => ({
  sum: sumMetric(text, `${histogram}_sum`, labels),
  count: sumMetric(text, `${histogram}_count`, labels),
});

export async function scrape(cp: ControlPlane, webhook: WebhookProcess): Promise<Scrape> {
  const [api, own] = await Promise.all([get(`${cp.server}/metrics`, { ca: cp.caPem, cert: cp.pki.admin.certPem, key: cp.pki.admin.keyPem }), webhook.metrics()]);
  const create = { operation: "CREATE" };
  return {
    admit: sumCount(api, "apiserver_admission_step_admission_duration_seconds", { ...create, type: "admit" }),
    validate: sumCount(api, "apiserver_admission_step_admission_duration_seconds", { ...create, type: "validate" }),
    webhookCall: sumCount(api, "apiserver_admission_webhook_admission_duration_seconds", { ...create, type: "admit" }),
    webhookHandler: sumCount(own, "pod_dns_injector_admission_review_duration_seconds", {}),
  };
}

/** `after - before`, added to `into` (several rounds of one configuration). */
export function addDelta(into: Scrape | undefined, before: Scrape, after: Scrape): Scrape {
  const out = {} as Scrape;
  for (const k of KEYS) {
    out[k] = { sum: (into?.[k].sum ?? 0) + after[k].sum - before[k].sum, count: (into?.[k].count ?? 0) + after[k].count - before[k].count };
  }
  return out;
}

export function means(s: Scrape | undefined): AdmissionMeans {
  const out = { webhookCalls: s?.webhookCall.count ?? 0 } as AdmissionMeans;
  for (const k of KEYS) {
    const v = s?.[k];
    out[k] = v && v.count > 0 ? Math.round((v.sum / v.count) * 1e6) / 1e3 : null;
  }
  return out;
}
