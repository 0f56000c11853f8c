/**
 * The reliability properties for crash (SIGKILL during appends), concurrent
 * writers and readers-while-writing, run again on the simulated non-coherent
 * device with random eviction (every process is a host with its own cache).
 */
process.env.FAMFS_SIM_NONCOHERENT = '23,0.05';
delete process.env.FAMFS_COHERENT;
await import('../reliability/crash.test.js');
await import('../reliability/concurrent.test.js');
await import('../reliability/follow.test.js');
