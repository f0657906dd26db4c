/**
 * The demo's kill moment: the primary dies with output the client already has but the
 * backup does not know was released, so the backup must re-send it and the client drops it
 * as a duplicate. Left to a timer, that is luck: the primary tells the backup r (the highest
 * index whose outputs it released) in its next frame, often within a millisecond of the
 * release, and a kill at a random moment mostly finds the backup up to date, or the newest
 * output still held by the output rule (new to the client, not a duplicate).
 *
 * So the demo arranges it on the log channel, which runs through a relay it controls:
 *
 *   1. hold:  the backup's acknowledgements are held for a moment. The primary keeps
 *             appending (clients keep asking) and sending entries, which the backup applies
 *             and shadows; their outputs wait on the primary (the output rule).
 *   2. lose:  from now on the primary's frames to the backup are lost, as if the primary had
 *             died before they left it; the held acknowledgements go through. The primary
 *             releases the waiting outputs to the clients; the backup is not told (r).
 *   3. kill:  kill -9 of the primary, shortly after, well before either replica's failure
 *             timeout. The backup re-sends every shadowed output above the r it knows: the
 *             ones the primary released in step 2, byte for byte the same.
 */
import type { TcpRelay } from '../tcp-relay.js';

/** How long each step lasts, from the replicas' timing. */
export interface InFlightTiming {
  /** Step 1: the backup's acknowledgements held (the primary hears nothing from it meanwhile). */
  holdMs: number;
  /** Step 2 to the kill: the primary releases; the backup hears nothing from it meanwhile. */
  loseMs: number;
}

/**
 * Both steps stay well inside the failure timeout D: the primary hears nothing from the
 * backup for holdMs (< D/3), the backup nothing from the primary for loseMs plus up to one
 * heartbeat H before the kill (< D).
 */
export function inFlightTiming(heartbeatMs: number, failureTimeoutMs: number): InFlightTiming {
  const holdMs = Math.max(1, Math.round(Math.min(2 * heartbeatMs, failureTimeoutMs / 3)));
  const loseMs = Math.max(1, Math.round((failureTimeoutMs - heartbeatMs) / 2));
  return { holdMs, loseMs };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Steps 1 and 2 on `relay` (the backup dials the primary through it: 'toTarget' is the
 * backup's side). Resolves when the kill is due, or with a reason when the log channel was
 * not open through the relay (then the kill is a plain one).
 */
export async function arrangeInFlightOutput(relay: TcpRelay, t: InFlightTiming, names: { primary: string; backup: string }, say: (text: string) => void, holdEnded?: () => void): Promise<string | undefined> {
  if (relay.gate('toTarget', 'hold') === 0) return 'the log channel was not open through the demo\'s relay';
  say(`the demo holds ${names.backup}'s acknowledgements for ${t.holdMs} ms: ${names.primary}'s new outputs wait for them (the output rule)`);
  await sleep(t.holdMs);
  holdEnded?.();
  relay.gate('fromTarget', 'drop');
  relay.gate('toTarget', 'pass');
  say(`${names.backup}'s acknowledgements go through, and ${names.primary}'s frames to ${names.backup} are lost from here on: ${names.primary} releases the outputs, ${names.backup} is never told (its failure timeout runs from here)`);
  await sleep(t.loseMs);
  return undefined;
}
