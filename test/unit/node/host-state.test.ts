import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeHostStateDifferences, diffHostStates, type HostState } from "../../node/host-state.js";
import { summarizeWindows, type LookupWindowTrial } from "../../node/lookup-window.js";

const empty = (): HostState => ({ processes: [], nftTables: [], mounts: [], netns: [], links: [], addresses: [], routes: [], sysctls: [], cgroups: [], files: [] });

describe("diffHostStates", () => {
  it("is empty for identical snapshots", () => {
    const s = { ...empty(), nftTables: ["table ip filter"], sysctls: ["net.ipv4.ip_forward = 0"] };
    assert.deepEqual(diffHostStates(s, structuredClone(s)), []);
  });

  it("names what appeared and what disappeared, per part; a changed sysctl is both", () => {
    const before = { ...empty(), sysctls: ["kernel.panic = 1", "vm.overcommit_memory = 0"], netns: ["other"] };
    const after = { ...empty(), sysctls: ["kernel.panic = 10", "vm.overcommit_memory = 0"], nftTables: ["table ip kube-proxy"] };
    const diffs = diffHostStates(before, after);
    assert.deepEqual(diffs, [
      { part: "nftTables", added: ["table ip kube-proxy"], removed: [] },
      { part: "netns", added: [], removed: ["other"] },
      { part: "sysctls", added: ["kernel.panic = 10"], removed: ["kernel.panic = 1"] },
    ]);
    assert.equal(
      describeHostStateDifferences(diffs),
      ["nftTables: + table ip kube-proxy", "netns: - other", "sysctls: + kernel.panic = 10", "sysctls: - kernel.panic = 1"].join("\n"),
    );
  });
});

describe("summarizeWindows", () => {
  const trial = (windowMs: number): LookupWindowTrial => ({ windowMs, failedLookups: windowMs > 0 ? 1 : 0, actionMs: 200, windows: [] });

  it("gives the lower median and the max", () => {
    assert.deepEqual(summarizeWindows([1250, 0, 1000, 1260].map(trial)), { p50: 1000, max: 1260, trials: 4 });
    assert.deepEqual(summarizeWindows([5, 1, 3].map(trial)), { p50: 3, max: 5, trials: 3 });
  });

  it("is all zeros without trials", () => {
    assert.deepEqual(summarizeWindows([]), { p50: 0, max: 0, trials: 0 });
  });
});
