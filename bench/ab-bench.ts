/**
 * `npm run bench:ab -- --against DIR`: this checkout's webhook against another built
 * checkout's (a git worktree of the commit before a change, say), with the baseline route
 * beside them, in alternating rounds on this machine. Per server it prints reviews/s and
 * its CPU per response (user + system of the whole process, from the child's own counters),
 * which moves much less with a shared machine's noise than saturated throughput does, and
 * the two webhooks' ratio. Same request, TLS and Node flags as `npm run bench`.
 * Exit code 1 when a request failed or was answered unexpectedly, 2 on a usage error.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { NODE_RUNTIME_FLAGS } from "../image/product-image.js";
import { optionsOrUsage, positiveOption, runBenchmark, UsageError } from "./cli-options.js";
import { benchRequest } from "./fixtures.js";
import { fmt, int, quantile } from "./format.js";
import { failures, runAutocannon, type Target } from "./load.js";
import { benchTLS, describePinning, pinGenerator, progress, ServerChild, unpinGenerator } from "./server-process.js";

const USAGE = `usage: npm run bench:ab -- --against DIR [--rounds N] [--seconds S] [--connections N] [--json]

  --against DIR     another checkout, built (its dist/bench/server-child.js is forked), e.g.
                    git worktree add /tmp/before HEAD~1 && (cd /tmp/before && npm ci && npx tsc -p .)
  --rounds N        alternating rounds per server (default 8)
  --seconds S       seconds of autocannon per round (default 3, after a 2 s warm-up each)
  --connections N   keep-alive connections (default 16)
  --json            one JSON object on stdout`;

const WATCHDOG_MS = 20 * 60 * 1000;

interface Options {
  against: string;
  rounds: number;
  seconds: number;
  connections: number;
  json: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: { against: { type: "string" }, rounds: { type: "string" }, seconds: { type: "string" }, connections: { type: "string" }, json: { type: "boolean", default: false } },
    strict: true,
  });
  if (!values.against) throw new UsageError("--against DIR is required");
  const against = resolve(values.against);
  if (!existsSync(join(against, "dist", "bench", "server-child.js"))) throw new UsageError(`--against: ${against} has no dist/bench/server-child.js (build it: npx tsc -p .)`);
  return {
    against,
    rounds: values.rounds ? Math.ceil(positiveOption("rounds", values.rounds)) : 8,
    seconds: values.seconds ? Math.ceil(positiveOption("seconds", values.seconds)) : 3,
    connections: values.connections ? Math.ceil(positiveOption("connections", values.connections)) : 16,
    json: values.json ?? false,
  };
}

type Role = "this" | "against" | "baseline";

async function main(): Promise<number> {
  const o = optionsOrUsage(parseOptions, USAGE);
  if (!o) return 2;
  const { body, uid } = benchRequest();
  const { tls } = benchTLS();
  const flags = [...NODE_RUNTIME_FLAGS];
  const servers = new Map<Role, ServerChild>();
  // As in npm run bench: the servers take turns on one CPU, the generator has the other.
  const pinning = pinGenerator();
  if (!pinning.pinned) progress(`warning: ${describePinning(pinning)}; the figures will move with each CPU's speed`);
  try {
    servers.set("this", await ServerChild.start("webhook", "warn", flags, tls));
    servers.set("against", await ServerChild.start("webhook", "warn", flags, tls, join(o.against, "dist", "bench", "server-child.js")));
    servers.set("baseline", await ServerChild.start("baseline", "warn", flags, tls));
    for (const s of servers.values()) s.pin(pinning);
    const target = (role: Role): Target => ({
      url: servers.get(role)!.url,
      body,
      verifyBody: (b) => b.includes(uid) && b.includes('"allowed":true') && (role === "baseline" || b.includes('"patchType":"JSONPatch"')),
    });
    const roles: Role[] = ["this", "against", "baseline"];
    const perSec = new Map<Role, number[]>(roles.map((r) => [r, []]));
    const cpuUs = new Map<Role, number[]>(roles.map((r) => [r, []]));
    let failed = 0;
    for (const role of roles) failed += failures(await runAutocannon(target(role), { connections: o.connections, durationSec: 2 }));
    for (let round = 0; round < o.rounds; round++) {
      // Each round in the other order, so a drift of the machine hits both webhooks alike.
      for (const role of round % 2 ? [...roles].reverse() : roles) {
        const server = servers.get(role)!;
        const before = await server.stats();
        const r = await runAutocannon(target(role), { connections: o.connections, durationSec: o.seconds });
        const after = await server.stats();
        failed += failures(r);
        perSec.get(role)!.push(r.perSec);
        cpuUs.get(role)!.push((after.cpuUserUs + after.cpuSystemUs - before.cpuUserUs - before.cpuSystemUs) / Math.max(1, after.responses - before.responses));
      }
      progress(`round ${round + 1}/${o.rounds}: ${roles.map((r) => `${r} ${int(perSec.get(r)!.at(-1)!)}/s ${fmt(cpuUs.get(r)!.at(-1)!, 1)} µs`).join(", ")}`);
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const summary = Object.fromEntries(
      roles.map((r) => [
        r,
        {
          reviewsPerSec: Math.round(mean(perSec.get(r)!)),
          ratioToBaseline: Math.round((mean(perSec.get(r)!) / mean(perSec.get("baseline")!)) * 1000) / 1000,
          cpuUsPerResponse: Math.round(mean(cpuUs.get(r)!) * 10) / 10,
          rounds: perSec.get(r)!.map(Math.round),
          cpuRounds: cpuUs.get(r)!.map((x) => Math.round(x * 10) / 10),
        },
      ]),
    ) as Record<Role, { reviewsPerSec: number; ratioToBaseline: number; cpuUsPerResponse: number; rounds: number[]; cpuRounds: number[] }>;
    const thisOverAgainst = Math.round((summary.this.reviewsPerSec / summary.against.reviewsPerSec) * 1000) / 1000;
    // Per round, this against the other webhook run next to it: the median ignores a round
    // in which the machine changed speed, which the means above do not.
    const paired = (f: (i: number) => number) =>
      quantile(
        perSec.get("this")!.map((_, i) => f(i)),
        0.5,
      );
    const pairedRatio = Math.round(paired((i) => perSec.get("this")![i]! / perSec.get("against")![i]!) * 1000) / 1000;
    const pairedCpuUs = Math.round(paired((i) => cpuUs.get("this")![i]! - cpuUs.get("against")![i]!) * 10) / 10;
    const cpuPinning = describePinning(pinning);
    if (o.json)
      console.log(
        JSON.stringify({
          againstDir: o.against,
          rounds: o.rounds,
          seconds: o.seconds,
          connections: o.connections,
          cpuPinning,
          ...summary,
          thisOverAgainst,
          pairedRatio,
          pairedCpuUs,
          failed,
        }),
      );
    else {
      console.log(`webhook A/B, ${o.rounds} alternating rounds of ${o.seconds} s, ${o.connections} connections; against ${o.against}`);
      for (const r of roles) {
        const s = summary[r];
        console.log(
          `  ${r.padEnd(9)} ${int(s.reviewsPerSec).padStart(7)} reviews/s  ÷ baseline ${s.ratioToBaseline.toFixed(3)}  CPU ${fmt(s.cpuUsPerResponse, 1)} µs/response  (rounds ${s.rounds.map(int).join(", ")})`,
        );
      }
      console.log(`  this ÷ against: ${thisOverAgainst.toFixed(3)} reviews/s; CPU per response ${fmt(summary.this.cpuUsPerResponse - summary.against.cpuUsPerResponse, 1)} µs`);
      console.log(`  median of the rounds' pairs: ${pairedRatio.toFixed(3)} reviews/s, CPU per response ${fmt(pairedCpuUs, 1)} µs; ${cpuPinning}`);
      console.log(failed === 0 ? "  every request answered 200 with the expected body" : `  ${failed} requests failed or were answered unexpectedly`);
    }
    return failed === 0 ? 0 : 1;
  } finally {
    for (const s of servers.values()) await s.stop();
    unpinGenerator(pinning);
  }
}

runBenchmark(main, WATCHDOG_MS);
