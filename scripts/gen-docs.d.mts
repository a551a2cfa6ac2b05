// Types of scripts/gen-docs.mjs for the TypeScript tests that import it.
export declare const GLOBAL_FLAGS: string[];
export declare function replaceBetween(text: string, name: string, body: string): string;
export declare function between(text: string, name: string): string | undefined;
export declare function renderCommands(oclifManifest: { commands: Record<string, unknown> }, topics?: Record<string, { description: string }>): string;
export declare function deprecatedAliases(oclifManifest: { commands: Record<string, unknown> }): { command: string; flag: string; alias: string }[];
export declare function renderManifestKeys(schema: object): string;
export declare function generate(): Promise<{ path: string; text: string; now: string }[]>;
