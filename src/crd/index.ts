/** The TokenPolicy CRD (`tokenpolicies.tokenmeter.dev`), generated from the TypeScript schema. */
export { CRD_FILE, CRD_NAME, GROUP, PLURAL, VERSION, PRINTER_COLUMNS, crdYaml, generatedCrdFiles, openApiSchema, tokenPolicyCrd } from './tokenpolicy.js';
export type { CustomResourceDefinition, PrinterColumn } from './tokenpolicy.js';
export type { JSONSchemaProps, ValidationRule } from './openapi.js';
