import { describe, expect, it } from 'vitest';

import { actualScale, bounds, fit, frame, levelIsSharp, markOf, toImage, zoomAt } from '../src/lib/review';

const photo = { w: 6000, h: 4000 };
const stage = { w: 1200, h: 900 };

describe('the photo viewer', () => {
  it('fits the whole photo, centred, and never enlarges a small one', () => {
    const view = fit(photo, stage, 1);
    expect(view.scale).toBeCloseTo(0.2);
    expect(view.x).toBeCloseTo(0);
    expect(view.y).toBeCloseTo((900 - 800) / 2);
    expect(fit({ w: 300, h: 200 }, stage, 1).scale).toBe(1);
    expect(fit({ w: 300, h: 200 }, stage, 2).scale).toBe(0.5);
  });

  it('shows 100 % as one image pixel per device pixel', () => {
    expect(actualScale(1)).toBe(1);
    expect(actualScale(2)).toBe(0.5);
  });

  it('shows the screen level while it has a pixel for every device pixel, the original past that', () => {
    // A 6000 px photo fitted into 1200 CSS pixels: 1200 device pixels at 1×, 2400 at 2×.
    expect(levelIsSharp(2560, 6000, 0.2, 1)).toBe(true);
    expect(levelIsSharp(2560, 6000, 0.2, 2)).toBe(true);
    expect(levelIsSharp(2560, 6000, 0.2, 3)).toBe(false);
    // Exactly one level pixel per device pixel is still sharp; zooming in past it is not.
    expect(levelIsSharp(2560, 6000, 2560 / 6000, 1)).toBe(true);
    expect(levelIsSharp(2560, 6000, 0.5, 1)).toBe(false);
    expect(levelIsSharp(2560, 6000, actualScale(1), 1)).toBe(false);
  });

  it('zooms about the cursor: the image point under it stays put', () => {
    const view = fit(photo, stage, 1);
    const before = toImage(view, photo, 300, 200);
    const zoomed = zoomAt(view, 3, 300, 200, 0.1, 1);
    expect(zoomed.scale).toBeCloseTo(0.6);
    const after = toImage(zoomed, photo, 300, 200);
    expect(after.x).toBeCloseTo(before.x);
    expect(after.y).toBeCloseTo(before.y);
    expect(zoomAt(view, 1000, 0, 0, 0.1, 1).scale).toBe(8);
    expect(zoomAt(view, 1000, 0, 0, 0.1, 2).scale).toBe(4);
  });

  it('frames an annotation in the middle of the stage', () => {
    const region = { x: 0.5, y: 0.25, w: 0.1, h: 0.05 };
    const view = frame(region, photo, stage, 0.1, 1);
    const centre = toImage(view, photo, stage.w / 2, stage.h / 2);
    expect(centre.x).toBeCloseTo(0.55);
    expect(centre.y).toBeCloseTo(0.275);
    // The region fills about half the stage's width.
    expect(region.w * photo.w * view.scale).toBeCloseTo(stage.w / 2);
  });

  it('turns drags into marks, and a box needs an area', () => {
    const a = { x: 0.6, y: 0.2 };
    const b = { x: 0.4, y: 0.5 };
    expect(markOf('box', a, b)).toEqual({ shape: 'box', region: { x: 0.4, y: 0.2, w: 0.19999999999999996, h: 0.3 } });
    expect(markOf('box', a, a)).toBeNull();
    expect(markOf('pin', a, b)).toEqual({ shape: 'pin', at: b });
    const arrow = markOf('arrow', a, b)!;
    expect(arrow).toEqual({ shape: 'arrow', from: a, to: b });
    expect(bounds(arrow).x).toBeCloseTo(0.4);
    expect(bounds(arrow).h).toBeCloseTo(0.3);
  });

  it('clamps points outside the photo to its edge', () => {
    const view = fit(photo, stage, 1);
    expect(toImage(view, photo, -50, 5000)).toEqual({ x: 0, y: 1 });
  });
});
