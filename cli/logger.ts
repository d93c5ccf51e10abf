import { pino, type DestinationStream, type Logger, type LoggerOptions } from "pino";
import { PRODUCT } from "../config/names.js";

/**
 * JSON logs on stdout (or `destination`, e.g. a test's), ISO timestamps, `level` as a word
 * (what log pipelines expect).
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options: LoggerOptions<never, false> = {
    level,
    base: { app: PRODUCT },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return destination ? pino(options, destination) : pino(options);
}
