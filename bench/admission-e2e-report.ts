/** The table, targets and JSON object of `npm run bench:e2e` (admission-e2e-bench.ts). */
import type { Options } from "./admission-e2e-bench.js";
import { CONFIGS, CONFIG_NAMES, type Config } from "./admission-e2e-setup.js";
import { fmt, int, lpad, pad } from "./format.js";
import type { AdmissionMeans } from "./admission-e2e-metrics.js";
import { failures, type LoadResult } from "./load.js";

/** One configuration in one phase, its rounds combined. */
export interface Phase {
  load: LoadResult;
  /** CPU per create, in ms, by process (kube-apiserver, etcd, webhook, client = this process, ...). */
  cpuMsPerCreate: Record<string, number>;
  /** The same, in cores over the phase's wall time. */
  cores: Record<string, number>;
  /** Every other process on the machine, in cores; null off Linux. */
  otherCores: number | null;
  perRound: number[];
  perRoundP50Ms: number[];
  /** Open loop: requests the pacer issued more than 2 ms late (this process stalled). */
  lateStarts: number;
  /** Open loop: server-side means (ms) of the admission steps, from the servers' histograms. */
  admission: AdmissionMeans | null;
}

export interface ConfigResult {
  max: Phase;
  fixed: Phase;
}

export interface RunInfo {
  o: Options;
  machine: { nproc: number; cpuModel: string; node: string };
  kubernetes: string;
  podBytes: number;
  idleCoresBefore: number | null;
  storedPods: number;
  closedRounds: number;
  openRounds: number;
}

/** Targets of issue 13 item 5: printed next to the measured figures, not asserted. */
const TARGETS = { webhookP50AddMs: 1, webhookP99AddMs: 3 } as const;
const KYVERNO_REFERENCE = "Kyverno documents ~35–43 ms average per pod with 1–3 replicas and 17 policies (kyverno.io/docs/installation/scaling)";

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;
const signed = (n: number, digits = 3) => (n >= 0 ? `+${fmt(n, digits)}` : fmt(n, digits));
const ratio = (a: number, b: number) => (b > 0 ? a / b : Number.NaN);

interface Derived {
  addP50Ms: number;
  addP99Ms: number;
  addMeanMs: number;
  p50Ratio: number;
  p99Ratio: number;
  maxRatio: number;
}

function derive(r: Record<Config, ConfigResult>): Record<Config, Derived> {
  const base = r.none;
  const d = (c: Config): Derived => {
    const f = r[c].fixed.load.latency;
    const b = base.fixed.load.latency;
    return {
      addP50Ms: round(f.p50Ms - b.p50Ms, 3),
      addP99Ms: round(f.p99Ms - b.p99Ms, 3),
      addMeanMs: round(f.meanMs - b.meanMs, 3),
      p50Ratio: round(ratio(f.p50Ms, b.p50Ms), 3),
      p99Ratio: round(ratio(f.p99Ms, b.p99Ms), 3),
      maxRatio: round(ratio(r[c].max.load.perSec, base.max.load.perSec), 3),
    };
  };
  return { none: d("none"), webhook: d("webhook"), policy: d("policy") };
}

function targetsOf(d: Record<Config, Derived>) {
  const w = d.webhook;
  const p = d.policy;
  return {
    webhookP50: { wanted: `<= +${TARGETS.webhookP50AddMs} ms over no admission`, measuredMs: w.addP50Ms, met: w.addP50Ms <= TARGETS.webhookP50AddMs },
    webhookP99: { wanted: `<= +${TARGETS.webhookP99AddMs} ms over no admission`, measuredMs: w.addP99Ms, met: w.addP99Ms <= TARGETS.webhookP99AddMs },
    policyP50: { wanted: "adds less than the webhook", measuredMs: p.addP50Ms, met: p.addP50Ms < w.addP50Ms },
    policyP99: { wanted: "adds less than the webhook", measuredMs: p.addP99Ms, met: p.addP99Ms < w.addP99Ms },
  };
}

function failureCounts(l: LoadResult) {
  return { non2xx: l.non2xx, errors: l.errors, timeouts: l.timeouts, mismatches: l.mismatches };
}

const phaseJson = (p: Phase) => ({
  perSec: round(p.load.perSec, 1),
  ok: p.load.ok,
  latency: p.load.latency,
  cpuMsPerCreate: Object.fromEntries(Object.entries(p.cpuMsPerCreate).map(([k, v]) => [k, round(v, 3)])),
  cores: Object.fromEntries(Object.entries(p.cores).map(([k, v]) => [k, round(v, 2)])),
  otherCores: p.otherCores === null ? null : round(p.otherCores, 2),
  perRound: p.perRound.map((x) => round(x, 1)),
  perRoundP50Ms: p.perRoundP50Ms,
  lateStarts: p.lateStarts,
  admissionMeansMs: p.admission,
  failures: failureCounts(p.load),
});

/** Prints the table and targets, or the JSON object; 1 when any create failed or a pod was stored. */
export function report(info: RunInfo, r: Record<Config, ConfigResult>): number {
  const d = derive(r);
  const targets = targetsOf(d);
  const phases = CONFIGS.flatMap((c) => [r[c].max, r[c].fixed]);
  const failed = phases.some((p) => failures(p.load) > 0) || info.storedPods > 0;
  const otherCores = Math.max(...phases.map((p) => p.otherCores ?? 0));
  const slowestMax = Math.min(...CONFIGS.map((c) => r[c].max.load.perSec));
  const rateHeld = CONFIGS.every((c) => r[c].fixed.load.perSec >= info.o.rate * 0.98);
  const warnings = [
    ...(rateHeld ? [] : [`the pacer did not deliver ${int(info.o.rate)} creates/s in every configuration`]),
    ...(info.o.rate > slowestMax / 2 ? [`${int(info.o.rate)}/s is more than half the slowest configuration's max (${int(slowestMax)}/s): the latency includes queueing`] : []),
    ...(otherCores > 0.1 ? [`other processes used up to ${fmt(otherCores, 2)} cores during a phase: the figures are not clean`] : []),
    ...(info.storedPods > 0 ? [`${info.storedPods} pods were stored: the creates were not all dry runs`] : []),
  ];
  if (info.o.json) {
    const out = {
      configurations: Object.fromEntries(
        CONFIGS.map((c) => [c, { name: CONFIG_NAMES[c], maxThroughput: phaseJson(r[c].max), fixedRate: phaseJson(r[c].fixed), vsNoAdmission: d[c] }]),
      ),
      targets,
      reference: KYVERNO_REFERENCE,
      rate: info.o.rate,
      durationSec: info.o.durationSec,
      concurrency: info.o.concurrency,
      maxDurationSec: info.o.maxDurationSec,
      rounds: { closed: info.closedRounds, open: info.openRounds },
      quick: info.o.quick,
      webhookLogLevel: info.o.logLevel,
      kubernetes: info.kubernetes,
      podBytes: info.podBytes,
      machine: info.machine,
      idleCoresBefore: info.idleCoresBefore,
      otherCores: round(otherCores, 2),
      storedPods: info.storedPods,
      warnings,
      failed,
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return failed ? 1 : 0;
  }
  console.log([...header(info), ...latencyTable(info, r, d), ...maxTable(info, r, d), ...targetLines(targets, d), ...footer(r, warnings, failed)].join("\n"));
  return failed ? 1 : 0;
}

const cols = (...c: Array<[string, number]>) => c.map(([v, n], i) => (i === 0 ? pad(v, n) : lpad(v, n))).join("  ");
const cores = (f: number | null) => (f === null ? "?" : fmt(f, 2));

function header(info: RunInfo): string[] {
  const o = info.o;
  return [
    `pod-dns-injector end-to-end admission benchmark${o.quick ? " (--quick smoke run: not comparable with the targets)" : ""}`,
    `  machine   ${info.machine.nproc} cores, ${info.machine.cpuModel}, Node ${info.machine.node}${info.idleCoresBefore === null ? "" : `; ${fmt(info.idleCoresBefore, 2)} cores busy before the start`}`,
    `  cluster   kube-apiserver ${info.kubernetes} + etcd + kube-controller-manager on 127.0.0.1; pod CREATE, server-side dry run (dryRun=All)`,
    `  request   the ${int(info.podBytes)}-byte bench pod (bench/fixtures.ts), generateName, no dnsPolicy`,
    `  client    node:https, HTTP/1.1 keep-alive, admin client certificate; ${o.concurrency} sockets per configuration`,
    `  webhook   pod-dns-injector serve (own process, log level ${o.logLevel}), MutatingWebhookConfiguration by URL + caBundle, failurePolicy Ignore`,
    `  policy    renderAdmissionPolicies(defaultSettings()): MutatingAdmissionPolicy + ValidatingAdmissionPolicy and bindings, kubectl apply --server-side`,
    "",
  ];
}

function latencyTable(info: RunInfo, r: Record<Config, ConfigResult>, d: Record<Config, Derived>): string[] {
  const o = info.o;
  const out = [
    `latency at ${int(o.rate)} creates/s, open loop, ${int(o.rate * o.durationSec)} creates per configuration (${info.openRounds} alternating rounds), client-side`,
    cols(
      ["configuration", 16],
      ["p50 ms", 7],
      ["p99 ms", 7],
      ["p99.9", 7],
      ["mean", 7],
      ["max", 7],
      ["p50 +ms", 8],
      ["p99 +ms", 8],
      ["p50 ×", 6],
      ["p99 ×", 6],
      ["others", 6],
      ["failed", 6],
    ),
  ];
  for (const c of CONFIGS) {
    const p = r[c].fixed;
    const l = p.load.latency;
    out.push(
      cols(
        [CONFIG_NAMES[c], 16],
        [fmt(l.p50Ms), 7],
        [fmt(l.p99Ms), 7],
        [fmt(l.p999Ms), 7],
        [fmt(l.meanMs), 7],
        [fmt(l.maxMs, 1), 7],
        [c === "none" ? "" : signed(d[c].addP50Ms), 8],
        [c === "none" ? "" : signed(d[c].addP99Ms), 8],
        [c === "none" ? "1" : fmt(d[c].p50Ratio, 2), 6],
        [c === "none" ? "1" : fmt(d[c].p99Ratio, 2), 6],
        [cores(p.otherCores), 6],
        [int(failures(p.load)), 6],
      ),
    );
  }
  out.push(...admissionLines(r));
  out.push(`  p50 per round: ${CONFIGS.map((c) => `${CONFIG_NAMES[c]} ${r[c].fixed.perRoundP50Ms.map((x) => fmt(x, 2)).join(" ")}`).join("; ")} ms`);
  const late = CONFIGS.reduce((n, c) => n + r[c].fixed.lateStarts, 0);
  if (late > 0) out.push(`  the pacer issued ${int(late)} creates more than 2 ms late (this process stalled)`);
  out.push("");
  return out;
}

/** The servers' own view of the same creates: means, from their histograms. */
function admissionLines(r: Record<Config, ConfigResult>): string[] {
  const ms = (v: number | null | undefined) => (v === null || v === undefined ? "–" : fmt(v));
  const out = [cols(["  server-side means", 18], ["admit step", 10], ["validate step", 13], ["webhook call", 12], ["webhook handler", 15]).trimEnd()];
  for (const c of CONFIGS) {
    const a = r[c].fixed.admission;
    out.push(
      cols(
        [`  ${CONFIG_NAMES[c]}`, 18],
        [ms(a?.admit), 10],
        [ms(a?.validate), 13],
        [c === "webhook" ? ms(a?.webhookCall) : "–", 12],
        [c === "webhook" ? ms(a?.webhookHandler) : "–", 15],
      ),
    );
  }
  const w = r.webhook.fixed;
  const perCreate = w.admission && w.load.ok > 0 ? w.admission.webhookCalls / w.load.ok : Number.NaN;
  out.push("  (ms; kube-apiserver's admission step histograms, its webhook-call histogram, and the webhook's decoded review → response;");
  out.push(`  ${fmt(perCreate, 2)} webhook calls per create: 1.00 means no reinvocation)`);
  return out;
}

function maxTable(info: RunInfo, r: Record<Config, ConfigResult>, d: Record<Config, Derived>): string[] {
  const out = [
    `max creates/s, closed loop, ${info.o.concurrency} concurrent (${info.closedRounds} alternating rounds); CPU in ms per create`,
    cols(
      ["configuration", 16],
      ["creates/s", 9],
      ["×", 5],
      ["p50 ms", 7],
      ["p99 ms", 7],
      ["apiserver", 9],
      ["etcd", 5],
      ["webhook", 7],
      ["client", 6],
      ["others", 6],
      ["failed", 6],
    ),
  ];
  for (const c of CONFIGS) {
    const p = r[c].max;
    const cpu = (k: string) => fmt(p.cpuMsPerCreate[k] ?? 0, 2);
    out.push(
      cols(
        [CONFIG_NAMES[c], 16],
        [int(p.load.perSec), 9],
        [fmt(d[c].maxRatio, 2), 5],
        [fmt(p.load.latency.p50Ms), 7],
        [fmt(p.load.latency.p99Ms), 7],
        [cpu("kube-apiserver"), 9],
        [cpu("etcd"), 5],
        [cpu("webhook"), 7],
        [cpu("client"), 6],
        [cores(p.otherCores), 6],
        [int(failures(p.load)), 6],
      ),
    );
  }
  out.push(`  creates/s per round: ${CONFIGS.map((c) => `${CONFIG_NAMES[c]} ${r[c].max.perRound.map((x) => int(x)).join(" ")}`).join("; ")}`);
  out.push("  ×: ratio to no admission in the same run; others: every other process on the machine, in cores.");
  out.push("");
  return out;
}

function targetLines(targets: ReturnType<typeof targetsOf>, d: Record<Config, Derived>): string[] {
  const verdict = (met: boolean) => (met ? "met" : "NOT MET");
  return [
    cols(["target (printed, not asserted)", 34], ["wanted", 22], ["measured", 22], ["", 7]),
    cols(["webhook, p50 added", 34], [`≤ +${TARGETS.webhookP50AddMs} ms`, 22], [`${signed(targets.webhookP50.measuredMs)} ms`, 22], [verdict(targets.webhookP50.met), 7]),
    cols(["webhook, p99 added", 34], [`≤ +${TARGETS.webhookP99AddMs} ms`, 22], [`${signed(targets.webhookP99.measuredMs)} ms`, 22], [verdict(targets.webhookP99.met), 7]),
    cols(["in-tree policy, p50 added", 34], ["< webhook's", 22], [`${signed(targets.policyP50.measuredMs)} ms`, 22], [verdict(targets.policyP50.met), 7]),
    cols(["in-tree policy, p99 added", 34], ["< webhook's", 22], [`${signed(targets.policyP99.measuredMs)} ms`, 22], [verdict(targets.policyP99.met), 7]),
    `reference: ${KYVERNO_REFERENCE};`,
    `  here the mean added is ${signed(d.webhook.addMeanMs)} ms (webhook) and ${signed(d.policy.addMeanMs)} ms (in-tree policy).`,
    "",
  ];
}

function footer(r: Record<Config, ConfigResult>, warnings: string[], failed: boolean): string[] {
  const out = warnings.map((w) => `WARNING: ${w}`);
  const all = CONFIGS.flatMap((c) => [r[c].max, r[c].fixed]);
  if (failed) {
    out.push(`FAILED: ${CONFIGS.map((c) => `${CONFIG_NAMES[c]} ${JSON.stringify(failureCounts(combinedFailures(r[c])))}`).join("; ")}`);
  } else {
    out.push(
      `all ${int(all.reduce((n, p) => n + p.load.ok, 0))} measured creates answered 201 as their configuration must (injected by it, or not at all; no warning); no pod stored`,
    );
  }
  return out;
}

function combinedFailures(c: ConfigResult): LoadResult {
  const l = c.max.load;
  const f = c.fixed.load;
  return { ...l, non2xx: l.non2xx + f.non2xx, errors: l.errors + f.errors, timeouts: l.timeouts + f.timeouts, mismatches: l.mismatches + f.mismatches };
}
