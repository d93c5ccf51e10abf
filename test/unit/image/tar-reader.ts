// A small, independent tar reader for the image tests: parses what image/tar-writer.ts
// writes (ustar + PAX path/linkpath) byte by byte, so the tests check the raw header
// fields (owner, names, mtime) rather than trusting the writer's own view of them.
import { gunzipSync } from "node:zlib";

export interface TarMember {
  name: string;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  size: number;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: string;
  devminor: string;
  content: Buffer;
  /** Whether the stored checksum matches the header bytes. */
  checksumOk: boolean;
}

const cstring = (b: Buffer, start: number, length: number): string => {
  const field = b.subarray(start, start + length);
  const nul = field.indexOf(0);
  return field.toString("utf8", 0, nul === -1 ? length : nul);
};
const octal = (b: Buffer, start: number, length: number): number => parseInt(cstring(b, start, length).trim() || "0", 8);

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let text = data.toString("utf8");
  while (text.length > 0) {
    const space = text.indexOf(" ");
    const length = Number(text.slice(0, space));
    const record = text.slice(space + 1, length - 1);
    const eq = record.indexOf("=");
    out[record.slice(0, eq)] = record.slice(eq + 1);
    text = text.slice(length);
  }
  return out;
}

/** Every member of an uncompressed tar, PAX headers folded into the member they describe. */
export function readTar(tar: Buffer): TarMember[] {
  const members: TarMember[] = [];
  let pax: Record<string, string> = {};
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
    const size = octal(header, 124, 12);
    const content = tar.subarray(offset + 512, offset + 512 + size);
    offset += 512 + Math.ceil(size / 512) * 512;
    const typeflag = cstring(header, 156, 1);
    if (typeflag === "x") {
      pax = parsePax(content);
      continue;
    }
    const prefix = cstring(header, 345, 155);
    const short = cstring(header, 0, 100);
    members.push({
      name: pax.path ?? (prefix ? `${prefix}/${short}` : short),
      typeflag,
      mode: octal(header, 100, 8),
      uid: octal(header, 108, 8),
      gid: octal(header, 116, 8),
      mtime: octal(header, 136, 12),
      size,
      linkname: pax.linkpath ?? cstring(header, 157, 100),
      uname: cstring(header, 265, 32),
      gname: cstring(header, 297, 32),
      devmajor: cstring(header, 329, 8),
      devminor: cstring(header, 337, 8),
      content: Buffer.from(content),
      checksumOk: sum === octal(header, 148, 8),
    });
    pax = {};
  }
  return members;
}

/** The members of a gzip-compressed tar (a layer blob). */
export function readTarGz(blob: Buffer): TarMember[] {
  return readTar(gunzipSync(blob));
}
