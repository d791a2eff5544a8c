// Geometry of the photo viewer, kept free of the DOM so it can be tested: how an image
// is placed in the stage (scale = CSS pixels per image pixel, offset of its top-left
// corner), zooming about a point, framing an annotation, and turning a drag into a mark.
import type { Mark, Region } from './backend';

export interface View {
  scale: number;
  x: number;
  y: number;
}

export interface Size {
  w: number;
  h: number;
}

/** Largest zoom: 800 %, eight screen pixels per image pixel. */
export const MAX_ZOOM = 8;

/** The scale at which one image pixel covers one device pixel. */
export function actualScale(devicePixelRatio: number): number {
  return 1 / devicePixelRatio;
}

/**
 * Whether a downscaled level `levelWidth` pixels wide shows the image sharp at `scale`
 * (CSS pixels per image pixel): it has at least one pixel per device pixel covered.
 * Past that, only the original is sharp.
 */
export function levelIsSharp(levelWidth: number, imageWidth: number, scale: number, devicePixelRatio: number): boolean {
  return levelWidth + 0.5 >= imageWidth * scale * devicePixelRatio;
}

/** The whole image in the stage, centred, never enlarged beyond 100 %. */
export function fit(image: Size, stage: Size, devicePixelRatio: number): View {
  if (!image.w || !image.h || !stage.w || !stage.h) return { scale: 1, x: 0, y: 0 };
  const scale = Math.min(stage.w / image.w, stage.h / image.h, actualScale(devicePixelRatio));
  return centred(image, stage, scale);
}

/** The image at `scale`, centred in the stage. */
export function centred(image: Size, stage: Size, scale: number): View {
  return { scale, x: (stage.w - image.w * scale) / 2, y: (stage.h - image.h * scale) / 2 };
}

/** Scales the view by `factor` keeping the image point under (px, py) where it is. */
export function zoomAt(view: View, factor: number, px: number, py: number, min: number, devicePixelRatio: number): View {
  const max = MAX_ZOOM / devicePixelRatio;
  const scale = Math.min(max, Math.max(min, view.scale * factor));
  const k = scale / view.scale;
  return { scale, x: px - (px - view.x) * k, y: py - (py - view.y) * k };
}

/** A view framing a region (normalised), with room around it; a pin gets a tenth of the image. */
export function frame(region: Region, image: Size, stage: Size, min: number, devicePixelRatio: number): View {
  const w = Math.max(region.w, 0.1) * image.w;
  const h = Math.max(region.h, 0.1) * image.h;
  const max = MAX_ZOOM / devicePixelRatio;
  const scale = Math.min(max, Math.max(min, Math.min(stage.w / (w * 2), stage.h / (h * 2))));
  const cx = (region.x + region.w / 2) * image.w;
  const cy = (region.y + region.h / 2) * image.h;
  return { scale, x: stage.w / 2 - cx * scale, y: stage.h / 2 - cy * scale };
}

const clamp01 = (v: number) => Math.min(1, Math.max(0, v));

/** A point of the stage as normalised image coordinates, clamped to the image. */
export function toImage(view: View, image: Size, px: number, py: number): { x: number; y: number } {
  return { x: clamp01((px - view.x) / (view.scale * image.w)), y: clamp01((py - view.y) / (view.scale * image.h)) };
}

export type Tool = 'box' | 'pin' | 'arrow';

/** The mark a drag from `a` to `b` (normalised) draws; `null` for a box without area. */
export function markOf(tool: Tool, a: { x: number; y: number }, b: { x: number; y: number }): Mark | null {
  if (tool === 'pin') return { shape: 'pin', at: b };
  if (tool === 'arrow') return { shape: 'arrow', from: a, to: b };
  const region = { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), w: Math.abs(a.x - b.x), h: Math.abs(a.y - b.y) };
  return region.w > 0.002 && region.h > 0.002 ? { shape: 'box', region } : null;
}

/** The smallest region holding a mark (as the Rust `Mark::bounds`). */
export function bounds(mark: Mark): Region {
  switch (mark.shape) {
    case 'box':
      return mark.region;
    case 'pin':
      return { x: mark.at.x, y: mark.at.y, w: 0, h: 0 };
    case 'arrow':
      return {
        x: Math.min(mark.from.x, mark.to.x),
        y: Math.min(mark.from.y, mark.to.y),
        w: Math.abs(mark.from.x - mark.to.x),
        h: Math.abs(mark.from.y - mark.to.y),
      };
  }
}
