/** The coalescing runner: runs never overlap, triggers meanwhile become one more run. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CoalescingRunner } from "../../../kube/coalescing-runner.js";
import { ManualTimers } from "./manual-timers.js";

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

describe("CoalescingRunner", () => {
  it("coalesces triggers during a run into exactly one more run, with their reasons in order", async () => {
    const runs: string[][] = [];
    const first = gate();
    let active = 0;
    let maxActive = 0;
    const runner = new CoalescingRunner({
      run: async (reasons) => {
        active++;
        maxActive = Math.max(maxActive, active);
        runs.push(reasons);
        if (runs.length === 1) await first.wait;
        active--;
      },
      onError: () => assert.fail("no run throws"),
    });
    runner.trigger("a");
    assert.equal(runner.busy, true);
    runner.trigger("b");
    runner.trigger("c");
    runner.trigger("b");
    first.open();
    await runner.idle();
    assert.deepEqual(runs, [["a"], ["b", "c"]]);
    assert.equal(maxActive, 1, "runs never overlap");
    assert.equal(runner.busy, false);
  });

  it("a run that throws goes to onError and the loop carries on with what is pending", async () => {
    const errors: string[] = [];
    const runs: string[][] = [];
    const runner = new CoalescingRunner({
      run: async (reasons) => {
        runs.push(reasons);
        if (reasons[0] === "boom") {
          runner.trigger("after");
          throw new Error("boom");
        }
      },
      onError: (err, reasons) => errors.push(`${(err as Error).message}:${reasons.join(",")}`),
    });
    runner.trigger("boom");
    await runner.idle();
    assert.deepEqual(errors, ["boom:boom"]);
    assert.deepEqual(runs, [["boom"], ["after"]]);
  });

  it("canRun false ignores triggers and drops pending ones; stop() refuses new ones and waits", async () => {
    let allowed = false;
    const runs: string[][] = [];
    const g = gate();
    const runner = new CoalescingRunner({
      run: async (reasons) => {
        runs.push(reasons);
        await g.wait;
      },
      onError: () => assert.fail("no run throws"),
      canRun: () => allowed,
    });
    runner.trigger("follower");
    assert.equal(runner.busy, false);
    allowed = true;
    runner.trigger("leader");
    runner.trigger("pending");
    allowed = false; // lost leadership during the run: the pending trigger is dropped
    g.open();
    await runner.idle();
    assert.deepEqual(runs, [["leader"]]);
    allowed = true;
    await runner.stop();
    runner.trigger("after stop");
    await runner.idle();
    assert.deepEqual(runs, [["leader"]]);
  });

  it("with a debounce, a burst of triggers starts one run", async () => {
    const runs: string[][] = [];
    const timers = new ManualTimers();
    const runner = new CoalescingRunner({ run: async (r) => void runs.push(r), onError: () => assert.fail("no run throws"), debounceMs: 20, timers });
    runner.trigger("x");
    runner.trigger("y");
    assert.equal(runner.busy, false, "nothing runs before the debounce");
    await timers.advance(19);
    assert.deepEqual(runs, [], "nothing runs before the debounce has passed");
    await timers.advance(1);
    await runner.idle();
    assert.deepEqual(runs, [["x", "y"]]);
    runner.trigger("z");
    await runner.stop();
    assert.equal(timers.pending, 0, "stop() cancels a pending debounce");
    await timers.advance(100);
    assert.deepEqual(runs, [["x", "y"]]);
  });
});
