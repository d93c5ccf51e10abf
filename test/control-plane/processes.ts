/** Process helpers shared by the control-plane harness and the webhook process runner. */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import * as net from "node:net";

/** The last `lines` lines of a file, reading at most its last 256 KiB. */
export function tailFile(path: string, lines: number): string {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return "(no log)";
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, 256 * 1024);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    const all = buf.toString("utf8").split("\n");
    if (all.at(-1) === "") all.pop();
    return all.slice(-lines).join("\n");
  } finally {
    closeSync(fd);
  }
}

/**
 * Ports the kernel considers free right now. All listeners stay open until every port is
 * known, so one call never returns the same port twice; another process may still grab
 * one before our child binds it, which start-up then reports as an early exit.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen({ host: "127.0.0.1", port: 0, exclusive: true }, resolve);
      });
      const address = server.address();
      if (address === null || typeof address === "string") throw new Error("freePorts: no TCP address");
      ports.push(address.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}
