/**
 * Marks rendered objects that are partial patches into objects mqop does not own (the ZeroMQ
 * sidecar in a user's Deployment). `render` returns them apart from owned objects: they get no
 * owner reference and are applied with their own field manager, so removing them later removes
 * only mqop's fields.
 */
export const PATCH_ANNOTATION = 'mqop.dev/patch';
