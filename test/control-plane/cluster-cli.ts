/**
 * `npm run cluster`: runs the test control plane in the foreground for poking at it by hand
 * (kubectl, the webhook started from a shell, a debugger). Ctrl-C or SIGTERM stops it.
 *
 *   npm run cluster [-- --no-controller-manager] [-- --name <name>]
 */
import { startControlPlane, type ControlPlane } from "./harness.js";

interface CliArgs {
  controllerManager: boolean;
  name: string;
}

function parseArgs(argv: string[]): CliArgs | string {
  const args: CliArgs = { controllerManager: true, name: "cluster" };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--no-controller-manager") args.controllerManager = false;
    else if (arg === "--name" && argv[i + 1] !== undefined) args.name = argv[++i] ?? args.name;
    else if (arg === "-h" || arg === "--help") return "";
    else return `unknown argument: ${arg}`;
  }
  return args;
}

const USAGE = "usage: cluster-cli [--no-controller-manager] [--name <name>]";

async function main(): Promise<number> {
  const parsed = parseArgs(process.argv.slice(2));
  if (typeof parsed === "string") {
    if (parsed !== "") console.error(parsed);
    console.error(USAGE);
    return parsed === "" ? 0 : 2;
  }

  // Our own handlers from the start, so a Ctrl-C during start-up also stops cleanly (the
  // harness leaves signals to us once we listen).
  let signalled: NodeJS.Signals | undefined;
  let wake: () => void = () => {};
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) return;
    signalled = signal;
    wake();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  console.error(`[cluster] starting etcd, kube-apiserver${parsed.controllerManager ? ", kube-controller-manager" : ""}...`);
  const started = Date.now();
  let cp: ControlPlane;
  try {
    cp = await startControlPlane({ controllerManager: parsed.controllerManager, name: parsed.name });
  } catch (err) {
    console.error(`[cluster] start failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  if (signalled) {
    await cp.stop();
    return 0;
  }

  console.log(`ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  console.log(`server:     ${cp.server}`);
  console.log(`kubeconfig: ${cp.kubeconfigPath}`);
  console.log(`kubectl:    ${cp.binaries.kubectl}`);
  console.log(`logs:       ${cp.dir}/*.log`);
  console.log("");
  console.log(`export KUBECONFIG=${cp.kubeconfigPath}`);
  console.log(`alias kubectl=${cp.binaries.kubectl}`);
  console.log("");
  console.log("Ctrl-C to stop (KEEP_CONTROL_PLANE=1 keeps the directory).");

  // The harness unrefs its children, so something must keep the event loop alive.
  const keepAlive = setInterval(() => {}, 1 << 30);
  const outcome = await Promise.race([
    new Promise<"signal">((resolve) => {
      wake = () => resolve("signal");
      if (signalled) resolve("signal");
    }),
    cp.unexpectedExit,
  ]);
  clearInterval(keepAlive);

  if (outcome !== "signal") {
    console.error(`[cluster] ${outcome.name} exited unexpectedly (code ${outcome.code}, signal ${outcome.signal})`);
    console.error(cp.logTail());
    await cp.stop();
    return 1;
  }
  console.error(`[cluster] ${signalled ?? "signal"}: stopping...`);
  await cp.stop();
  console.error("[cluster] stopped");
  return 0;
}

process.exitCode = await main();
