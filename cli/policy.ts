/**
 * `pod-dns-injector policy render`: the in-tree admission objects (MutatingAdmissionPolicy,
 * ValidatingAdmissionPolicy and their bindings) for the settings, ready for `kubectl apply`.
 */
import { renderAdmissionPolicies, type ValidationMode } from "../policy/render.js";
import type { CommandIO } from "./inject.js";
import { formatManifests, type OutputFormat } from "./manifest-io.js";
import { EXIT_OK, inputError } from "./errors.js";
import { policyDNSServicesProblem } from "../config/settings.js";
import { resolveSettings, type SettingsFlags } from "./settings-source.js";

export interface PolicyRenderFlags extends SettingsFlags {
  output: OutputFormat;
  /** Default: the configuration's admission.validation. */
  validation?: ValidationMode | undefined;
}

export async function runPolicyRender(flags: PolicyRenderFlags, io: CommandIO): Promise<number> {
  const { settings } = await resolveSettings(flags, io.env);
  const problem = policyDNSServicesProblem(settings);
  if (problem) throw inputError(`cannot render the policies: ${problem}`);
  io.stdout(formatManifests(renderAdmissionPolicies(settings, { validation: flags.validation ?? settings.admission.validation }), flags.output));
  return EXIT_OK;
}
