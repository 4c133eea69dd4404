// Milliseconds now: injected into the per-client limits so tests control time.
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();
