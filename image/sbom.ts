// The image's software bill of materials as SPDX 2.3 JSON
// (https://spdx.github.io/spdx-spec/v2.3/): the product, Node, every npm package and every
// Debian package in the image, with versions and package URLs. Pure: the build gathers the
// lists; the document is a function of them (and so as reproducible as the image).

/** One component of the image. */
export interface SbomPackage {
  ecosystem: "npm" | "deb" | "generic";
  name: string;
  version: string;
  /** SPDX licence expression as the package declares it, if it does. */
  license?: string | undefined;
  /** Where it came from (npm: the tarball URL from package-lock.json). */
  downloadLocation?: string | undefined;
}

export interface SbomInput {
  imageName: string;
  /** The image manifest digest the document describes. */
  imageDigest: string;
  /** Seconds since the epoch: the image's fixed mtime, so the document is reproducible. */
  created: number;
  product: SbomPackage;
  packages: SbomPackage[];
}

/** Package URL (https://github.com/package-url/purl-spec) of a component. */
export function purl(pkg: SbomPackage): string {
  const enc = (s: string): string => encodeURIComponent(s);
  switch (pkg.ecosystem) {
    case "npm": {
      const [scope, name] = pkg.name.startsWith("@") ? pkg.name.split("/") : [undefined, pkg.name];
      return `pkg:npm/${scope ? `${enc(scope)}/` : ""}${enc(name)}@${enc(pkg.version)}`;
    }
    case "deb":
      return `pkg:deb/debian/${enc(pkg.name)}@${enc(pkg.version)}?arch=amd64&distro=debian-12`;
    case "generic":
      return `pkg:generic/${enc(pkg.name)}@${enc(pkg.version)}`;
  }
}

/** SPDX IDs allow letters, digits, "." and "-" only. */
function spdxId(pkg: SbomPackage): string {
  return `SPDXRef-${pkg.ecosystem}-${pkg.name}-${pkg.version}`.replace(/[^A-Za-z0-9.-]/g, "-");
}

/**
 * A licence field usable as an SPDX expression (identifiers joined by AND/OR/WITH, with
 * parentheses), else NOASSERTION: npm allows free text such as "SEE LICENSE IN x".
 */
function licenseExpression(license: string | undefined): string {
  if (!license) return "NOASSERTION";
  const tokens = license.replace(/[()]/g, " ").trim().split(/\s+/);
  const wellFormed = tokens.every((t, i) => (i % 2 === 1 ? ["AND", "OR", "WITH"].includes(t) : /^[A-Za-z0-9.-]+\+?$/.test(t) && t !== "UNLICENSED"));
  return wellFormed && tokens.length % 2 === 1 ? license : "NOASSERTION";
}

function spdxPackage(pkg: SbomPackage): Record<string, unknown> {
  return {
    SPDXID: spdxId(pkg),
    name: pkg.name,
    versionInfo: pkg.version,
    downloadLocation: pkg.downloadLocation ?? "NOASSERTION",
    filesAnalyzed: false,
    licenseConcluded: "NOASSERTION",
    licenseDeclared: licenseExpression(pkg.license),
    copyrightText: "NOASSERTION",
    externalRefs: [{ referenceCategory: "PACKAGE-MANAGER", referenceType: "purl", referenceLocator: purl(pkg) }],
  };
}

/** The SPDX 2.3 document: the product DESCRIBED, every other package CONTAINED in it. */
export function buildSpdxSbom(input: SbomInput): Record<string, unknown> {
  const packages = [...input.packages].sort((a, b) => {
    const ka = `${a.ecosystem}/${a.name}@${a.version}`;
    const kb = `${b.ecosystem}/${b.name}@${b.version}`;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  const ids = new Set<string>([spdxId(input.product)]);
  for (const pkg of packages) {
    const id = spdxId(pkg);
    if (ids.has(id)) throw new Error(`SBOM: two packages map to ${id}`);
    ids.add(id);
  }
  const productId = spdxId(input.product);
  return {
    spdxVersion: "SPDX-2.3",
    dataLicense: "CC0-1.0",
    SPDXID: "SPDXRef-DOCUMENT",
    name: input.imageName,
    documentNamespace: `https://spdx.org/spdxdocs/pod-dns-injector/${input.imageDigest.replace(":", "-")}`,
    creationInfo: {
      created: new Date(input.created * 1000).toISOString().replace(/\.000Z$/, "Z"),
      creators: ["Tool: pod-dns-injector-image-build"],
      comment: `Image ${input.imageName}@${input.imageDigest}`,
    },
    documentDescribes: [productId],
    packages: [spdxPackage(input.product), ...packages.map(spdxPackage)],
    relationships: [
      { spdxElementId: "SPDXRef-DOCUMENT", relationshipType: "DESCRIBES", relatedSpdxElement: productId },
      ...packages.map((pkg) => ({ spdxElementId: productId, relationshipType: "CONTAINS", relatedSpdxElement: spdxId(pkg) })),
    ],
  };
}
