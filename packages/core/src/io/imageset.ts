/**
 * HPA image sets on disk: `{ID}_{red,green,blue,yellow}.{png,jpg,jpeg,tif,tiff}` in one folder.
 * Listing groups files by ID and tells complete sets from incomplete ones.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { CellcamError } from '../errors.js';
import { readGrey } from './png.js';

export const CHANNELS = ['red', 'green', 'blue', 'yellow'] as const;
export type ChannelName = (typeof CHANNELS)[number];
const FILE_RE = /^(.+)_(red|green|blue|yellow)\.(png|jpe?g|tiff?)$/i;
/**
 * When one stain has several files, the first extension here wins, in listing and reading alike:
 * lossless before lossy, lower case before upper.
 */
const EXTENSIONS = ['png', 'tif', 'tiff', 'jpg', 'jpeg', 'PNG', 'TIF', 'TIFF', 'JPG', 'JPEG'];
const extRank = (name: string) => {
  const r = EXTENSIONS.indexOf(name.slice(name.lastIndexOf('.') + 1));
  return r < 0 ? EXTENSIONS.length : r; // mixed case (.Png) last
};

export interface ImageSetFiles {
  id: string;
  files: Partial<Record<ChannelName, string>>;
  complete: boolean;
  missing: ChannelName[];
}

/**
 * Lists the image sets of a folder, sorted by ID.
 *
 * @example
 * ```ts
 * const sets = await listImageSets('data/test');
 * const ids = sets.filter((s) => s.complete).map((s) => s.id);
 * ```
 */
export async function listImageSets(dir: string): Promise<ImageSetFiles[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new CellcamError('CELLCAM_E_IO', `${dir}: cannot list image folder (${(err as Error).message})`, { cause: err });
  }
  const byId = new Map<string, Partial<Record<ChannelName, string>>>();
  for (const name of names.sort()) {
    const m = FILE_RE.exec(name);
    if (!m) continue;
    const id = m[1], ch = m[2].toLowerCase() as ChannelName;
    const files = byId.get(id) ?? {};
    const had = files[ch];
    if (!had || extRank(name) < extRank(had)) files[ch] = join(dir, name);
    byId.set(id, files);
  }
  return [...byId.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([id, files]) => {
      const missing = CHANNELS.filter((c) => !files[c]);
      return { id, files, complete: missing.length === 0, missing };
    });
}

/** Width and height of an image file (header only). */
export async function imageSize(path: string): Promise<{ width: number; height: number }> {
  try {
    const m = await sharp(path).metadata();
    if (!m.width || !m.height) throw new Error('no size in header');
    return { width: m.width, height: m.height };
  } catch (err) {
    throw new CellcamError('CELLCAM_E_IO', `${path}: cannot read image header (${(err as Error).message})`, { cause: err });
  }
}

/** One decoded image set: a planar typed array per channel with the original bit depth. */
export interface ImageSet {
  id: string;
  width: number;
  height: number;
  bitDepth: 8 | 16;
  channels: Record<ChannelName, Uint8Array | Uint16Array>;
  files: Record<ChannelName, string>;
  /** the files' size when read downscaled (`maxSide`), else width/height */
  sourceWidth?: number;
  sourceHeight?: number;
}

// Public HPA JPEGs are RGB, and so is any stain file a converter saved in colour: each stain is
// read from its own colour band (yellow = red + green, where the red band carries it best). Grey
// files, the Kaggle PNGs among them, have one band and ignore this.
const STAIN_BAND: Record<ChannelName, 0 | 1 | 2> = { red: 0, green: 1, blue: 2, yellow: 0 };

export interface ReadImageSetOptions {
  /** refuse an image whose width and height differ (default false) */
  requireSquare?: boolean;
  /** @deprecated every shape is read now; ignored */
  allowNonSquare?: boolean;
  /** downscale for display so that the longer side is at most this (see readGrey) */
  maxSide?: number;
}

/**
 * Reads the four channels of image `id` from `dir`, of any size and shape (HPA fields are square;
 * other microscopes' need not be). Errors name the file: a missing channel, an unreadable or
 * truncated file, channels of different sizes, and with `requireSquare` a non-square image.
 *
 * @example
 * ```ts
 * const img = await readImageSet('data/train', '5c27f04c-bb99-11e8-b2b9-ac1f6b6435d0');
 * img.channels.green; // Uint8Array or Uint16Array, img.width * img.height
 * ```
 */
export async function readImageSet(dir: string, id: string, options: ReadImageSetOptions = {}): Promise<ImageSet> {
  const sets = await listImageSetsFor(dir, id);
  if (!sets.complete) {
    throw new CellcamError('CELLCAM_E_IO', `${join(dir, id)}: missing channel file(s) ${sets.missing.map((c) => `${id}_${c}.png`).join(', ')} (expected {ID}_{red,green,blue,yellow}.{png,jpg,tif})`);
  }
  const files = sets.files as Record<ChannelName, string>;
  const decoded = await Promise.all(
    CHANNELS.map((c) => {
      const f = files[c];
      return readGrey(f, STAIN_BAND[c], { maxSide: options.maxSide }).then((g) => ({ c, f, g }));
    }),
  );
  const first = decoded[0];
  for (const { f, g } of decoded) {
    if (g.sourceWidth !== first.g.sourceWidth || g.sourceHeight !== first.g.sourceHeight) {
      throw new CellcamError('CELLCAM_E_FORMAT', `${f}: ${g.sourceWidth}x${g.sourceHeight} but ${first.f} is ${first.g.sourceWidth}x${first.g.sourceHeight}; the channels of one image must have the same size`);
    }
  }
  if (options.requireSquare && first.g.sourceWidth !== first.g.sourceHeight) {
    throw new CellcamError('CELLCAM_E_FORMAT', `${first.f}: expected a square image but found ${first.g.sourceWidth}x${first.g.sourceHeight}`);
  }
  // Mixed depths (e.g. 16-bit PNG beside an 8-bit JPEG) are widened to 16 bits.
  const bitDepth: 8 | 16 = decoded.some((d) => d.g.bitDepth === 16) ? 16 : 8;
  const channels = {} as Record<ChannelName, Uint8Array | Uint16Array>;
  for (const { c, g } of decoded) {
    channels[c] = bitDepth === 16 && g.bitDepth === 8 ? Uint16Array.from(g.data, (v) => v * 257) : g.data;
  }
  return { id, width: first.g.width, height: first.g.height, bitDepth, channels, files, sourceWidth: first.g.sourceWidth, sourceHeight: first.g.sourceHeight };
}

async function listImageSetsFor(dir: string, id: string): Promise<ImageSetFiles> {
  // Probe the expected names directly: listing a 10k-file folder per image would be quadratic.
  const files: Partial<Record<ChannelName, string>> = {};
  for (const c of CHANNELS) {
    for (const ext of EXTENSIONS) {
      const f = join(dir, `${id}_${c}.${ext}`);
      if (existsSync(f)) {
        files[c] = f;
        break;
      }
    }
  }
  const missing = CHANNELS.filter((c) => !files[c]);
  // Names the probe cannot guess (.Png, .Tif) are found by listing, as listImageSets finds them.
  if (missing.length) return (await listImageSets(dir)).find((set) => set.id === id) ?? { id, files, complete: false, missing };
  return { id, files, complete: true, missing };
}
