/** A clock tests move forward: real time plus an offset (pass `now` as the server's clock). */
export interface TestClock {
  now: () => Date;
  /** Moves the clock forward by `seconds`. */
  advance(seconds: number): void;
}

/** A TestClock at real time. */
export function testClock(): TestClock {
  let offsetMs = 0;
  return {
    now: () => new Date(Date.now() + offsetMs),
    advance(seconds: number) {
      offsetMs += seconds * 1000;
    },
  };
}
