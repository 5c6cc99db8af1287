/**
 * A module-scope definition (a zod schema, or the shape it is built from) that a bundle may leave
 * out: written `export const X = /* @__PURE__ *\/ define(() => z.object(...))`, it is free of side
 * effects, so esbuild keeps it, and builds it at init, only in the bundles of functions that use it.
 * Without it every function built every step's schemas at cold start (docs/adr/0029). The
 * annotation goes on each call: esbuild does not carry `@__NO_SIDE_EFFECTS__` across modules.
 */
export const define = <T>(build: () => T): T => build();
