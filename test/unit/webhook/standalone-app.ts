/** The webhook app as most unit tests want it: standalone facts, silent, its own metrics. */
import { pino } from "pino";
import type { Settings } from "../../../config/settings.js";
import { standaloneFacts } from "../../../webhook/admission-facts.js";
import { buildWebhookApp, type WebhookApp, type WebhookAppDeps } from "../../../webhook/app.js";
import { createWebhookMetrics } from "../../../webhook/metrics.js";

export function standaloneApp(settings: Settings, extra: Partial<WebhookAppDeps> = {}): WebhookApp {
  return buildWebhookApp({
    settings: () => settings,
    facts: standaloneFacts(() => settings),
    log: pino({ level: "silent" }),
    metrics: createWebhookMetrics({ version: "test", collectProcessMetrics: false }),
    ...extra,
  });
}
