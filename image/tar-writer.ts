// A deterministic ustar writer: the few header fields an OCI layer needs, nothing taken from
// the host (no user or group names, no atime/ctime, no device numbers), so the same entries
// always give the same bytes. Paths longer than ustar's name/prefix fields get a PAX
// extended header, which every tar reader that container runtimes use understands.
// Spec: POSIX.1-2017 pax, https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html

const BLOCK = 512;
const NAME_LENGTH = 100;
const PREFIX_LENGTH = 155;

/** One tar member as the writer sees it: everything already decided by the caller. */
export interface TarHeader {
  /** Member name; directories end with "/". */
  name: string;
  type: "file" | "dir" | "symlink";
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** Content length in bytes (0 for directories and symlinks). */
  size: number;
  linkname?: string;
}

const TYPEFLAG: Record<TarHeader["type"], string> = { file: "0", dir: "5", symlink: "2" };

function writeString(block: Buffer, offset: number, length: number, value: string): void {
  block.write(value, offset, length, "utf8");
}

/** Octal, zero-padded, NUL-terminated, as ustar's numeric fields want it. */
function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  const digits = value.toString(8);
  if (digits.length > length - 1) throw new Error(`tar header: ${value} does not fit in ${length - 1} octal digits`);
  block.write(digits.padStart(length - 1, "0") + "\0", offset, length, "ascii");
}

/** Splits a name into ustar's prefix and name fields, or undefined when it cannot fit. */
function splitUstarName(name: string): { prefix: string; name: string } | undefined {
  if (Buffer.byteLength(name) <= NAME_LENGTH) return { prefix: "", name };
  // The split must fall on a "/" that is not the trailing one of a directory name.
  for (let i = name.length - 2; i > 0; i--) {
    if (name[i] !== "/") continue;
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) > PREFIX_LENGTH) continue;
    if (Buffer.byteLength(rest) > NAME_LENGTH) return undefined;
    return { prefix, name: rest };
  }
  return undefined;
}

function ustarBlock(header: TarHeader, name: string, prefix: string, linkname: string, typeflag: string): Buffer {
  const block = Buffer.alloc(BLOCK);
  writeString(block, 0, NAME_LENGTH, name);
  writeOctal(block, 100, 8, header.mode & 0o7777);
  writeOctal(block, 108, 8, header.uid);
  writeOctal(block, 116, 8, header.gid);
  writeOctal(block, 124, 12, header.size);
  writeOctal(block, 136, 12, header.mtime);
  block.fill(" ", 148, 156); // checksum is computed with its own field as spaces
  writeString(block, 156, 1, typeflag);
  writeString(block, 157, NAME_LENGTH, linkname);
  writeString(block, 257, 6, "ustar\0");
  writeString(block, 263, 2, "00");
  writeString(block, 345, PREFIX_LENGTH, prefix);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "ascii");
  return block;
}

/** One "length key=value\n" record; the length counts its own digits. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body);
  while (String(length).length + Buffer.byteLength(body) !== length) length = String(length).length + Buffer.byteLength(body);
  return `${length}${body}`;
}

/** Zero bytes that bring a member of `size` bytes up to a whole block. */
export function tarPadding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rest);
}

/** The two zero blocks that end an archive. */
export function tarEnd(): Buffer {
  return Buffer.alloc(2 * BLOCK);
}

/**
 * Header block(s) for one member: a PAX extended header first when the name or link target
 * does not fit ustar, then the ustar header. The content (and {@link tarPadding}) follows.
 */
export function tarHeader(header: TarHeader): Buffer {
  const linkname = header.linkname ?? "";
  const split = splitUstarName(header.name);
  const linkFits = Buffer.byteLength(linkname) <= NAME_LENGTH;
  const typeflag = TYPEFLAG[header.type];
  if (split && linkFits) return ustarBlock(header, split.name, split.prefix, linkname, typeflag);

  let records = "";
  if (!split) records += paxRecord("path", header.name);
  if (!linkFits) records += paxRecord("linkpath", linkname);
  const pax = Buffer.from(records, "utf8");
  // The extended header's own name is informative only; keep it short and fixed.
  const paxName = `PaxHeaders/${header.name.replace(/\/$/, "").split("/").pop() ?? ""}`.slice(0, NAME_LENGTH);
  const paxHeader = ustarBlock({ ...header, size: pax.length, mode: 0o644 }, paxName, "", "", "x");
  const fallback = split ?? { prefix: "", name: header.name.slice(0, NAME_LENGTH) };
  const shortLink = linkFits ? linkname : linkname.slice(0, NAME_LENGTH);
  return Buffer.concat([paxHeader, pax, tarPadding(pax.length), ustarBlock(header, fallback.name, fallback.prefix, shortLink, typeflag)]);
}
