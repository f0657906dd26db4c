/**
 * Which of a replica process's two log channels a frame of its replica goes out on
 * (replica-host.ts): the one it listens on (its backup, or a new backup, dialled in) or the
 * one it dialled (its primary).
 *
 * A primary talks to its backup on the listened channel, and so does a primary handing over
 * or handed over: what it still sends are the client packets that reach it until the switch
 * has moved the service address, forwarded to the new primary (DESIGN.md, "Planned
 * switchover"). Such a primary is fenced, so it is not `live`, but its backup is still at the
 * other end of the listened channel; routing by `live` alone sent those frames to the dialled
 * channel, which an original primary does not have, and they were dropped.
 *
 * A new primary's `handover` (it is live) goes back the other way, to the old primary on the
 * channel it dialled; a backup or a joiner sends everything there.
 */
import { CHANNEL_TYPE_HANDOVER } from '../replica/channel.js';
import { PrimaryRole } from '../replica/primary.js';
import type { Replica } from '../replica/replica.js';

export type ChannelSide = 'listen' | 'dial';

export function channelFor(r: Replica, frame: Uint8Array): ChannelSide {
  const role = r.current;
  if (!(role instanceof PrimaryRole)) return 'dial';
  if (role.handingOver) return 'listen';
  const toOldPrimary = frame[1] === CHANNEL_TYPE_HANDOVER;
  return r.live && !toOldPrimary ? 'listen' : 'dial';
}
