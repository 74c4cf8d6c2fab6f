/** Rebuilds the workspace packages whose sources changed since their last build; returns their names. */
export function buildStale(): string[];
