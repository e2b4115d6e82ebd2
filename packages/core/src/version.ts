/** The @cellcam/core version (kept equal to package.json by the release process). */
export const VERSION = '0.1.0';
