/**
 * The Node.js options manifests/base/deployment.yaml sets (NODE_OPTIONS); a unit test keeps the
 * two equal. A capped young generation keeps RSS flat at admission rates (V8 otherwise grows
 * it towards its default maximum on a machine with plenty of memory).
 */
export const DEPLOYMENT_NODE_OPTIONS = "--max-semi-space-size=8";
