// A coarse clock for what changes with time on screen (deadline colours, "due soon").
// One timer for the whole app instead of one per message.
class Clock {
  now = $state(Date.now());
  private timer: ReturnType<typeof setInterval> | null = null;

  start(everyMs = 15_000) {
    if (this.timer !== null) return;
    this.timer = setInterval(() => (this.now = Date.now()), everyMs);
  }
}

export const clock = new Clock();
