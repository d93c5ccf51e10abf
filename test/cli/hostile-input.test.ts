/**
 * Hostile and broken input to the built binary (issue 11): every input problem exits 1 with
 * a message naming the file, the document and the field; no stack trace, no "unexpected".
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { repoRoot } from "../unit/repo-root.js";

const cli = join(repoRoot(), "dist", "cli", "main.js");
const tmp = mkdtempSync(join(tmpdir(), "pdi-cli-hostile-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function run(args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", env: { PATH: process.env.PATH ?? "" }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
function file(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

const CONTAINERS = "containers: [{name: a, image: b}]";
const BOMB = [
  "apiVersion: v1",
  "kind: Pod",
  "metadata: {name: bomb}",
  'a: &a ["x","x","x","x","x","x","x","x","x","x"]',
  "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]",
  "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]",
  "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]",
  "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]",
].join("\n");
const OK_POD = `apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\nspec: {${CONTAINERS}}\n`;

/** [case, file content, expected message after "<file>: "] */
const cases: [string, string, RegExp][] = [
  ["a YAML alias bomb", `${OK_POD}---\n${BOMB}\n`, /^document 2: too many YAML alias expansions .*Excessive alias count/],
  ["metadata: null", "apiVersion: v1\nkind: Pod\nmetadata: null\n", /^document 1: metadata: expected a mapping/],
  ["spec a string", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: text\n", /^document 1 \(Pod p\): spec: expected an object, got "text"/],
  ["spec a list", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: [1]\n", /^document 1 \(Pod p\): spec: expected an object, got a list/],
  [
    "a numeric injected annotation in a Deployment",
    `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    metadata:\n      annotations: {pod-dns-injector.io/injected: 12345}\n    spec: {${CONTAINERS}}\n`,
    /^document 1 \(Deployment web\): spec\.template\.metadata\.annotations\["pod-dns-injector\.io\/injected"\]: expected a string, got number 12345/,
  ],
  [
    "dnsConfig.options [null] in a CronJob",
    `apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        metadata: {annotations: {pod-dns-injector.io/injected: "default@0123456789"}}\n        spec: {dnsPolicy: None, dnsConfig: {nameservers: [1.1.1.1], options: [null]}, ${CONTAINERS}}\n`,
    /^document 1 \(CronJob c\): spec\.jobTemplate\.spec\.template\.spec\.dnsConfig\.options\[0\]: expected an object with name and value, got null/,
  ],
  [
    "a deeply nested dnsConfig entry",
    `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  ${CONTAINERS}\n  dnsConfig:\n    searches: [${"[".repeat(5000)}${"]".repeat(5000)}]\n`,
    /^document 1 \(Pod p\): spec\.dnsConfig\.searches\[0\]: expected a string, got a list|^document 1 \(line \d+\): invalid YAML/,
  ],
  [
    "an invalid metadata.namespace",
    `apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: UPPER}\nspec: {${CONTAINERS}}\n`,
    /^document 1 \(Pod UPPER\/p\): metadata\.namespace: "UPPER" is not a valid namespace name/,
  ],
];

describe("CLI input errors (issue 11)", () => {
  for (const [name, text, message] of cases) {
    it(`inject and explain: ${name} exits 1 naming the file, document and field`, () => {
      const path = file(`${name.replace(/\W+/g, "-")}.yaml`, text);
      for (const command of ["inject", "explain"]) {
        const r = run([command, "-f", path]);
        assert.equal(r.code, 1, `${command}: ${r.stderr}`);
        const prefix = `pod-dns-injector: ${path}: `;
        assert.ok(r.stderr.startsWith(prefix), `${command}: ${r.stderr}`);
        assert.match(r.stderr.slice(prefix.length), message, command);
        assert.doesNotMatch(r.stderr, /unexpected|\n\s+at /, `${command}: no stack trace`);
      }
    });
  }

  it("serve on a busy port says which port, address and flag, and exits 1", async () => {
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const child = spawn(process.execPath, [cli, "serve", "--standalone", "--port", String(port), "--ops-port", "0"], { env: { PATH: process.env.PATH ?? "" } });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
      assert.equal(code, 1, stderr);
      assert.equal(stderr, `pod-dns-injector: port ${port} on 127.0.0.1 is already in use (--port)\n`);
    } finally {
      server.close();
    }
  });
});
