// redis-server for the Redis tests: skip with a printed reason when it is missing,
// fail instead under CI=true (.ci/run installs redis-server).
import { REDIS_INSTALL_HINT, redisServerPath, redisVersion } from '../../src/lab/redis-server.js';
import { describeWithTool } from './etcd.js';

export function describeRedis(name: string, fn: () => void): void {
  describeWithTool(name, redisVersion(), REDIS_INSTALL_HINT, `${REDIS_INSTALL_HINT} (looked for "${redisServerPath()}")`, fn);
}
