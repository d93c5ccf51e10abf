/**
 * `pod-dns-injector restart`: the audit's remedy, applied. Audits the cluster, restarts
 * the Deployments, StatefulSets and DaemonSets that own non-conforming pods (as `kubectl
 * rollout restart` does) at most --max-concurrent at a time, waiting for each rollout, and
 * lists what it will not touch (bare pods, Jobs, CronJobs, other controllers) with the fix.
 *
 * When it acts: on a terminal it acts, like `kubectl rollout restart`; when standard output
 * is not a terminal (CI, cron, a pipe) it prints the plan only unless --yes is given, so a
 * script that meant to look never restarts a fleet by accident. --dry-run always only prints.
 * It uses the caller's credentials (get/list pods and owners, get/patch the workloads), never
 * the injector Deployment's.
 */
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { PRODUCT } from "../config/names.js";
import { excludedNamespaces } from "../config/settings.js";
import { planRestarts, restartBlocker, rolloutState, type RestartPlan, type RestartTarget, type WorkloadObject } from "../audit/remediation.js";
import { workloadRef } from "../audit/owners.js";
import { auditClusterForCommand, errorText, type ClusterAuditFlags } from "./audit.js";
import { EXIT_INPUT, EXIT_OK } from "./errors.js";
import type { CommandIO } from "./inject.js";
import { resolveSettings, type SettingsFlags } from "./settings-source.js";

export interface RestartFlags extends SettingsFlags, ClusterAuditFlags {
  dryRun?: boolean | undefined;
  yes?: boolean | undefined;
  maxConcurrent: number;
  /** Per rollout, in seconds. */
  timeout: number;
}

const DEFAULT_TIMEOUT_SECONDS = 300;
/** How often a rollout's status is read; kubectl's rollout status watches, a 1 s poll is as timely for minutes-long rollouts. */
const POLL_MS = 1_000;

/** `300`, `90s`, `5m`, `1h` → seconds. */
export function parseDuration(value: string): number {
  const m = /^([1-9]\d*)(s|m|h)?$/.exec(value);
  if (!m) throw new InvalidArgumentError("a duration such as 90s, 5m or 1h");
  return Number(m[1]) * ({ s: 1, m: 60, h: 3600 } as const)[(m[2] ?? "s") as "s" | "m" | "h"];
}

function parsePositiveInt(value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError("a positive integer");
  return Number(value);
}

/** Adds `restart` to the program; `setExit` receives the command's exit code. */
export function registerRestartCommand(program: Command, io: CommandIO, setExit: (code: number) => void): void {
  program
    .command("restart")
    .description(
      "restart the Deployments, StatefulSets and DaemonSets whose pods the audit finds non-conforming (kubectl rollout restart), waiting for each rollout; lists bare pods and Jobs instead of deleting them. Acts on a terminal; elsewhere only with --yes",
    )
    .option("--kubeconfig <file>", "kubeconfig of the cluster (env KUBECONFIG, else ~/.kube/config); your own credentials, never the injector's")
    .option("-n, --namespace <ns>", "this namespace only")
    .option("-A, --all-namespaces", "every namespace, not only the opted-in ones (excluded namespaces are never touched)")
    .option("--dry-run", "print the plan and change nothing")
    .option("--yes", "act even when standard output is not a terminal (CI, cron, pipes)")
    .option("--max-concurrent <n>", "rollouts in flight at once; each is waited for (default 1)", parsePositiveInt, 1)
    .option("--timeout <duration>", `how long to wait for each rollout (default ${DEFAULT_TIMEOUT_SECONDS / 60}m)`, parseDuration, DEFAULT_TIMEOUT_SECONDS)
    .option("--config <file>", "YAML configuration file (env POD_DNS_INJECTOR_CONFIG)")
    .option("--cluster-domain <domain>", "cluster domain (default cluster.local)")
    .option("--nameserver <ip[,ip]>", "the DNS Service IP(s) to expect, two for a dual-stack Service (default: the DNS Service's live clusterIPs)")
    .action(async (opts: RestartFlags) => setExit(await runRestart(opts, io)));
}

/** The plan as the command prints it: what it restarts, what it leaves to the operator. */
export function formatPlan(plan: RestartPlan): string {
  const lines: string[] = [];
  const pods = (p: readonly string[]) => `${p.length} pod${p.length === 1 ? "" : "s"} (${p.slice(0, 5).join(", ")}${p.length > 5 ? `, … ${p.length - 5} more` : ""})`;
  if (plan.restarts.length === 0) lines.push("Nothing to restart: no Deployment, StatefulSet or DaemonSet owns a non-conforming pod.");
  else {
    lines.push(`Restart (${plan.restarts.length}):`);
    for (const t of plan.restarts) lines.push(`  ${workloadRef(t)} -n ${t.namespace}: ${pods(t.pods)}`);
  }
  if (plan.manual.length > 0) {
    lines.push(`Not restarted, fix by hand (${plan.manual.length}):`);
    for (const m of plan.manual) lines.push(`  ${workloadRef(m)} -n ${m.namespace}: ${pods(m.pods)}`, `    ${m.fix}`);
  }
  if (plan.excluded.length > 0) lines.push(`Never touched (excluded namespaces): ${plan.excluded.map((e) => `${e.namespace}/${e.pod}`).join(", ")}`);
  return `${lines.join("\n")}\n`;
}

/** Reads and patches the three restartable kinds. An interface so the pool's order and stop rules are unit-testable. */
export interface WorkloadClient {
  read(target: RestartTarget): Promise<WorkloadObject>;
  restart(target: RestartTarget, now: Date): Promise<WorkloadObject>;
}

export type RestartOutcome =
  { target: RestartTarget; result: "rolled-out"; seconds: number } | { target: RestartTarget; result: "blocked" | "failed" | "timed-out" | "not-started"; detail: string };

export interface ExecuteOptions {
  client: WorkloadClient;
  maxConcurrent: number;
  timeoutMs: number;
  pollMs?: number | undefined;
  progress: (line: string) => void;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Restarts the targets, at most `maxConcurrent` in flight, each waited for until it rolls
 * out, fails or times out. After the first failure no new restart starts: a rollout that
 * does not become ready may mean the new DNS breaks the workload, and restarting more would
 * spread it. Every target gets an outcome.
 */
export async function executeRestarts(targets: readonly RestartTarget[], o: ExecuteOptions): Promise<RestartOutcome[]> {
  const now = o.now ?? (() => new Date());
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const outcomes = new Map<RestartTarget, RestartOutcome>();
  let next = 0;
  let stopped = false;
  const one = async (t: RestartTarget): Promise<RestartOutcome> => {
    const name = `${workloadRef(t)} -n ${t.namespace}`;
    try {
      const blocker = restartBlocker(t, await o.client.read(t));
      if (blocker) return { target: t, result: "blocked", detail: blocker };
      const started = now().getTime();
      let obj = await o.client.restart(t, now());
      o.progress(`${name}: restarted`);
      let last = "";
      for (;;) {
        const state = rolloutState(t.kind, obj);
        if (state.state === "done") return { target: t, result: "rolled-out", seconds: (now().getTime() - started) / 1000 };
        if (state.state === "failed") return { target: t, result: "failed", detail: state.detail };
        if (state.detail !== last) o.progress(`${name}: ${(last = state.detail)}`);
        if (now().getTime() - started >= o.timeoutMs) return { target: t, result: "timed-out", detail: `not rolled out after ${o.timeoutMs / 1000} s: ${state.detail}` };
        await sleep(o.pollMs ?? POLL_MS);
        obj = await o.client.read(t);
      }
    } catch (err) {
      return { target: t, result: "failed", detail: errorText(err) };
    }
  };
  const worker = async () => {
    while (!stopped && next < targets.length) {
      const t = targets[next++]!;
      const outcome = await one(t);
      outcomes.set(t, outcome);
      if (outcome.result === "failed" || outcome.result === "timed-out") stopped = true;
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.maxConcurrent, targets.length) }, worker));
  return targets.map((t) => outcomes.get(t) ?? { target: t, result: "not-started", detail: "an earlier rollout failed; fix it and run restart again" });
}

/** Runs the command; resolves to the exit code (1 when a rollout failed or timed out). */
export async function runRestart(flags: RestartFlags, io: CommandIO): Promise<number> {
  const { settings, nameservers } = await resolveSettings(flags, io.env);
  const { run, kubeConfig } = await auditClusterForCommand(flags, io, settings, nameservers && { ips: nameservers, source: "flag" }, { command: "restart" });
  const plan = planRestarts(run.pods, excludedNamespaces(settings));
  io.stdout(formatPlan(plan));
  if (flags.dryRun) return EXIT_OK;
  if (!flags.yes && io.stdoutIsTTY !== true) {
    if (plan.restarts.length > 0)
      io.stderr(`${PRODUCT}: standard output is not a terminal: printed the plan only; pass --yes to restart (or --dry-run to say you only want the plan)\n`);
    return EXIT_OK;
  }
  if (plan.restarts.length === 0) return EXIT_OK;
  const { workloadClient } = await import("./restart-client.js");
  const outcomes = await executeRestarts(plan.restarts, {
    client: await workloadClient(kubeConfig),
    maxConcurrent: flags.maxConcurrent,
    timeoutMs: flags.timeout * 1000,
    progress: (line) => io.stderr(`${line}\n`),
  });
  for (const o of outcomes) {
    const name = `${workloadRef(o.target)} -n ${o.target.namespace}`;
    io.stdout(o.result === "rolled-out" ? `${name}: rolled out in ${o.seconds.toFixed(1)} s\n` : `${name}: ${o.result}: ${o.detail}\n`);
  }
  return outcomes.some((o) => o.result === "failed" || o.result === "timed-out") ? EXIT_INPUT : EXIT_OK;
}
