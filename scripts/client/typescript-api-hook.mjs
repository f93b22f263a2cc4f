// Module resolve hook: openapi-typescript builds its output with the TypeScript compiler API,
// which TypeScript 7 (the project's `typescript`) no longer ships. Its imports of `typescript`
// are sent to `typescript5` (npm:typescript@5), installed beside it for this one purpose.
export async function resolve(specifier, context, next) {
  if (specifier === 'typescript' && context.parentURL?.includes('/node_modules/openapi-typescript/')) {
    return next('typescript5', context);
  }
  return next(specifier, context);
}
