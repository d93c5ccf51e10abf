/**
 * What a configuration reload may change in a running `serve`: everything but the
 * restart-only settings (config/settings-schema.ts marks them), which stay at their running
 * values until the next start. Changing one is logged and counted, so that an operator who
 * edited the ConfigMap learns that the pods need a restart.
 */
import type { Logger } from "pino";
import { Counter, type Registry } from "prom-client";
import { keepRestartOnly, restartOnlyChanges } from "../config/settings-schema.js";
import type { Settings } from "../config/settings.js";

/**
 * Returns `apply(running, reloaded)`: the settings to run with after a reload, i.e. `reloaded`
 * with the restart-only settings kept from `running`. When those differ it logs a warning
 * naming them and increments `pod_dns_injector_config_reload_restart_required_total` (on
 * every such reload until the restart: each one leaves the file and the process apart).
 * Registers the counter on `registry`; call once per registry.
 */
export function restartOnlyReload(deps: { log: Logger; registry: Registry }): (running: Settings, reloaded: Settings) => Settings {
  const restartRequired = new Counter({
    name: "pod_dns_injector_config_reload_restart_required_total",
    help: "Configuration reloads that changed settings serve reads only at start; they take effect at the next restart (the warning log names them).",
    registers: [deps.registry],
  });
  return (running, reloaded) => {
    const changed = restartOnlyChanges(running, reloaded);
    if (changed.length) {
      deps.log.warn({ settings: changed }, `configuration reload: a change to ${changed.join(", ")} takes effect at restart; running with the previous values until then`);
      restartRequired.inc();
    }
    return keepRestartOnly(running, reloaded);
  };
}
