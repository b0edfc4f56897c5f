/** Containers one drain step migrates or stops (the FSM's drainStepContainersMax; fsm-view asserts they agree). */
export const drainStepContainersMax = 10_000;
