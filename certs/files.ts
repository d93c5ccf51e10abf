/**
 * Writing a CA and serving certificate to a directory (`certs generate --out DIR`): the only
 * file-system code in certs/. The names match the keys of a `kubernetes.io/tls` Secret
 * (`tls.crt`, `tls.key`, `ca.crt`); `ca.key` stays out of that Secret (issue 4: the CA key is
 * kept separately).
 */
import { randomBytes } from "node:crypto";
import { lstat, mkdir, open, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { PemKeyPair } from "./authority.js";

/** Names written by `writeCertificateFiles`, in the order written. */
export const CERTIFICATE_FILE_NAMES = {
  caCert: "ca.crt",
  caKey: "ca.key",
  servingCert: "tls.crt",
  servingKey: "tls.key",
} as const;

/** Private keys are readable by the owner only; certificates are public. */
const KEY_MODE = 0o600;
const CERT_MODE = 0o644;

/** Refusal to overwrite: carries every existing path so the CLI can name them all. */
export class CertificateFilesExistError extends Error {
  readonly code = "EEXIST";
  constructor(readonly existing: string[]) {
    super(`refusing to overwrite existing certificate files (pass force to replace them): ${existing.join(", ")}`);
    this.name = "CertificateFilesExistError";
  }
}

/**
 * Writes `ca.crt`, `ca.key`, `tls.crt` and `tls.key` (PEM) into `dir`, creating it if
 * missing, and returns the four paths written.
 *
 * Keys get mode 0600, certificates 0644 (both further limited by the umask). Without
 * `force`, nothing is written if any of the four exists: a half-replaced set (a new key
 * next to an old certificate) is worse than none, and regenerating a CA by accident
 * invalidates every caBundle that trusts it. With `force`, each file is replaced atomically
 * (written beside it, then renamed), so a reader never sees a truncated key.
 *
 * @throws CertificateFilesExistError (code `EEXIST`) when files exist and `force` is not
 *   set; otherwise the underlying fs error, with the path in its message.
 */
export async function writeCertificateFiles(dir: string, ca: PemKeyPair, serving: PemKeyPair, opts: { force?: boolean } = {}): Promise<string[]> {
  const files: { path: string; content: string; mode: number }[] = [
    { path: join(dir, CERTIFICATE_FILE_NAMES.caCert), content: ca.certPem, mode: CERT_MODE },
    { path: join(dir, CERTIFICATE_FILE_NAMES.caKey), content: ca.keyPem, mode: KEY_MODE },
    { path: join(dir, CERTIFICATE_FILE_NAMES.servingCert), content: serving.certPem, mode: CERT_MODE },
    { path: join(dir, CERTIFICATE_FILE_NAMES.servingKey), content: serving.keyPem, mode: KEY_MODE },
  ];
  await mkdir(dir, { recursive: true });

  if (!opts.force) {
    const existing = (await Promise.all(files.map(async (f) => ((await exists(f.path)) ? f.path : undefined)))).filter((p): p is string => p !== undefined);
    if (existing.length > 0) throw new CertificateFilesExistError(existing);
  }

  for (const f of files) {
    if (opts.force) {
      const tmp = `${f.path}.${randomBytes(6).toString("hex")}.tmp`;
      try {
        await writeNew(tmp, f.content, f.mode);
        await rename(tmp, f.path);
      } catch (cause) {
        await unlink(tmp).catch(() => undefined);
        throw new Error(`write ${f.path}`, { cause });
      }
    } else {
      // Exclusive create: if another process created the file since the check above, we fail
      // rather than clobber it.
      try {
        await writeNew(f.path, f.content, f.mode);
      } catch (cause) {
        if ((cause as NodeJS.ErrnoException).code === "EEXIST") throw new CertificateFilesExistError([f.path]);
        throw new Error(`write ${f.path}`, { cause });
      }
    }
  }
  return files.map((f) => f.path);
}

async function writeNew(path: string, content: string, mode: number): Promise<void> {
  const handle = await open(path, "wx", mode);
  try {
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw new Error(`stat ${path}`, { cause: err });
  }
}
