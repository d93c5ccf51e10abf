import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { serviceClusterIPs } from "../../../kube/service-ips.js";

describe("serviceClusterIPs", () => {
  it("reads every family's IP in the Service's order, canonical", () => {
    assert.deepEqual(serviceClusterIPs({ spec: { clusterIP: "10.96.0.10", clusterIPs: ["10.96.0.10", "FD00:10:96:0:0:0:0:A"], ipFamilies: ["IPv4", "IPv6"] } }), [
      "10.96.0.10",
      "fd00:10:96::a",
    ]);
    assert.deepEqual(serviceClusterIPs({ spec: { clusterIP: "fd00:10:96::a", clusterIPs: ["fd00:10:96::a", "10.96.0.10"], ipFamilies: ["IPv6", "IPv4"] } }), [
      "fd00:10:96::a",
      "10.96.0.10",
    ]);
  });

  it("clusterIP alone is a one-entry list; headless, empty and missing Services have none", () => {
    assert.deepEqual(serviceClusterIPs({ spec: { clusterIP: "10.96.0.10" } }), ["10.96.0.10"]);
    assert.deepEqual(serviceClusterIPs({ spec: { clusterIP: "None", clusterIPs: ["None"] } }), []);
    assert.deepEqual(serviceClusterIPs({ spec: {} }), []);
    assert.deepEqual(serviceClusterIPs(undefined), []);
  });
});
