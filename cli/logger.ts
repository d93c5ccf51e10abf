import { pino, type Logger } from "pino";
import { PRODUCT } from "../config/names.js";

/** JSON logs on stdout, ISO timestamps, `level` as a word (what log pipelines expect). */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { app: PRODUCT },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
