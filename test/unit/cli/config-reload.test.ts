import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import { Registry } from "prom-client";
import { restartOnlyReload } from "../../../cli/config-reload.js";
import { defaultSettings, parseSettings, type Settings } from "../../../config/settings.js";

const settings = (doc: unknown): Settings => {
  const r = parseSettings(doc);
  assert.ok(r.ok, !r.ok ? r.errors.join("\n") : "");
  return r.settings;
};

function harness() {
  const lines: { level: number; msg: string; settings?: string[] }[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) });
  const registry = new Registry();
  const apply = restartOnlyReload({ log, registry });
  const count = async () => (await registry.getSingleMetric("pod_dns_injector_config_reload_restart_required_total")!.get()).values[0]?.value ?? 0;
  return { lines, apply, count };
}

describe("configuration reload of restart-only settings", () => {
  it("applies reloadable settings silently", async () => {
    const { lines, apply, count } = harness();
    const next = apply(defaultSettings(), settings({ logLevel: "debug", dnsService: { clusterIP: "10.96.0.53" } }));
    assert.equal(next.logLevel, "debug");
    assert.equal(next.dnsService.clusterIP, "10.96.0.53");
    assert.deepEqual(lines, []);
    assert.equal(await count(), 0);
  });

  it("keeps restart-only settings, warns naming them and counts, on every reload until the restart", async () => {
    const { lines, apply, count } = harness();
    const running = defaultSettings();
    const reloaded = settings({ webhook: { port: 9443 }, guardian: { enabled: false }, logLevel: "warn" });
    const next = apply(running, reloaded);
    assert.equal(next.webhook.port, 8443, "the listener is not moved");
    assert.equal(next.guardian.enabled, true);
    assert.equal(next.logLevel, "warn", "the rest of the reload applies");
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.level, 40, "a warning");
    assert.deepEqual(lines[0]!.settings, ["webhook.port", "guardian.enabled"]);
    assert.match(lines[0]!.msg, /a change to webhook\.port, guardian\.enabled takes effect at restart/);
    apply(next, reloaded);
    assert.equal(await count(), 2, "still pending after the second reload");
  });
});
