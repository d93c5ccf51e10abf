import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { serviceClusterIPs, serviceIPsSource } from "../../../kube/service-ips.js";
import { uniqueIPs } from "../../../config/nameserver-tokens.js";

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

  it("what a watched Service stands for: live while present; once gone, the last live list if it was on the fixed IP", () => {
    const dual = ["10.96.0.10", "fd00:10:96::a"];
    assert.equal(serviceIPsSource(dual, true, "10.96.0.10"), "live");
    // Deleted, the guardian restoring it on 10.96.0.10: pods keep both families meanwhile.
    assert.equal(serviceIPsSource(dual, false, "10.96.0.10"), "live");
    // Deleted after it drifted to another IP: the fixed IP, where it comes back.
    assert.equal(serviceIPsSource(["10.96.0.53"], false, "10.96.0.10"), "fixed");
    // No fixed IP configured: the last live list; never seen: nothing.
    assert.equal(serviceIPsSource(dual, false, null), "live");
    assert.equal(serviceIPsSource([], false, "10.96.0.10"), "fixed");
    assert.equal(serviceIPsSource([], false, null), "none");
  });
});

describe("uniqueIPs", () => {
  it("keeps the first occurrence of each IP, in the lists' order", () => {
    assert.deepEqual(uniqueIPs([["10.100.0.10"], ["10.96.0.10", "fd00::a"], ["10.96.0.10"]]), ["10.100.0.10", "10.96.0.10", "fd00::a"]);
    assert.deepEqual(uniqueIPs([]), []);
  });
});
