/**
 * `npm run bench:e2e`: what a pod CREATE costs end to end, through a real kube-apiserver
 * (with etcd and kube-controller-manager, test/control-plane/harness.ts), in three
 * configurations measured in the same run: no admission of ours, our webhook, and the
 * in-tree policy (see admission-e2e-setup.ts for how the three share one cluster). Every
 * create is a server-side dry run (`dryRun=All`) of the ~5 KB bench pod: the API server runs
 * the whole admission chain and validation and stores nothing. Phases, each in alternating
 * rounds (the order rotated every round) so that the machine's background load weighs on
 * the three alike:
 *
 *  1. warm-up: a short closed loop per configuration (JIT, keep-alive sockets, caches);
 *  2. max creates/s: closed loop, N concurrent requests per configuration;
 *  3. latency at a fixed rate: open loop (bench/load.ts's pacer), p50/p99 per configuration.
 *
 * Results are absolute and as ratios to "no admission" of the same run; the targets are
 * printed next to the measured figures, not asserted. Exit code 1 when any create failed or
 * was answered unexpectedly (each answer is checked: injected by the right mechanism, or
 * not at all, and no warning), 2 on a usage error. Everything started is stopped at the end,
 * on failure too, and a watchdog ends the run whatever happens.
 */
import { availableParallelism, cpus } from "node:os";
import { parseArgs } from "node:util";
import { CoreV1Api } from "@kubernetes/client-node";
import { startControlPlane, type ControlPlane } from "../test/control-plane/harness.js";
import { stopWebhookAndControlPlane } from "../test/e2e/kube.js";
import type { WebhookProcess } from "../test/e2e/webhook-process.js";
import { CONFIGS, NAMESPACES, applyPolicies, createObjects, dryRunPool, podBody, registerWebhook, startWebhook, waitUntilEffective, type Config } from "./admission-e2e-setup.js";
import { report, type ConfigResult, type Phase, type RunInfo } from "./admission-e2e-report.js";
import { optionsOrUsage, positiveOption, runBenchmark, UsageError } from "./cli-options.js";
import { NODE_RUNTIME_FLAGS } from "../image/product-image.js";
import { int } from "./format.js";
import type { DryRunPool } from "./kube-dry-run.js";
import { addDelta, means, scrape, type Scrape } from "./admission-e2e-metrics.js";
import { combineLoad, runClosedLoop, runOpenLoop, type LoadResult } from "./load.js";
import { cpuSince, cpuSnapshot, type CpuUse } from "./process-cpu.js";
import { machineBusySeconds, progress } from "./server-process.js";

/** Whatever happens, the benchmark ends by itself (a full run takes about 2 minutes). */
const WATCHDOG_MS = 8 * 60 * 1000;

export interface Options {
  json: boolean;
  quick: boolean;
  /** Open loop: creates per second, and seconds per configuration (split over the rounds). */
  rate: number;
  durationSec: number;
  /** Closed loop: concurrent creates, and seconds per configuration. */
  concurrency: number;
  maxDurationSec: number;
  rounds: number;
  warmupSec: number;
  logLevel: string;
}

const USAGE = `usage: npm run bench:e2e -- [--json] [--quick] [--rate N] [--duration SECONDS]
                              [--concurrency N] [--max-duration SECONDS] [--rounds N]
                              [--log-level LEVEL]

  --json              print one JSON object on stdout (progress goes to stderr)
  --quick             smoke run (~30 s): 2 rounds, 4 s open loop and 2 s closed loop
                      per configuration; not comparable with the targets
  --rate N            open-loop creates/s (default 50)
  --duration S        open-loop seconds per configuration, split over the rounds (default 20)
  --concurrency N     closed-loop concurrent creates, one keep-alive socket each (default 8)
  --max-duration S    closed-loop seconds per configuration (default 9)
  --rounds N          alternating rounds of each phase (default 3 closed, 4 open: N for both)
  --log-level L       the webhook's log level (default info, as the manifests ship it: one
                      line per injected pod, to a log file)`;

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: "boolean", default: false },
      quick: { type: "boolean", default: false },
      rate: { type: "string", default: "50" },
      duration: { type: "string" },
      concurrency: { type: "string", default: "8" },
      "max-duration": { type: "string" },
      rounds: { type: "string" },
      "log-level": { type: "string", default: "info" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const levels = ["fatal", "error", "warn", "info", "debug", "trace"];
  if (!levels.includes(values["log-level"])) throw new UsageError(`--log-level: expected one of ${levels.join(", ")}`);
  const quick = values.quick;
  const opt = (name: string, raw: string | undefined, fallback: number) => (raw === undefined ? fallback : positiveOption(name, raw));
  return {
    json: values.json,
    quick,
    rate: opt("rate", values.rate, 50),
    durationSec: opt("duration", values.duration, quick ? 4 : 20),
    concurrency: Math.round(opt("concurrency", values.concurrency, 8)),
    maxDurationSec: opt("max-duration", values["max-duration"], quick ? 2 : 9),
    rounds: Math.round(opt("rounds", values.rounds, quick ? 2 : 0)),
    warmupSec: quick ? 0.5 : 2,
    logLevel: values["log-level"],
  };
}

/** The configurations in round `round`'s order: rotated, so none is always first or last. */
const rotation = (round: number): Config[] => CONFIGS.map((_, i) => CONFIGS[(i + round) % CONFIGS.length] as Config);

interface Round<L extends LoadResult> {
  config: Config;
  load: L;
  cpu: CpuUse;
  /** The servers' admission histograms over the round (fixed-rate rounds only). */
  admission?: Scrape;
}

class Bench {
  private readonly pools: Record<Config, DryRunPool>;
  private readonly label: (pid: number, name: string) => string;

  constructor(
    private readonly cp: ControlPlane,
    private readonly webhook: WebhookProcess,
    private readonly o: Options,
  ) {
    this.pools = { none: dryRunPool(cp, "none", o.concurrency), webhook: dryRunPool(cp, "webhook", o.concurrency), policy: dryRunPool(cp, "policy", o.concurrency) };
    this.label = (pid, name) => {
      if (pid === webhook.pid) return "webhook";
      if (name === "kube-apiserver" || name === "etcd") return name;
      return name.startsWith("kube-controller") ? "kube-controller-manager" : "helpers";
    };
  }

  close(): void {
    for (const config of CONFIGS) this.pools[config].close();
  }

  async waitUntilEffective(): Promise<void> {
    for (const config of CONFIGS) await waitUntilEffective(this.pools[config], config);
  }

  async warmUp(): Promise<void> {
    for (const config of CONFIGS) await runClosedLoop(this.pools[config].slots, { durationSec: this.o.warmupSec });
  }

  /**
   * `rounds` rounds of `run` on each configuration, in rotated order; with `withMetrics`, the
   * servers' histograms are scraped around each round (outside its measured interval).
   */
  async rounds<L extends LoadResult>(rounds: number, run: (pool: DryRunPool) => Promise<L>, withMetrics = false): Promise<Record<Config, Array<Round<L>>>> {
    const out: Record<Config, Array<Round<L>>> = { none: [], webhook: [], policy: [] };
    for (let r = 0; r < rounds; r++) {
      for (const config of rotation(r)) {
        const scraped = withMetrics ? await scrape(this.cp, this.webhook) : undefined;
        const before = cpuSnapshot();
        const load = await run(this.pools[config]);
        const cpu = cpuSince(before, this.label);
        const admission = scraped ? addDelta(undefined, scraped, await scrape(this.cp, this.webhook)) : undefined;
        out[config].push({ config, load, cpu, ...(admission ? { admission } : {}) });
      }
    }
    return out;
  }

  maxThroughput(rounds: number) {
    const durationSec = this.o.maxDurationSec / rounds;
    return this.rounds(rounds, (pool) => runClosedLoop(pool.slots, { durationSec }));
  }

  fixedRate(rounds: number) {
    const durationSec = this.o.durationSec / rounds;
    return this.rounds(rounds, (pool) => runOpenLoop(pool.slots, { rate: this.o.rate, durationSec }), true);
  }
}

const zero: Scrape = { admit: { sum: 0, count: 0 }, validate: { sum: 0, count: 0 }, webhookCall: { sum: 0, count: 0 }, webhookHandler: { sum: 0, count: 0 } };

/** Rounds of one configuration as one phase: loads combined, CPU added up. */
function combine<L extends LoadResult>(rounds: ReadonlyArray<Round<L>>, extra: (load: LoadResult, rounds: ReadonlyArray<Round<L>>) => Partial<Phase> = () => ({})): Phase {
  const load = combineLoad(rounds.map((r) => r.load));
  const wallSec = rounds.reduce((n, r) => n + r.cpu.wallSec, 0);
  const cpuSec: Record<string, number> = { client: rounds.reduce((n, r) => n + r.cpu.selfSec, 0) };
  for (const r of rounds) for (const [k, v] of Object.entries(r.cpu.byLabel)) cpuSec[k] = (cpuSec[k] ?? 0) + v;
  const known = rounds.every((r) => r.cpu.otherCores !== null);
  return {
    load,
    cpuMsPerCreate: Object.fromEntries(Object.entries(cpuSec).map(([k, v]) => [k, load.ok > 0 ? (v * 1000) / load.ok : 0])),
    cores: Object.fromEntries(Object.entries(cpuSec).map(([k, v]) => [k, v / wallSec])),
    otherCores: known ? rounds.reduce((n, r) => n + (r.cpu.otherCores ?? 0) * r.cpu.wallSec, 0) / wallSec : null,
    perRound: rounds.map((r) => r.load.perSec),
    perRoundP50Ms: rounds.map((r) => r.load.latency.p50Ms),
    lateStarts: 0,
    admission: rounds.some((r) => r.admission) ? means(rounds.reduce<Scrape | undefined>((sum, r) => (r.admission ? addDelta(sum, zero, r.admission) : sum), undefined)) : null,
    ...extra(load, rounds),
  };
}

/** No pod was stored: the creates really were dry runs. */
async function storedPods(cp: ControlPlane): Promise<number> {
  const core = cp.kubeConfig().makeApiClient(CoreV1Api);
  let n = 0;
  for (const config of CONFIGS) n += (await core.listNamespacedPod({ namespace: NAMESPACES[config] })).items.length;
  return n;
}

async function kubernetesVersion(cp: ControlPlane): Promise<string> {
  const r = await cp.kubectl(["version", "-o", "json"]);
  try {
    return (JSON.parse(r.stdout) as { serverVersion?: { gitVersion?: string } }).serverVersion?.gitVersion ?? "unknown";
  } catch {
    return "unknown";
  }
}

async function idleCheck(): Promise<number | null> {
  const busy0 = machineBusySeconds();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const busy1 = machineBusySeconds();
  return busy0 === undefined || busy1 === undefined ? null : busy1 - busy0;
}

async function setUp(o: Options, started: { cp?: ControlPlane; webhook?: WebhookProcess }): Promise<{ cp: ControlPlane; webhook: WebhookProcess }> {
  progress("starting etcd, kube-apiserver and kube-controller-manager");
  const cp = await startControlPlane({ controllerManager: true, name: "bench-e2e" });
  started.cp = cp;
  await createObjects(cp);
  progress(`starting pod-dns-injector serve (log level ${o.logLevel}, Node flags ${NODE_RUNTIME_FLAGS.join(" ")})`);
  const webhook = await startWebhook(cp, o.logLevel);
  started.webhook = webhook;
  await registerWebhook(cp, webhook);
  await applyPolicies(cp);
  return { cp, webhook };
}

async function run(o: Options): Promise<number> {
  const idleCores = await idleCheck();
  if (idleCores !== null && idleCores > 0.2) progress(`warning: other processes are using ${idleCores.toFixed(2)} cores right now; the figures will be noisy`);
  const started: { cp?: ControlPlane; webhook?: WebhookProcess } = {};
  let bench: Bench | undefined;
  try {
    const { cp, webhook } = await setUp(o, started);
    bench = new Bench(cp, webhook, o);
    await bench.waitUntilEffective();
    progress(`all three configurations answer as expected; warm-up ${o.warmupSec} s each`);
    await bench.warmUp();
    const closedRounds = o.rounds || 3;
    progress(`max creates/s: closed loop, ${o.concurrency} concurrent, ${closedRounds} alternating rounds of ${(o.maxDurationSec / closedRounds).toFixed(1)} s each`);
    const max = await bench.maxThroughput(closedRounds);
    const openRounds = o.rounds || 4;
    progress(`latency: open loop at ${int(o.rate)} creates/s, ${openRounds} alternating rounds of ${(o.durationSec / openRounds).toFixed(1)} s each`);
    const fixed = await bench.fixedRate(openRounds);
    const results = Object.fromEntries(
      CONFIGS.map((c): [Config, ConfigResult] => [
        c,
        { max: combine(max[c]), fixed: combine(fixed[c], (_l, rounds) => ({ lateStarts: rounds.reduce((n, r) => n + r.load.lateStarts, 0) })) },
      ]),
    ) as Record<Config, ConfigResult>;
    const info: RunInfo = {
      o,
      machine: { nproc: availableParallelism(), cpuModel: cpus()[0]?.model.trim() ?? "unknown", node: process.version },
      kubernetes: await kubernetesVersion(cp),
      podBytes: Buffer.byteLength(podBody("none")),
      idleCoresBefore: idleCores,
      storedPods: await storedPods(cp),
      closedRounds,
      openRounds,
    };
    return report(info, results);
  } catch (err) {
    if (started.webhook) process.stderr.write(`${started.webhook.logTail(30)}\n`);
    if (started.cp) process.stderr.write(`${started.cp.logTail(20)}\n`);
    throw err;
  } finally {
    bench?.close();
    progress("stopping the webhook and the control plane");
    await stopWebhookAndControlPlane(started.webhook, started.cp);
  }
}

async function main(): Promise<number> {
  const o = optionsOrUsage(parseOptions, USAGE);
  if (!o) return 2;
  return run(o);
}

runBenchmark(main, WATCHDOG_MS);
