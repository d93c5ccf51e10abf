/**
 * `npm run node`: brings up the real test node in the foreground (for poking at it with
 * kubectl and ctr), and on Ctrl-C or SIGTERM tears it down and reports whether the host is
 * as it was. Needs root, like the tier.
 *
 *   npm run node [-- --image ARCHIVE]...   also import these OCI archives
 */
import { describeHostStateDifferences } from "./host-state.js";
import { startRealNode, type RealNode } from "./node.js";

async function main(): Promise<number> {
  const extraImages: string[] = [];
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--image" && argv[i + 1]) extraImages.push(argv[++i]!);
    else {
      console.error(`unknown argument ${argv[i]}\nusage: node-cli [--image ARCHIVE]...`);
      return 2;
    }
  }
  let signalled = false;
  let wake = () => {};
  const onSignal = () => {
    signalled = true;
    wake();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  let node: RealNode;
  try {
    node = await startRealNode({ extraImages });
  } catch (err) {
    console.error(`[node] start failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  console.log(`export KUBECONFIG=${node.cp.kubeconfigPath}`);
  console.log(`alias kubectl=${node.cp.binaries.kubectl}`);
  console.log(
    `images: ${Object.values(node.images)
      .map((i) => i.ref)
      .join(" ")}`,
  );
  console.log(`logs: ${node.cp.dir}/*.log`);
  console.log("Ctrl-C to stop.");
  const keepAlive = setInterval(() => {}, 1 << 30);
  if (!signalled) await new Promise<void>((resolve) => (wake = resolve));
  clearInterval(keepAlive);
  console.error("[node] stopping...");
  const diffs = await node.stop();
  if (diffs.length > 0) {
    console.error(`[node] the host is not as it was:\n${describeHostStateDifferences(diffs)}`);
    return 1;
  }
  console.error("[node] stopped; the host is as it was");
  return 0;
}

process.exitCode = await main();
