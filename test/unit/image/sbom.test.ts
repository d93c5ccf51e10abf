/** image/sbom.ts: an SPDX 2.3 document listing every package with its version and purl. */
import assert from "node:assert/strict";
/* eslint-disable @typescript-eslint/no-explicit-any -- the SPDX document is untyped JSON, read field by field */
import { describe, it } from "node:test";
import { buildSpdxSbom, purl, type SbomPackage } from "../../../image/sbom.js";

const packages: SbomPackage[] = [
  { ecosystem: "npm", name: "fastify", version: "5.1.0", license: "MIT", downloadLocation: "https://registry.npmjs.org/fastify/-/fastify-5.1.0.tgz" },
  { ecosystem: "npm", name: "@kubernetes/client-node", version: "2.0.1", license: "Apache-2.0" },
  { ecosystem: "deb", name: "libc6", version: "2.36-9+deb12u14" },
  { ecosystem: "npm", name: "odd", version: "1.0.0", license: "SEE LICENSE IN LICENSE.txt" },
];

describe("SPDX SBOM", () => {
  it("writes package URLs for npm (scoped too), Debian and generic packages", () => {
    assert.equal(purl(packages[0]!), "pkg:npm/fastify@5.1.0");
    assert.equal(purl(packages[1]!), "pkg:npm/%40kubernetes/client-node@2.0.1");
    assert.equal(purl(packages[2]!), "pkg:deb/debian/libc6@2.36-9%2Bdeb12u14?arch=amd64&distro=debian-12");
    assert.equal(purl({ ecosystem: "generic", name: "node", version: "24.0.0" }), "pkg:generic/node@24.0.0");
  });

  it("is an SPDX 2.3 document: the product described, every package contained, sorted, reproducible", () => {
    const input = {
      imageName: "ghcr.io/pod-dns-injector/pod-dns-injector:0.1.0",
      imageDigest: `sha256:${"a".repeat(64)}`,
      created: 0,
      product: { ecosystem: "npm" as const, name: "pod-dns-injector", version: "0.1.0", license: "Apache-2.0" },
      packages,
    };
    const doc = buildSpdxSbom(input) as any;
    assert.deepEqual(buildSpdxSbom({ ...input, packages: [...packages].reverse() }), doc, "package order does not matter");
    assert.equal(doc.spdxVersion, "SPDX-2.3");
    assert.equal(doc.dataLicense, "CC0-1.0");
    assert.equal(doc.SPDXID, "SPDXRef-DOCUMENT");
    assert.equal(doc.creationInfo.created, "1970-01-01T00:00:00Z");
    assert.match(doc.documentNamespace, /^https:\/\/\S+sha256-a{64}$/);
    assert.equal(doc.packages.length, 5);
    for (const p of doc.packages) {
      assert.match(p.SPDXID, /^SPDXRef-[A-Za-z0-9.-]+$/);
      for (const field of ["name", "versionInfo", "downloadLocation", "licenseConcluded", "licenseDeclared", "copyrightText"])
        assert.equal(typeof p[field], "string", `${p.name}.${field}`);
      assert.equal(p.filesAnalyzed, false);
      assert.equal(p.externalRefs[0].referenceType, "purl");
    }
    const byName = new Map(doc.packages.map((p: any) => [p.name, p]));
    assert.equal((byName.get("fastify") as any).licenseDeclared, "MIT");
    assert.equal((byName.get("odd") as any).licenseDeclared, "NOASSERTION", "a licence field that is not an SPDX expression is not passed off as one");
    assert.equal((byName.get("libc6") as any).versionInfo, "2.36-9+deb12u14");
    assert.deepEqual(doc.documentDescribes, [doc.packages[0].SPDXID]);
    const contains = doc.relationships.filter((r: any) => r.relationshipType === "CONTAINS");
    assert.equal(contains.length, 4);
    assert.deepEqual(doc.relationships[0], { spdxElementId: "SPDXRef-DOCUMENT", relationshipType: "DESCRIBES", relatedSpdxElement: doc.packages[0].SPDXID });
  });
});
