/**
 * The command line: the only module that reads argv and the environment, wires components,
 * handles signals and exits. Exit codes: 0 success, 1 input error or violation, 2 usage.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { KUBECTL_PLUGIN_BIN, NAMESPACE_MODES, OPS_PORT, PRODUCT, WEBHOOK_PORT } from "../config/names.js";
import { registerAuditCommand } from "./audit.js";
import { registerRestartCommand } from "./restart.js";
import type { CertsGenerateFlags } from "./certs.js";
import { CliError, EXIT_INPUT, EXIT_OK, EXIT_USAGE } from "./errors.js";
import type { ExplainFlags } from "./explain.js";
import type { CommandIO, InjectFlags } from "./inject.js";
import type { PolicyRenderFlags } from "./policy.js";
import type { ServeFlags } from "./serve.js";
import { VERSION } from "./version.js";

function parsePort(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new InvalidArgumentError("a port number from 0 to 65535");
  return Number(value);
}

function parsePositiveInt(value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError("a positive integer");
  return Number(value);
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/**
 * The name usage and help show for the executable `invokedAs` (argv[1], a path): run as
 * kubectl's plugin (`kubectl-pod_dns_injector`, which is how `kubectl pod-dns-injector` runs
 * it), the user typed `kubectl pod-dns-injector`; anything else is the plain CLI.
 */
export function programName(invokedAs: string | undefined): string {
  const base = (invokedAs ?? "").split(/[\\/]/).pop() ?? "";
  return base.replace(/\.(js|cmd|ps1|exe)$/i, "") === KUBECTL_PLUGIN_BIN ? `kubectl ${PRODUCT}` : PRODUCT;
}

export function buildProgram(io: CommandIO, setExit: (code: number, keepAlive?: Promise<void>) => void, name: string = PRODUCT): Command {
  const program = new Command(name)
    .description("Pins every pod's DNS to the live cluster DNS Service: admission webhook, offline injection and explanations.")
    .version(VERSION, "--version")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s) })
    .exitOverride();

  const settingsOptions = (cmd: Command) =>
    cmd
      .option("--config <file>", "YAML configuration file (env POD_DNS_INJECTOR_CONFIG)")
      .option("--cluster-domain <domain>", "cluster domain (default cluster.local)")
      .option(
        "--nameserver <ip[,ip]>",
        "DNS Service IP to inject, or a dual-stack Service's two (IPv4,IPv6 in its ipFamilies order; default: the configured fixed IP, 10.96.0.10)",
      );

  settingsOptions(
    program
      .command("serve")
      .description("run the admission webhook (HTTPS) and the probes/metrics port; standalone on embedded defaults when no cluster is configured")
      .option("--kubeconfig <file>", "kubeconfig of the cluster (env KUBECONFIG); in a pod the in-cluster config is used")
      .option("--standalone", "ignore any cluster configuration and run on embedded defaults")
      .option(
        "--host <address>",
        "address of the HTTPS listener, and of the ops port unless ops.host is set (default webhook.host, else 0.0.0.0 in cluster mode: --kubeconfig, KUBECONFIG or in a pod; else 127.0.0.1)",
      )
      .option("--port <port>", `HTTPS port (default ${WEBHOOK_PORT}; 0 picks a free one)`, parsePort)
      .option("--ops-port <port>", `plain-HTTP port for /healthz, /readyz, /metrics (default ${OPS_PORT})`, parsePort)
      .option("--tls-cert-file <file>", "serving certificate (PEM); default: an in-memory self-signed CA issues one")
      .option("--tls-key-file <file>", "serving key (PEM)")
      .option("--ca-out <file>", "where to write the in-memory CA certificate (default: a file in the temp dir)")
      .addOption(new Option("--log-level <level>", "log level").choices(["fatal", "error", "warn", "info", "debug", "trace"])),
  ).action(async (opts: ServeFlags) => {
    // Each command's module is loaded when it runs: `inject` or `--help` need neither the
    // webhook server nor client-node.
    const { runServe } = await import("./serve.js");
    const server = await runServe(opts, io.env);
    // SIGTERM (kubelet) and SIGINT (Ctrl-C) drain in-flight requests, then exit 0.
    const onSignal = (signal: string) => void server.stop(signal);
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
    setExit(EXIT_OK, server.stopped);
  });

  settingsOptions(
    program
      .command("inject")
      .description("inject the DNS configuration into Pods and the pod templates of Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs")
      .requiredOption("-f, --filename <file>", "manifest file, or - for standard input (multi-document YAML or JSON)")
      .option("-n, --namespace <ns>", "namespace for objects without metadata.namespace (default: default)")
      .option("--profile <name>", "DNS profile (default: the configured default profile)")
      .addOption(new Option("-o, --output <format>", "output format").choices(["yaml", "json"]).default("yaml")),
  ).action(async (opts: InjectFlags) => setExit(await (await import("./inject.js")).runInject(opts, io)));

  settingsOptions(
    program
      .command("explain")
      .description("explain why a pod (or a workload's pod template) would or would not be injected")
      .requiredOption("-f, --filename <file>", "manifest file, or - for standard input")
      .option("-n, --namespace <ns>", "namespace for objects without metadata.namespace (default: default)")
      .option("--namespace-file <file>", "the Namespace object (YAML) whose labels and annotations apply")
      .addOption(new Option("--mode <mode>", "the namespace's mode, when no --namespace-file is given (default enabled)").choices([...NAMESPACE_MODES]))
      .option("--profile <name>", "the namespace's profile annotation, when no --namespace-file is given")
      .addOption(new Option("-o, --output <format>", "output format").choices(["text", "json"]).default("text")),
  ).action(async (opts: ExplainFlags) => setExit(await (await import("./explain.js")).runExplain(opts, io)));

  const certs = program.command("certs").description("generate or inspect the webhook's CA and serving certificate");
  certs
    .command("generate")
    .description("write ca.crt, ca.key, tls.crt and tls.key (PEM) for the webhook Service")
    .requiredOption("--out <dir>", "output directory")
    .requiredOption("--service <name>", "webhook Service name")
    .requiredOption("--namespace <ns>", "webhook Service namespace")
    .option("--cluster-domain <domain>", "cluster domain (default cluster.local)")
    .option("--ip <ip>", "extra IP SAN (repeatable)", collect)
    .option("--ca-validity-days <days>", "CA validity (default 3650)", parsePositiveInt)
    .option("--validity-days <days>", "serving certificate validity (default 365)", parsePositiveInt)
    .option("--force", "replace existing files")
    .action(async (opts: CertsGenerateFlags) => setExit(await (await import("./certs.js")).runCertsGenerate(opts, io)));
  certs
    .command("inspect")
    .description("print subject, SANs, issuer, validity and fingerprints of a PEM file or a Secret")
    .argument("[file]", "PEM file (one or more certificates)")
    .option("--secret <namespace/name>", "read tls.crt and ca.crt from this Secret instead")
    .option("--kubeconfig <file>", "kubeconfig for --secret (env KUBECONFIG)")
    .action(async (file: string | undefined, opts: { secret?: string; kubeconfig?: string }) => setExit(await (await import("./certs.js")).runCertsInspect(file, opts, io)));

  const policy = program.command("policy").description("in-tree admission (Kubernetes >= 1.36): the MutatingAdmissionPolicy equivalent to the webhook");
  policy
    .command("render")
    .description("print the MutatingAdmissionPolicy, ValidatingAdmissionPolicy and bindings for the configuration (kubectl apply -f -)")
    .option("--config <file>", "YAML configuration file (env POD_DNS_INJECTOR_CONFIG)")
    .option("--cluster-domain <domain>", "cluster domain (default cluster.local)")
    .addOption(
      new Option(
        "--validation <action>",
        "what the ValidatingAdmissionPolicy does with a pod whose final DNS does not conform (default: the configuration's admission.validation, warn)",
      ).choices(["warn", "deny"]),
    )
    .addOption(new Option("-o, --output <format>", "output format").choices(["yaml", "json"]).default("yaml"))
    .action(async (opts: PolicyRenderFlags) => setExit(await (await import("./policy.js")).runPolicyRender(opts, io)));

  registerAuditCommand(program, io, setExit);
  registerRestartCommand(program, io, setExit);
  return program;
}

/**
 * Runs the CLI; resolves to the exit code once the command has finished. `name` is what usage
 * and help call the program ({@link programName}).
 */
export async function main(argv: string[], io: CommandIO, name: string = PRODUCT): Promise<number> {
  let code = EXIT_OK;
  let keepAlive: Promise<void> | undefined;
  const program = buildProgram(
    io,
    (c, k) => {
      code = c;
      keepAlive = k;
    },
    name,
  );
  try {
    await program.parseAsync(argv, { from: "user" });
    if (keepAlive) await keepAlive;
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") return EXIT_OK;
      // Commander has already printed the message.
      return EXIT_USAGE;
    }
    if (err instanceof CliError) {
      io.stderr(`${PRODUCT}: ${err.message}\n`);
      return err.exitCode;
    }
    io.stderr(`${PRODUCT}: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT_INPUT;
  }
}
