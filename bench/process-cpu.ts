/**
 * CPU time of this process's descendants, by process, from Linux /proc: which of the
 * control plane's processes (kube-apiserver, etcd, ...) and the webhook did the work of a
 * phase, and, against the machine's busy time, what everything else on the machine used.
 */
import { readFileSync, readdirSync } from "node:fs";
import { machineBusySeconds } from "./server-process.js";

/** USER_HZ: 100 on every Linux architecture Node runs on. */
const TICKS_PER_SECOND = 100;

interface ProcStat {
  pid: number;
  ppid: number;
  name: string;
  cpuSec: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name is in parentheses and may itself hold spaces or parentheses.
    const open = line.indexOf("(");
    const close = line.lastIndexOf(")");
    const rest = line.slice(close + 2).split(" ");
    // After the name: state (field 3), ppid (4), ... utime (14), stime (15).
    const ppid = Number(rest[1]);
    const ticks = Number(rest[11]) + Number(rest[12]);
    if (!Number.isFinite(ppid) || !Number.isFinite(ticks)) return undefined;
    return { pid, ppid, name: line.slice(open + 1, close), cpuSec: ticks / TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

/** Every live descendant of `root` (not `root` itself), by pid: its name and CPU seconds so far. */
export function descendantCpu(root = process.pid): Map<number, { name: string; cpuSec: number }> {
  const all: ProcStat[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return new Map();
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const s = readStat(Number(e));
    if (s) all.push(s);
  }
  const children = new Map<number, ProcStat[]>();
  for (const s of all) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const out = new Map<number, { name: string; cpuSec: number }>();
  const walk = (pid: number) => {
    for (const c of children.get(pid) ?? []) {
      out.set(c.pid, { name: c.name, cpuSec: c.cpuSec });
      walk(c.pid);
    }
  };
  walk(root);
  return out;
}

/** A point in time for {@link cpuSince}. */
export interface CpuSnapshot {
  at: bigint;
  machineBusySec: number | undefined;
  self: NodeJS.CpuUsage;
  descendants: Map<number, { name: string; cpuSec: number }>;
}

export function cpuSnapshot(): CpuSnapshot {
  return { at: process.hrtime.bigint(), machineBusySec: machineBusySeconds(), self: process.cpuUsage(), descendants: descendantCpu() };
}

/** CPU used between a snapshot and now, in core-seconds. */
export interface CpuUse {
  wallSec: number;
  /** This process (the load generator). */
  selfSec: number;
  /** Each descendant's CPU, summed by the label `label` gives it (its name, by default). */
  byLabel: Record<string, number>;
  /** Everything else on the machine, in cores (busy time minus ours, per wall second); null off Linux. */
  otherCores: number | null;
}

export function cpuSince(before: CpuSnapshot, label: (pid: number, name: string) => string = (_pid, name) => name): CpuUse {
  const after = cpuSnapshot();
  const wallSec = Number(after.at - before.at) / 1e9;
  const self = process.cpuUsage(before.self);
  const selfSec = (self.user + self.system) / 1e6;
  const byLabel: Record<string, number> = {};
  let ours = selfSec;
  for (const [pid, now] of after.descendants) {
    const used = now.cpuSec - (before.descendants.get(pid)?.cpuSec ?? 0);
    const key = label(pid, now.name);
    byLabel[key] = (byLabel[key] ?? 0) + used;
    ours += used;
  }
  const busy = before.machineBusySec === undefined || after.machineBusySec === undefined ? undefined : after.machineBusySec - before.machineBusySec;
  return { wallSec, selfSec, byLabel, otherCores: busy === undefined ? null : Math.max(0, (busy - ours) / wallSec) };
}
