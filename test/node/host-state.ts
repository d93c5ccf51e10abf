/**
 * What a real node changes on the host, captured before it starts and after it stops, so
 * the tier can prove it left the machine as it found it: processes, nft tables, mounts,
 * network namespaces, links, addresses and routes, sysctls, cgroups and the well-known
 * directories kubelet, containerd and CNI write to outside their configured roots.
 *
 * {@link diffHostStates} is pure; {@link captureHostState} reads /proc, /sys and runs `ip`,
 * `nft` and `sysctl`.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/** One snapshot of the host; each list is sorted, so two snapshots compare line by line. */
export interface HostState {
  /** `<comm> <argv…>` of processes whose executable is one a node runs (not their pids). */
  processes: string[];
  nftTables: string[];
  /** Mount points (from /proc/self/mountinfo), with their filesystem type. */
  mounts: string[];
  netns: string[];
  links: string[];
  addresses: string[];
  routes: string[];
  /** `key = value` for every sysctl except the ones that change on their own. */
  sysctls: string[];
  /** Cgroup directories (two levels deep) in every v1 hierarchy. */
  cgroups: string[];
  /** Entries of directories that node components write to with fixed paths. */
  files: string[];
}

/** Executables of node components: any process running one of these is listed. */
const NODE_PROCESS_NAMES = ["containerd", "containerd-shim", "containerd-shim-runc-v2", "runc", "kubelet", "kube-proxy", "kube-scheduler", "coredns", "socat", "pause", "dnsprobe"];

/** Sysctls the kernel changes by itself (counters, random values, last pid). */
const VOLATILE_SYSCTLS = [
  /^fs\.(dentry-state|file-nr|inode-nr|inode-state|quota\.)/,
  /^kernel\.(ns_last_pid|random\.)/,
  /^net\.netfilter\.nf_conntrack_count$/,
  /^fs\.pipe-user-pages-soft$/,
];

/** Directories with fixed paths that kubelet, containerd, the CNI plugins or `ip netns` use. */
const WATCHED_DIRS = [
  "/var/lib/cni",
  "/var/lib/kubelet",
  "/var/lib/containerd",
  "/var/log/pods",
  "/var/log/containers",
  "/run/containerd",
  "/run/netns",
  "/etc/cni/net.d",
  "/opt/cni",
];

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 10_000 });
  } catch (err) {
    // A missing tool (nft before it is installed) means "nothing of that kind".
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw new Error(`${cmd} ${args.join(" ")}`, { cause: err });
  }
}

function lines(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l !== "")
    .sort();
}

function nodeProcesses(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
      // comm is cut to 15 characters ("containerd-shim" for containerd-shim-runc-v2).
      if (!NODE_PROCESS_NAMES.some((n) => comm === n.slice(0, 15))) continue;
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
      out.push(`${comm} ${argv}`);
    } catch {
      // The process ended while we looked.
    }
  }
  return out.sort();
}

function mounts(): string[] {
  return lines(
    readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((line) => {
        const fields = line.split(" ");
        const sep = fields.indexOf("-");
        return fields.length > 4 && sep > 0 ? `${fields[4]} ${fields[sep + 1]}` : "";
      })
      .join("\n"),
  );
}

function sysctls(): string[] {
  return lines(run("sysctl", ["-a"])).filter((l) => !VOLATILE_SYSCTLS.some((re) => re.test(l.split(" = ")[0] ?? "")));
}

/**
 * Cgroups the host's own command runner owns: on these machines every command it runs (the
 * tier's own, and any other work on the host meanwhile) gets a cgroup under
 * `<hierarchy>/process_api/`, so they come and go during the tier and are never the node's
 * (kubelet and containerd create theirs under kubepods and k8s.io). Not tracked, and so
 * never removed at the end.
 */
const FOREIGN_CGROUP_PARENTS = new Set(["process_api"]);

function cgroups(): string[] {
  const root = "/sys/fs/cgroup";
  const out: string[] = [];
  if (!existsSync(root)) return out;
  for (const hierarchy of readdirSync(root)) {
    const top = join(root, hierarchy);
    const walk = (dir: string, depth: number) => {
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        if (!e.isDirectory()) continue;
        out.push(join(dir, e.name));
        if (depth === 1 && FOREIGN_CGROUP_PARENTS.has(e.name)) continue;
        if (depth < 2) walk(join(dir, e.name), depth + 1);
      }
    };
    try {
      if (statSync(top).isDirectory()) walk(top, 1);
    } catch {
      // Not a directory (a symlink such as cpu,cpuacct).
    }
  }
  return out.sort();
}

function watchedFiles(): string[] {
  const out: string[] = [];
  for (const dir of WATCHED_DIRS) {
    if (!existsSync(dir)) continue;
    out.push(`${dir}/`);
    const walk = (d: string, depth: number) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        out.push(e.isDirectory() ? `${p}/` : p);
        if (e.isDirectory() && depth < 3) walk(p, depth + 1);
      }
    };
    try {
      walk(dir, 1);
    } catch {
      // Changed while we looked; the next capture sees the result.
    }
  }
  return out.sort();
}

/** Takes a snapshot of everything {@link HostState} lists. Needs root for some of it. */
export function captureHostState(): HostState {
  return {
    processes: nodeProcesses(),
    nftTables: lines(run("nft", ["list", "tables"])),
    mounts: mounts(),
    netns: lines(run("ip", ["netns", "list"])).map((l) => l.split(" ")[0] ?? l),
    // Without interface indexes and link state counters, which change on their own.
    links: lines(run("ip", ["-o", "link", "show"])).map((l) => l.replace(/^\d+:\s*/, "").replace(/\s+qdisc.*$/, "")),
    addresses: lines(run("ip", ["-o", "addr", "show"])).map((l) =>
      l
        .replace(/^\d+:\s*/, "")
        .replace(/\s+valid_lft.*$/, "")
        .replace(/\\$/, "")
        .trim(),
    ),
    routes: lines(run("ip", ["route", "show", "table", "all"])),
    sysctls: sysctls(),
    cgroups: cgroups(),
    files: watchedFiles(),
  };
}

/** A difference between two snapshots: what appeared, what disappeared, in which part. */
export interface HostStateDifference {
  part: keyof HostState;
  added: string[];
  removed: string[];
}

/**
 * The parts in which `after` differs from `before`, each with the lines added and
 * removed; empty when the host is as it was.
 */
export function diffHostStates(before: HostState, after: HostState): HostStateDifference[] {
  const out: HostStateDifference[] = [];
  for (const part of Object.keys(before) as (keyof HostState)[]) {
    const was = new Set(before[part]);
    const now = new Set(after[part]);
    const added = after[part].filter((l) => !was.has(l));
    const removed = before[part].filter((l) => !now.has(l));
    if (added.length > 0 || removed.length > 0) out.push({ part, added, removed });
  }
  return out;
}

/** A readable report of {@link diffHostStates}'s result, one line per changed entry. */
export function describeHostStateDifferences(diffs: HostStateDifference[]): string {
  return diffs.flatMap(({ part, added, removed }) => [...added.map((l) => `${part}: + ${l}`), ...removed.map((l) => `${part}: - ${l}`)]).join("\n");
}
