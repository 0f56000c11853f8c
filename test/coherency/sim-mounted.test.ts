/**
 * The mounted multi-host properties (a client daemon notices a re-format
 * within 2 s; client permissions) on the simulated non-coherent device,
 * without random eviction.
 */
process.env.FAMFS_SIM_NONCOHERENT = '29,0'; // no random eviction: it would let a missing invalidate pass within the 2 s deadline
delete process.env.FAMFS_COHERENT;
await import('../reliability/mounted.test.js');
