/**
 * The Debian packages a real node needs on the host, installed with apt-get when missing
 * (CI runs as root on a fresh machine). A prerequisite that cannot be had fails the tier
 * with a message naming it; nothing is skipped.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";

/** A file that must exist, and the Debian package that ships it. */
interface Prerequisite {
  path: string;
  pkg: string;
}

/** runc, not crun: crun 1.8 fails on this kernel with "cgroups in hybrid mode not supported". */
const PREREQUISITES: Prerequisite[] = [
  { path: "/usr/bin/containerd", pkg: "containerd" },
  { path: "/usr/bin/containerd-shim-runc-v2", pkg: "containerd" },
  { path: "/usr/bin/ctr", pkg: "containerd" },
  { path: "/usr/sbin/runc", pkg: "runc" },
  { path: "/usr/lib/cni/bridge", pkg: "containernetworking-plugins" },
  { path: "/usr/lib/cni/host-local", pkg: "containernetworking-plugins" },
  { path: "/usr/lib/cni/loopback", pkg: "containernetworking-plugins" },
  { path: "/usr/sbin/nft", pkg: "nftables" },
  { path: "/usr/sbin/iptables", pkg: "iptables" },
  { path: "/usr/sbin/conntrack", pkg: "conntrack" },
  { path: "/usr/bin/socat", pkg: "socat" },
  { path: "/usr/sbin/ip", pkg: "iproute2" },
  { path: "/usr/sbin/sysctl", pkg: "procps" },
  { path: "/usr/bin/mount", pkg: "mount" },
];

/** Where the CNI plugins live (Debian's containernetworking-plugins). */
export const CNI_BIN_DIR = "/usr/lib/cni";
export const RUNC = "/usr/sbin/runc";
export const CTR = "/usr/bin/ctr";
export const CONTAINERD = "/usr/bin/containerd";

function present(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes sure every host prerequisite is there, running `apt-get update` and `apt-get
 * install` for the missing packages.
 *
 * @throws Error naming the missing packages and why they could not be installed (not
 *   root, no apt-get, or apt-get failed), or naming a kernel feature that is missing.
 */
export function ensureHostPackages(log: (line: string) => void = () => {}): void {
  if (process.getuid?.() !== 0) {
    throw new Error("the real-node tests must run as root (they start containerd, kubelet and kube-proxy and change the host's network)");
  }
  const missing = [...new Set(PREREQUISITES.filter((p) => !present(p.path)).map((p) => p.pkg))];
  if (missing.length > 0) {
    if (!present("/usr/bin/apt-get")) {
      throw new Error(`the real-node tests need the Debian packages ${missing.join(", ")} and there is no apt-get to install them: install them by hand`);
    }
    log(`installing ${missing.join(" ")} with apt-get`);
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    for (const args of [
      ["update", "-qq"],
      ["install", "-y", "-qq", "--no-install-recommends", ...missing],
    ]) {
      const r = spawnSync("apt-get", args, { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 600_000 });
      if (r.status !== 0) {
        throw new Error(
          `apt-get ${args.join(" ")} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout).trim().slice(-2000)}\nThe real-node tests need: ${missing.join(", ")}`,
        );
      }
    }
    const still = PREREQUISITES.filter((p) => !present(p.path));
    if (still.length > 0) throw new Error(`after apt-get install, still missing: ${still.map((p) => `${p.path} (${p.pkg})`).join(", ")}`);
  }
  // Kernel features, not packages: say which one is missing instead of failing later.
  const filesystems = execFileSync("cat", ["/proc/filesystems"], { encoding: "utf8" });
  if (!/\toverlay$/m.test(filesystems)) throw new Error("the kernel has no overlay filesystem (containerd's overlayfs snapshotter needs it)");
  try {
    execFileSync("nft", ["list", "tables"], { stdio: "ignore" });
  } catch (cause) {
    throw new Error("nft list tables failed: the kernel needs nf_tables for kube-proxy's nftables mode", { cause });
  }
  if (!readable("/proc/sys/net/bridge/bridge-nf-call-iptables")) {
    throw new Error(
      "the kernel has no br_netfilter (/proc/sys/net/bridge is missing): replies between pods on the bridge would bypass kube-proxy's Service NAT. Load it (modprobe br_netfilter)",
    );
  }
}

function readable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}
